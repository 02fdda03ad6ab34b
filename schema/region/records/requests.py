"""What volunteers ask about their records and groups decide: star applications
(星级认定) and correction requests (记录更正)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import strawberry

from central.policy import Granter
from schema.node import Node
from schema.region.fields import choices_enum, model_field, model_id
from schema.region.groups.types import VolunteerGroup
from schema.region.records.types import ServiceRecord
from schema.region.volunteers.applicant import Applicant
from tenants.records import corrections
from tenants.records import models as record_models

StarApplicationStatus = choices_enum(
    "StarApplicationStatus", record_models.StarApplication.Status, "星级申请状态"
)
CorrectionRequestStatus = choices_enum(
    "CorrectionRequestStatus", record_models.CorrectionRequest.Status, "更正申请状态"
)


@strawberry.type
class StarApplication(Node):
    _model: strawberry.Private[object]

    id: strawberry.ID = model_id("StarApplication")
    level: int = model_field("level")
    granter: Granter = model_field("granter", Granter, description="Who grants it (001 §6).")
    status: StarApplicationStatus = model_field("status", StarApplicationStatus)
    reason: str = model_field("reason")
    hours_at_application: Decimal = model_field("hours_at_application")
    applied_at: datetime.datetime = model_field("applied_at")
    decided_at: datetime.datetime | None = model_field(
        "decided_at", description="When it was granted or refused; null while it waits."
    )

    @strawberry.field(description="Who applied (number, name; never personal information).")
    def volunteer(self) -> Applicant:
        return Applicant(_model=self._model.volunteer, _shared=frozenset())

    @strawberry.field(description="The group that grants it, where the policy names the group.")
    def group(self) -> VolunteerGroup | None:
        group = self._model.group
        return VolunteerGroup(_model=group) if group is not None else None


@strawberry.type
class CorrectionRequest(Node):
    _model: strawberry.Private[object]

    id: strawberry.ID = model_id("CorrectionRequest")
    status: CorrectionRequestStatus = model_field("status", CorrectionRequestStatus)
    description: str = model_field("description")
    due_on: datetime.date = model_field("due_on")

    @strawberry.field(
        description="Still open past dueOn (the policy's correctionDeadlineDays after it was "
        "asked)."
    )
    def overdue(self) -> bool:
        return corrections.is_overdue(self._model)

    decision_reason: str = model_field("decision_reason")
    created_at: datetime.datetime = model_field("created_at", description="When it was asked.")
    decided_at: datetime.datetime | None = model_field(
        "decided_at", description="When the group answered it; null while it is open."
    )

    @strawberry.field(description="Who asked (number, name; never personal information).")
    def volunteer(self) -> Applicant:
        return Applicant(_model=self._model.volunteer, _shared=frozenset())

    @strawberry.field(description="The group asked to correct its record.")
    def group(self) -> VolunteerGroup:
        return VolunteerGroup(_model=self._model.group)

    @strawberry.field(description="The record to correct; null when service is missing.")
    def record(self) -> ServiceRecord | None:
        record = self._model.record
        return ServiceRecord(_model=record) if record is not None else None
