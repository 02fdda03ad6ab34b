"""Accounts, roles and bearer tokens inside one region.

A token looks like ``rt_<division code>_<secret>``; only the SHA-256 of the
whole string is stored, in the region's own schema. The code in the token lets
another region's host say clearly that the token belongs elsewhere; even a
forged prefix gains nothing, since the digest is only looked up in the schema
of the host the request came to.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from central.divisions import (
    DivisionCodeError,
    area_prefix,
    check_division_in_region,
    division_level,
    within,
)
from central.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProblemCollector,
    Unauthenticated,
)
from central.messages import password_messages
from central.throttle import LoginAttempt, unlock
from tenants.accounts.models import (
    AccessToken,
    Account,
    AuthorityLevel,
    LoginThrottle,
    Role,
    RoleKind,
)
from tenants.accounts.principal import Principal
from tenants.audit.services import record
from tenants.loading import unique_row

if TYPE_CHECKING:
    from tenants.volunteers.models import Volunteer

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")


@cache
def _dummy_hash() -> str:
    """A hash to compare against when the username is unknown, so both paths cost the
    same. Made at the first such login, not at import: a full-cost hash at import
    delayed every worker's start and every management command by ~0.6 s."""
    return make_password("not-a-real-password")


@dataclass
class AccountPrincipal:
    """The caller of a region API request: an account and its roles, loaded once
    (a ``tenants.accounts.principal.Principal``).

    Every power has a role *and* a scope (issue 10): a group's staff act for the
    group only while it is approved (a pending or rejected group holds no powers),
    and an authority acts inside its division's subtree (``covers``).
    """

    account: Account
    roles: list[Role] = field(default_factory=list)
    memo: dict[str, frozenset[int]] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        return self.account.actor

    @property
    def volunteer(self) -> Volunteer | None:
        return self.account.volunteer

    @cached_property
    def own_group_ids(self) -> frozenset[int]:
        """Every group the account is staff of, approved or not (to see its own)."""
        return frozenset(r.group_id for r in self.roles if r.group_id is not None)

    @cached_property
    def admin_group_ids(self) -> frozenset[int]:
        """Approved groups the account administers: the groups it may act for."""
        return frozenset(
            r.group_id
            for r in self._acting_roles
            if r.kind == RoleKind.GROUP_ADMIN and r.group_id is not None
        )

    @cached_property
    def staff_group_ids(self) -> frozenset[int]:
        """Approved groups the account is admin or recorder of."""
        return frozenset(r.group_id for r in self._acting_roles if r.group_id is not None)

    @cached_property
    def _acting_roles(self) -> list[Role]:
        """Roles in an approved group (each has a group_id)."""
        from tenants.groups.models import Review

        return [r for r in self.roles if r.group is not None and r.group.review == Review.APPROVED]

    @cached_property
    def authority_roles(self) -> list[Role]:
        return [r for r in self.roles if r.kind == RoleKind.AUTHORITY]

    @cached_property
    def authority_levels(self) -> frozenset[str]:
        return frozenset(r.authority_level for r in self.authority_roles)

    @property
    def is_authority(self) -> bool:
        """Authority staff of *some* division: say which with :meth:`covers`."""
        return bool(self.authority_roles)

    def covers(self, division_code: str, level: str | None = None) -> bool:
        """True if an authority role of this account (of ``level``, when given)
        reaches ``division_code``: its division or a division under it."""
        return any(
            within(division_code, r.division_code)
            for r in self.authority_roles
            if level is None or r.authority_level == level
        )

    @cached_property
    def authority_prefixes(self) -> tuple[str, ...]:
        """What the codes of divisions in the account's authority areas start with
        (``central.divisions.area_prefix``): for filtering rows in SQL."""
        return tuple(area_prefix(r.division_code) for r in self.authority_roles)

    def recorder_role(self, group_id: int) -> Role | None:
        for role in self._acting_roles:
            if role.group_id == group_id and role.kind in (RoleKind.RECORDER, RoleKind.GROUP_ADMIN):
                return role
        return None


