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

from django.db.models import Q, QuerySet

from central.divisions import area_prefix, prefixes_q
from central.policy import Power, RegionPolicy
from central.tenancy import connection
from tenants.accounts.principal import Principal
from tenants.groups.models import Membership, MembershipStatus, VolunteerGroup
from tenants.groups.permissions import has_power, hub_area_prefixes
from tenants.related import to_attr


def active_group_ids(volunteer) -> frozenset[int]:
    """The groups the volunteer is an active member of: from the memberships a page
    prefetched (``schema/region/prefetch.py``: deciding for each row of a page reads
    nothing more), else one query."""
    loaded = getattr(volunteer, to_attr("memberships"), None)
    if loaded is not None:
        return frozenset(m.group_id for m in loaded if m.status == MembershipStatus.ACTIVE)
    return frozenset(
        Membership.objects.filter(volunteer=volunteer, status=MembershipStatus.ACTIVE).values_list(
            "group_id", flat=True
        )
    )


def _is_self(volunteer, principal: Principal) -> bool:
    return principal.volunteer is not None and principal.volunteer.id == volunteer.id


def _lives_in_area(volunteer, principal: Principal) -> bool:
    return any(volunteer.division_code.startswith(p) for p in principal.authority_prefixes)


def in_authority_area(volunteer, principal: Principal) -> bool:
    """The volunteer lives in one of the caller's authority areas, or is an active
    member of a group registered there."""
    if _lives_in_area(volunteer, principal):
        return True
    if not principal.authority_prefixes:
        return False
    return VolunteerGroup.objects.filter(
        prefixes_q("division_code", principal.authority_prefixes),
        id__in=active_group_ids(volunteer),
    ).exists()


def authority_area_volunteers_q(principal: Principal) -> Q:
    """Volunteers in the caller's authority areas (as a condition on Volunteer)."""
    return _members_or_residents_q(
        prefixes_q("division_code", principal.authority_prefixes), principal
    )


def _members_or_residents_q(groups: Q, principal: Principal) -> Q:
    """Active members of the ``groups`` (a condition on VolunteerGroup), and the
    volunteers who live in the caller's authority areas."""
    group_ids = VolunteerGroup.objects.filter(groups).values("id")
    members = Membership.objects.filter(status=MembershipStatus.ACTIVE, group_id__in=group_ids)
    return Q(id__in=members.values("volunteer_id")) | prefixes_q(
        "division_code", principal.authority_prefixes
    )


def managed_group_ids(principal: Principal, policy: RegionPolicy) -> frozenset[int] | None:
    """The groups whose active members ``principal`` manages (None: every group, for
    an authority of the whole region): its approved groups holding 本团体内志愿者管理,
    the groups in the area of its hubs holding 区域内志愿者管理 and of its authority
    roles. Worked out once per request (one query, none for a plain volunteer)."""
    if region_wide(principal, connection.tenant.code):
        return None
    cached = principal.memo.get("managed_group_ids")
    if cached is not None:
        return cached
    own = {
        role.group_id
        for role in principal.roles
        if role.kind == "group_admin"
        and role.group is not None
        and role.group_id in principal.admin_group_ids
        and has_power(role.group, Power.MANAGE_OWN_VOLUNTEERS, policy)
    }
    prefixes = (*principal.authority_prefixes, *hub_area_prefixes(principal, policy))
    area = set()
    if prefixes:
        area = set(
            VolunteerGroup.objects.filter(prefixes_q("division_code", prefixes)).values_list(
                "id", flat=True
            )
        )
    cached = frozenset(own | area)
    principal.memo["managed_group_ids"] = cached
    return cached


