"""GraphQL types of volunteers: the volunteer with their memberships, records,
trainings, awards, complaints and certificates.

Types wrap model instances (``_model``); relation fields read what the
selectors prefetched (see ``prefetch.py``), so they issue no queries of their
own. Personal information appears only masked; the full values come from the
``revealPersonalInfo`` mutation, which checks the role and logs the reveal."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from decimal import Decimal

import strawberry
from strawberry.types import Info

from schema.node import Node
from schema.region.auth import policy_of, principal_of
from schema.region.certificates.types import Certificate, certificates_of
from schema.region.fields import model_field, model_id, reads
from schema.region.groups.types import Membership
from schema.region.pagination import PageInfo, decode_cursor, window
from schema.region.prefetch import Page, related, rows
from schema.region.recognition.types import (
    Award,
    Complaint,
    Training,
    awards_of,
    complaints_of,
    trainings_of,
)
from schema.region.records.filters import RecordFilter, record_filter_lookups
from schema.region.records.types import (
    ServiceRecordConnection,
    volunteer_records,
    volunteer_star_level,
    volunteer_total_hours,
)
from schema.region.volunteers.applicant import Gender, IdType, Verification, VolunteerStatus
from tenants.groups import models as group_models
from tenants.records.models import ServiceRecord
from tenants.records.stars import eligible_level
from tenants.related import prefetched
from tenants.volunteers import models as volunteer_models
from tenants.volunteers.permissions import may_reveal
from tenants.volunteers.services import age_band

# A page of a volunteer's records (keyset cursors), narrowed by the field's filter.
RECORDS = Page(
    lambda _: ServiceRecord.objects.order_by("id"),
    "id",
    functools.partial(decode_cursor, "r"),
    narrow=record_filter_lookups,
)


# division_code: a key, as may_view and may_reveal read it (where the volunteer lives).
@rows(volunteer_models.Volunteer, keys=("id", "division_code"))
@strawberry.type(description="A registered volunteer (志愿者). Personal information is masked.")
class Volunteer(Node):
    _model: strawberry.Private[volunteer_models.Volunteer]

    id: strawberry.ID = model_id("Volunteer")

    number: str = model_field("number", description="志愿者编号: the public identifier.")
    name: str = model_field("name")
    gender: Gender = model_field("gender", Gender)

    @strawberry.field(
        description="出生日期: to the volunteer themself and to whoever may reveal their "
        "personal information (revealPersonalInfo's roles); null for everyone else, who get "
        "ageBand (issue 10 finding 4).",
        # Who may see it (permissions.may_reveal) may depend on the volunteer's groups.
        metadata=reads("birth_date", "division_code")
        | related("memberships", of=Membership, reveal=True),
    )
    def birth_date(self, info: Info) -> datetime.date | None:
        return self._model.birth_date if may_reveal_to(self._model, info) else None

    @strawberry.field(
        description="Age band instead of the birth date: 0-17, 18-34, 35-59 or 60+.",
        metadata=reads("birth_date"),
    )
    def age_band(self) -> str:
        return age_band(self._model.birth_date)

    id_type: IdType = model_field("id_type", IdType)
    id_number_masked: str = model_field("id_number_masked", description="e.g. 5001**********1234")
    phone_masked: str = model_field("phone_masked", description="e.g. 138****5678")
    service_area: str = model_field("service_area")
    service_intentions: list[str] = model_field("service_intentions")
    skills: list[str] = model_field("skills")
    verification: Verification = model_field("verification", Verification)
    verification_reason: str = model_field("verification_reason")
    status: VolunteerStatus = model_field("status", VolunteerStatus)
    status_reason: str = model_field("status_reason")
    guardian_name: str = model_field("guardian_name")
    registered_at: datetime.datetime = model_field("registered_at")

    @strawberry.field(
        description="Groups the volunteer belongs to or applied to.",
        metadata=related("memberships"),
    )
    def memberships(self, info: Info) -> list[Membership]:
        rows = prefetched(self._model, "memberships")
        principal = principal_of(info)
        if (
            principal is None
            or principal.volunteer is None
            or (principal.volunteer.id != self._model.id)
        ):  # others see where the volunteer is a member, not where they applied or left
            rows = [m for m in rows if m.status == group_models.MembershipStatus.ACTIVE]
        return [Membership(_model=m) for m in rows]

    @strawberry.field(
        description="Service records, oldest first, a page at a time.",
        metadata=related("records", page=RECORDS),
    )
    def records(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: RecordFilter | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ServiceRecordConnection:
        page = window("r", first, after, last, before, default=20)
        return volunteer_records(self._model, page, filter, info)

    @strawberry.field(
        description="Counted hours (kept as a running total, not summed per read).",
        metadata=related("totals"),
    )
    def total_hours(self) -> Decimal:
        return volunteer_total_hours(self._model)

    @strawberry.field(description="Star level granted (星级).", metadata=related("totals"))
    def star_level(self) -> int:
        return volunteer_star_level(self._model)

    @strawberry.field(
        description="The highest star level the counted hours reach.", metadata=related("totals")
    )
    def eligible_star_level(self, info: Info) -> int:
        return eligible_level(volunteer_total_hours(self._model), policy_of(info))

    @strawberry.field(
        description="培训信息 (000 Art.11, 003 Art.14), oldest first.",
        metadata=related("trainings"),
    )
    def trainings(self) -> list[Training]:
        return trainings_of(self._model)

    @strawberry.field(
        description="表彰奖励 (000 Art.12), oldest first.", metadata=related("awards")
    )
    def awards(self) -> list[Award]:
        return awards_of(self._model)

    @strawberry.field(
        description="投诉 (000 Art.13, 003 Art.22): upheld ones (kept on file); open and "
        "investigating ones too for the group's staff and the authority; never dismissed ones.",
        metadata=related("complaints"),
    )
    def complaints(self, info: Info) -> list[Complaint]:
        return complaints_of(self._model, info)

    @strawberry.field(
        description="志愿服务记录证明 issued to the volunteer, oldest first (000 Art.17).",
        metadata=related("certificates"),
    )
    def certificates(
        self,
    ) -> list[Certificate]:
        return certificates_of(self._model)


def may_reveal_to(volunteer, info: Info) -> bool:
    """``volunteers.permissions.may_reveal`` for the caller; on a page it reads the memberships
    prefetch.py loaded for it (``REVEAL_FIELDS``), not a query per row."""
    return may_reveal(volunteer, principal_of(info), policy_of(info))


@strawberry.type
class VolunteerEdge:
    cursor: str
    node: Volunteer


@strawberry.type
class VolunteerConnection:
    edges: list[VolunteerEdge]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], int]]

    @strawberry.field(description="Volunteers matching the filter (one COUNT query).")
    def total_count(self) -> int:
        return self._count()
