"""Central admins' login, for the central API and the Django admin alike: throttled
like every login (``central.throttle``, issue 10 finding 8), audited when it fails,
and with a second factor, a TOTP device (django-otp).

An admin with a confirmed TOTP device must give its current one-time password
(``otp``). The Django admin asks for one of every admin (``OTPAdminSite``); the
central API asks it of admins without a device only with
``PLATFORM_CENTRAL_REQUIRE_OTP`` (the production default). Devices are enrolled
with ``manage.py totp enrol <username>`` (``manage.py up`` enrols the first
admin's device itself and prints its ``otpauth://`` URI with the password).
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from central.errors import InvalidInput, NotFound, ProblemCollector
from central.messages import password_messages
from central.models import CentralApiToken, CentralAuditEntry, LoginThrottle
from central.throttle import LoginAttempt, unlock

ENROL_HINT = "enrol a TOTP device first: manage.py totp enrol <username>"


def login_attempt(
    username: str, address: str, action: str = "central.login_failed"
) -> LoginAttempt:
    """A throttled central login attempt; a failure is written to the central audit."""

    def audit(reason: str) -> None:
        CentralAuditEntry.objects.create(
            actor="anonymous",
            action=action,
            region_code="",
            detail={"username": (username or "")[:150], "address": address, "reason": reason},
        )

    return LoginAttempt(LoginThrottle, username, address, on_failure=audit)


def confirmed_devices(user) -> list[TOTPDevice]:
    return list(TOTPDevice.objects.filter(user=user, confirmed=True))


def check_otp(user, otp: str | None, attempt: LoginAttempt) -> TOTPDevice | None:
    """The device that verifies ``otp``; None for an admin without one where that is
    allowed. Raises InvalidInput (field ``otp``) otherwise."""
    devices = confirmed_devices(user)
    if not devices:
        if settings.CENTRAL_REQUIRE_OTP:
            attempt.reason = "otp_not_enrolled"
            raise InvalidInput(
                _("a one-time password is required; %(enrol_hint)s") % {"enrol_hint": ENROL_HINT},
                field="otp",
            )
        return None
    if not (otp or "").strip():
        attempt.reason = "otp_missing"
        raise InvalidInput(
            _("give the one-time password (otp) from your authenticator app"), field="otp"
        )
    for device in devices:
        if device.verify_token((otp or "").strip()):
            return device
    attempt.reason = "otp_wrong"
    raise InvalidInput(_("wrong one-time password"), field="otp")


def api_login(
    username: str, password: str, otp: str | None, address: str
) -> tuple[CentralApiToken, str]:
    """Check a central admin's password (and TOTP) and issue an API token."""
    with login_attempt(username, address) as attempt:
        user = authenticate(None, username=username or "", password=password or "")
        if user is None or not user.is_staff:
            raise InvalidInput(_("wrong username or password"), field="password")
        check_otp(user, otp, attempt)
    ttl = datetime.timedelta(hours=settings.CENTRAL_TOKEN_TTL_HOURS)
    return CentralApiToken.issue(user, ttl)


def change_admin_password(
    user, current_password: str, new_password: str, *, address: str, keep_token=None
) -> int:
    """A central admin changes their own password. The current one is checked like a
    login (throttled; a wrong one is INVALID on ``currentPassword``, audited
    ``central.password_change_failed``); the new one meets the same rules as every
    password (``AUTH_PASSWORD_VALIDATORS``) and differs. Every API token of the
    admin but ``keep_token`` is revoked; their Django admin sessions end by
    themselves (Django checks each session against the password hash). Audited
    ``central.password_changed``. Returns how many tokens were revoked."""
    problems = ProblemCollector()
    try:
        validate_password(new_password or "", user)
    except ValidationError as error:
        # The platform's own words for each failed rule, not Django's glued together.
        for message in password_messages(error):
            problems.add("newPassword", message)
    with login_attempt(user.username, address, "central.password_change_failed") as attempt:
        if not user.check_password(current_password or ""):
            attempt.reason = "wrong_password"
            raise InvalidInput(_("wrong password"), field="currentPassword")
    if new_password == current_password:
        problems.add("newPassword", _("choose a password different from the current one"))
    problems.raise_if_any()
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        tokens = CentralApiToken.objects.live().filter(user=user)
        if keep_token is not None:
            tokens = tokens.exclude(id=keep_token.id)
        revoked = tokens.update(revoked_at=timezone.now())
        CentralAuditEntry.objects.create(
            actor=f"central:{user.username}",
            action="central.password_changed",
            region_code="",
            detail={"revoked": revoked},
        )
    return revoked


def enrol_totp(username: str, *, confirmed: bool = False) -> TOTPDevice:
    """A new TOTP device for a central admin (its ``config_url`` is the otpauth URI).

    Unconfirmed by default: it counts once :func:`confirm_totp` has seen a code
    from it, so a mistyped enrolment never locks the admin out.
    """
    user = get_user_model().objects.filter(username=username, is_staff=True).first()
    if user is None:
        raise NotFound(
            _("no central admin %(username)r") % {"username": username}, field="username"
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=confirmed)


def confirm_totp(username: str, otp: str) -> TOTPDevice:
    device = (
        TOTPDevice.objects.filter(user__username=username, confirmed=False).order_by("-id").first()
    )
    if device is None:
        raise NotFound(
            _("%(username)r has no device waiting for confirmation") % {"username": username},
            field="username",
        )
    if not device.verify_token((otp or "").strip()):
        raise InvalidInput(_("wrong one-time password"), field="otp")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device


def remove_totp(username: str) -> int:
    """Delete an admin's devices (a lost phone); returns how many."""
    deleted, _unused = TOTPDevice.objects.filter(user__username=username).delete()
    return deleted


def unlock_admin(username: str) -> bool:
    return unlock(LoginThrottle, username)