def may_manage(volunteer, principal: Principal, policy: RegionPolicy) -> bool:
    """Verify, warn, cancel, reveal: the authority of the volunteer's area (where they
    live, or where one of their groups is registered), a hub whose area holds one of
    their groups (区域内志愿者管理), or an admin of a group they are an active member
    of that holds 本团体内志愿者管理."""
    if principal is None:
        return False
    if _lives_in_area(volunteer, principal):
        return True
    managed = managed_group_ids(principal, policy)
    if managed is None:
        return True
    return bool(managed) and bool(active_group_ids(volunteer) & managed)


def may_view(volunteer, principal: Principal, policy: RegionPolicy) -> bool:
    """The volunteer, the authority of their area, and whoever may see the members of
    a group they are an active member of (its staff, its viewing groups' staff, hubs
    and authorities whose area holds it: :func:`member_groups_seen_by`)."""
    if principal is None:
        return False
    if _is_self(volunteer, principal) or _lives_in_area(volunteer, principal):
        return True
    seen = member_groups_seen_by(principal, policy)
    return seen is None or (bool(seen) and bool(active_group_ids(volunteer) & seen))


def may_reveal(volunteer, principal: Principal | None, policy: RegionPolicy) -> bool:
    """Who may see a volunteer's personal information in full — ID number, phone,
    birth date (000 Art.3, Art.15; issue 10 findings 4 and 5): the volunteer
    themself, or whoever :func:`may_manage` them. Every reveal decision goes through
    here (``revealPersonalInfo``, ``Volunteer.birthDate``, ``revealTransferPackage``)."""
    if principal is None:
        return False
    return _is_self(volunteer, principal) or may_manage(volunteer, principal, policy)


def may_move(volunteer, division_code: str, principal: Principal) -> bool:
    """Who says where a volunteer lives: themself, or an authority whose area holds
    both where they lived and where they now live."""
    if principal is None:
        return False
    return _is_self(volunteer, principal) or (
        principal.covers(volunteer.division_code) and principal.covers(division_code)
    )


def region_wide(principal: Principal, region_code: str) -> bool:
    """True for an authority whose area is the whole region (or a central operator)."""
    return principal is not None and any(
        area_prefix(region_code).startswith(p) for p in principal.authority_prefixes
    )


def seen_groups_q(principal: Principal, policy: RegionPolicy) -> Q:
    """Groups whose members ``principal`` may see (as a condition on VolunteerGroup)."""
    staff = principal.staff_group_ids
    return (
        Q(id__in=staff)
        | Q(viewing_groups__id__in=staff)
        | prefixes_q("division_code", principal.authority_prefixes)
        | prefixes_q("division_code", hub_area_prefixes(principal, policy))
    )


def visible_volunteers_q(principal: Principal, policy: RegionPolicy) -> Q:
    """Volunteers ``principal`` may see beyond themself (as a condition on Volunteer)."""
    return _members_or_residents_q(seen_groups_q(principal, policy), principal)


def member_groups_seen_by(
    principal: Principal | None, policy: RegionPolicy
) -> frozenset[int] | None:
    """The groups whose members (and applicants) ``principal`` may see: None for every
    group (an authority of the whole region), else the groups they staff, the groups
    that name those as viewing groups (查看团体), and the groups registered in their
    authority's or hub's (区域内志愿者管理) area (``volunteers.permissions``).
    Worked out once per request."""
    if principal is None:
        return frozenset()
    if region_wide(principal, connection.tenant.code):
        return None
    cached = principal.memo.get("member_groups_seen")
    if cached is None:
        cached = frozenset(
            VolunteerGroup.objects.filter(seen_groups_q(principal, policy))
            .values_list("id", flat=True)
            .distinct()
        )
        principal.memo["member_groups_seen"] = cached
    return cached


def memberships_seen_by(
    queryset: QuerySet[Membership], principal: Principal, policy: RegionPolicy
) -> QuerySet[Membership]:
    """``queryset`` narrowed to the memberships ``principal`` may see."""
    groups = member_groups_seen_by(principal, policy)
    return queryset if groups is None else queryset.filter(group_id__in=groups)
