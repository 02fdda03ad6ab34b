"""Transfers (转移接续) in a region's API."""

from __future__ import annotations

import datetime
import enum
import json
import uuid

import strawberry
from django.utils.translation import gettext as _
from strawberry.file_uploads import Upload
from strawberry.scalars import JSON
from strawberry.types import Info

from central.errors import InvalidInput
from interop import at_rest, permissions, selectors
from interop import services as transfers
from interop.models import Direction
from interop.models import TransferState as TransferStateChoices
from interop.package import PackageRejected
from schema.errors import Payload, QueryError, mutation_payload
from schema.region.auth import caller, guarded, parse_id, principal_of
from schema.region.fields import model_field, model_id
from schema.region.records import ServiceRecord
from schema.region.types import Volunteer, choices_enum, page_size

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


def _visible(principal):
    return guarded(permissions.visible_transfers, principal).select_related("batch")


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


@strawberry.type
class TransferPayload(Payload):
    transfer: TransferType | None = None
    already_imported: bool = False


@strawberry.type
class TransferBatchPayload(Payload):
    batch: TransferBatchType | None = None


@strawberry.type
class TransferPackagePayload(Payload):
    package: JSON | None = None


@strawberry.type
class InteropQuery:
    @strawberry.field(
        description="Transfers the caller may see: their own, or all (authority); newest "
        "first, `first` at a time (at most 100), `after` the last one's id for the next."
    )
    def transfers(
        self,
        info: Info,
        direction: TransferDirection | None = None,
        state: TransferState | None = None,
        first: int = 50,
        after: strawberry.ID | None = None,
    ) -> list[TransferType]:
        first = page_size(first)
        visible = queryset = _visible(principal_of(info))
        if direction:
            queryset = queryset.filter(direction=direction.value)
        if state:
            queryset = queryset.filter(state=state.value)
        if after is not None:
            # Any transfer the caller sees, even one that has since left the state asked for.
            anchor = _public_id(after)
            last_seen = anchor and visible.filter(public_id=anchor).values_list("id").first()
            if not last_seen:
                raise QueryError(InvalidInput(_("not a transfer of this list"), field="after"))
            queryset = queryset.filter(id__lt=last_seen[0])
        return [TransferType(_model=t) for t in queryset.order_by("-id")[:first]]

    @strawberry.field
    def transfer(self, info: Info, id: strawberry.ID) -> TransferType | None:
        public_id = _public_id(id)
        if public_id is None:
            return None
        found = _visible(principal_of(info)).filter(public_id=public_id).first()
        return TransferType(_model=found) if found else None

    @strawberry.field(
        description="A batch transfer (issue 11) with its progress, for the authority of "
        "the area holding the group; null if there is none such for the caller."
    )
    def transfer_batch(self, info: Info, id: strawberry.ID) -> TransferBatchType | None:
        public_id = _public_id(id)
        if public_id is None:
            return None
        visible = guarded(permissions.visible_batches, principal_of(info))
        found = visible.filter(public_id=public_id).first()
        return TransferBatchType(_model=found) if found else None


