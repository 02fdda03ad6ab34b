"""Trainings (培训信息), awards (表彰奖励) and complaints (投诉) in a region's API.

000 Art.11–13 and 003 Art.14, Art.22. The rules are in
``tenants/recognition/services.py``; resolvers parse, call and shape. A
volunteer's ``trainings``, ``awards`` and ``complaints`` (fields of
``Volunteer`` in ``types.py``) are read from what ``prefetch.py`` prefetched.
"""

from __future__ import annotations

import datetime
import decimal
import enum

import strawberry
from strawberry.types import Info

from schema.errors import Payload, mutation_payload
from schema.node import Node
from schema.region import types as t
from schema.region.auth import caller, guarded, parse_id, principal_of
from schema.region.fields import model_field, model_id
from schema.region.prefetch import optimized
from tenants.recognition import models
from tenants.recognition import services as recognition
from tenants.related import prefetched

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

    _model: strawberry.Private[object]

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

    @strawberry.field(description="The organising group that recorded it.")
    def group(self) -> t.VolunteerGroup | None:
        group = self._model.group
        return t.VolunteerGroup(_model=group) if group else None


@strawberry.type(description="表彰奖励 (000 Art.12, 003 Art.22).")
class Award(RecordedEntry, Node):
    id: strawberry.ID = model_id("Award")
    title: str = model_field("title", description="表彰奖励名称")
    awarding_body: str = model_field("awarding_body", description="颁奖单位")
    level: AwardLevel = model_field("level", AwardLevel)
    awarded_on: datetime.date = model_field("awarded_on", description="获奖日期")

    @strawberry.field(description="The group that recorded it.")
    def group(self) -> t.VolunteerGroup | None:
        group = self._model.group
        return t.VolunteerGroup(_model=group) if group else None


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

    @strawberry.field
    def group(self) -> t.VolunteerGroup | None:
        group = self._model.group
        return t.VolunteerGroup(_model=group) if group else None

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


# Fields of ``Volunteer`` (types.py); they read the prefetched relations.


def trainings_of(volunteer) -> list[Training]:
    return [Training(_model=row) for row in prefetched(volunteer, "trainings")]


def awards_of(volunteer) -> list[Award]:
    return [Award(_model=row) for row in prefetched(volunteer, "awards")]


def complaints_of(volunteer, info: Info) -> list[Complaint]:
    principal = principal_of(info)
    return [
        Complaint(_model=row)
        for row in prefetched(volunteer, "complaints")
        if recognition.on_record(row, principal)
    ]


@strawberry.type
class TrainingPayload(Payload):
    training: Training | None = None


@strawberry.type
class AwardPayload(Payload):
    award: Award | None = None


@strawberry.type
class ComplaintPayload(Payload):
    complaint: Complaint | None = None


@strawberry.input(description="培训信息 (000 Art.11): 主题、内容、日期、地点、学时、联系人.")
class RecordTrainingInput:
    number: str = strawberry.field(description="志愿者编号 of an active member of the group.")
    group_id: strawberry.ID = strawberry.field(description="The organising group.")
    title: str
    content: str
    trained_on: datetime.date = strawberry.field(description="Not in the future.")
    place: str
    hours: decimal.Decimal = strawberry.field(description="学时: more than 0, at most 24.")
    contact: str = strawberry.field(default="", description="Defaults to the group's contact.")
    evidence: str = strawberry.field(
        default="", description="证明材料 provided by the organiser (003 Art.14)."
    )


@strawberry.input(description="表彰奖励 (000 Art.12): 获奖日期、表彰奖励名称.")
class RecordAwardInput:
    number: str = strawberry.field(description="志愿者编号 of an active member of the group.")
    group_id: strawberry.ID
    title: str
    awarding_body: str = strawberry.field(description="颁奖单位")
    level: AwardLevel
    awarded_on: datetime.date = strawberry.field(description="Not in the future.")


