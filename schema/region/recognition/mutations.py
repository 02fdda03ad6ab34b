"""Recording trainings and awards, filing and deciding complaints."""

from __future__ import annotations

import datetime
import decimal

import strawberry
from strawberry.types import Info

from schema.errors import Payload, mutation_payload
from schema.region.auth import caller, parse_id, principal_of
from schema.region.recognition.types import Award, AwardLevel, Complaint, Training
from tenants.recognition import services as recognition


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
            number=input.number,
            group_id=parse_id(input.group_id, "VolunteerGroup", "groupId"),
            entry=entry,
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
            number=input.number,
            group_id=parse_id(input.group_id, "VolunteerGroup", "groupId"),
            entry=entry,
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
            number=input.number,
            group_id=parse_id(input.group_id, "VolunteerGroup", "groupId"),
            entry=entry,
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
            complaint_id=parse_id(complaint_id, "Complaint", "complaintId"),
            principal=principal_of(info),
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
            complaint_id=parse_id(complaint_id, "Complaint", "complaintId"),
            upheld=upheld,
            reason=reason,
            principal=principal_of(info),
        )
        return ComplaintPayload(complaint=Complaint(_model=complaint))
