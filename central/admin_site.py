"""The Django admin's site: django-otp's ``OTPAdminSite`` (a TOTP device is
required of every admin) whose login form is throttled like every other login
(``central.throttle`` via ``central.accounts``, issue 10 finding 8)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from central import accounts
from central.errors import Throttled
from central.throttle import client_address

# Form errors that mean "the password was right; now choose a device or give a code":
# a step of the login, not a failed attempt.
INCOMPLETE = {"token_required", "device_required"}


class CentralAdminLoginForm(OTPAdminAuthenticationForm):
    """Throttled; an admin's only confirmed device is chosen without asking, so the
    username, password and code go in one submission."""

    def _chosen_device(self, user):
        device = super()._chosen_device(user)
        if device is None and not self.cleaned_data.get("otp_device"):
            devices = accounts.confirmed_devices(user)
            if len(devices) == 1:
                return devices[0]
        return device

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        try:
            with accounts.login_attempt(username, client_address(self.request)) as attempt:
                try:
                    return super().clean()
                except ValidationError as error:
                    attempt.reason = getattr(error, "code", None) or "invalid_login"
                    attempt.incomplete = attempt.reason in INCOMPLETE
                    raise
        except Throttled as error:
            raise ValidationError(error.problems[0].message, code="throttled") from None


class CentralAdminSite(OTPAdminSite):
    name = "admin"
    login_form = CentralAdminLoginForm
    site_header = gettext_lazy("Volunteer-service records: central administration")
    site_title = gettext_lazy("Volunteer-service records")
    index_title = gettext_lazy("Regions and federation")

    def __init__(self, name: str = "admin"):
        super().__init__(name)