@strawberry.input(description="投诉 (000 Art.13): received about a member of the group.")
class FileComplaintInput:
    number: str = strawberry.field(description="志愿者编号 of an active member of the group.")
    group_id: strawberry.ID
    complainant: str = strawberry.field(description="Who complained, e.g. 服务对象.")
    content: str
    received_on: datetime.date = strawberry.field(description="Not in the future.")


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
        t.page_size(first)
        queryset = guarded(
            recognition.complaints_of_group,
            principal_of(info),
            guarded(parse_id, group_id, "VolunteerGroup", "groupId")
            if group_id is not None
            else None,
            status.value if status else None,
            after=None if after is None else guarded(parse_id, after, "Complaint", "after"),
        )
        return [Complaint(_model=c) for c in optimized(queryset, info, "Complaint")[:first]]


@strawberry.type
class RecognitionMutation:
    @strawberry.mutation(
        description="Record a training of a member (003 Art.14): the group's staff or the "
        "authority."
    )
    @mutation_payload(TrainingPayload)
    def record_training(self, info: Info, input: RecordTrainingInput) -> TrainingPayload:
        principal, policy = caller(info)
        entry = recognition.TrainingEntry(
            title=input.title,
            content=input.content,
            trained_on=input.trained_on,
            place=input.place,
            hours=input.hours,
            contact=input.contact,
            evidence=input.evidence,
        )
        training = recognition.record_training(
            input.number,
            parse_id(input.group_id, "VolunteerGroup", "groupId"),
            entry,
            principal=principal,
            policy=policy,
        )
        return TrainingPayload(training=Training(_model=training))

    @strawberry.mutation(
        description="Record an award of a member (000 Art.12): the group's staff or the authority."
    )
    @mutation_payload(AwardPayload)
    def record_award(self, info: Info, input: RecordAwardInput) -> AwardPayload:
        principal, policy = caller(info)
        entry = recognition.AwardEntry(
            title=input.title,
            awarding_body=input.awarding_body,
            level=input.level.value,
            awarded_on=input.awarded_on,
        )
        award = recognition.record_award(
            input.number,
            parse_id(input.group_id, "VolunteerGroup", "groupId"),
            entry,
            principal=principal,
            policy=policy,
        )
        return AwardPayload(award=Award(_model=award))

    @strawberry.mutation(
        description="Record a complaint about a member (000 Art.13); it starts OPEN. The "
        "group's staff or the authority."
    )
    @mutation_payload(ComplaintPayload)
    def file_complaint(self, info: Info, input: FileComplaintInput) -> ComplaintPayload:
        principal, policy = caller(info)
        entry = recognition.ComplaintEntry(
            complainant=input.complainant, content=input.content, received_on=input.received_on
        )
        complaint = recognition.file_complaint(
            input.number,
            parse_id(input.group_id, "VolunteerGroup", "groupId"),
            entry,
            principal=principal,
            policy=policy,
        )
        return ComplaintPayload(complaint=Complaint(_model=complaint))

    @strawberry.mutation(
        description="OPEN → INVESTIGATING (核查): the group's admins or the authority."
    )
    @mutation_payload(ComplaintPayload)
    def start_complaint_investigation(
        self, info: Info, complaint_id: strawberry.ID
    ) -> ComplaintPayload:
        complaint = recognition.start_investigation(
            parse_id(complaint_id, "Complaint", "complaintId"), principal=principal_of(info)
        )
        return ComplaintPayload(complaint=Complaint(_model=complaint))

    @strawberry.mutation(
        description="INVESTIGATING → UPHELD (kept on file, 003 Art.22) or DISMISSED, with the "
        "finding; final. The group's admins or the authority."
    )
    @mutation_payload(ComplaintPayload)
    def decide_complaint(
        self, info: Info, complaint_id: strawberry.ID, upheld: bool, reason: str
    ) -> ComplaintPayload:
        complaint = recognition.decide_complaint(
            parse_id(complaint_id, "Complaint", "complaintId"),
            upheld,
            reason,
            principal=principal_of(info),
        )
        return ComplaintPayload(complaint=Complaint(_model=complaint))
