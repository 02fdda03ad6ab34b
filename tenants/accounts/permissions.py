"""Who may act on an account (issue 10): the authority whose area holds the
account's place — a volunteer's division, its groups' divisions, an authority
account's own division. The one place this is decided."""

from __future__ import annotations

from django.utils.translation import gettext as _

from central.errors import PermissionDenied
from tenants.accounts.principal import Principal


def account_divisions(account) -> list[str]:
    """Where an account belongs: its volunteer's division, its roles' groups' and
    authority divisions."""
    places = [account.volunteer.division_code] if account.volunteer_id else []
    for role in account.roles.select_related("group"):
        places.append(role.group.division_code if role.group_id else role.division_code)
    return places


def require_account_keeper(account, principal: Principal) -> None:
    """An authority whose area holds every place the account belongs to (a county
    office does not unlock the city's staff, nor a member of another county's group)."""
    places = account_divisions(account)
    if not principal.is_authority or not all(principal.covers(p) for p in places):
        raise PermissionDenied(
            _("only the authority of %(username)s's area acts on this account")
            % {"username": account.username}
        )


def require_password_resetter(account, principal: Principal) -> None:
    """The authority of every place the account belongs to (``require_account_keeper``)
    resets a volunteer's or group staff's password; an authority account's is reset
    by central admins only, so no office takes over a colleague's or a superior's."""
    from django.utils.translation import gettext as _

    if account.roles.filter(kind="authority").exists():
        raise PermissionDenied(_("an authority account's password is reset by central admins"))
    require_account_keeper(account, principal)
