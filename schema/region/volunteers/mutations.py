"""Registering volunteers, their status and division, revealing personal information."""

from __future__ import annotations

import datetime

import strawberry
from strawberry.types import Info

from central.throttle import client_address
from schema.errors import Payload, mutation_payload
from schema.region.auth import caller, parse_id
from schema.region.volunteers.applicant import Gender, IdType, VolunteerStatus
from schema.region.volunteers.types import Volunteer
from tenants.volunteers import services as volunteers


@strawberry.type
class VolunteerPayload(Payload):
    volunteer: Volunteer | None = None


@strawberry.type
class PersonalInfoPayload(Payload):
    id_number: str | None = None
    phone: str | None = None


@strawberry.input(description="A volunteer's registration (000 Art.7).")
class RegisterVolunteerInput:
    name: str
    gender: Gender
    birth_date: datetime.date
    id_type: IdType
    id_number: str
    phone: str
    service_area: str = ""
    service_intentions: list[str] = strawberry.field(default_factory=list)
    skills: list[str] = strawberry.field(default_factory=list)
    guardian_name: str = ""
    guardian_consent: bool = False
    division_code: str = strawberry.field(
        default="",
        description="所在县（区）: GB/T 2260 code inside the region where the volunteer lives "
        "(e.g. 500103); by default the registering group's, else the region's own.",
    )
    username: str = strawberry.field(
        default="", description="New account (required for self-registration)."
    )
    password: str = ""


@strawberry.type
class VolunteersMutation:
    @strawberry.mutation(
        description="Register a volunteer: by themself (give username and password), or by a "
        "group admin into the group (groupId). A person already registered is refused "
        "(CONFLICT on idNumber, audited); after repeated such refusals from one address "
        "every registration from it is THROTTLED (retryAfter) for a while."
    )
    @mutation_payload(VolunteerPayload)
    def register_volunteer(
        self, info: Info, input: RegisterVolunteerInput, group_id: strawberry.ID | None = None
    ) -> VolunteerPayload:
        principal, policy = caller(info)
        data = volunteers.VolunteerRegistration(
            name=input.name,
            gender=input.gender.value,
            birth_date=input.birth_date,
            id_type=input.id_type.value,
            id_number=input.id_number,
            phone=input.phone,
            service_area=input.service_area,
            service_intentions=input.service_intentions,
            skills=input.skills,
            guardian_name=input.guardian_name,
            guardian_consent=input.guardian_consent,
            division_code=input.division_code,
            username=input.username,
            password=input.password,
        )
        volunteer = volunteers.register_volunteer(
            data=data,
            region=info.context.region,
            policy=policy,
            principal=principal,
            group_id=parse_id(group_id, "VolunteerGroup", "groupId")
            if group_id is not None
            else None,
            address=client_address(info.context.request),
        )
        return VolunteerPayload(volunteer=Volunteer(_model=volunteer))

    @strawberry.mutation(description="实名认证: verify, or reject with a reason.")
    @mutation_payload(VolunteerPayload)
    def review_volunteer_verification(
        self, info: Info, number: str, approve: bool, reason: str = ""
    ) -> VolunteerPayload:
        principal, policy = caller(info)
        volunteer = volunteers.review_verification(
            number=number, approve=approve, reason=reason, principal=principal, policy=policy
        )
        return VolunteerPayload(volunteer=Volunteer(_model=volunteer))

    @strawberry.mutation(description="Warn (警告), cancel (取消注册) or reinstate a volunteer.")
    @mutation_payload(VolunteerPayload)
    def set_volunteer_status(
        self, info: Info, number: str, status: VolunteerStatus, reason: str
    ) -> VolunteerPayload:
        principal, policy = caller(info)
        volunteer = volunteers.set_status(
            number=number, status=status.value, reason=reason, principal=principal, policy=policy
        )
        return VolunteerPayload(volunteer=Volunteer(_model=volunteer))

    @strawberry.mutation(
        description="Where a volunteer lives (所在县（区）, a GB/T 2260 code in the region; see "
        "`region { divisions }`): the volunteer, or an authority whose area holds both the "
        "old and the new division."
    )
    @mutation_payload(VolunteerPayload)
    def set_volunteer_division(
        self, info: Info, number: str, division_code: str
    ) -> VolunteerPayload:
        principal, policy = caller(info)
        volunteer = volunteers.set_division(
            number=number,
            division_code=division_code,
            principal=principal,
            policy=policy,
            region_code=info.context.region.code,
        )
        return VolunteerPayload(volunteer=Volunteer(_model=volunteer))

    @strawberry.mutation(
        description="Show a volunteer's full ID number and phone. Logged with the reason."
    )
    @mutation_payload(PersonalInfoPayload)
    def reveal_personal_info(self, info: Info, number: str, reason: str) -> PersonalInfoPayload:
        principal, policy = caller(info)
        revealed = volunteers.reveal_personal_info(
            number=number, reason=reason, principal=principal, policy=policy
        )
        return PersonalInfoPayload(id_number=revealed["id_number"], phone=revealed["phone"])
