"""Volunteers, one by number or a page at a time."""

from __future__ import annotations

import datetime

import strawberry
from django.utils.translation import gettext as _
from strawberry.types import Info

from central.errors import PermissionDenied, Unauthenticated
from schema.errors import AccessError
from schema.region import pagination
from schema.region.auth import guarded, parse_id, policy_of, principal_of
from schema.region.pagination import encode_cursor, keyset_rows, paged
from schema.region.prefetch import asks_page_info, child_selections, kept_columns, optimized
from schema.region.volunteers.applicant import Verification, VolunteerStatus
from schema.region.volunteers.types import Volunteer, VolunteerConnection, VolunteerEdge
from tenants.volunteers import selectors as volunteer_selectors
from tenants.volunteers.models import Volunteer as VolunteerModel
from tenants.volunteers.permissions import may_view


@strawberry.input(description="Narrow the volunteer list; all given conditions must hold.")
class VolunteerFilter:
    status: VolunteerStatus | None = None
    verification: Verification | None = None
    group_id: strawberry.ID | None = None
    service_area: str | None = strawberry.field(default=None, description="Contains this text.")
    skill: str | None = strawberry.field(default=None, description="Has exactly this skill.")
    registered_from: datetime.date | None = None
    registered_to: datetime.date | None = None


@strawberry.type
class VolunteersQuery:
    @strawberry.field(
        description="One volunteer by number: themself, their groups' staff, "
        "region-wide managers and the authority."
    )
    def volunteer(self, info: Info, number: str) -> Volunteer | None:
        principal = principal_of(info)
        if principal is None:
            raise AccessError(Unauthenticated(_("log in to see volunteers")))
        # Only the columns the selected fields read (and the permission check's: KEYS),
        # and neither ORDER BY nor LIMIT: the number is unique. A known document that
        # asks for no relation reads them by a statement compiled once (issue 16
        # point 2, single lookups).
        columns = kept_columns(info, "Volunteer", VolunteerModel)
        if columns is not None:
            found = volunteer_selectors.one_by_number(number, columns)
        else:
            rows = optimized(
                volunteer_selectors.by_number(number).order_by(),
                info,
                "Volunteer",
                only_columns=True,
            )
            found = next(iter(rows), None)
        # Unknown and hidden answer alike, except to whoever sees everyone (no oracle).
        if found is None and volunteer_selectors.sees_every_volunteer(principal):
            return None
        if found is None or not may_view(found, principal, policy_of(info)):
            raise AccessError(
                PermissionDenied(
                    _("you may not see volunteer %(number)s") % {"number": number.strip()}
                )
            )
        return Volunteer(_model=found)

    @strawberry.field(description="Volunteers, a page at a time (keyset cursors, at most 100).")
    def volunteers(
        self,
        info: Info,
        filter: VolunteerFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> VolunteerConnection:
        filter = filter or VolunteerFilter()
        window = pagination.window("v", first, after, last, before, default=20)
        queryset = guarded(
            volunteer_selectors.visible_volunteers,
            principal_of(info),
            policy_of(info),
            status=filter.status.value if filter.status else None,
            verification=filter.verification.value if filter.verification else None,
            group_id=guarded(parse_id, filter.group_id, "VolunteerGroup", "groupId")
            if filter.group_id
            else None,
            service_area=filter.service_area,
            skill=filter.skill,
            registered_from=filter.registered_from,
            registered_to=filter.registered_to,
        )
        rows = keyset_rows(
            optimized(queryset, info, "Volunteer", "edges", "node"),
            "id",
            window,
            asks_page_info(child_selections(info)),
        )
        page, page_info = paged(rows, window, key=lambda v: v.id, cursor=_volunteer_cursor)
        return VolunteerConnection(
            edges=[
                VolunteerEdge(cursor=_volunteer_cursor(v), node=Volunteer(_model=v)) for v in page
            ],
            page_info=page_info,
            _count=queryset.count,
        )


def _volunteer_cursor(volunteer) -> str:
    return encode_cursor("v", volunteer.id)
