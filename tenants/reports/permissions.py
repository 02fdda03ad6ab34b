"""Who may export what (issue 12 point 6): the scopes of README "Who may do what,
where", decided in one place.

- **the volunteer**: their own hours report and their own records (``SELF``);
- **a group's staff** (admins and recorders of an approved group): the group's
  records, hours reports and active members (``GROUP``);
- **an authority**: its division's area (``AREA``: groups registered there, the
  volunteers who live there or are active members of a group there), or one group
  inside it;
- everyone else: ``PERMISSION_DENIED``; no token: ``UNAUTHENTICATED``.

Revealing ID numbers and phones in a volunteer export follows ``may_reveal``
(000 Art.3, Art.15): it holds for every volunteer of the export exactly when the
caller *manages* the whole scope — an authority for its area (each volunteer of
it lives there or is an active member of a group there: ``may_manage``), a
group's admin holding 本团体内志愿者管理, a hub holding 区域内志愿者管理 whose area
holds the group, or an authority of the group's area for a group scope
(``managed_group_ids``, the same set ``may_manage`` reads).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from central.divisions import area_prefix
from central.errors import PermissionDenied
from central.policy import RegionPolicy
from central.tenancy import connection
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.volunteers.permissions import managed_group_ids, region_wide

SELF = "self"
GROUP = "group"
AREA = "area"


@dataclass(frozen=True)
class Scope:
    """Whose rows an export holds: one volunteer, one group, or a division's area."""

    kind: str  # SELF, GROUP or AREA
    key: str  # the volunteer's id, the group's id, or the division code

    @property
    def prefix(self) -> str:
        return area_prefix(self.key)

    def encode(self) -> str:
        return f"{self.kind}:{self.key}"

    @classmethod
    def decode(cls, text: str) -> Scope:
        kind, _sep, key = text.partition(":")
        return cls(kind, key)


def scope_for(principal: Principal, *, group=None, division_code: str | None = None) -> Scope:
    """The scope the caller asks for, if they may have it; else PermissionDenied."""
    principal = accounts.require(principal)
    if group is not None:
        if group.id in principal.staff_group_ids or principal.covers(group.division_code):
            return Scope(GROUP, str(group.id))
        raise PermissionDenied(
            _("only the staff of %(name)s and the authority of its area export it")
            % {"name": group.name},
            field="groupId",
        )
    if division_code:
        if principal.covers(division_code):
            return Scope(AREA, division_code)
        raise PermissionDenied(
            _("only an authority whose area holds %(code)s exports it") % {"code": division_code},
            field="divisionCode",
        )
    if principal.is_authority:
        # An authority's own division (the widest one, if it holds several roles).
        roles = sorted(principal.authority_roles, key=lambda r: len(area_prefix(r.division_code)))
        return Scope(AREA, roles[0].division_code)
    if principal.volunteer is not None:
        return Scope(SELF, str(principal.volunteer.id))
    raise PermissionDenied(
        _("say which group (groupId) to export; a volunteer exports their own hours only"),
        field="groupId",
    )


def may_reveal_all(scope: Scope, principal: Principal, policy: RegionPolicy) -> bool:
    """``may_reveal`` for every volunteer a volunteer export of ``scope`` holds."""
    if scope.kind == AREA:
        # Everyone in an authority's area lives there or is an active member of a
        # group registered there: ``may_manage`` holds for each of them.
        return principal.covers(scope.key) or region_wide(principal, connection.tenant.code)
    if scope.kind == GROUP:
        managed = managed_group_ids(principal, policy)
        return managed is None or int(scope.key) in managed
    return False
