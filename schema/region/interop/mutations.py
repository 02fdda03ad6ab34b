"""Asking for, consenting to, refusing and importing transfers."""

from __future__ import annotations

import json
from typing import cast

import strawberry
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from strawberry.file_uploads import Upload
from strawberry.scalars import JSON
from strawberry.types import Info

from central.errors import InvalidInput
from interop import services as transfers
from interop.package import PackageRejected
from schema.errors import Payload, mutation_payload
from schema.region.auth import caller, parse_id
from schema.region.interop.types import TransferBatchType, TransferType


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
class InteropMutation:
    @strawberry.mutation(
        description="The volunteer asks to move their records to another region (000 Art.16)."
    )
    @mutation_payload(TransferPayload)
    def request_transfer(self, info: Info, to_region: str) -> TransferPayload:
        transfer = transfers.request_transfer(to_region=to_region, principal=info.context.principal)
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
            from_region=from_region, number=volunteer_number, principal=info.context.principal
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
            group_id=parse_id(group_id, "VolunteerGroup", "groupId"),
            to_region=to_region,
            reason=reason,
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
            batch_id=str(batch_id), reason=reason, principal=info.context.principal
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
            transfer_id=str(transfer_id), principal=info.context.principal, offline=offline
        )
        return TransferPayload(transfer=TransferType(_model=transfer))

    @strawberry.mutation(description="The volunteer (or the source authority) refuses.")
    @mutation_payload(TransferPayload)
    def reject_transfer(
        self, info: Info, transfer_id: strawberry.ID, reason: str
    ) -> TransferPayload:
        transfer = transfers.reject_transfer(
            transfer_id=str(transfer_id), reason=reason, principal=info.context.principal
        )
        return TransferPayload(transfer=TransferType(_model=transfer))

    @strawberry.mutation(description="The authority imports a package file (offline exchange).")
    @mutation_payload(TransferPayload)
    def import_transfer_package(self, info: Info, file: Upload) -> TransferPayload:
        try:
            upload = cast("UploadedFile", file)  # what Upload is at run time
            envelope = json.loads(upload.read(20 * 1024 * 1024 + 1))
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput(_("the file is not a JSON package"), field="file") from None
        try:
            transfer, fresh = transfers.import_offline(
                envelope=envelope, principal=info.context.principal
            )
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
            transfer_id=str(transfer_id), reason=reason, principal=principal, policy=policy
        )
        return TransferPackagePayload(package=JSON(package))
