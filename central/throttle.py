"""Login throttling with backoff (issue 10 finding 8), one implementation for every
login door: a region's ``login`` (state in the region's schema,
``tenants.accounts.LoginThrottle``), the central API's ``login`` and the Django
admin's login form (state in the public schema, ``central.LoginThrottle``).

Each attempt is counted twice, by the username it names and by the client's
address, in a row per (scope, key). An attempt first *reserves* a slot on both
rows, under row locks (``SELECT … FOR UPDATE``, rows created by ``INSERT … ON
CONFLICT DO NOTHING``), so concurrent requests in several workers and threads
cannot all slip through: a locked row, or one whose every slot is taken by
attempts in flight, refuses the attempt at once with ``THROTTLED`` and the
seconds until it may be retried, before any password hash is computed. A
failure keeps its slot; reaching the limit locks the row for
``BASE_SECONDS × 2^(earlier locks)`` (at most ``MAX_SECONDS``). A success frees
the address's slot and clears the account's row. Failures are forgotten after
``WINDOW_SECONDS`` without attempts, earlier locks after a day.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from central.errors import ServiceError, Throttled

ACCOUNT = "account"
ADDRESS = "address"
# Refused lookups from one client address (a registration refused because the ID
# number is already registered, audit round 3): see :func:`check_refusals`.
REFUSAL = "refusal"
# Public certificate lookups that found nothing, from one client address (audit
# round 6: ``verifyCertificate`` and the verification page), counted the same way.
VERIFY = "verify"
# After this long without a lock, a key's backoff starts again from BASE_SECONDS.
LOCKOUT_MEMORY = datetime.timedelta(days=1)
# When every slot of a key is taken by attempts still being checked.
BUSY_RETRY_SECONDS = 5
KEY_LENGTH = 150


class LoginThrottleBase(models.Model):
    """Failed attempts and the lock of one username or one client address."""

    scope = models.CharField(
        max_length=16,
        choices=[
            (ACCOUNT, ACCOUNT),
            (ADDRESS, ADDRESS),
            (REFUSAL, REFUSAL),
            (VERIFY, VERIFY),
        ],
    )
    key = models.CharField(max_length=KEY_LENGTH)
    # Failures (and attempts being checked) since the last success, lock or quiet window.
    failures = models.PositiveIntegerField(default=0)
    # Locks so far: the next one lasts BASE_SECONDS * 2**lockouts.
    lockouts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return (
            f"{self.scope} {self.key}: {self.failures} failures, locked until {self.locked_until}"
        )


@dataclass(frozen=True)
class Limits:
    limit: int
    base_seconds: int
    max_seconds: int
    window_seconds: int


def limits(scope: str) -> Limits:
    config = settings.LOGIN_THROTTLE
    by_scope = {
        ACCOUNT: config["ACCOUNT_LIMIT"],
        ADDRESS: config["ADDRESS_LIMIT"],
        REFUSAL: settings.REFUSAL_LIMIT,
        VERIFY: settings.VERIFY_MISS_LIMIT,
    }
    return Limits(
        limit=by_scope[scope],
        base_seconds=config["BASE_SECONDS"],
        max_seconds=config["MAX_SECONDS"],
        window_seconds=config["WINDOW_SECONDS"],
    )


def client_address(request) -> str:
    """The caller's address: ``REMOTE_ADDR``, or the last value of the header a
    trusted reverse proxy sets (``PLATFORM_CLIENT_ADDRESS_HEADER``)."""
    header = settings.CLIENT_ADDRESS_HEADER
    if header:
        value = request.headers.get(header, "")
        last = value.split(",")[-1].strip()
        if last:
            return last[:KEY_LENGTH]
    return (request.META.get("REMOTE_ADDR") or "unknown")[:KEY_LENGTH]


def one_login_per_request(request) -> None:
    """Refuse every ``login`` after the first of one HTTP request (a batch of
    operations, or aliased fields in one document), before any work."""
    seen = getattr(request, "_platform_logins", 0)
    request._platform_logins = seen + 1
    if seen:
        raise Throttled(_("one login per request: this request already carried a login"))


def _seconds_until(moment: datetime.datetime, now: datetime.datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def _refusal(scope: str, retry_after: int, until: datetime.datetime | None) -> Throttled:
    values: dict[str, int | str] = {"retry_after": retry_after}
    if until:
        values["until"] = f"{timezone.localtime(until):%Y-%m-%d %H:%M:%S}"
    if scope == ACCOUNT and until:
        message = _(
            "too many failed logins for this account; try again in %(retry_after)s s (at %(until)s)"
        )
    elif scope == ACCOUNT:
        message = _("too many failed logins for this account; try again in %(retry_after)s s")
    elif until:
        message = _(
            "too many failed logins from your address; try again in %(retry_after)s s "
            "(at %(until)s)"
        )
    else:
        message = _("too many failed logins from your address; try again in %(retry_after)s s")
    return Throttled(
        message % values,
        field="username" if scope == ACCOUNT else None,
        retry_after=retry_after,
    )


class LoginAttempt:
    """One login attempt against ``model`` (a concrete :class:`LoginThrottleBase`).

    Use as a context manager around the password check::

        with LoginAttempt(LoginThrottle, username, address, on_failure=audit) as attempt:
            ...check; on a failure set attempt.reason and raise a ServiceError...

    Entering reserves the slots or raises :class:`Throttled` (after calling
    ``on_failure`` with the reason). Leaving with a ``ServiceError`` (or a form's
    ``ValidationError``) records a
    failure; leaving normally records a success. ``on_failure(reason)`` is
    called after the throttle's own transaction, for the audit log.
    """

    def __init__(
        self,
        model: type[LoginThrottleBase],
        username: str,
        address: str,
        *,
        on_failure: Callable[[str], None] | None = None,
    ):
        self.model = model
        self.keys = [(ACCOUNT, (username or "")[:KEY_LENGTH]), (ADDRESS, address[:KEY_LENGTH])]
        self.on_failure = on_failure or (lambda reason: None)
        self.reason = "wrong_credentials"
        # Set when the attempt ended in a step of the login rather than a failure
        # (the admin form asking for a device after a right password): its slots
        # are freed and nothing is counted or audited.
        self.incomplete = False

    def __enter__(self) -> LoginAttempt:
        try:
            self._reserve()
        except Throttled:
            self.on_failure(self.reason)
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self._succeeded()
        elif self.incomplete:
            self._release()
        elif issubclass(exc_type, ServiceError | ValidationError):
            self._failed()
            self.on_failure(self.reason)
        # else an unexpected error: the slot stays taken until the window passes

    def _locked_rows(self) -> list[LoginThrottleBase]:
        self.model._default_manager.bulk_create(
            [self.model(scope=scope, key=key) for scope, key in self.keys],
            ignore_conflicts=True,
        )
        rows = []
        for scope, key in self.keys:  # always account, then address: no deadlock
            rows.append(self.model._default_manager.select_for_update().get(scope=scope, key=key))
        return rows

    def _reserve(self) -> None:
        with transaction.atomic():
            now = timezone.now()
            rows = self._locked_rows()
            for row in rows:
                limit = limits(row.scope)
                if row.locked_until and row.locked_until > now:
                    self.reason = f"{row.scope}_locked"
                    raise _refusal(
                        row.scope, _seconds_until(row.locked_until, now), row.locked_until
                    )
                if row.updated_at < now - datetime.timedelta(seconds=limit.window_seconds):
                    row.failures = 0
                if row.updated_at < now - LOCKOUT_MEMORY:
                    row.lockouts = 0
                if row.failures >= limit.limit:  # every slot taken by attempts in flight
                    self.reason = f"{row.scope}_busy"
                    raise _refusal(row.scope, BUSY_RETRY_SECONDS, None)
            for row in rows:
                row.failures += 1
                row.locked_until = None
                row.updated_at = now
                row.save(update_fields=["failures", "lockouts", "locked_until", "updated_at"])

    def _failed(self) -> None:
        with transaction.atomic():
            now = timezone.now()
            for row in self._locked_rows():
                limit = limits(row.scope)
                if row.failures >= limit.limit and not (
                    row.locked_until and row.locked_until > now
                ):
                    seconds = min(
                        limit.base_seconds * 2 ** min(row.lockouts, 30), limit.max_seconds
                    )
                    row.locked_until = now + datetime.timedelta(seconds=seconds)
                    row.lockouts += 1
                    row.failures = 0
                row.updated_at = now
                row.save(update_fields=["failures", "lockouts", "locked_until", "updated_at"])

    def _succeeded(self) -> None:
        (account_scope, account_key), (address_scope, address_key) = self.keys
        self.model._default_manager.filter(scope=account_scope, key=account_key).update(
            failures=0, lockouts=0, locked_until=None, updated_at=timezone.now()
        )
        self.model._default_manager.filter(scope=address_scope, key=address_key).update(
            failures=Greatest(F("failures") - 1, Value(0))
        )

    def _release(self) -> None:
        for scope, key in self.keys:
            self.model._default_manager.filter(scope=scope, key=key).update(
                failures=Greatest(F("failures") - 1, Value(0))
            )


def unlock(model: type[LoginThrottleBase], username: str) -> bool:
    """Lift an account's lock and forget its failures; whether there was a lock."""
    now = timezone.now()
    rows = model._default_manager.filter(scope=ACCOUNT, key=(username or "")[:KEY_LENGTH])
    was_locked = rows.filter(locked_until__gt=now).exists()
    rows.update(failures=0, lockouts=0, locked_until=None, updated_at=now)
    return was_locked


