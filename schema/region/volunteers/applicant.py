"""What anyone who may see a volunteer at all sees: number, name, gender, age band,
verification (``Applicant``), and the enums of a volunteer's columns."""

from __future__ import annotations

import enum

import strawberry

from schema.region.fields import choices_enum, model_field, reads
from tenants.volunteers import models as volunteer_models
from tenants.volunteers.services import age_band

Gender = choices_enum("Gender", volunteer_models.Gender, "性别")
IdType = choices_enum("IdType", volunteer_models.IdType, "有效证件类型")
Verification = choices_enum("Verification", volunteer_models.Verification, "实名认证状态")
VolunteerStatus = choices_enum("VolunteerStatus", volunteer_models.VolunteerStatus, "志愿者状态")


@strawberry.enum(description="What an applicant lets the group see before it decides.")
class SharedField(enum.Enum):
    PHONE = "phone"
    SKILLS = "skills"
    SERVICE_INTENTIONS = "service_intentions"
    SERVICE_AREA = "service_area"


@strawberry.type(
    description="What a group sees of an applicant or invitee before they are its member "
    "(issue 10 finding 1): number, name, gender, age band, verification, and only what "
    "the applicant chose to share (masked)."
)
class Applicant:
    _model: strawberry.Private[object]
    _shared: strawberry.Private[frozenset]

    number: str = model_field("number")
    name: str = model_field("name")
    gender: Gender = model_field("gender", Gender)
    verification: Verification = model_field("verification", Verification)

    @strawberry.field(
        description="Age band (0-17, 18-34, 35-59, 60+), never the birth date (finding 4).",
        metadata=reads("birth_date"),
    )
    def age_band(self) -> str:
        return age_band(self._model.birth_date)

    @strawberry.field(description="Masked phone, when shared.", metadata=reads("phone_masked"))
    def phone_masked(self) -> str | None:
        return self._model.phone_masked if "phone" in self._shared else None

    @strawberry.field(description="When shared.", metadata=reads("skills"))
    def skills(self) -> list[str] | None:
        return self._model.skills if "skills" in self._shared else None

    @strawberry.field(description="When shared.", metadata=reads("service_intentions"))
    def service_intentions(self) -> list[str] | None:
        return self._model.service_intentions if "service_intentions" in self._shared else None

    @strawberry.field(description="When shared.", metadata=reads("service_area"))
    def service_area(self) -> str | None:
        return self._model.service_area if "service_area" in self._shared else None
