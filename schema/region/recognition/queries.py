"""Queries of trainings, awards and complaints."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from schema.region.auth import guarded, parse_id, principal_of
from schema.region.pagination import page_size
from schema.region.prefetch import optimized
from schema.region.recognition.types import Complaint, ComplaintStatus
from tenants.recognition import services as recognition


@strawberry.type
class RecognitionQuery:
    @strawberry.field(
        description="A group's complaints in every state, for its staff (group_id) and the "
        "authority (any group, or all without group_id); oldest first, keyset by id."
    )
    def complaints(
        self,
        info: Info,
        group_id: strawberry.ID | None = None,
        status: ComplaintStatus | None = None,
        first: int = 50,
        after: strawberry.ID | None = None,
    ) -> list[Complaint]:
        page_size(first)
        queryset = guarded(
            recognition.complaints_of_group,
            principal=principal_of(info),
            group_id=guarded(parse_id, group_id, "VolunteerGroup", "groupId")
            if group_id is not None
            else None,
            status=status.value if status else None,
            after=None if after is None else guarded(parse_id, after, "Complaint", "after"),
        )
        return [Complaint(_model=c) for c in optimized(queryset, info, "Complaint")[:first]]
