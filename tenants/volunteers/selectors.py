"""Reading volunteers: who may list whom, with which filters."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from central.errors import NotFound, PermissionDenied, ServiceError, Unauthenticated
from central.policy import RegionPolicy
from central.tenancy import connection
from tenants.accounts.principal import Principal
from tenants.groups.models import MembershipStatus
from tenants.groups.permissions import hub_area_prefixes
from tenants.loading import unique_row
from tenants.volunteers.models import Volunteer
from tenants.volunteers.permissions import (
    member_groups_seen_by,
    region_wide,
    visible_volunteers_q,
)


def _numbered(number: str) -> QuerySet[Volunteer]:
    return Volunteer.objects.filter(number=number).order_by()  # unique: no order needed


def _normal(number: str) -> str:
    return (number or "").strip()


def by_number(number: str) -> QuerySet[Volunteer]:
    return _numbered(_normal(number))


def one_by_number(number: str, columns: Sequence[str]) -> Volunteer | None:
    """:func:`by_number`'s volunteer with only ``columns`` loaded, by a statement
    compiled once per column list (``tenants.loading.unique_row``; numbers are
    unique)."""
    return unique_row(_numbered, _normal(number), columns)


def sees_every_volunteer(principal: Principal) -> bool:
    """``principal`` may see and manage every volunteer of the region (an authority of
    the whole region, a central operator): the only caller to whom "no such
    volunteer" tells nothing it could not list anyway."""
    return region_wide(principal, connection.tenant.code)


def unknown_or_hidden(principal: Principal, number: str, denied: ServiceError) -> ServiceError:
    """What an unknown ``number`` is answered: NOT_FOUND only to a caller who
    :func:`sees_every_volunteer`; to anyone else ``denied``, the very error a
    volunteer they may not see gets, so that the answer is no oracle of who is
    registered here (audit round 2)."""
    if sees_every_volunteer(principal):
        return NotFound(
            _("no volunteer numbered %(number)s") % {"number": (number or "").strip()},
            field="number",
        )
    return denied


def volunteer_for(
    number: str,
    principal: Principal,
    allowed: Callable[[Volunteer], bool],
    denied: ServiceError,
    *,
    queryset: QuerySet[Volunteer] | None = None,
) -> Volunteer:
    """The volunteer numbered ``number`` when ``allowed(volunteer)`` holds; otherwise
    ``denied``, for an existing volunteer the caller may not see or act on and for an
    unknown number alike (:func:`unknown_or_hidden`). ``queryset``: e.g. one locked
    ``FOR UPDATE``."""
    rows = Volunteer.objects if queryset is None else queryset
    volunteer = rows.filter(number=(number or "").strip()).first()
    if volunteer is None:
        raise unknown_or_hidden(principal, number, denied)
    if not allowed(volunteer):
        raise denied
    return volunteer


def visible_volunteers(
    principal: Principal | None,
    policy: RegionPolicy,
    *,
    status: str | None = None,
    verification: str | None = None,
    group_id: int | None = None,
    service_area: str | None = None,
    skill: str | None = None,
    registered_from: datetime.date | None = None,
    registered_to: datetime.date | None = None,
) -> QuerySet[Volunteer]:
    """The authority lists the volunteers of its area, hubs holding 区域内志愿者管理
    the members of the groups in theirs; anyone who may see a group's members lists
    them with ``group_id`` (its staff, its viewing groups' staff); others may not list."""
    if principal is None:
        raise Unauthenticated(_("log in to list volunteers"))
    queryset = Volunteer.objects.all()
    if group_id is not None:
        seen = member_groups_seen_by(principal, policy)
        if seen is not None and group_id not in seen:
            # Not the group's row key: an id tells no row number (schema/identity.py),
            # and a group with no row is refused in the same words (audit round 5).
            raise PermissionDenied(_("you may not see this group's members"))
    elif not region_wide(principal, connection.tenant.code):
        if not (principal.authority_prefixes or hub_area_prefixes(principal, policy)):
            raise PermissionDenied(
                _(
                    "list the members of a group you staff (filter.groupId); only"
                    " the authority and hubs holding 区域内志愿者管理 list the volunteers"
                    " of their area"
                )
            )
        queryset = queryset.filter(visible_volunteers_q(principal, policy))
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
