"""What a group may do: the powers of its permission group (002 annex).

The table is data in the region policy (``RegionPolicy.permission_groups``);
this module is the only place that reads it. A group that is not approved has
no powers whatever its stored permission group says.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from central.divisions import area_prefix, division_level, prefixes_q, within
from central.errors import PermissionDenied, Unauthenticated
from central.messages import shown
from central.policy import HubLevel, Power, RegionPolicy
from central.tenancy import connection
from tenants.accounts.principal import Principal
from tenants.groups.models import GroupKind, RegistrationStatus, Review, VolunteerGroup

POWER_LABELS = {
    Power.MANAGE_OWN_VOLUNTEERS: "本团体内志愿者管理",
    Power.PUBLISH_WITHOUT_REVIEW: "发布项目无须审核",
    Power.ALLOW_SUBGROUP_REGISTRATION: "允许下级团体注册",
    Power.FAST_REVIEW_SUBGROUPS: "对下级团体快审",
    Power.MANAGE_REGION_VOLUNTEERS: "区域内志愿者管理",
}


def group_powers(group: VolunteerGroup, policy: RegionPolicy) -> frozenset[Power]:
    if group.review != Review.APPROVED:
        return frozenset()
    try:
        return policy.powers_of(group.permission_group)
    except KeyError:  # a table edit removed the group's row: it keeps no power
        return frozenset()


def has_power(group: VolunteerGroup, power: Power, policy: RegionPolicy) -> bool:
    return power in group_powers(group, policy)


def require_power(group: VolunteerGroup, power: Power, policy: RegionPolicy) -> None:
    if not has_power(group, power, policy):
        raise PermissionDenied(
            _("%(name)s (%(permission_group)s) lacks the power %(power_labels)s")
            % {
                "name": group.name,
                "permission_group": group.permission_group,
                "power_labels": POWER_LABELS[power],
            }
        )


def admin_groups_with(
    principal: Principal, power: Power, policy: RegionPolicy
) -> list[VolunteerGroup]:
    """The (approved) groups the caller administers that hold ``power``."""
    if principal is None:
        return []
    return [
        role.group
        for role in principal.roles
        if role.kind == "group_admin"
        and role.group is not None
        and role.group_id in principal.admin_group_ids
        and has_power(role.group, power, policy)
    ]


def hub_area_prefixes(principal: Principal, policy: RegionPolicy) -> tuple[str, ...]:
    """区域内志愿者管理 (002 annex) is the hub's own area, not the region: the
    division prefixes (``central.divisions.area_prefix``) of the approved groups the
    caller administers that hold the power. Their reach is the active members of
    the groups registered in those divisions (issue 10 finding 2)."""
    return tuple(
        area_prefix(group.division_code)
        for group in admin_groups_with(principal, Power.MANAGE_REGION_VOLUNTEERS, policy)
        if hub_placed(group)
    )


# A hub's division must be as fine as its level: a district hub sits in a county
# (区/县), a city hub in a city (设区市) — or at a city region's or a 直辖市's own code.
MUNICIPALITIES = {"11", "12", "31", "50"}


def hub_division_problem(level: str, division_code: str, region_code: str) -> str | None:
    """Why ``division_code`` is too coarse for a hub of ``level``, or None."""
    kind = division_level(division_code)
    if level == HubLevel.DISTRICT and kind != "county":
        return _(
            "a district-level hub is registered in its district or county (区/县), e.g. 500103"
        )
    if level == HubLevel.CITY and kind == "province" and region_code[:2] not in MUNICIPALITIES:
        return _("a city-level hub is registered in its city (设区市), e.g. 530100")
    return None


def hub_placed(group: VolunteerGroup) -> bool:
    """Whether a hub's division fits its level. A hub from before divisions (migrated at
    the region's own code) holds 区域内志愿者管理 over nothing until the authority
    places it (``setGroupDivision``): it never reaches the whole region by default."""
    if group.kind != GroupKind.HUB or group.level not in (HubLevel.CITY, HubLevel.DISTRICT):
        return True
    return hub_division_problem(group.level, group.division_code, connection.tenant.code) is None


def reviews_as_authority(group: VolunteerGroup, principal: Principal) -> bool:
    """002 §3(3): the authority that reviews ``group``. A legal person (法人组织) is
    reviewed by its own registration authority (登记机关: an authority account of
    that name whose area holds the group); any other group by an authority whose
    area holds the group's division."""
    if principal is None or not principal.is_authority:
        return False
    if group.registration_status == RegistrationStatus.LEGAL_PERSON:
        if getattr(principal, "account", None) is None:  # a central operator (CLI)
            return True
        return any(
            role.authority_name == group.registration_authority
            and within(group.division_code, role.division_code)
            for role in principal.authority_roles
        )
    return principal.covers(group.division_code)


