"""Recording hours (by a recorder, a card, or the volunteer), objections,
confirmation, amendments, corrections and stars."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.errors import Payload, mutation_payload
from schema.identity import global_id
from schema.region.auth import caller, parse_id
from schema.region.records.requests import CorrectionRequest, StarApplication
from schema.region.records.types import ServiceRecord, VolunteerCard, card_of
from tenants.records import cards, corrections, stars
from tenants.records import models as record_models
from tenants.records import services as records


@strawberry.type
class RecordPayload(Payload):
    record: ServiceRecord | None = None


@strawberry.type
class CheckOutPayload(Payload):
    records: list[ServiceRecord] = strawberry.field(
        default_factory=list,
        description="One record per calendar day the check-in spans (a night shift gives two).",
    )

    @strawberry.field(description="The last day's record (the only one unless overnight).")
    def record(self) -> ServiceRecord | None:
        return self.records[-1] if self.records else None


@strawberry.type
class ObjectionPayload(Payload):
    objection_id: strawberry.ID | None = None
    record: ServiceRecord | None = None


@strawberry.type
class CardPayload(Payload):
    card: VolunteerCard | None = None


@strawberry.type
class StarPayload(Payload):
    application: StarApplication | None = None


@strawberry.type
class CorrectionPayload(Payload):
    request: CorrectionRequest | None = None


@strawberry.input(description="One stretch of service (000 Art.8).")
class RecordInput:
    service_date: datetime.date
    start_time: datetime.time
    end_time: datetime.time
    hours: Decimal
    content: str
    place: str = ""
    service_target: str = ""
    contact: str = ""
    punctuality: int | None = None
    attitude: int | None = None
    professionalism: int | None = None


@strawberry.input(description="New values for a record; leave out what does not change.")
class AmendmentInput:
    hours: Decimal | None = None
    start_time: datetime.time | None = None
    end_time: datetime.time | None = None
    place: str | None = None
    service_target: str | None = None
    content: str | None = None


def _entry(data: RecordInput) -> records.RecordEntry:
    return records.RecordEntry(
        service_date=data.service_date,
        start_time=data.start_time,
        end_time=data.end_time,
        hours=data.hours,
        content=data.content,
        place=data.place,
        service_target=data.service_target,
        contact=data.contact,
        punctuality=data.punctuality,
        attitude=data.attitude,
        professionalism=data.professionalism,
    )


def _changes(data: AmendmentInput) -> dict:
    return {name: value for name, value in data.__dict__.items() if value is not None}


@strawberry.type
class RecordsMutation:
    @strawberry.mutation(description="A recorder enters a volunteer's hours (记录员录入).")
    @mutation_payload(RecordPayload)
    def record_hours(
        self, info: Info, project_id: strawberry.ID, number: str, input: RecordInput
    ) -> RecordPayload:
        principal, policy = caller(info)
        record = records.record_hours(
            project_id=parse_id(project_id, "Project", "projectId"),
            number=number,
            entry=_entry(input),
            principal=principal,
            policy=policy,
        )
        return RecordPayload(record=ServiceRecord(_model=record))

    @strawberry.mutation(
        description="A volunteer declares their own hours; the group confirms and evaluates "
        "them (000 Art.10: the input's punctuality, attitude and professionalism are refused)."
    )
    @mutation_payload(RecordPayload)
    def declare_hours(
        self, info: Info, project_id: strawberry.ID, input: RecordInput
    ) -> RecordPayload:
        principal, policy = caller(info)
        record = records.declare_hours(
            project_id=parse_id(project_id, "Project", "projectId"),
            entry=_entry(input),
            principal=principal,
            policy=policy,
        )
        return RecordPayload(record=ServiceRecord(_model=record))

    @strawberry.mutation
    @mutation_payload(RecordPayload)
    def decide_declaration(
        self,
        info: Info,
        record_id: strawberry.ID,
        accept: bool,
        reason: str = "",
        punctuality: Annotated[
            int | None,
            strawberry.argument(description="守时程度 1–5: the group evaluates (000 Art.10)."),
        ] = None,
        attitude: Annotated[int | None, strawberry.argument(description="服务态度 1–5")] = None,
        professionalism: Annotated[
            int | None, strawberry.argument(description="专业水平 1–5")
        ] = None,
    ) -> RecordPayload:
        principal, policy = caller(info)
        record = records.decide_declaration(
            record_id=parse_id(record_id, "ServiceRecord", "recordId"),
            accept=accept,
            reason=reason,
            principal=principal,
            policy=policy,
            evaluation={
                "punctuality": punctuality,
                "attitude": attitude,
                "professionalism": professionalism,
            },
        )
        return RecordPayload(record=ServiceRecord(_model=record))

    @strawberry.mutation(description="A recorder scans a volunteer's card to check in.")
    @mutation_payload(RecordPayload)
    def check_in(self, info: Info, project_id: strawberry.ID, card_code: str) -> RecordPayload:
        principal, policy = caller(info)
        cards.check_in(
            project_id=parse_id(project_id, "Project", "projectId"),
            code=card_code,
            principal=principal,
            policy=policy,
            region_code=info.context.region.code,
        )
        return RecordPayload()

    @strawberry.mutation(
        description="Close a volunteer's open check-in without a record (scanned by mistake, "
        "or too short to count)."
    )
    @mutation_payload(RecordPayload)
    def cancel_check_in(
        self, info: Info, project_id: strawberry.ID, card_code: str
    ) -> RecordPayload:
        principal, policy = caller(info)
        cards.cancel_check_in(
            project_id=parse_id(project_id, "Project", "projectId"),
            code=card_code,
            principal=principal,
            policy=policy,
            region_code=info.context.region.code,
        )
        return RecordPayload()

    @strawberry.mutation(
        description="Scan again to check out: records the hours between (or fewer, if given), "
        "one record per calendar day."
    )
    @mutation_payload(CheckOutPayload)
    def check_out(
        self,
        info: Info,
        project_id: strawberry.ID,
        card_code: str,
        content: str = "",
        hours: Decimal | None = None,
    ) -> CheckOutPayload:
        principal, policy = caller(info)
        created = cards.check_out(
            project_id=parse_id(project_id, "Project", "projectId"),
            code=card_code,
            content=content,
            principal=principal,
            policy=policy,
            region_code=info.context.region.code,
            hours=hours,
        )
        return CheckOutPayload(records=[ServiceRecord(_model=record) for record in created])

    @strawberry.mutation(description="Replace the card: every earlier code stops working.")
    @mutation_payload(CardPayload)
    def rotate_card(self, info: Info) -> CardPayload:
        principal, _unused = caller(info)
        cards.rotate_card(principal=principal)
        return CardPayload(card=card_of(principal.volunteer, info.context.region.code))

    @strawberry.mutation(description="Object to a record in publicity (公示期异议).")
    @mutation_payload(ObjectionPayload)
    def raise_objection(
        self, info: Info, record_id: strawberry.ID, reason: str
    ) -> ObjectionPayload:
        principal, policy = caller(info)
        objection = records.raise_objection(
            record_id=parse_id(record_id, "ServiceRecord", "recordId"),
            reason=reason,
            principal=principal,
            policy=policy,
        )
        return ObjectionPayload(objection_id=strawberry.ID(global_id("Objection", objection.id)))

    @strawberry.mutation(description="The group upholds (voids the record) or dismisses.")
    @mutation_payload(ObjectionPayload)
    def resolve_objection(
        self, info: Info, objection_id: strawberry.ID, upheld: bool, reason: str
    ) -> ObjectionPayload:
        principal, policy = caller(info)
        objection = records.resolve_objection(
            objection_id=parse_id(objection_id, "Objection", "objectionId"),
            upheld=upheld,
            reason=reason,
            principal=principal,
            policy=policy,
        )
        record = record_models.ServiceRecord.objects.get(id=objection.record_id)
        return ObjectionPayload(
            objection_id=strawberry.ID(global_id("Objection", objection.id)),
            record=ServiceRecord(_model=record),
        )

    @strawberry.mutation(description="Civil affairs confirms a record (001 §4(4)3).")
    @mutation_payload(RecordPayload)
    def confirm_record(self, info: Info, record_id: strawberry.ID) -> RecordPayload:
        principal, policy = caller(info)
        record = records.confirm_record(
            record_id=parse_id(record_id, "ServiceRecord", "recordId"),
            principal=principal,
            policy=policy,
        )
        return RecordPayload(record=ServiceRecord(_model=record))

    @strawberry.mutation(description="Correct a record by an amendment, with a reason.")
    @mutation_payload(RecordPayload)
    def amend_record(
        self, info: Info, record_id: strawberry.ID, changes: AmendmentInput, reason: str
    ) -> RecordPayload:
        principal, policy = caller(info)
        amendment = records.amend_record(
            record_id=parse_id(record_id, "ServiceRecord", "recordId"),
            changes=_changes(changes),
            reason=reason,
            principal=principal,
            policy=policy,
        )
        record = record_models.ServiceRecord.objects.get(id=amendment.record_id)
        return RecordPayload(record=ServiceRecord(_model=record))

    @strawberry.mutation(description="A volunteer asks a group to correct or add a record.")
    @mutation_payload(CorrectionPayload)
    def request_correction(
        self,
        info: Info,
        group_id: strawberry.ID,
        description: str,
        record_id: strawberry.ID | None = None,
    ) -> CorrectionPayload:
        principal, policy = caller(info)
        request = corrections.request_correction(
            group_id=parse_id(group_id, "VolunteerGroup", "groupId"),
            description=description,
            record_id=parse_id(record_id, "ServiceRecord", "recordId") if record_id else None,
            principal=principal,
            policy=policy,
        )
        return CorrectionPayload(request=CorrectionRequest(_model=request))

    @strawberry.mutation(description="Answer a correction request by amending the record.")
    @mutation_payload(CorrectionPayload)
    def amend_for_correction(
        self, info: Info, request_id: strawberry.ID, changes: AmendmentInput, reason: str
    ) -> CorrectionPayload:
        principal, policy = caller(info)
        request = corrections.amend_for_request(
            request_id=parse_id(request_id, "CorrectionRequest", "requestId"),
            changes=_changes(changes),
            reason=reason,
            principal=principal,
            policy=policy,
        )
        return CorrectionPayload(request=CorrectionRequest(_model=request))

    @strawberry.mutation(description="Answer a correction request by recording missing service.")
    @mutation_payload(CorrectionPayload)
    def record_missing_for_correction(
        self, info: Info, request_id: strawberry.ID, project_id: strawberry.ID, input: RecordInput
    ) -> CorrectionPayload:
        principal, policy = caller(info)
        request = corrections.record_missing_for_request(
            request_id=parse_id(request_id, "CorrectionRequest", "requestId"),
            project_id=parse_id(project_id, "Project", "projectId"),
            entry=_entry(input),
            principal=principal,
            policy=policy,
        )
        return CorrectionPayload(request=CorrectionRequest(_model=request))

    @strawberry.mutation(description="Decline a correction request, with a reason.")
    @mutation_payload(CorrectionPayload)
    def decline_correction(
        self, info: Info, request_id: strawberry.ID, reason: str
    ) -> CorrectionPayload:
        principal, _unused = caller(info)
        request = corrections.decline_request(
            request_id=parse_id(request_id, "CorrectionRequest", "requestId"),
            reason=reason,
            principal=principal,
        )
        return CorrectionPayload(request=CorrectionRequest(_model=request))

    @strawberry.mutation(description="Apply for a star level once counted hours reach it.")
    @mutation_payload(StarPayload)
    def apply_for_star(
        self, info: Info, level: int, group_id: strawberry.ID | None = None
    ) -> StarPayload:
        principal, policy = caller(info)
        application = stars.apply_for_star(
            level=level,
            group_id=parse_id(group_id, "VolunteerGroup", "groupId") if group_id else None,
            principal=principal,
            policy=policy,
        )
        return StarPayload(application=StarApplication(_model=application))

    @strawberry.mutation(description="The body the policy names grants or refuses a star.")
    @mutation_payload(StarPayload)
    def decide_star_application(
        self, info: Info, application_id: strawberry.ID, grant: bool, reason: str = ""
    ) -> StarPayload:
        principal, policy = caller(info)
        application = stars.decide_star(
            application_id=parse_id(application_id, "StarApplication", "applicationId"),
            grant=grant,
            reason=reason,
            principal=principal,
            policy=policy,
        )
        return StarPayload(application=StarApplication(_model=application))
