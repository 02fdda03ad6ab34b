"""Who may act on an account (issue 10): the authority whose area holds the
account's place — a volunteer's division, its groups' divisions, an authority
account's own division. The one place this is decided."""

from __future__ import annotations

from django.utils.translation import gettext as _

from central.errors import NotFound, PermissionDenied
from central.tenancy import connection
from tenants.accounts.principal import Principal


def account_divisions(account) -> list[str]:
    """Where an account belongs: its volunteer's division, its roles' groups' and
    authority divisions."""
    places = [account.volunteer.division_code] if account.volunteer_id else []
    for role in account.roles.select_related("group"):
        places.append(role.group.division_code if role.group_id else role.division_code)
    return places


def _not_keeper(username: str) -> PermissionDenied:
    return PermissionDenied(
        _("only the authority of %(username)s's area acts on this account")
        % {"username": (username or "").strip()}
    )


def require_account_keeper(account, principal: Principal) -> None:
    """An authority whose area holds every place the account belongs to (a county
    office does not unlock the city's staff, nor a member of another county's group).
    An account that belongs nowhere (no volunteer, no role) is the whole region's."""
    places = account_divisions(account) or [connection.tenant.code]
    if not principal.is_authority or not all(principal.covers(p) for p in places):
        raise _not_keeper(account.username)


def kept_account(username: str, principal: Principal, *, for_reset: bool = False):
    """The account named ``username`` when ``principal`` keeps it
    (:func:`require_account_keeper`; for a password reset also
    :func:`require_password_resetter`). An unknown username is answered as an
    account out of the caller's area — the same code, field and words — so that
    ``resetPassword`` and ``unlockAccount`` tell another area's authority nothing of
    who has an account here (audit round 4); only an authority of the whole region,
    who keeps every account anyway, is told ``NOT_FOUND``."""
    from tenants.accounts.models import Account

    account = Account.objects.filter(username=(username or "").strip()).first()
    if account is None:
        if principal.is_authority and principal.covers(connection.tenant.code):
            raise NotFound(
                _("no account %(username)r in this region") % {"username": username},
                field="username",
            )
        raise _not_keeper(username)
    require_account_keeper(account, principal)
    if for_reset:
        require_password_resetter(account, principal)
    return account


def require_password_resetter(account, principal: Principal) -> None:
    """The authority of every place the account belongs to (``require_account_keeper``)
    resets a volunteer's or group staff's password; an authority account's is reset
    by central admins only, so no office takes over a colleague's or a superior's.
    The keeper is asked first: to anyone else an authority's username is any other
    account out of their area."""
    require_account_keeper(account, principal)
    if account.roles.filter(kind="authority").exists():
        raise PermissionDenied(_("an authority account's password is reset by central admins"))
