"""Groups, one by id or a page at a time."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from schema.region import pagination
from schema.region.auth import guarded, local_id, parse_id, principal_of
from schema.region.groups.types import (
    GroupConnection,
    GroupEdge,
    GroupKind,
    GroupLevel,
    GroupReview,
    VolunteerGroup,
)
from schema.region.pagination import encode_cursor, keyset_rows, paged
from schema.region.prefetch import asks_page_info, child_selections, optimized
from tenants.groups import selectors as group_selectors


@strawberry.input
class GroupFilter:
    level: GroupLevel | None = None
    kind: GroupKind | None = None
    review: GroupReview | None = None
    liaison_group_id: strawberry.ID | None = None
    top_level_only: bool = strawberry.field(
        default=False, description="Only groups without a liaison group."
    )


@strawberry.type
class GroupsQuery:
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
    ) -> GroupConnection:
        filter = filter or GroupFilter()
        window = pagination.window("g", first, after, last, before, default=20)
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
        rows = keyset_rows(
            optimized(queryset, info, "VolunteerGroup", "edges", "node"),
            "id",
            window,
            asks_page_info(child_selections(info)),
        )
        page, page_info = paged(rows, window, key=lambda g: g.id, cursor=_group_cursor)
        return GroupConnection(
            edges=[GroupEdge(cursor=_group_cursor(g), node=VolunteerGroup(_model=g)) for g in page],
            page_info=page_info,
        )

    @strawberry.field(description="One group by id (same visibility as groups).")
    def group(self, info: Info, id: strawberry.ID) -> VolunteerGroup | None:
        key = guarded(local_id, id, "VolunteerGroup")
        if key is None:
            return None
        queryset = group_selectors.visible_groups(principal_of(info)).filter(id=key)
        found = optimized(queryset, info, "VolunteerGroup").first()
        return VolunteerGroup(_model=found) if found else None


def _group_cursor(group) -> str:
    return encode_cursor("g", group.id)
