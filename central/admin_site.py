"""The Django admin's site: django-otp's ``OTPAdminSite`` (a TOTP device is
required of every admin) whose login form is throttled like every other login
(``central.throttle`` via ``central.accounts``, issue 10 finding 8)."""

from __future__ import annotations

from functools import partial

from django.contrib.admin.forms import AdminPasswordChangeForm
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from central import accounts
from central.errors import ServiceError, Throttled
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


class CentralPasswordChangeForm(AdminPasswordChangeForm):
    """Django's password-change form whose change is made by
    ``central.accounts.change_admin_password``, as the central API's
    ``changePassword``: the current password checked like a login (throttled),
    audited, the admin's API tokens revoked (this session is kept by the view)."""

    def __init__(self, user, *args, address: str = "unknown", **kwargs):
        self.address = address
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self):
        return self.cleaned_data["old_password"]  # the service checks it, throttled

    def clean(self):
        cleaned = super().clean()
        if cleaned is None or self.errors:
            return cleaned
        fields = {"currentPassword": "old_password", "newPassword": "new_password2"}
        try:
            accounts.change_admin_password(
                self.user,
                cleaned["old_password"],
                cleaned["new_password1"],
                address=self.address,
            )
        except ServiceError as error:
            for problem in error.problems:
                self.add_error(fields.get(problem.field or ""), problem.message)
        return cleaned

    def save(self, commit=True):
        return self.user  # saved by the service


class CentralAdminSite(OTPAdminSite):
    name = "admin"
    login_form = CentralAdminLoginForm
    site_header = gettext_lazy("Volunteer-service records: central administration")
    site_title = gettext_lazy("Volunteer-service records")
    index_title = gettext_lazy("Regions and federation")

    def __init__(self, name: str = "admin"):
        super().__init__(name)

    def password_change(self, request, extra_context=None):
        from django.contrib.auth.views import PasswordChangeView

        defaults = {
            "form_class": partial(CentralPasswordChangeForm, address=client_address(request)),
            "success_url": reverse("admin:password_change_done", current_app=self.name),
            "extra_context": {**self.each_context(request), **(extra_context or {})},
        }
        request.current_app = self.name
        return PasswordChangeView.as_view(**defaults)(request)
