"""Queries of a region's API. Resolvers authorize, call a selector, shape the result."""

from __future__ import annotations

import datetime

import strawberry
from django.utils.translation import gettext as _
from strawberry.types import Info

from central.errors import PermissionDenied, Unauthenticated
from schema.central.types import Region, region_type
from schema.errors import AccessError
from schema.region import types as t
from schema.region.auth import caller, guarded, local_id, parse_id, policy_of, principal_of
from schema.region.prefetch import child_selections, optimize, optimized
from tenants.groups import selectors as group_selectors
from tenants.volunteers import selectors as volunteer_selectors
from tenants.volunteers.permissions import may_view


@strawberry.input(description="Narrow the volunteer list; all given conditions must hold.")
class VolunteerFilter:
    status: t.VolunteerStatus | None = None
    verification: t.Verification | None = None
    group_id: strawberry.ID | None = None
    service_area: str | None = strawberry.field(default=None, description="Contains this text.")
    skill: str | None = strawberry.field(default=None, description="Has exactly this skill.")
    registered_from: datetime.date | None = None
    registered_to: datetime.date | None = None


@strawberry.input
class GroupFilter:
    level: t.GroupLevel | None = None
    kind: t.GroupKind | None = None
    review: t.GroupReview | None = None
    liaison_group_id: strawberry.ID | None = None
    top_level_only: bool = strawberry.field(
        default=False, description="Only groups without a liaison group."
    )


@strawberry.type
class RegionQuery:
    @strawberry.field(description="The region this host serves, with its policy. Public.")
    def region(self, info: Info) -> Region:
        return region_type(info.context.region)

    @strawberry.field(description="The logged-in account, or null without a token.")
    def me(self, info: Info) -> t.Me | None:
        principal = principal_of(info)
        if principal is None:
            return None
        return t.Me(_model=principal.account, _roles=principal.roles)

    @strawberry.field(
        description="One volunteer by number: themself, their groups' staff, "
        "region-wide managers and the authority."
    )
    def volunteer(self, info: Info, number: str) -> t.Volunteer | None:
        principal = principal_of(info)
        if principal is None:
            raise AccessError(Unauthenticated(_("log in to see volunteers")))
        # Only the columns the selected fields read (and the permission check's: KEYS),
        # and no ORDER BY: the number is unique (issue 16 point 2, single lookups).
        rows = optimize(
            volunteer_selectors.by_number(number).order_by(),
            child_selections(info),
            "Volunteer",
            only_columns=True,
            viewer=caller(info),
        )
        found = next(iter(rows[:1]), None)
        # Unknown and hidden answer alike, except to whoever sees everyone (no oracle).
        if found is None and volunteer_selectors.sees_every_volunteer(principal):
            return None
        if found is None or not may_view(found, principal, policy_of(info)):
            raise AccessError(
                PermissionDenied(
                    _("you may not see volunteer %(number)s") % {"number": number.strip()}
                )
            )
        return t.Volunteer(_model=found)

    @strawberry.field(description="Volunteers, a page at a time (keyset cursors, at most 100).")
    def volunteers(
        self,
        info: Info,
        filter: VolunteerFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> t.VolunteerConnection:
        filter = filter or VolunteerFilter()
        window = t.window("v", first, after, last, before, default=20)
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
        rows = t.keyset_rows(optimized(queryset, info, "Volunteer", "edges", "node"), "id", window)
        page, page_info = t.paged(rows, window, key=lambda v: v.id, cursor=_volunteer_cursor)
        return t.VolunteerConnection(
            edges=[
                t.VolunteerEdge(cursor=_volunteer_cursor(v), node=t.Volunteer(_model=v))
                for v in page
            ],
            page_info=page_info,
            _count=queryset.count,
        )

    @strawberry.field(
        description="Groups: approved ones are public; pending ones are seen by "
        "their staff, their liaison's admins and the authority."
    )
    def groups(
        self,
        info: Info,
        filter: GroupFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> t.GroupConnection:
        filter = filter or GroupFilter()
        window = t.window("g", first, after, last, before, default=20)
        queryset = group_selectors.visible_groups(
            principal_of(info),
            level=filter.level.value if filter.level else None,
            kind=filter.kind.value if filter.kind else None,
            review=filter.review.value if filter.review else None,
            liaison_group_id=guarded(
                parse_id, filter.liaison_group_id, "VolunteerGroup", "liaisonGroupId"
            )
            if filter.liaison_group_id
            else None,
            top_level_only=filter.top_level_only,
        )
        rows = t.keyset_rows(
            optimized(queryset, info, "VolunteerGroup", "edges", "node"), "id", window
        )
        page, page_info = t.paged(rows, window, key=lambda g: g.id, cursor=_group_cursor)
        return t.GroupConnection(
            edges=[
                t.GroupEdge(cursor=_group_cursor(g), node=t.VolunteerGroup(_model=g)) for g in page
            ],
            page_info=page_info,
        )

    @strawberry.field(description="One group by id (same visibility as groups).")
    def group(self, info: Info, id: strawberry.ID) -> t.VolunteerGroup | None:
        key = guarded(local_id, id, "VolunteerGroup")
        if key is None:
            return None
        queryset = group_selectors.visible_groups(principal_of(info)).filter(id=key)
        found = optimized(queryset, info, "VolunteerGroup").first()
        return t.VolunteerGroup(_model=found) if found else None


def _volunteer_cursor(volunteer) -> str:
    return t.encode_cursor("v", volunteer.id)


def _group_cursor(group) -> str:
    return t.encode_cursor("g", group.id)