# --- refused lookups (audit rounds 3 and 4) ----------------------------------------
#
# A registration refused because the ID number is already registered tells the caller
# that the person exists; the refusal is needed (one volunteer per ID number), so its
# rate is bounded instead. Only refusals are counted, so registering a new person
# costs one indexed read of the address's row and nothing more; while the address is
# locked every attempt from it is refused before any lookup (else the lock itself
# would answer). A refusal is *told* only once counted: :func:`count_refusal` takes
# the address's row lock, and a request that passed the read before the lock fell
# (concurrent requests from one address) finds the row locked there and is answered
# ``THROTTLED`` in its refusal's place — so no more than ``REFUSAL_LIMIT`` refusals
# per lock reach one address, however many requests it sends at once (audit round 4).
#
# Scope ``VERIFY`` (audit round 6) counts the public certificate lookups
# (``verifyCertificate``, ``/certificates/verify``) that found no certificate, so
# codes cannot be enumerated at line rate; a lookup that finds one is never
# counted, and a locked address is refused every lookup (else the lock would
# answer "not found" in the miss's place). Limit: ``VERIFY_MISS_LIMIT``.


def _refusal_throttled(retry_after: int, until: datetime.datetime, scope: str) -> Throttled:
    values = {
        "retry_after": retry_after,
        "until": f"{timezone.localtime(until):%Y-%m-%d %H:%M:%S}",
    }
    if scope == VERIFY:
        message = _(
            "too many certificate codes not found from your address; try again in "
            "%(retry_after)s s (at %(until)s)"
        )
    else:
        message = _(
            "too many refused registrations from your address; try again in "
            "%(retry_after)s s (at %(until)s)"
        )
    return Throttled(message % values, retry_after=retry_after)