def _public_id(value) -> uuid.UUID | None:
    """A transfer's id as the API shows it (its public UUID), or None."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@strawberry.type
class InteropMutation:
    @strawberry.mutation(
        description="The volunteer asks to move their records to another region (000 Art.16)."
    )
    @mutation_payload(TransferPayload)
    def request_transfer(self, info: Info, to_region: str) -> TransferPayload:
        transfer = transfers.request_transfer(to_region, principal=info.context.principal)
        return TransferPayload(transfer=TransferType(_model=transfer))

    @strawberry.mutation(
        description="The destination's authority asks the source on the "
        "volunteer's behalf; the volunteer consents at the source."
    )
    @mutation_payload(TransferPayload)
    def request_incoming_transfer(
        self, info: Info, from_region: str, volunteer_number: str
    ) -> TransferPayload:
        transfer = transfers.request_on_behalf(
            from_region, volunteer_number, principal=info.context.principal
        )
        return TransferPayload(transfer=TransferType(_model=transfer))

    @strawberry.mutation(
        description="Issue 11: the authority of the area holding a group asks for its "
        "active members (or the listed ones among them) to move to `toRegion` together. "
        "One transfer per volunteer, in one transaction; who cannot move is listed in "
        "`refused` with why. Each member consents or refuses on their own (000 Art.15)."
    )
    @mutation_payload(TransferBatchPayload)
    def request_group_transfer(
        self,
        info: Info,
        group_id: strawberry.ID,
        to_region: str,
        reason: str,
        volunteer_numbers: list[str] | None = None,
    ) -> TransferBatchPayload:
        batch = transfers.request_group_transfer(
            parse_id(group_id, "VolunteerGroup", "groupId"),
            to_region,
            reason,
            principal=info.context.principal,
            numbers=volunteer_numbers,
        )
        return TransferBatchPayload(batch=TransferBatchType(_model=batch))

    @strawberry.mutation(
        description="The authority cancels what of a batch is not consented yet: each "
        "transfer still waiting for its volunteer is refused; consented ones go on."
    )
    @mutation_payload(TransferBatchPayload)
    def cancel_transfer_batch(
        self, info: Info, batch_id: strawberry.ID, reason: str
    ) -> TransferBatchPayload:
        batch = transfers.cancel_transfer_batch(
            str(batch_id), reason, principal=info.context.principal
        )
        return TransferBatchPayload(batch=TransferBatchType(_model=batch))

    @strawberry.mutation(
        description="The volunteer consents (000 Art.15): the records are "
        "exported, signed and sent."
    )
    @mutation_payload(TransferPayload)
    def consent_transfer(
        self, info: Info, transfer_id: strawberry.ID, offline: bool = False
    ) -> TransferPayload:
        transfer = transfers.consent_transfer(
            str(transfer_id), principal=info.context.principal, offline=offline
        )
        return TransferPayload(transfer=TransferType(_model=transfer))

    @strawberry.mutation(description="The volunteer (or the source authority) refuses.")
    @mutation_payload(TransferPayload)
    def reject_transfer(
        self, info: Info, transfer_id: strawberry.ID, reason: str
    ) -> TransferPayload:
        transfer = transfers.reject_transfer(
            str(transfer_id), reason, principal=info.context.principal
        )
        return TransferPayload(transfer=TransferType(_model=transfer))

    @strawberry.mutation(description="The authority imports a package file (offline exchange).")
    @mutation_payload(TransferPayload)
    def import_transfer_package(self, info: Info, file: Upload) -> TransferPayload:
        try:
            envelope = json.loads(file.read(20 * 1024 * 1024 + 1))
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput(_("the file is not a JSON package"), field="file") from None
        try:
            transfer, fresh = transfers.import_offline(envelope, principal=info.context.principal)
        except PackageRejected as error:
            raise InvalidInput(
                _("%(code)s: %(reason)s") % {"code": error.code, "reason": error.reason},
                field="file",
            ) from None
        return TransferPayload(transfer=TransferType(_model=transfer), already_imported=not fresh)

    @strawberry.mutation(
        description="A transfer's package as signed, with the volunteer's ID number, phone "
        "and birth date in full: at the source for whoever may reveal the volunteer's "
        "personal information (revealPersonalInfo's rules), at the destination for the "
        "authority and the volunteer. Logged (PersonalInfoAccess and the audit log)."
    )
    @mutation_payload(TransferPackagePayload)
    def reveal_transfer_package(
        self, info: Info, transfer_id: strawberry.ID, reason: str
    ) -> TransferPackagePayload:
        principal, policy = caller(info)
        package = transfers.reveal_package(
            str(transfer_id), reason, principal=principal, policy=policy
        )
        return TransferPackagePayload(package=package)
