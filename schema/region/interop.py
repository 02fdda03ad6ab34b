"""Transfers (转移接续) in a region's API."""

from __future__ import annotations

import datetime
import enum
import json
import uuid

import strawberry
from strawberry.file_uploads import Upload
from strawberry.scalars import JSON
from strawberry.types import Info

from central.errors import InvalidInput
from interop import at_rest, permissions
from interop import services as transfers
from interop.models import Direction
from interop.package import PackageRejected
from schema.errors import Payload, QueryError, mutation_payload
from schema.region.auth import caller, guarded, principal_of
from schema.region.fields import model_field, model_id
from schema.region.records import ServiceRecord
from schema.region.types import Volunteer, page_size
from tenants.records.models import ServiceRecord as RecordModel

TransferDirection = strawberry.enum(
    enum.Enum("TransferDirection", {v.upper(): v for v in Direction.values}),
    description="转出 / 转入",
)


@strawberry.type(name="Transfer", description="A volunteer's records moving between regions.")
class TransferType:
    _model: strawberry.Private[object]

    id: strawberry.ID = model_id("public_id")
    direction: TransferDirection = model_field("direction", TransferDirection)
    state: str = model_field(
        "state", description="requested, exported, completed, refused or expired"
    )

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

    @strawberry.field
    def volunteer(self) -> Volunteer | None:
        volunteer = self._model.volunteer
        return Volunteer(_model=volunteer) if volunteer else None

    @strawberry.field(
        description="The records that moved: records holding hours leaving the "
        "source, or the records imported here (with their provenance)."
    )
    def records(self) -> list[ServiceRecord]:
        transfer = self._model
        if transfer.volunteer_id is None or (
            transfer.state != "completed" and (transfer.direction == "incoming")
        ):
            return []
        # Every record holding hours travels (issue 11 finding 2), in its state.
        rows = RecordModel.objects.filter(
            volunteer_id=transfer.volunteer_id,
            state__in=["counted", "in_publicity", "awaiting_confirmation"],
        ).prefetch_related("amendments")
        if transfer.direction == "incoming":
            rows = rows.filter(mode="imported")
        return [ServiceRecord(_model=r) for r in rows]


def _visible(principal):
    return guarded(permissions.visible_transfers, principal)


@strawberry.type
class TransferPayload(Payload):
    transfer: TransferType | None = None
    already_imported: bool = False


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
        state: str | None = None,
        first: int = 50,
        after: strawberry.ID | None = None,
    ) -> list[TransferType]:
        first = page_size(first)
        visible = queryset = _visible(principal_of(info))
        if direction:
            queryset = queryset.filter(direction=direction.value)
        if state:
            queryset = queryset.filter(state=state)
        if after is not None:
            # Any transfer the caller sees, even one that has since left the state asked for.
            anchor = _public_id(after)
            last_seen = anchor and visible.filter(public_id=anchor).values_list("id").first()
            if not last_seen:
                raise QueryError(InvalidInput("not a transfer of this list", field="after"))
            queryset = queryset.filter(id__lt=last_seen[0])
        return [TransferType(_model=t) for t in queryset.order_by("-id")[:first]]

    @strawberry.field
    def transfer(self, info: Info, id: strawberry.ID) -> TransferType | None:
        public_id = _public_id(id)
        if public_id is None:
            return None
        found = _visible(principal_of(info)).filter(public_id=public_id).first()
        return TransferType(_model=found) if found else None


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
            raise InvalidInput("the file is not a JSON package", field="file") from None
        try:
            transfer, fresh = transfers.import_offline(envelope, principal=info.context.principal)
        except PackageRejected as error:
            raise InvalidInput(f"{error.code}: {error.reason}", field="file") from None
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
