"""Trainings (培训信息), awards (表彰奖励) and complaints (投诉) in a region's API.

000 Art.11–13 and 003 Art.14, Art.22. The rules are in
``tenants/recognition/services.py``; resolvers parse, call and shape. A
volunteer's ``trainings``, ``awards`` and ``complaints`` (fields of
``Volunteer`` in ``volunteers/types.py``) are read from what ``prefetch.py`` prefetched."""

from __future__ import annotations

import datetime
import decimal
import enum
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from schema.node import Node
from schema.region.auth import principal_of
from schema.region.fields import model_field, model_id
from schema.region.groups.types import VolunteerGroup
from schema.region.prefetch import related, rows
from tenants.recognition import models
from tenants.recognition import models as recognition_models
from tenants.recognition import services as recognition
from tenants.related import prefetched

# To mypy each enum is the choices class it is made from: the same members
# (named by the upper-cased value) and values.
if TYPE_CHECKING:
    AwardLevel = models.AwardLevel
    ComplaintStatus = models.ComplaintStatus
else:
    AwardLevel = strawberry.enum(
        enum.Enum("AwardLevel", {v.upper(): v for v in models.AwardLevel.values}),
        description="表彰奖励级别: 国家级, 省级, 市级, 区县级, 团体级",
    )
    ComplaintStatus = strawberry.enum(
        enum.Enum("ComplaintStatus", {v.upper(): v for v in models.ComplaintStatus.values}),
        description="投诉: open → investigating → upheld (属实，记录在案) or dismissed (不属实)",
    )


@strawberry.type
class TransferredIn:
    """Where an entry was first recorded, when it came with a transfer (转移接续)."""

    _model: strawberry.Private[
        recognition_models.Training | recognition_models.Award | recognition_models.Complaint
    ]

    origin_region_code: str = model_field(
        "origin_region_code", description="Region it was first recorded in, if transferred in."
    )
    origin_group_name: str = model_field(
        "origin_group_name", description="Group that first recorded it, if transferred in."
    )


@strawberry.type
class RecordedEntry(TransferredIn):
    """A training or award: who recorded it here, and when."""

    recorded_by: str = model_field("recorded_by", description="记录人")
    recorded_at: datetime.datetime = model_field("recorded_at")


@rows(models.Training)
@strawberry.type(description="培训信息 (000 Art.11, 003 Art.14).")
class Training(RecordedEntry, Node):
    id: strawberry.ID = model_id("Training")
    title: str = model_field("title", description="主题")
    content: str = model_field("content", description="内容")
    trained_on: datetime.date = model_field("trained_on", description="日期")
    place: str = model_field("place", description="地点")
    hours: decimal.Decimal = model_field("hours", description="学时")
    contact: str = model_field("contact", description="联系人")
    evidence: str = model_field(
        "evidence", description="证明材料, provided by the organiser (003 Art.14)."
    )

    @strawberry.field(
        description="The organising group that recorded it.", metadata=related("group")
    )
    def group(self) -> VolunteerGroup | None:
        group = self._model.group
        return VolunteerGroup(_model=group) if group else None


@rows(models.Award)
@strawberry.type(description="表彰奖励 (000 Art.12, 003 Art.22).")
class Award(RecordedEntry, Node):
    id: strawberry.ID = model_id("Award")
    title: str = model_field("title", description="表彰奖励名称")
    awarding_body: str = model_field("awarding_body", description="颁奖单位")
    level: AwardLevel = model_field("level", AwardLevel)
    awarded_on: datetime.date = model_field("awarded_on", description="获奖日期")

    @strawberry.field(description="The group that recorded it.", metadata=related("group"))
    def group(self) -> VolunteerGroup | None:
        group = self._model.group
        return VolunteerGroup(_model=group) if group else None


@rows(models.Complaint)
@strawberry.type(
    description="投诉 (000 Art.13, 003 Art.22). On a volunteer's record only when upheld, "
    "except to the group's staff and the authority."
)
class Complaint(TransferredIn, Node):
    id: strawberry.ID = model_id("Complaint")

    @strawberry.field(description="志愿者编号 of the volunteer complained about.")
    def volunteer_number(self) -> str:
        return self._model.volunteer.number

    @strawberry.field
    def volunteer_name(self) -> str:
        return self._model.volunteer.name

    @strawberry.field(metadata=related("group"))
    def group(self) -> VolunteerGroup | None:
        group = self._model.group
        return VolunteerGroup(_model=group) if group else None

    complainant: str = model_field("complainant", description="投诉人, e.g. 服务对象.")
    content: str = model_field("content")
    received_on: datetime.date = model_field("received_on", description="受理日期")
    status: ComplaintStatus = model_field("status", ComplaintStatus)
    filed_by: str = model_field("filed_by")
    filed_at: datetime.datetime = model_field("filed_at")
    investigated_by: str = model_field("investigated_by")
    investigation_started_at: datetime.datetime | None = model_field("investigation_started_at")
    decided_by: str = model_field("decided_by")
    decided_at: datetime.datetime | None = model_field("decided_at")
    decision_reason: str = model_field(
        "decision_reason", description="核查结论: why it was upheld or dismissed."
    )


def trainings_of(volunteer) -> list[Training]:
    return [Training(_model=row) for row in prefetched(volunteer, "trainings")]


def awards_of(volunteer) -> list[Award]:
    return [Award(_model=row) for row in prefetched(volunteer, "awards")]


def complaints_of(volunteer, info: Info) -> list[Complaint]:
    principal = principal_of(info)
    return [
        Complaint(_model=row)
        for row in prefetched(volunteer, "complaints")
        if recognition.on_record(complaint=row, principal=principal)
    ]
