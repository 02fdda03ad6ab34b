"""Who sees and who spends a volunteer's saved hours (时长储蓄).

- The volunteer sees their whole ledger; so does the authority of the area they
  live in (``in_authority_area``), which answers for the region's time bank.
- Whoever may read the volunteer's records (``volunteers.permissions.may_view``,
  the rule ``records.permissions.may_see_record`` falls back on: the staff of a
  group they are an active member of and of its viewing groups, hubs holding
  区域内志愿者管理 and authorities whose area holds one of those groups) sees the
  balance and the ledger entries of their own groups' withdrawals only.
- The staff (admins, recorders) of another approved group — the group about to
  serve — see the balance only with the volunteer present: their card code
  (``myCard``), as a withdrawal needs (audit round 2: a number alone gave any
  group's staff anyone's balance).
- Only the staff of the serving group record a withdrawal for that group.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from central.errors import PermissionDenied
from central.policy import RegionPolicy
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.volunteers.permissions import in_authority_area, may_view


def sees_whole_ledger(volunteer, principal: Principal) -> bool:
    own = principal.volunteer is not None and principal.volunteer.id == volunteer.id
    return own or in_authority_area(volunteer, principal)


def require_viewer(
    volunteer, principal: Principal, policy: RegionPolicy, *, card_holder=None
) -> bool:
    """True for the whole ledger, False for the balance and the caller's groups'
    withdrawals only; PERMISSION_DENIED for anyone else. ``card_holder``: the
    volunteer whose card code the caller showed (a serving group's staff)."""
    principal = accounts.require(principal)
    if sees_whole_ledger(volunteer, principal):
        return True
    if may_view(volunteer, principal, policy):
        return False
    shown = card_holder is not None and card_holder.id == volunteer.id
    if shown and principal.staff_group_ids:
        return False
    raise PermissionDenied(denied())


def denied() -> str:
    return _("only the volunteer, a serving group's staff and the authority see a time bank")


def require_serving_staff(group, principal: Principal):
    principal = accounts.require(principal)
    if group.id not in principal.staff_group_ids:
        raise PermissionDenied(
            _("only %(name)s's staff record what it spends of a time bank") % {"name": group.name}
        )
    return principal