@dataclass
class OperatorPrincipal:
    """A central operator acting from the command line, with the authority's powers
    over the whole region.

    Management commands run the same services as the API; they act as the
    region's authority and are audited under ``cli:<name>``.
    """

    name: str
    account: None = None
    roles: list[Role] = field(default_factory=list)
    own_group_ids: frozenset[int] = frozenset()
    admin_group_ids: frozenset[int] = frozenset()
    staff_group_ids: frozenset[int] = frozenset()
    authority_roles: list[Role] = field(default_factory=list)
    authority_levels: frozenset[str] = frozenset({AuthorityLevel.PROVINCE})
    is_authority: bool = True
    volunteer: None = None
    memo: dict[str, frozenset[int]] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        return f"cli:{self.name}"

    def covers(self, division_code: str, level: str | None = None) -> bool:
        return True

    # Every division code starts with "": the operator's area is the whole region.
    authority_prefixes: tuple[str, ...] = ("",)

    def recorder_role(self, group_id: int) -> Role | None:
        return None


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def check_password_rules(problems: ProblemCollector, field_name: str, password: str) -> None:
    """The rules every new password meets (``AUTH_PASSWORD_VALIDATORS``): at
    registration, on a change and nowhere else differently."""
    try:
        validate_password(password or "")
    except ValidationError as error:
        for message in password_messages(error):
            problems.add(field_name, message)


def check_new_credentials(problems: ProblemCollector, username: str, password: str, prefix=""):
    """Validate a username and password for a new account, adding problems."""
    if not USERNAME.match(username or ""):
        problems.add(f"{prefix}username", _("3-64 letters, digits or _.@-"))
    elif Account.objects.filter(username=username).exists():
        problems.add(
            f"{prefix}username",
            _("username %(username)r is taken") % {"username": username},
            "CONFLICT",
        )
    check_password_rules(problems, f"{prefix}password", password)


def create_account(
    username: str, password: str, display_name: str, *, volunteer=None, actor: str
) -> Account:
    """Create an account; callers validate first with :func:`check_new_credentials`."""
    try:
        with transaction.atomic():
            account = Account.objects.create(
                username=username,
                password=make_password(password),
                display_name=display_name,
                volunteer=volunteer,
            )
    except IntegrityError:
        raise Conflict(
            _("username %(username)r is taken") % {"username": username}, field="username"
        ) from None
    record(actor, "account.created", account.username)
    return account


def grant_role(
    account: Account,
    kind: str,
    *,
    group=None,
    authority_level: str = "",
    authority_name: str = "",
    division_code: str = "",
    recorder_certificate: str = "",
    actor: str,
) -> Role:
    role = Role.objects.create(
        account=account,
        kind=kind,
        group=group,
        authority_level=authority_level,
        authority_name=authority_name,
        division_code=division_code,
        recorder_certificate=recorder_certificate,
    )
    record(
        actor,
        "role.granted",
        account.username,
        kind=kind,
        group=group.id if group else None,
        authority_level=authority_level,
        division=division_code or None,
    )
    return role


def check_authority_division(level: str, division_code: str, region_code: str) -> str | None:
    """Why ``division_code`` cannot be the division of a ``level`` authority in the
    region, or None. A county authority sits in a county (区/县); a city authority
    in a city (设区市) or is the region's own; a province authority is the region's
    own (for a city region: the provincial office that answers for it)."""
    try:
        check_division_in_region(division_code, region_code)
    except DivisionCodeError as error:
        return str(error)
    kind = division_level(division_code)
    if level == AuthorityLevel.COUNTY and kind != "county":
        return _("a county authority's division is a county (区/县), e.g. 500103")
    if level == AuthorityLevel.CITY and not (kind == "city" or division_code == region_code):
        return _("a city authority's division is a city (设区市, e.g. 530100) or the region")
    if level == AuthorityLevel.PROVINCE and division_code != region_code:
        return _("a province authority's division is the region's own code")
    return None


