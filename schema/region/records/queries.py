"""Records under publicity, and the volunteer's own card."""

from __future__ import annotations

import strawberry
from django.utils.translation import gettext as _
from strawberry.types import Info

from central.errors import InvalidInput, PermissionDenied, Unauthenticated
from schema.errors import AccessError, QueryError
from schema.region.auth import guarded, parse_id, policy_of, principal_of
from schema.region.pagination import keyset_rows, paged, window
from schema.region.records.types import (
    PublicityConnection,
    PublicityEdge,
    PublicityEntry,
    VolunteerCard,
    _publicity_cursor,
    card_of,
)
from tenants.accounts import services as accounts
from tenants.records import permissions as record_permissions
from tenants.records import selectors as record_selectors


@strawberry.type
class RecordsQuery:
    @strawberry.field(
        description="Records under publicity (公示, 001 §4(4)3) at a project or a group (give "
        "one), oldest first (keyset cursors, at most 100), with their publicity end date: "
        "to whoever the policy lets object (objectionRaisers)."
    )
    def publicity(
        self,
        info: Info,
        project_id: strawberry.ID | None = None,
        group_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> PublicityConnection:
        principal = guarded(accounts.require, principal_of(info))
        if (project_id is None) == (group_id is None):
            raise QueryError(InvalidInput(_("give projectId or groupId"), field="projectId"))
        project_key = guarded(parse_id, project_id, "Project", "projectId") if project_id else None
        group_key = guarded(parse_id, group_id, "VolunteerGroup", "groupId") if group_id else None
        group = guarded(
            record_selectors.publicity_group,
            principal=principal,
            project_id=project_key,
            group_id=group_key,
        )
        guarded(record_permissions.require_publicity_viewer, group, principal, policy_of(info))
        w = window("pub", first, after, last, before, default=20)
        queryset = record_selectors.in_publicity(project_id=project_key, group_id=group_key)
        page, page_info = paged(
            keyset_rows(queryset, "id", w), w, key=lambda r: r.id, cursor=_publicity_cursor
        )
        return PublicityConnection(
            edges=[
                PublicityEdge(node=PublicityEntry(_model=r), cursor=_publicity_cursor(r))
                for r in page
            ],
            page_info=page_info,
        )

    @strawberry.field(description="The logged-in volunteer's card code and QR image.")
    def my_card(self, info: Info) -> VolunteerCard:
        principal = principal_of(info)
        if principal is None:
            raise AccessError(Unauthenticated(_("log in as a volunteer to show your card")))
        if principal.volunteer is None:
            raise AccessError(PermissionDenied(_("log in as a volunteer to show your card")))
        return card_of(principal.volunteer, info.context.region.code)