def require_group_staff(group: VolunteerGroup, principal: Principal, *, admin: bool = True) -> None:
    """The caller acts for ``group`` as its admin (or, ``admin=False``, admin or
    recorder). A group that is not approved holds no powers (issue 10 finding 6):
    its own staff are told so."""
    if principal is None:
        raise Unauthenticated(_("log in first: send Authorization: Bearer <token>"))
    acting = principal.admin_group_ids if admin else principal.staff_group_ids
    if group.id in acting:
        return
    if group.id in principal.own_group_ids and group.review != Review.APPROVED:
        raise PermissionDenied(
            _("%(name)s is %(review)s: a group that is not approved holds no powers")
            % {"name": group.name, "review": shown(group, "review")}
        )
    if admin:
        raise PermissionDenied(_("you are not an admin of %(name)s") % {"name": group.name})
    raise PermissionDenied(_("you are not staff of %(name)s") % {"name": group.name})


def _ancestors(group: VolunteerGroup) -> list[VolunteerGroup]:
    chain, current, seen = [], group.liaison_group, set()
    while current is not None and current.id not in seen:
        seen.add(current.id)
        chain.append(current)
        current = current.liaison_group
    return chain


def may_set_permission_group(
    group: VolunteerGroup, principal: Principal, policy: RegionPolicy
) -> bool:
    """002 §3(4): who may change a group's permission group.

    - a hub below the top: the hub one level up (its liaison), e.g. 区/县协会 by
      市联合会, 镇/街道总队 by 区/县协会;
    - a non-hub group or a branch: the district- or city-level hub above it
      (可向区/县志愿者协会（联合会）或市志愿服务联合会提出申请);
    - the top hub and legal persons: the regional authority.
    The authority of the group's division may always.
    """
    if principal is None:
        return False
    if principal.covers(group.division_code):
        return True
    if group.kind == GroupKind.HUB:
        return group.liaison_group_id is not None and group.liaison_group_id in (
            principal.admin_group_ids
        )
    if group.registration_status == RegistrationStatus.LEGAL_PERSON:
        return False
    return any(
        hub.kind == GroupKind.HUB
        and hub.level in (HubLevel.CITY, HubLevel.DISTRICT)
        and hub.id in principal.admin_group_ids
        for hub in _ancestors(group)
    )


def require_permission_group_setter(
    group: VolunteerGroup, name: str, principal: Principal, policy: RegionPolicy
) -> None:
    """002 §3(4) who may change ``group``'s permission group (``may_set_permission_group``);
    a hub doing so gives no power its own groups lack — only the authority of the
    group's area may raise a group above its giver."""
    if not may_set_permission_group(group, principal, policy):
        raise PermissionDenied(
            _("you may not change the permission group of %(name)s") % {"name": group.name}
        )
    if principal.covers(group.division_code):
        return
    giver = _giver(group, principal)
    held = group_powers(giver, policy) if giver is not None else frozenset()
    beyond = policy.powers_of(name) - held
    if beyond:
        raise PermissionDenied(
            _(
                "%(name)s holds %(choices)s, which your group does not: only "
                "the authority grants more than you hold"
            )
            % {"name": name, "choices": ", ".join(POWER_LABELS[p] for p in sorted(beyond))}
        )


def _giver(group: VolunteerGroup, principal: Principal) -> VolunteerGroup | None:
    """The group through which the caller may set ``group``'s permission group (002
    §3(4)): a hub's liaison; for other groups the nearest district- or city-level hub
    above that the caller administers. Its powers cap what it gives."""
    if group.kind == GroupKind.HUB:
        return group.liaison_group
    return next(
        (
            hub
            for hub in _ancestors(group)
            if hub.kind == GroupKind.HUB
            and hub.level in (HubLevel.CITY, HubLevel.DISTRICT)
            and hub.id in principal.admin_group_ids
        ),
        None,
    )


