"""GraphQL types of projects (志愿服务项目) and the applications to them."""

from __future__ import annotations

import datetime
import enum
from typing import TYPE_CHECKING

import strawberry
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from strawberry.types import Info

from central.errors import PermissionDenied
from schema.errors import AccessError
from schema.node import Node
from schema.region.auth import may_see_members
from schema.region.fields import choices_enum, model_field, model_id
from schema.region.pagination import LIST_FIRST
from schema.region.prefetch import Viewer, by_id, list_page, related, rows
from schema.region.records.types import ServiceRecord
from schema.region.volunteers.applicant import Applicant
from tenants.projects import models as project_models
from tenants.projects import services as projects
from tenants.records import selectors as record_selectors

# To mypy each enum is the choices class it is made from: the same members
# (named by the upper-cased value) and values.
if TYPE_CHECKING:
    ProjectCategory = project_models.Category
    ApplicationStatus = project_models.ApplicationStatus
else:
    ProjectCategory = choices_enum(
        "ProjectCategory", project_models.Category, "服务领域 (001 §4(3))"
    )
    ApplicationStatus = choices_enum(
        "ProjectApplicationStatus", project_models.ApplicationStatus, "报名状态"
    )


@strawberry.enum(
    description="项目状态: a published project is ONGOING from its first day, ENDED after its last."
)
class ProjectStatus(enum.Enum):
    # The phases users see (projects.phase), not only the stored status.
    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    PUBLISHED = "published"
    ONGOING = "ongoing"
    ENDED = "ended"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


def _records_seen_by(viewer: Viewer) -> QuerySet:
    return record_selectors.group_records_seen_by(*viewer)


@rows(project_models.Project)
@strawberry.type(description="A project (志愿服务项目).")
class Project(Node):
    _model: strawberry.Private[project_models.Project]

    id: strawberry.ID = model_id("Project")
    name: str = model_field("name")
    category: ProjectCategory = model_field("category", ProjectCategory)
    service_targets: str = model_field("service_targets")
    place: str = model_field("place")
    starts_on: datetime.date = model_field("starts_on")
    ends_on: datetime.date = model_field("ends_on")
    quota: int = model_field("quota")
    risk_notice: str = model_field("risk_notice", description="风险告知 (003 Art.9)")
    insured: bool = model_field("insured", description="人身意外伤害保险 (003 Art.18)")

    @strawberry.field
    def status(self) -> ProjectStatus:
        return ProjectStatus(projects.phase(self._model))

    review_reason: str = model_field("review_reason")
    cancellation_reason: str = model_field(
        "cancellation_reason", description="取消原因: why the project was cancelled."
    )
    cancelled_at: datetime.datetime | None = model_field("cancelled_at")

    @strawberry.field(
        description="The project's records, oldest first, `first` at a time (at most 100); "
        "`after` the last one's id for the next. Group staff and the authority only.",
        metadata=related("records", page=by_id(_records_seen_by, "ServiceRecord", gated=True)),
    )
    def records(
        self, info: Info, first: int = LIST_FIRST, after: strawberry.ID | None = None
    ) -> list[ServiceRecord] | None:
        if not may_see_members(self._model.group_id, info):
            raise AccessError(PermissionDenied(_("only the group's staff see its project records")))
        rows = list_page(self._model, first, after, info)
        return [ServiceRecord(_model=r) for r in rows]


@strawberry.type(description="A volunteer's application to a project (项目报名).")
class ProjectApplication(Node):
    _model: strawberry.Private[project_models.ProjectApplication]

    id: strawberry.ID = model_id("ProjectApplication")
    status: ApplicationStatus = model_field(
        "status",
        ApplicationStatus,
        description="PROJECT_CANCELLED: the project was cancelled (see the project's "
        "cancellationReason); WITHDRAWN: the volunteer withdrew.",
    )
    applied_at: datetime.datetime = model_field("applied_at")
    decided_at: datetime.datetime | None = model_field(
        "decided_at",
        description="When it was accepted, declined, withdrawn or cancelled; null while it waits.",
    )

    @strawberry.field(description="The project applied to, whatever its status now.")
    def project(self) -> Project:
        return Project(_model=self._model.project)

    @strawberry.field(description="Who applied (number, name; never personal information).")
    def volunteer(self) -> Applicant:
        # Number, name, gender, age band, verification: never the ID number, phone or
        # birth date (those are revealed, logged, elsewhere).
        return Applicant(_model=self._model.volunteer, _shared=frozenset())
