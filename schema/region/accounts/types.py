"""GraphQL types of the logged-in account (``me``): its roles, and (issue 12) what
waits for its decision and what it waits for (``accounts/queues.py``)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from schema.node import Node
from schema.region.accounts.queues import (
    CorrectionRequest,
    CorrectionRequestConnection,
    Declaration,
    DeclarationConnection,
    Objection,
    ObjectionConnection,
    ProjectApplication,
    ProjectApplicationConnection,
    StarApplication,
    StarApplicationConnection,
    TaskCounts,
    WorkQueues,
    own,
    task_counts,
)
from schema.region.fields import choices_enum, model_field, model_id
from schema.region.groups.types import VolunteerGroup
from schema.region.volunteers.types import Volunteer
from tenants.accounts import models as account_models
from tenants.queues import (
    own_correction_requests,
    own_declarations,
    own_objections,
    own_project_applications,
    own_star_applications,
)

RoleKind = choices_enum("RoleKind", account_models.RoleKind, "角色: group staff or authority staff")
AuthorityLevel = choices_enum("AuthorityLevel", account_models.AuthorityLevel, "主管部门层级")


@strawberry.type(description="A role of the logged-in account.")
class StaffRole:
    kind: RoleKind
    group: VolunteerGroup | None
    authority_level: AuthorityLevel | None = strawberry.field(
        description="The authority's level; null for a group's staff."
    )
    authority_name: str


@strawberry.type(description="The logged-in account.")
class Me(Node):
    _model: strawberry.Private[object]
    _roles: strawberry.Private[list]

    id: strawberry.ID = model_id("Me")

    username: str = model_field("username")
    display_name: str = model_field("display_name")

    @strawberry.field
    def volunteer(self) -> Volunteer | None:
        volunteer = self._model.volunteer
        return Volunteer(_model=volunteer) if volunteer else None

    @strawberry.field
    def roles(self) -> list[StaffRole]:
        return [
            StaffRole(
                kind=RoleKind(r.kind),
                group=VolunteerGroup(_model=r.group) if r.group else None,
                authority_level=AuthorityLevel(r.authority_level) if r.authority_level else None,
                authority_name=r.authority_name,
            )
            for r in self._roles
        ]

    # ---- issue 12: what waits for the caller, and what the caller waits for ----------

    @strawberry.field(
        description="What waits for this account's decision (待办): one queue per kind of "
        "decision, exactly what it may decide, in its area; oldest first."
    )
    def work_queues(self) -> WorkQueues:
        return WorkQueues()

    @strawberry.field(description="How many items wait in each work queue (myTasks).")
    def tasks(self, info: Info) -> TaskCounts:
        return task_counts(info)

    @strawberry.field(
        description="The volunteer's own applications to projects: state, when decided. "
        "Oldest first (`last` for the newest); empty without a volunteer."
    )
    def project_applications(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ProjectApplicationConnection:
        return own(
            info, own_project_applications, "ma", ProjectApplication, first, after, last, before
        )

    @strawberry.field(
        description="Hours the volunteer declared (本人申报): state, when decided. "
        "Oldest first (`last` for the newest); empty without a volunteer."
    )
    def declarations(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> DeclarationConnection:
        return own(info, own_declarations, "md", Declaration, first, after, last, before)

    @strawberry.field(
        description="Their correction requests (记录更正): dueOn, overdue, when answered. "
        "Oldest first (`last` for the newest); empty without a volunteer."
    )
    def correction_requests(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> CorrectionRequestConnection:
        return own(
            info, own_correction_requests, "mc", CorrectionRequest, first, after, last, before
        )

    @strawberry.field(
        description="The volunteer's star applications (星级认定): state, when decided. "
        "Oldest first (`last` for the newest); empty without a volunteer."
    )
    def star_applications(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> StarApplicationConnection:
        return own(info, own_star_applications, "ms", StarApplication, first, after, last, before)

    @strawberry.field(
        description="Objections this account raised (001 §4(4)3): resolution, when. "
        "Oldest first (`last` for the newest); empty without a volunteer."
    )
    def objections(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ObjectionConnection:
        return own(info, own_objections, "mo", Objection, first, after, last, before)
