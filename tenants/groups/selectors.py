"""Reading groups: approved groups are public; pending and rejected ones are seen
by their own staff, their liaison group's admins and the authority of their area."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from central.divisions import prefixes_q
from central.errors import NotFound
from tenants.accounts.principal import Principal
from tenants.groups.models import Membership, MembershipStatus, Review, VolunteerGroup


def kept_by_q(principal: Principal) -> Q:
    """The groups whose unpublished side ``principal`` sees — a group pending or
    refused review, its registration certificate: the group's own staff, its
    liaison group's admins and the authority of its area. The one statement of
    that rule (the groups list and the certificate file both use it)."""
    return (
        Q(id__in=principal.own_group_ids)
        | Q(liaison_group_id__in=principal.admin_group_ids)
        | prefixes_q("division_code", principal.authority_prefixes)
    )


def keeps(group: VolunteerGroup, principal: Principal) -> bool:
    return VolunteerGroup.objects.filter(kept_by_q(principal), id=group.id).exists()


def visible_group(group_id: int, principal: Principal) -> VolunteerGroup:
    """The group ``group_id`` as ``group(id:)`` shows it to ``principal``: a pending or
    rejected group the caller may not see is "no such group", as an id with no group
    (audit round 3) — its name and review are not told by a mutation either."""
    group = visible_groups(principal).filter(id=group_id).first()
    if group is None:
        raise NotFound(_("no such group"), field="groupId")
    return group


def visible_groups(
    principal: Principal | None,
    *,
    level: str | None = None,
    kind: str | None = None,
    review: str | None = None,
    liaison_group_id: int | None = None,
    top_level_only: bool = False,
) -> QuerySet[VolunteerGroup]:
    queryset = VolunteerGroup.objects.all()
    if principal is None:
        queryset = queryset.filter(review=Review.APPROVED)
    else:
        queryset = queryset.filter(Q(review=Review.APPROVED) | kept_by_q(principal))
    if level:
        queryset = queryset.filter(level=level)
    if kind:
        queryset = queryset.filter(kind=kind)
    if review:
        queryset = queryset.filter(review=review)
    if liaison_group_id is not None:
        queryset = queryset.filter(liaison_group_id=liaison_group_id)
    if top_level_only:
        queryset = queryset.filter(liaison_group__isnull=True)
    return queryset.order_by("id")


def approved_groups() -> QuerySet[VolunteerGroup]:
    """Groups anyone may see, oldest first: a group's ``subgroups`` page through these."""
    return VolunteerGroup.objects.filter(review=Review.APPROVED).order_by("id")


def pending_applications() -> QuerySet[Membership]:
    """Applications to join waiting for the group's decision (申请加入), oldest first."""
    return Membership.objects.filter(status=MembershipStatus.APPLIED).order_by("id")


def active_memberships() -> QuerySet[Membership]:
    """Active memberships in volunteer order: a group's ``volunteers`` pages through
    these (keyset on the volunteer id); ``schema/region/prefetch.py`` loads them
    for a page of groups, each group's first page only."""
    return Membership.objects.filter(status=MembershipStatus.ACTIVE).order_by("volunteer_id")