def check_refusals(model: type[LoginThrottleBase], address: str, scope: str = REFUSAL) -> None:
    """Raise ``THROTTLED`` if ``address`` is locked for refused lookups of ``scope``
    (``REFUSAL`` or ``VERIFY``; one read, no row lock: the happy path stays as
    cheap as it was)."""
    now = timezone.now()
    until = (
        model._default_manager.filter(scope=scope, key=address[:KEY_LENGTH])
        .values_list("locked_until", flat=True)
        .first()
    )
    if until is not None and until > now:
        raise _refusal_throttled(_seconds_until(until, now), until, scope)


def count_refusal(
    model: type[LoginThrottleBase], address: str, scope: str = REFUSAL
) -> datetime.datetime | None:
    """Count one refused lookup from ``address`` before it is told, under the row's
    lock; reaching the scope's limit locks the address for
    ``BASE_SECONDS × 2^(earlier locks)`` (at most ``MAX_SECONDS``), as a login's
    failures do. Raises ``THROTTLED`` instead of counting when the address is
    already locked: the caller then answers that, not the refusal (a request that
    passed :func:`check_refusals` while a concurrent one locked the address).
    ``scope``: ``REFUSAL`` (registrations, ``REFUSAL_LIMIT``) or ``VERIFY``
    (certificate codes not found, ``VERIFY_MISS_LIMIT``). Returns when the lock
    this count set ends, or None when it set none."""
    key = address[:KEY_LENGTH]
    limit = limits(scope)
    locked: datetime.datetime | None = None
    with transaction.atomic():
        now = timezone.now()
        model._default_manager.bulk_create([model(scope=scope, key=key)], ignore_conflicts=True)
        row = model._default_manager.select_for_update().get(scope=scope, key=key)
        if row.locked_until is not None and row.locked_until > now:
            raise _refusal_throttled(_seconds_until(row.locked_until, now), row.locked_until, scope)
        if row.updated_at < now - datetime.timedelta(seconds=limit.window_seconds):
            row.failures = 0
        if row.updated_at < now - LOCKOUT_MEMORY:
            row.lockouts = 0
        row.failures += 1
        if row.failures >= limit.limit:
            seconds = min(limit.base_seconds * 2 ** min(row.lockouts, 30), limit.max_seconds)
            row.locked_until = locked = now + datetime.timedelta(seconds=seconds)
            row.lockouts += 1
            row.failures = 0
        row.updated_at = now
        row.save(update_fields=["failures", "lockouts", "locked_until", "updated_at"])
    return locked
