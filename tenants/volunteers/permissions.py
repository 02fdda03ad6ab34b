"""Who may see and act on which volunteer: the one place that decides it.

Every power has a role *and* a scope (issue 10; 002 annex, 001 §6, 000 Art.15):

- **the volunteer** sees themself and reveals their own personal information;
- **a group's staff** see the volunteers who are *active* members of the group
  by their own choice (an applicant or an invitee is not yet a member, finding 1),
  and its admins act on them (verify, warn, cancel, reveal) when the group holds
  本团体内志愿者管理; a group that is not approved holds no powers (finding 6,
  ``Principal.staff_group_ids`` counts approved groups only);
- **a viewing group's staff** (查看团体, 002 §3(2)) see the members of the groups
  that name their group as a viewing group, read-only;
- **a hub holding 区域内志愿者管理** sees and acts on the active members of the
  groups registered in its own division's area (finding 2);
- **an authority** sees and acts on the volunteers of its area: those who live
  there (``Volunteer.division_code``, 所在县（区）) and the active members of
  groups registered there (finding 3).

Whoever may not reveal never receives the full ID number (``may_reveal``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from central.divisions import area_prefix, prefixes_q
from central.policy import Power, RegionPolicy
from tenants.groups.models import Membership, MembershipStatus, VolunteerGroup
from tenants.groups.permissions import has_power, hub_area_prefixes


@dataclass(frozen=True)
class MemberGroup:
    """A group the volunteer is an active member of, as scope checks need it."""

    id: int
    division_code: str
    viewing_group_ids: frozenset[int]


def member_groups(volunteer) -> list[MemberGroup]:
    """The volunteer's active memberships' groups, with their viewing groups (2 queries)."""
    rows = list(
        Membership.objects.filter(volunteer=volunteer, status=MembershipStatus.ACTIVE).values_list(
            "group_id", "group__division_code"
        )
    )
    viewing: dict[int, set[int]] = {group_id: set() for group_id, _ in rows}
    if rows:
        through = VolunteerGroup.viewing_groups.through
        for viewed, viewer in through.objects.filter(
            from_volunteergroup_id__in=list(viewing)
        ).values_list("from_volunteergroup_id", "to_volunteergroup_id"):
            viewing[viewed].add(viewer)
    return [MemberGroup(g, d, frozenset(viewing[g])) for g, d in rows]


def _is_self(volunteer, principal) -> bool:
    return principal.volunteer is not None and principal.volunteer.id == volunteer.id


def _in_area(volunteer, groups: list[MemberGroup], prefixes) -> bool:
    return any(volunteer.division_code.startswith(p) for p in prefixes) or any(
        g.division_code.startswith(p) for g in groups for p in prefixes
    )


def _hub_reach(groups: list[MemberGroup], principal, policy) -> bool:
    prefixes = hub_area_prefixes(principal, policy)
    return any(g.division_code.startswith(p) for g in groups for p in prefixes)


def may_manage(
    volunteer, principal, policy: RegionPolicy, groups: list[MemberGroup] | None = None
) -> bool:
    """Verify, warn, cancel, reveal: the authority of the volunteer's area, a hub
    whose area holds one of their groups (区域内志愿者管理), or an admin of a group
    they are an active member of that holds 本团体内志愿者管理."""
    if principal is None:
        return False
    groups = member_groups(volunteer) if groups is None else groups
    if _in_area(volunteer, groups, principal.authority_prefixes):
        return True
    if _hub_reach(groups, principal, policy):
        return True
    admin_of = {g.id for g in groups} & principal.admin_group_ids
    return any(
        has_power(role.group, Power.MANAGE_OWN_VOLUNTEERS, policy)
        for role in principal.roles
        if role.group_id in admin_of and role.kind == "group_admin"
    )


def may_view(
    volunteer, principal, policy: RegionPolicy, groups: list[MemberGroup] | None = None
) -> bool:
    """The volunteer, whoever may manage them, the staff of their groups and of
    those groups' viewing groups (read-only)."""
    if principal is None:
        return False
    if _is_self(volunteer, principal):
        return True
    groups = member_groups(volunteer) if groups is None else groups
    staff = principal.staff_group_ids
    if any(g.id in staff or g.viewing_group_ids & staff for g in groups):
        return True
    return may_manage(volunteer, principal, policy, groups)


def may_reveal(volunteer, principal, policy: RegionPolicy) -> bool:
    """Full ID number and phone (000 Art.15): the volunteer, or whoever may manage them."""
    if principal is None:
        return False
    return _is_self(volunteer, principal) or may_manage(volunteer, principal, policy)


def region_wide(principal, region_code: str) -> bool:
    """True for an authority whose area is the whole region (or a central operator)."""
    return principal is not None and any(
        area_prefix(region_code).startswith(p) for p in principal.authority_prefixes
    )


def seen_groups_q(principal, policy: RegionPolicy) -> Q:
    """Groups whose members ``principal`` may see (as a condition on VolunteerGroup)."""
    staff = principal.staff_group_ids
    return (
        Q(id__in=staff)
        | Q(viewing_groups__id__in=staff)
        | prefixes_q("division_code", principal.authority_prefixes)
        | prefixes_q("division_code", hub_area_prefixes(principal, policy))
    )


def visible_volunteers_q(principal, policy: RegionPolicy) -> Q:
    """Volunteers ``principal`` may see beyond themself (as a condition on Volunteer)."""
    groups = VolunteerGroup.objects.filter(seen_groups_q(principal, policy)).values("id")
    members = Membership.objects.filter(status=MembershipStatus.ACTIVE, group_id__in=groups)
    return Q(id__in=members.values("volunteer_id")) | prefixes_q(
        "division_code", principal.authority_prefixes
    )
