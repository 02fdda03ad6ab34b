"""Reading volunteers: who may list whom, with which filters."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet

from central.errors import PermissionDenied, Unauthenticated
from tenants.groups.models import MembershipStatus
from tenants.groups.permissions import manages_region_volunteers
from tenants.volunteers.models import Volunteer


def by_number(number: str) -> QuerySet[Volunteer]:
    return Volunteer.objects.filter(number=(number or "").strip())


def visible_volunteers(
    principal,
    policy,
    *,
    status: str | None = None,
    verification: str | None = None,
    group_id: int | None = None,
    service_area: str | None = None,
    skill: str | None = None,
    registered_from: datetime.date | None = None,
    registered_to: datetime.date | None = None,
) -> QuerySet[Volunteer]:
    """Region-wide managers and the authority list everyone; group staff list the
    members of a group they staff (``group_id`` required); others may not list."""
    if principal is None:
        raise Unauthenticated("log in to list volunteers")
    queryset = Volunteer.objects.all()
    if not manages_region_volunteers(principal, policy) and (
        group_id is None or group_id not in principal.staff_group_ids
    ):
        raise PermissionDenied(
            "list the members of a group you staff (filter.groupId); only region-wide "
            "managers (区域内志愿者管理) and the authority list every volunteer"
        )
    if group_id is not None:
        queryset = queryset.filter(
            memberships__group_id=group_id, memberships__status=MembershipStatus.ACTIVE
        )
    if status:
        queryset = queryset.filter(status=status)
    if verification:
        queryset = queryset.filter(verification=verification)
    if service_area:
        queryset = queryset.filter(service_area__contains=service_area)
    if skill:
        queryset = queryset.filter(skills__contains=[skill])
    if registered_from:
        queryset = queryset.filter(registered_at__date__gte=registered_from)
    if registered_to:
        queryset = queryset.filter(registered_at__date__lte=registered_to)
    return queryset.order_by("id")
