"""The Django admin's site: django-otp's ``OTPAdminSite`` (a TOTP device is
required of every admin) whose login form is throttled like every other login
(``central.throttle`` via ``central.accounts``, issue 10 finding 8)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from central import accounts
from central.errors import Throttled
from central.throttle import client_address


class CentralAdminLoginForm(OTPAdminAuthenticationForm):
    def clean(self):
        username = self.cleaned_data.get("username") or ""
        try:
            with accounts.login_attempt(username, client_address(self.request)) as attempt:
                try:
                    return super().clean()
                except ValidationError as error:
                    attempt.reason = getattr(error, "code", None) or "invalid_login"
                    raise
        except Throttled as error:
            raise ValidationError(error.problems[0].message, code="throttled") from None


class CentralAdminSite(OTPAdminSite):
    name = "admin"
    login_form = CentralAdminLoginForm

    def __init__(self, name: str = "admin"):
        super().__init__(name)
