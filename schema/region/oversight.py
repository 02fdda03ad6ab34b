"""Reading the logs: who saw a volunteer's personal information, and the audit log
(issue 10, "the reveal log cannot be read"). Newest first, ``first`` at a time (at
most 100), ``after`` the last row's id."""

from __future__ import annotations

import datetime

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from schema.node import Node
from schema.region.auth import guarded, parse_id, policy_of, principal_of
from schema.region.fields import model_field, model_id
from schema.region.pagination import LIST_FIRST, page_size
from tenants.audit import models as audit_models
from tenants.audit import selectors
from tenants.volunteers import models as volunteer_models


@strawberry.type(description="One reveal of a volunteer's ID number and phone (who, when, why).")
class PersonalInfoAccess(Node):
    _model: strawberry.Private[volunteer_models.PersonalInfoAccess]

    id: strawberry.ID = model_id("PersonalInfoAccess")
    accessor: str = model_field("accessor", description="Who saw it (account:<id>:<username>).")
    fields: list[str] = model_field("fields")
    reason: str = model_field("reason")
    accessed_at: datetime.datetime = model_field("accessed_at")

    @strawberry.field(description="志愿者编号 of the volunteer whose data was seen.")
    def volunteer_number(self) -> str:
        return self._model.volunteer.number


@strawberry.type(description="One entry of the region's append-only audit log.")
class AuditEntry(Node):
    _model: strawberry.Private[audit_models.AuditEntry]

    id: strawberry.ID = model_id("AuditEntry")
    occurred_at: datetime.datetime = model_field("occurred_at")
    actor: str = model_field("actor")
    action: str = model_field("action")
    target: str = model_field("target")
    detail: JSON = model_field("detail")


@strawberry.input
class RevealFilter:
    volunteer_number: str | None = None
    accessor: str | None = None
    since: datetime.date | None = None
    until: datetime.date | None = None


@strawberry.input
class AuditFilter:
    action: str | None = None
    actor: str | None = None
    target: str | None = None
    since: datetime.date | None = None
    until: datetime.date | None = None


def _page(rows, first: int, after, kind: str) -> list:
    if after is not None:
        rows = rows.filter(id__lt=guarded(parse_id, after, kind, "after"))
    return list(rows[: page_size(first)])


@strawberry.type
class OversightQuery:
    @strawberry.field(
        description="Who saw my ID number and phone, when and why (the logged-in volunteer)."
    )
    def my_personal_info_accesses(
        self, info: Info, first: int = LIST_FIRST, after: strawberry.ID | None = None
    ) -> list[PersonalInfoAccess]:
        rows = guarded(selectors.own_reveals, principal_of(info)).select_related("volunteer")
        return [
            PersonalInfoAccess(_model=r) for r in _page(rows, first, after, "PersonalInfoAccess")
        ]

    @strawberry.field(
        description="Reveals of personal information of the volunteers in the caller's area "
        "(authority staff)."
    )
    def personal_info_accesses(
        self,
        info: Info,
        filter: RevealFilter | None = None,
        first: int = LIST_FIRST,
        after: strawberry.ID | None = None,
    ) -> list[PersonalInfoAccess]:
        filter = filter or RevealFilter()
        rows = guarded(
            selectors.reveals_in_area,
            principal_of(info),
            policy_of(info),
            volunteer_number=filter.volunteer_number,
            accessor=filter.accessor,
            since=filter.since,
            until=filter.until,
        )
        return [
            PersonalInfoAccess(_model=r) for r in _page(rows, first, after, "PersonalInfoAccess")
        ]

    @strawberry.field(
        description="The region's audit log, newest first (an authority of the whole region)."
    )
    def audit_log(
        self,
        info: Info,
        filter: AuditFilter | None = None,
        first: int = LIST_FIRST,
        after: strawberry.ID | None = None,
    ) -> list[AuditEntry]:
        filter = filter or AuditFilter()
        rows = guarded(
            selectors.audit_log,
            principal_of(info),
            action=filter.action,
            actor=filter.actor,
            target=filter.target,
            since=filter.since,
            until=filter.until,
        )
        return [AuditEntry(_model=r) for r in _page(rows, first, after, "AuditEntry")]
