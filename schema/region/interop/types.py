"""GraphQL types of transfers between regions (转移接续) and batches."""

from __future__ import annotations

import datetime
import enum
import uuid

import strawberry
from django.utils.translation import gettext as _
from strawberry.scalars import JSON

from central.errors import InvalidInput
from interop import at_rest, selectors
from interop import services as transfers
from interop.models import Direction
from interop.models import TransferState as TransferStateChoices
from schema.errors import QueryError
from schema.region.fields import choices_enum, model_field, model_id
from schema.region.pagination import page_size
from schema.region.records.types import ServiceRecord
from schema.region.volunteers.types import Volunteer

TransferDirection = strawberry.enum(
    enum.Enum("TransferDirection", {v.upper(): v for v in Direction.values}),
    description="转出 / 转入",
)
TransferState = choices_enum("TransferState", TransferStateChoices, "转移状态")


@strawberry.enum(description="A batch transfer's state.")
class TransferBatchState(enum.Enum):
    OPEN = "open"  # some members have not answered
    DONE = "done"
    CANCELLED = "cancelled"  # what was not consented was refused


def _uuid_id(value) -> strawberry.ID:
    # A transfer's id is its public UUID: opaque, globally unique, and the same at
    # both ends of the move (schema/identity.py ids are per region).
    return strawberry.ID(str(value))


@strawberry.type(name="Transfer", description="A volunteer's records moving between regions.")
class TransferType:
    _model: strawberry.Private[object]

    id: strawberry.ID = model_field("public_id", _uuid_id)
    direction: TransferDirection = model_field("direction", TransferDirection)
    state: TransferState = model_field("state", TransferState)

    volunteer_number: str = model_field("volunteer_number")
    counterpart_region_code: str = model_field(
        "counterpart_region_code", description="The other region's division code."
    )

    reason: str = model_field("reason")
    refusal_code: str = model_field(
        "refusal_code",
        description="The typed code of the other region's refusal (e.g. CONFLICT, "
        "BAD_SIGNATURE), empty unless it refused; reason says why (issue 11 finding 4).",
    )
    requested_at: datetime.datetime = model_field("requested_at")
    expires_at: datetime.datetime | None = model_field("expires_at")
    consented_at: datetime.datetime | None = model_field("consented_at")
    completed_at: datetime.datetime | None = model_field("completed_at")
    delivery: str = model_field("delivery", description="direct, outbox or offline")

    @strawberry.field(
        description="The package (envelope), once exported or imported, with the "
        "volunteer's ID number and phone masked and no birth date (ageBand instead); its "
        "signature covers the full content, which revealTransferPackage gives, logged "
        "(issue 10 finding 5)."
    )
    def package(self) -> JSON | None:
        return at_rest.masked(self._model.package)

    @strawberry.field(
        description="The batch this transfer was asked for in (issue 11: a group "
        "moving together), if any; the volunteer still consents on their own."
    )
    def batch_id(self) -> strawberry.ID | None:
        batch = self._model.batch
        return strawberry.ID(str(batch.public_id)) if batch else None

    @strawberry.field(description="Why the batch asks the volunteer to move, if any.")
    def batch_reason(self) -> str | None:
        batch = self._model.batch
        return batch.reason if batch else None

    @strawberry.field
    def volunteer(self) -> Volunteer | None:
        volunteer = self._model.volunteer
        return Volunteer(_model=volunteer) if volunteer else None

    @strawberry.field(
        description="The records that moved: records holding hours leaving the "
        "source, or the records imported here (with their provenance)."
    )
    def records(self) -> list[ServiceRecord]:
        return [ServiceRecord(_model=r) for r in selectors.moved_records(self._model)]


@strawberry.type(description="How many of a batch's transfers are in each state.")
class TransferCounts:
    requested: int
    exported: int
    completed: int
    refused: int
    expired: int


@strawberry.type(description="A volunteer a batch could not ask, and why.")
class BatchRefusal:
    number: str
    reason: str


@strawberry.type(
    name="TransferBatch",
    description="Issue 11: the members of one group moving together, asked for by the "
    "authority of the area holding the group; each member consents on their own.",
)
class TransferBatchType:
    _model: strawberry.Private[object]

    id: strawberry.ID = model_field("public_id", _uuid_id)
    group_id: strawberry.ID = model_id("VolunteerGroup", "group_id")
    group_name: str = model_field("group_name")
    counterpart_region_code: str = model_field(
        "counterpart_region_code", description="The destination's division code."
    )
    reason: str = model_field("reason")
    requested_by: str = model_field("requested_by")
    requested_at: datetime.datetime = model_field("requested_at")
    cancelled_at: datetime.datetime | None = model_field("cancelled_at")

    @strawberry.field(
        description="OPEN (some members have not answered), DONE, or CANCELLED "
        "(what was not consented was refused)."
    )
    def state(self) -> TransferBatchState:
        if self._model.cancelled_at is not None:
            return TransferBatchState.CANCELLED
        return TransferBatchState.OPEN if self._counts()["requested"] else TransferBatchState.DONE

    @strawberry.field(description="The batch's transfers by state.")
    def counts(self) -> TransferCounts:
        return TransferCounts(**self._counts())

    @strawberry.field(description="The volunteers the batch could not ask, with why.")
    def refused(self) -> list[BatchRefusal]:
        return [BatchRefusal(number=r["number"], reason=r["reason"]) for r in self._model.refused]

    @strawberry.field(
        description="The batch's transfers, `first` at a time (at most 100), `after` the "
        "last one's id for the next."
    )
    def transfers(self, first: int = 50, after: strawberry.ID | None = None) -> list[TransferType]:
        first = page_size(first)
        queryset = self._model.transfers.select_related("volunteer", "batch").order_by("-id")
        if after is not None:
            anchor = _public_id(after)
            last_seen = anchor and queryset.filter(public_id=anchor).values_list("id").first()
            if not last_seen:
                raise QueryError(InvalidInput(_("not a transfer of this batch"), field="after"))
            queryset = queryset.filter(id__lt=last_seen[0])
        return [TransferType(_model=t) for t in queryset[:first]]

    def _counts(self) -> dict[str, int]:
        cached = self.__dict__.get("_cached_counts")
        if cached is None:
            cached = self.__dict__["_cached_counts"] = transfers.batch_counts(self._model)
        return cached


def _public_id(value) -> uuid.UUID | None:
    """A transfer's id as the API shows it (its public UUID), or None."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
