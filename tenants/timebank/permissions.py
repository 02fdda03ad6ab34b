"""Who sees and who spends a volunteer's saved hours (时长储蓄).

- The volunteer sees their whole ledger; so does the authority of the area they
  live in (``in_authority_area``), which answers for the region's time bank.
- The staff (admins, recorders) of an approved group — the group that serves —
  see the balance of a volunteer whose number they are given, so they know what
  may be spent, and the ledger entries of their own group's withdrawals only.
- Only the staff of the serving group record a withdrawal for that group.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from central.errors import PermissionDenied
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.volunteers.permissions import in_authority_area


def sees_whole_ledger(volunteer, principal: Principal) -> bool:
    own = principal.volunteer is not None and principal.volunteer.id == volunteer.id
    return own or in_authority_area(volunteer, principal)


def require_viewer(volunteer, principal: Principal) -> bool:
    """True for the whole ledger, False for the caller's groups' withdrawals only;
    PERMISSION_DENIED for anyone else."""
    principal = accounts.require(principal)
    if sees_whole_ledger(volunteer, principal):
        return True
    if principal.staff_group_ids:
        return False
    raise PermissionDenied(
        _("only the volunteer, a serving group's staff and the authority see a time bank")
    )


def require_serving_staff(group, principal: Principal):
    principal = accounts.require(principal)
    if group.id not in principal.staff_group_ids:
        raise PermissionDenied(
            _("only %(name)s's staff record what it spends of a time bank") % {"name": group.name}
        )
    return principal
