"""What a group may do: the powers of its permission group (002 annex).

The table is data in the region policy (``RegionPolicy.permission_groups``);
this module is the only place that reads it. A group that is not approved has
no powers whatever its stored permission group says.
"""

from __future__ import annotations

from central.errors import PermissionDenied
from central.policy import Power, RegionPolicy
from tenants.groups.models import Review, VolunteerGroup

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
            f"{group.name} ({group.permission_group}) lacks the power {POWER_LABELS[power]}"
        )


def admin_groups_with(principal, power: Power, policy: RegionPolicy) -> list[VolunteerGroup]:
    """The groups the caller administers that hold ``power``."""
    if principal is None:
        return []
    return [
        role.group
        for role in principal.roles
        if role.kind == "group_admin" and has_power(role.group, power, policy)
    ]


def manages_region_volunteers(principal, policy: RegionPolicy) -> bool:
    """区域内志愿者管理: authority staff, or an admin of a group holding the power."""
    if principal is None:
        return False
    return principal.is_authority or bool(
        admin_groups_with(principal, Power.MANAGE_REGION_VOLUNTEERS, policy)
    )