def create_authority_account(
    username: str,
    password: str,
    display_name: str,
    level: str,
    authority_name: str,
    *,
    division_code: str,
    region_code: str,
    actor: str,
) -> Account:
    """A regional authority's staff account (民政部门/文明办), e.g. from the CLI,
    bound to a division inside the region (issue 10 finding 3)."""
    problems = ProblemCollector()
    check_new_credentials(problems, username, password)
    if level not in AuthorityLevel.values:
        problems.add(
            "level", _("one of %(choices)s") % {"choices": ", ".join(AuthorityLevel.values)}
        )
    else:
        wrong = check_authority_division(level, (division_code or "").strip(), region_code)
        if wrong:
            problems.add("division", wrong)
    if not (authority_name or "").strip():
        problems.add("authorityName", _("name the authority, e.g. 昆明市五华区民政局"))
    problems.raise_if_any()
    with transaction.atomic():
        account = create_account(username, password, display_name, actor=actor)
        grant_role(
            account,
            RoleKind.AUTHORITY,
            authority_level=level,
            authority_name=authority_name.strip(),
            division_code=division_code.strip(),
            actor=actor,
        )
    return account


def set_authority_division(username: str, division_code: str, *, region_code: str, actor: str):
    """Move an authority account to another division (e.g. the accounts the issue 10
    migration bound to the whole region); audited."""
    with transaction.atomic():
        role = (
            Role.objects.select_for_update()
            .filter(kind=RoleKind.AUTHORITY, account__username=username)
            .first()
        )
        if role is None:
            raise InvalidInput(
                _("%(username)r is no authority account") % {"username": username}, field="username"
            )
        wrong = check_authority_division(role.authority_level, division_code, region_code)
        if wrong:
            raise InvalidInput(wrong, field="division")
        previous = role.division_code
        role.division_code = division_code
        role.save(update_fields=["division_code"])
        record(actor, "role.division_set", username, previous=previous, now=division_code)
    return role


class PasswordChangeRequired(InvalidInput):
    """The password was right but is a temporary one (a reset): nothing is issued
    until the account chooses its own (``change_password``)."""

    def __init__(self):
        super().__init__(
            _(
                "this is a temporary password: choose your own with changePassword"
                "(username, currentPassword, newPassword) before logging in"
            ),
            field="password",
        )


def check_login(
    username: str,
    password: str,
    address: str = "unknown",
    *,
    field_name: str = "password",
    failure_action: str = "account.login_failed",
) -> Account:
    """The account whose username and password these are: the one password check of
    every door (the API's ``login`` and ``changePassword``, the region's admin).

    Throttled per username and per client address (``central.throttle``, issue 10
    finding 8): a locked key is refused with THROTTLED before any hash is
    computed. Every failed or refused attempt is audited (username, address,
    reason; never the password). An expired temporary password is a failure.
    """

    def audit(reason: str) -> None:
        record(
            "anonymous",
            failure_action,
            (username or "")[:120],
            address=address,
            reason=reason,
        )

    with LoginAttempt(LoginThrottle, username, address, on_failure=audit) as attempt:
        account = Account.objects.filter(username=username or "").first()
        if account is None or not account.is_active:
            check_password(password or "", _dummy_hash())
            attempt.reason = "unknown_account" if account is None else "account_disabled"
            raise InvalidInput(_("wrong username or password"), field=field_name)
        if not check_password(password or "", account.password):
            attempt.reason = "wrong_password"
            raise InvalidInput(_("wrong username or password"), field=field_name)
        until = account.password_temporary_until
        if until is not None and until <= timezone.now():
            attempt.reason = "temporary_password_expired"
            raise InvalidInput(
                _("the temporary password has expired; ask for the password to be reset again"),
                field=field_name,
            )
    return account


def issue_token(
    account: Account, region_code: str, address: str = "unknown", *, via: str = "api"
) -> tuple[str, AccessToken]:
    """A new bearer token bound to this region (the admin's sessions hold one too)."""
    raw = f"rt_{region_code}_{secrets.token_urlsafe(32)}"
    token = AccessToken.objects.create(
        account=account,
        key_hash=_hash(raw),
        expires_at=timezone.now() + datetime.timedelta(hours=settings.REGION_TOKEN_TTL_HOURS),
    )
    detail = {"address": address} | ({"via": via} if via != "api" else {})
    record(account.actor, "account.login", account.username, **detail)
    return raw, token