def require_group_placer(group: VolunteerGroup, division_code: str, principal: Principal) -> None:
    """Where a group is registered decides who answers for it: an authority whose
    area holds both the old and the new division moves it."""
    if not (principal.covers(group.division_code) and principal.covers(division_code)):
        raise PermissionDenied(
            _("only an authority whose area holds both divisions places a group")
        )


def require_group_reviewer(
    group: VolunteerGroup, principal: Principal, policy: RegionPolicy
) -> None:
    """002 §3(3): the liaison group reviews if it holds 快审; else the authority of
    the group's division; a legal person, its own registration authority."""
    if principal is None:
        raise Unauthenticated(_("log in first: send Authorization: Bearer <token>"))
    if reviews_as_authority(group, principal):
        return
    if group.registration_status == RegistrationStatus.LEGAL_PERSON:
        raise PermissionDenied(
            _(
                "%(name)s is a legal person: its registration authority "
                "(%(registration_authority)s) reviews it (002 §3(3))"
            )
            % {"name": group.name, "registration_authority": group.registration_authority}
        )
    liaison = group.liaison_group
    if (
        liaison is not None
        and liaison.id in principal.admin_group_ids
        and has_power(liaison, Power.FAST_REVIEW_SUBGROUPS, policy)
    ):
        return
    if liaison is not None and liaison.id in principal.admin_group_ids:
        raise PermissionDenied(
            _(
                "%(name)s (%(permission_group)s) lacks 对下级团体快审; the regional "
                "authority reviews this group"
            )
            % {"name": liaison.name, "permission_group": liaison.permission_group}
        )
    raise PermissionDenied(
        _(
            "only the liaison group (with 快审) or the authority of the "
            "group's division (%(division_code)s) reviews this group"
        )
        % {"division_code": group.division_code}
    )


def group_reviewer_q(principal: Principal, policy: RegionPolicy) -> Q:
    """:func:`require_group_reviewer` as a condition on VolunteerGroup: the groups
    ``principal`` reviews (002 §3(3)) — as the liaison's admin holding 对下级团体快审,
    as the authority of the group's division, or, for a legal person, as its own
    registration authority (:func:`reviews_as_authority`)."""
    legal = Q(registration_status=RegistrationStatus.LEGAL_PERSON)
    fast = [g.id for g in admin_groups_with(principal, Power.FAST_REVIEW_SUBGROUPS, policy)]
    condition = ~legal & Q(liaison_group_id__in=fast)
    if not principal.is_authority:
        return condition
    if getattr(principal, "account", None) is None:  # a central operator (CLI)
        return Q()
    condition |= ~legal & prefixes_q("division_code", principal.authority_prefixes)
    for role in principal.authority_roles:
        condition |= (
            legal
            & Q(registration_authority=role.authority_name)
            & prefixes_q("division_code", (area_prefix(role.division_code),))
        )
    return condition


def require_member_manager(
    group: VolunteerGroup, principal: Principal, policy: RegionPolicy
) -> None:
    """本团体内志愿者管理: an admin of the group, and the group holds the power."""
    require_group_staff(group, principal)
    require_power(group, Power.MANAGE_OWN_VOLUNTEERS, policy)


def member_manager_group_ids(principal: Principal, policy: RegionPolicy) -> frozenset[int]:
    """:func:`require_member_manager` for every group at once: the approved groups the
    caller administers that hold 本团体内志愿者管理 (who decide applications to join)."""
    return frozenset(
        g.id for g in admin_groups_with(principal, Power.MANAGE_OWN_VOLUNTEERS, policy)
    )


def require_membership_seen(membership, principal: Principal) -> None:
    """``decideMembership``'s first check: a membership (``None``: no row with the id)
    of a group the caller is not staff of is refused alike, naming no group (audit
    round 3); the group's own staff go on to :func:`require_member_manager`."""
    if membership is None or membership.group_id not in principal.own_group_ids:
        raise PermissionDenied(_("you may not decide this membership"))


def may_see_applications(group_id: int, principal: Principal | None) -> bool:
    """What applicants shared (issue 10 finding 1) is for the group that decides: its
    own staff, not its viewing groups, hubs or authorities (they see the application,
    not what was shared)."""
    return principal is not None and group_id in principal.staff_group_ids