def login(
    username: str, password: str, region_code: str, address: str = "unknown"
) -> tuple[str, AccessToken]:
    """Check a password (:func:`check_login`) and issue a token bound to this region.
    A temporary password gives no token: :class:`PasswordChangeRequired`."""
    account = check_login(username, password, address)
    if account.password_temporary_until is not None:
        raise PasswordChangeRequired()
    return issue_token(account, region_code, address)


def principal_for(account: Account) -> AccountPrincipal:
    return AccountPrincipal(account=account, roles=list(account.roles.select_related("group")))


def admin_login(username: str, password: str, region_code: str, address: str) -> AccessToken:
    """The region admin's login form: the same check as the API's ``login``, then
    authority staff only; the session keeps the token it issues (so a password
    change, a reset or the token's expiry ends the session too)."""
    account = check_login(username, password, address)
    if not principal_for(account).is_authority:
        record(account.actor, "account.admin_refused", account.username, address=address)
        raise PermissionDenied(_("only the region's authority staff may use this admin"))
    if account.password_temporary_until is not None:
        raise PasswordChangeRequired()
    return issue_token(account, region_code, address, via="admin")[1]


def session_principal(token_id) -> AccountPrincipal | None:
    """The principal of a live token kept by an admin session; None once it is
    revoked, expired or its account disabled."""
    token = (
        AccessToken.objects.select_related("account__volunteer")
        .filter(id=token_id, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if token is None or not token.account.is_active:
        return None
    return principal_for(token.account)


def end_session(token_id) -> None:
    AccessToken.objects.filter(id=token_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def _revoke_tokens(account: Account, *, keep_id=None) -> int:
    """Revoke every live token of the account but ``keep_id``; how many."""
    tokens = AccessToken.objects.filter(
        account=account, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )
    if keep_id is not None:
        tokens = tokens.exclude(id=keep_id)
    return tokens.update(revoked_at=timezone.now())


def token_id_of(raw: str | None):
    """The id of the live token ``raw`` (the one a request carries), or None."""
    if not raw:
        return None
    return AccessToken.objects.filter(key_hash=_hash(raw)).values_list("id", flat=True).first()


def change_password(
    username: str,
    current_password: str,
    new_password: str,
    *,
    address: str = "unknown",
    keep_token_id=None,
) -> tuple[Account, int]:
    """An account changes its own password: the current one is checked like a login
    (throttled; a wrong one is INVALID on ``currentPassword`` and audited
    ``account.password_change_failed``), the new one meets the registration rules
    and differs. Every other token of the account is revoked (all of them but
    ``keep_token_id``, the one the request came with), which ends its admin sessions
    too; a temporary password is thereby replaced. Audited
    ``account.password_changed``. Returns the account and how many tokens were revoked.
    """
    problems = ProblemCollector()
    check_password_rules(problems, "newPassword", new_password)
    account = check_login(
        username,
        current_password,
        address,
        field_name="currentPassword",
        failure_action="account.password_change_failed",
    )
    if new_password == current_password:
        problems.add("newPassword", _("choose a password different from the current one"))
    problems.raise_if_any()
    with transaction.atomic():
        account = Account.objects.select_for_update().get(id=account.id)
        account.password = make_password(new_password)
        account.password_temporary_until = None
        account.save(update_fields=["password", "password_temporary_until"])
        revoked = _revoke_tokens(account, keep_id=keep_token_id)
        record(account.actor, "account.password_changed", account.username, revoked=revoked)
    return account, revoked


# Letters and digits that cannot be misread for one another when read out or copied.
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _set_temporary_password(account: Account, actor: str) -> tuple[str, datetime.datetime]:
    """Give the account a one-time temporary password; revoke its tokens, lift its
    login lock and audit the reset (actor and target, never the password)."""
    temporary = "".join(secrets.choice(_TEMPORARY_ALPHABET) for _position in range(14))
    until = timezone.now() + datetime.timedelta(hours=settings.TEMPORARY_PASSWORD_HOURS)
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(id=account.id)
        locked.password = make_password(temporary)
        locked.password_temporary_until = until
        locked.save(update_fields=["password", "password_temporary_until"])
        revoked = _revoke_tokens(locked)
        unlock(LoginThrottle, locked.username)
        record(
            actor,
            "account.password_reset",
            locked.username,
            revoked=revoked,
            temporary_until=until.isoformat(),
        )
    return temporary, until


def _account_named(username: str) -> Account:
    account = Account.objects.filter(username=(username or "").strip()).first()
    if account is None:
        raise NotFound(
            _("no account %(username)r in this region") % {"username": username}, field="username"
        )
    return account


def is_authority_account(account: Account) -> bool:
    return account.roles.filter(kind=RoleKind.AUTHORITY).exists()


def reset_password(
    *, username: str, principal: Principal
) -> tuple[Account, str, datetime.datetime]:
    """The authority resets the password of a volunteer's or a group staff member's
    account in its area (``accounts.permissions.require_password_resetter``): a
    one-time temporary password, returned once, that must be changed at the next
    login. An authority account is reset by central admins only."""
    principal = require_authority(principal)
    from tenants.accounts.permissions import kept_account  # it reads roles

    account = kept_account(username, principal, for_reset=True)
    temporary, until = _set_temporary_password(account, principal.actor)
    return account, temporary, until


def reset_authority_password(
    username: str, *, actor: str
) -> tuple[Account, str, datetime.datetime]:
    """A central admin resets an authority account's password (inside the region's
    schema; ``central.services.reset_authority_password`` checks the admin)."""
    account = _account_named(username)
    if not is_authority_account(account):
        raise PermissionDenied(
            _(
                "central admins reset authority accounts only; a volunteer's or group "
                "staff's password is reset by the authority of their area"
            )
        )
    temporary, until = _set_temporary_password(account, actor)
    return account, temporary, until


def unlock_account(*, username: str, reason: str, principal: Principal) -> Account:
    """Lift a login lock and forget the failures of an account (the authority of the
    account's area: ``accounts.permissions.require_account_keeper``)."""
    principal = require_authority(principal)
    if not (reason or "").strip():  # before the username is looked at
        raise InvalidInput(_("say why the account is unlocked"), field="reason")
    from tenants.accounts.permissions import kept_account  # it reads roles

    account = kept_account(username, principal)
    was_locked = unlock(LoginThrottle, account.username)
    record(
        principal.actor,
        "account.unlocked",
        account.username,
        reason=reason.strip(),
        was_locked=was_locked,
    )
    return account


def _token_by_hash(key_hash: str) -> QuerySet[AccessToken]:
    # Every request authenticates: the statement is compiled once (unique_row).
    return (
        AccessToken.objects.select_related("account__volunteer")
        .filter(key_hash=key_hash)
        .order_by()  # unique: no order needed
    )


def authenticate(raw: str | None, region_code: str) -> AccountPrincipal | None:
    """The principal behind a bearer token on this region's host; None without a token.

    Raises :class:`Unauthenticated` for a token of another region, or one that
    is unknown, expired or revoked.
    """
    if not raw:
        return None
    if raw.startswith("rt_") and raw.split("_")[1] != region_code:
        raise Unauthenticated(
            _("this token was issued by another region; log in on this region's site")
        )
    token = unique_row(_token_by_hash, _hash(raw))
    now = timezone.now()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        raise Unauthenticated(_("the token is unknown, expired or revoked; log in again"))
    if not token.account.is_active:
        raise Unauthenticated(_("the account is disabled"))
    roles = list(token.account.roles.select_related("group"))
    return AccountPrincipal(account=token.account, roles=roles)


def logout(raw: str) -> None:
    AccessToken.objects.filter(key_hash=_hash(raw), revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def require(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated(_("log in first: send Authorization: Bearer <token>"))
    return principal


def require_authority(principal: Principal | None) -> Principal:
    principal = require(principal)
    if not principal.is_authority:
        raise PermissionDenied(_("only regional authority staff may do this"))
    return principal
