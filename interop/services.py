"""The transfer workflow (转移接续; 000 Art.15–16, 003 Art.23–24, 004 §1).

requested (by the volunteer at the source, or by the destination on their
behalf) → consented by the volunteer (no consent, no transfer: 000 Art.15) →
exported by the source as a signed package → imported by the destination →
the source marks the volunteer transferred and keeps its records read-only.

Delivery depends on where the destination is:
- **same deployment**: consent, export, import and completion are one database
  transaction across both schemas; a failure anywhere leaves the transfer as it
  was before consent;
- **another deployment**: the export and an outbox message are written in one
  transaction; ``interop.delivery`` posts it (with retries) to the peer, which
  imports exactly once, and the source completes when the peer acknowledges;
- **offline**: the package is exported to a file (``manage.py interop export``)
  and imported at the destination by upload or ``manage.py interop import``.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import httpx
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from central.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    locked_row,
    require_active,
)
from central.messages import shown
from central.models import HomeRegion, Region
from central.policy import RegionPolicy
from central.tenancy import connection
from interop import at_rest, federation, permissions, receipts, signing
from interop import package as packages
from interop.federation import federation_hash
from interop.models import Direction, OutboxMessage, Transfer, TransferBatch, TransferState
from tenants.accounts import services as accounts
from tenants.accounts.models import Account
from tenants.accounts.principal import Principal
from tenants.audit.services import record as audit
from tenants.groups.models import MembershipStatus, VolunteerGroup
from tenants.recognition.models import Award, Complaint, ComplaintStatus, Training
from tenants.records.models import (
    EARLIEST_SERVICE_DATE,
    Amendment,
    DaySlot,
    RecordMode,
    RecordState,
    ServiceRecord,
    VolunteerTotals,
)
from tenants.timebank import services as time_bank
from tenants.volunteers import pii
from tenants.volunteers.models import PersonalInfoAccess, Volunteer, VolunteerStatus


def _current_region() -> Region:
    return Region.objects.get(schema_name=connection.schema_name)


def _destination(code: str, source: Region) -> signing.DirectoryEntry:
    if code == source.code:
        raise InvalidInput(_("the destination is this region"), field="toRegion")
    entry = signing.lookup(code)
    if entry is None:
        raise NotFound(
            _("region %(code)s is not in the federation directory") % {"code": code},
            field="toRegion",
        )
    if entry.local and Region.objects.get(code=code).is_suspended:
        raise Conflict(_("%(name)s is suspended") % {"name": entry.name}, field="toRegion")
    return entry


def _expires() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=settings.TRANSFER_CONSENT_DAYS)


def request_transfer(*, to_region: str, principal: Principal) -> Transfer:
    """The volunteer asks to move their records to ``to_region``."""
    principal = accounts.require(principal)
    volunteer = principal.volunteer
    if volunteer is None:
        raise PermissionDenied(_("only a volunteer's own account asks for a transfer"))
    source = _current_region()
    _destination(to_region, source)
    return _open_outgoing(volunteer, to_region, principal.actor)


def _open_outgoing(
    volunteer: Volunteer, to_region: str, actor: str, batch: TransferBatch | None = None
) -> Transfer:
    if volunteer.status == VolunteerStatus.TRANSFERRED:
        raise Conflict(
            _("%(number)s has already been transferred") % {"number": volunteer.number},
            field="number",
        )
    if volunteer.status == VolunteerStatus.CANCELLED:
        raise Conflict(_("%(number)s is cancelled") % {"number": volunteer.number}, field="number")
    try:
        with transaction.atomic():
            transfer = Transfer.objects.create(
                direction=Direction.OUTGOING,
                state=TransferState.REQUESTED,
                volunteer=volunteer,
                volunteer_number=volunteer.number,
                counterpart_region_code=to_region,
                requested_by=actor,
                expires_at=_expires(),
                batch=batch,
            )
            audit(
                actor,
                "transfer.requested",
                str(transfer.public_id),
                to=to_region,
                batch=str(batch.public_id) if batch is not None else "",
            )
    except IntegrityError:
        raise Conflict(
            _("%(number)s already has a transfer under way") % {"number": volunteer.number},
            field="number",
        ) from None
    return transfer


BATCH_LIMIT = 1000  # volunteers in one batch request


def request_group_transfer(
    *, group_id, to_region: str, reason: str, principal: Principal, numbers: list[str] | None = None
) -> TransferBatch:
    """Issue 11: the authority of the area holding a group asks for its active members
    (or the listed ones among them) to move to ``to_region`` together: one batch and
    one transfer per volunteer, in one transaction. A volunteer who cannot move
    (already transferring, transferred, cancelled, not a member) is left out with a
    reason in ``batch.refused``; the others each consent or refuse on their own
    (000 Art.15), as to any transfer."""
    principal = accounts.require(principal)
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise InvalidInput(_("say why the group's volunteers move"), field="reason")
    try:
        group = VolunteerGroup.objects.filter(id=int(group_id)).first()
    except (TypeError, ValueError):
        group = None
    if group is None:
        raise NotFound(_("no such group"), field="groupId")
    permissions.require_batch_requester(group, principal)
    source = _current_region()
    _destination(to_region, source)
    members = Volunteer.objects.filter(
        memberships__group=group, memberships__status=MembershipStatus.ACTIVE
    ).order_by("id")
    refused = []
    if numbers is not None:
        wanted = list(dict.fromkeys((n or "").strip() for n in numbers))
        members = members.filter(number__in=wanted)
        found = {v.number for v in members}
        known = set(Volunteer.objects.filter(number__in=wanted).values_list("number", flat=True))
        refused = [
            {
                "number": n,
                "reason": "not an active member of the group"
                if n in known
                else "no such volunteer",
            }
            for n in wanted
            if n not in found
        ]
    volunteers = list(members.distinct()[: BATCH_LIMIT + 1])
    if len(volunteers) > BATCH_LIMIT:
        raise InvalidInput(
            _("at most %(batch_limit)s volunteers in one batch: list them in parts")
            % {"batch_limit": BATCH_LIMIT},
            field="volunteerNumbers",
        )
    if not volunteers and not refused:
        raise Conflict(
            _("%(name)s has no active members to move") % {"name": group.name}, field="groupId"
        )
    with transaction.atomic():
        batch = TransferBatch.objects.create(
            group_id=group.id,
            group_name=group.name,
            division_code=group.division_code,
            counterpart_region_code=to_region,
            requested_by=principal.actor,
            reason=reason[:500],
        )
        asked = 0
        for volunteer in volunteers:
            try:
                _open_outgoing(volunteer, to_region, principal.actor, batch)
                asked += 1
            except Conflict as error:
                refused.append({"number": volunteer.number, "reason": error.problems[0].message})
        batch.refused = refused
        batch.save(update_fields=["refused"])
        audit(
            principal.actor,
            "transfer.batch_requested",
            str(batch.public_id),
            group=group.id,
            to=to_region,
            asked=asked,
            refused=len(refused),
        )
    return batch


def _batch(batch_id, queryset) -> TransferBatch:
    try:
        public_id = uuid.UUID(str(batch_id))
    except ValueError:
        raise InvalidInput(_("not a batch id"), field="batchId") from None
    batch = queryset.filter(public_id=public_id).first()
    if batch is None:
        raise NotFound(_("no such batch"), field="batchId")
    return batch


def batch_counts(batch: TransferBatch) -> dict[str, int]:
    """How many of the batch's transfers are in each state (one query)."""
    counts = dict.fromkeys(TransferState.values, 0)
    for state, n in batch.transfers.order_by().values_list("state").annotate(n=models.Count("id")):
        counts[state] = n
    return counts


def cancel_transfer_batch(*, batch_id, reason: str, principal: Principal) -> TransferBatch:
    """The authority cancels what of a batch is not consented yet: each transfer still
    waiting for its volunteer is refused (with the reason); what a volunteer consented
    to goes on (it is theirs now)."""
    principal = accounts.require(principal)
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise InvalidInput(_("say why the batch is cancelled"), field="reason")
    with transaction.atomic():
        batch = _batch(batch_id, TransferBatch.objects.select_for_update())
        permissions.require_batch_canceller(batch, principal)
        if batch.cancelled_at is not None:
            raise Conflict(_("the batch is cancelled already"), field="batchId")
        waiting = list(
            Transfer.objects.select_for_update()
            .filter(batch=batch, state=TransferState.REQUESTED)
            .only("id", "public_id")
        )
        Transfer.objects.filter(id__in=[t.id for t in waiting]).update(
            state=TransferState.REFUSED, reason=f"cancelled by the authority: {reason}"[:500]
        )
        for transfer in waiting:
            audit(principal.actor, "transfer.refused", str(transfer.public_id), reason=reason)
        batch.cancelled_at = timezone.now()
        batch.cancelled_by = principal.actor
        batch.save(update_fields=["cancelled_at", "cancelled_by"])
        audit(
            principal.actor,
            "transfer.batch_cancelled",
            str(batch.public_id),
            reason=reason,
            cancelled=len(waiting),
        )
    return batch


def request_on_behalf(*, from_region: str, number: str, principal: Principal) -> Transfer:
    """The destination's authority asks the source, on the volunteer's behalf
    (the volunteer still consents at the source). Same deployment only here;
    peers are asked through the outbox.

    The request is addressed to the volunteer, who must consent, so the asking
    region learns nothing before they do (audit round 3): a number nobody has at
    the source, a volunteer cancelled or transferred away, or one with a transfer
    under way get the very answer a volunteer who may consent gets — a ``REQUESTED``
    placeholder here, which expires as any unanswered request does. The source
    opens the volunteer's transfer only where one can be opened, and logs the
    others (``transfer.request_unanswerable``) in its own audit log. Asking again
    while a request is open answers that request."""
    principal = accounts.require_authority(principal)
    destination = _current_region()
    source_entry = _destination(from_region, destination)
    if not source_entry.local:
        return _request_remote(source_entry, number, destination, principal)
    source = Region.objects.get(code=from_region)
    number = (number or "").strip()
    open_request = Transfer.objects.filter(
        direction=Direction.INCOMING,
        state=TransferState.REQUESTED,
        volunteer_number=number,
        counterpart_region_code=source.code,
        expires_at__gt=timezone.now(),
    ).first()
    if open_request is not None:
        return open_request
    actor = f"region:{destination.code}:{principal.actor}"
    with transaction.atomic():
        with schema_context(source.schema_name):
            volunteer = Volunteer.objects.filter(number=number).first()
            unanswerable = "unknown_number" if volunteer is None else ""
            if volunteer is not None:
                try:
                    with transaction.atomic():
                        _open_outgoing(volunteer, destination.code, actor)
                except Conflict:
                    unanswerable = "not_requestable"  # cancelled, gone, or under way
            if unanswerable:
                audit(
                    actor,
                    "transfer.request_unanswerable",
                    number[:120],
                    to=destination.code,
                    reason=unanswerable,
                )
        # The destination keeps its own view of the request, fulfilled on import.
        transfer = Transfer.objects.create(
            direction=Direction.INCOMING,
            state=TransferState.REQUESTED,
            volunteer_number=number,
            counterpart_region_code=source.code,
            requested_by=principal.actor,
            expires_at=_expires(),
        )
        audit(
            principal.actor,
            "transfer.requested_on_behalf",
            str(transfer.public_id),
            source=source.code,
        )
    return transfer


def _request_remote(
    source_entry, number: str, destination: Region, principal: Principal
) -> Transfer:
    """Ask another deployment: an incoming placeholder plus an outbox message."""
    body = {
        "kind": "transfer_request",
        "volunteerNumber": number,
        "from": source_entry.code,
        "to": destination.code,
        "requestedBy": principal.actor,
    }
    with transaction.atomic():
        transfer = Transfer.objects.create(
            direction=Direction.INCOMING,
            state=TransferState.REQUESTED,
            volunteer_number=number,
            counterpart_region_code=source_entry.code,
            requested_by=principal.actor,
            expires_at=_expires(),
            delivery="outbox",
        )
        envelope = signing.envelope("request", destination, body)
        OutboxMessage.objects.create(
            kind="transfer_request",
            transfer=transfer,
            destination_code=source_entry.code,
            inbox_url=source_entry.inbox_url,
            body=envelope,
            next_attempt_at=timezone.now(),
        )
        audit(
            principal.actor,
            "transfer.requested_remote",
            str(transfer.public_id),
            source=source_entry.code,
        )
    return transfer


def _locked_transfer(transfer_id) -> Transfer:
    try:
        public_id = uuid.UUID(str(transfer_id))
    except ValueError:
        raise InvalidInput(_("not a transfer id"), field="transferId") from None
    return locked_row(
        Transfer.objects.select_related("volunteer"),
        missing=NotFound(_("no such transfer"), field="transferId"),
        public_id=public_id,
    )


def _expire_if_due(transfer: Transfer) -> bool:
    if (
        transfer.state == TransferState.REQUESTED
        and transfer.expires_at
        and transfer.expires_at <= timezone.now()
    ):
        transfer.state = TransferState.EXPIRED
        transfer.reason = "the volunteer did not consent in time"
        transfer.save(update_fields=["state", "reason"])
        audit("system:interop", "transfer.expired", str(transfer.public_id))
        return True
    return False


def expire_due_transfers() -> int:
    """The scheduled job's half of consent expiry (issue 12 point 2): every requested
    transfer past its consent deadline is expired now, each under its row lock, so
    the source and the queues show it without waiting for someone to touch it."""
    due = Transfer.objects.filter(
        state=TransferState.REQUESTED, expires_at__lte=timezone.now()
    ).values_list("public_id", flat=True)
    expired = 0
    for public_id in list(due):
        with transaction.atomic():
            expired += _expire_if_due(_locked_transfer(public_id))
    return expired


def reject_transfer(*, transfer_id, reason: str, principal: Principal) -> Transfer:
    """The volunteer refuses (or the source authority refuses) a requested transfer,
    or cancels a consented one whose package has not arrived yet (an offline file
    not imported, an outbox message not delivered). A refused or cancelled
    transfer's package is refused by a destination in this deployment (issue 11
    finding 3) and the volunteer's records here are theirs again."""
    principal = accounts.require(principal)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("say why the transfer is refused"), field="reason")
    with transaction.atomic():
        transfer = _locked_transfer(transfer_id)
        permissions.require_refuser(transfer, principal)
        if _expire_if_due(transfer):
            raise Conflict(
                _("the transfer is %(state)s") % {"state": shown(transfer, "state")},
                field="transferId",
            )
        if transfer.state == TransferState.EXPORTED:
            counterpart = signing.lookup(transfer.counterpart_region_code)
            if (
                transfer.delivery == "offline"
                and transfer.package_written_at is not None
                and counterpart is not None
                and not counterpart.local
            ):
                # The file is in someone's hands: it may be imported there at any
                # time, and the hours would then count twice. Its receipt completes it.
                raise Conflict(
                    _(
                        "the package file was handed out for another deployment on "
                        "%(package_written_at)s: the transfer completes when "
                        "%(counterpart_region_code)s imports it and its receipt comes"
                        " back"
                    )
                    % {
                        "package_written_at": format(transfer.package_written_at, "%Y-%m-%d"),
                        "counterpart_region_code": transfer.counterpart_region_code,
                    },
                    field="transferId",
                )
            # Cancelled before it arrived: the outbox stops sending it.
            for message in OutboxMessage.objects.select_for_update().filter(
                transfer=transfer, delivered_at__isnull=True
            ):
                message.delivered_at = timezone.now()
                message.last_error = "cancelled at the source"
                message.save(update_fields=["delivered_at", "last_error"])
            reason = f"cancelled: {reason}"
        elif transfer.state != TransferState.REQUESTED:
            raise Conflict(
                _("the transfer is %(state)s") % {"state": shown(transfer, "state")},
                field="transferId",
            )
        transfer.state = TransferState.REFUSED
        transfer.reason = reason[:500]
        transfer.save(update_fields=["state", "reason"])
        audit(principal.actor, "transfer.refused", str(transfer.public_id), reason=reason)
    return transfer


def _freeze(volunteer: Volunteer) -> Volunteer:
    """Lock the volunteer and their records for the package (issue 11 finding 2).

    The volunteer's row ``FOR UPDATE`` (record writes take it ``FOR SHARE`` first:
    ``records.services.require_not_frozen``), then every record row: whatever was
    being written commits before the package is built, and nothing after. Records
    whose hours are not decided yet (declared, objected) have no place to finish
    once the volunteer has left: consent waits for them."""
    volunteer = Volunteer.objects.select_for_update().get(id=volunteer.id)
    list(ServiceRecord.objects.select_for_update().filter(volunteer=volunteer).values("id"))
    undecided = ServiceRecord.objects.filter(
        volunteer=volunteer, state__in=packages.UNDECIDED
    ).count()
    if undecided:
        raise Conflict(
            _(
                "%(undecided)s of %(number)s's records are declared or under "
                "objection: their group decides them before the records can "
                "move"
            )
            % {"undecided": undecided, "number": volunteer.number},
            field="transferId",
        )
    return volunteer


def consent_transfer(*, transfer_id, principal: Principal, offline: bool = False) -> Transfer:
    """The volunteer consents; the package is built, signed and sent on its way."""
    principal = accounts.require(principal)
    source = _current_region()
    with transaction.atomic():
        transfer = _locked_transfer(transfer_id)
        volunteer = transfer.volunteer
        if (
            principal.volunteer is None
            or volunteer is None
            or (principal.volunteer.id != volunteer.id)
        ):
            raise PermissionDenied(
                _("only the volunteer consents to their own transfer (000 Art.15)")
            )
        if _expire_if_due(transfer):
            return transfer
        if transfer.state != TransferState.REQUESTED:
            raise Conflict(
                _("the transfer is %(state)s") % {"state": shown(transfer, "state")},
                field="transferId",
            )
        destination = _destination(transfer.counterpart_region_code, source)
        volunteer = _freeze(volunteer)
        now = timezone.now()
        package = packages.build(
            volunteer,
            transfer_id=str(transfer.public_id),
            source=source,
            destination_code=destination.code,
            consented_at=now,
            consented_by=principal.actor,
        )
        envelope = packages.seal(source, package, packages.credential_of(volunteer))
        transfer.state = TransferState.EXPORTED
        transfer.consented_at = now
        transfer.consented_by = principal.actor
        transfer.package_id = uuid.UUID(package["packageId"])
        transfer.package = at_rest.stored(envelope)
        transfer.delivery = "offline" if offline else ("direct" if destination.local else "outbox")
        # From here the records are frozen (the state is "exported": records.0004).
        transfer.save()
        audit(
            principal.actor,
            "transfer.consented",
            str(transfer.public_id),
            package=package["packageId"],
            delivery=transfer.delivery,
        )
        if transfer.delivery == "direct":
            # One transaction across both schemas: import there, complete here.
            target = Region.objects.get(code=destination.code)
            try:
                with schema_context(target.schema_name):
                    import_package(envelope, target)
            except packages.PackageRejected as error:
                raise Conflict(
                    _("%(name)s refused the package: %(reason)s")
                    % {"name": target.name, "reason": error.reason},
                    field="transferId",
                ) from None
            complete_outgoing(transfer)
        elif transfer.delivery == "outbox":
            OutboxMessage.objects.create(
                kind="package",
                transfer=transfer,
                destination_code=destination.code,
                inbox_url=destination.inbox_url,
                body=at_rest.stored(envelope),
                next_attempt_at=now,
            )
        # Offline: exported (frozen) until the destination imports the file. Within
        # this deployment that completes it here in the same transaction; from
        # another, the destination's signed receipt comes back (``acknowledge``).
    return transfer


def complete_outgoing(transfer: Transfer) -> None:
    """The destination has the records: mark the volunteer transferred, keep the
    records read-only, and move the person's home region."""
    transfer.refresh_from_db(fields=["state", "completed_at"])
    if transfer.state == TransferState.COMPLETED:
        return
    if transfer.state != TransferState.EXPORTED:
        raise Conflict(
            _("the transfer is %(state)s") % {"state": shown(transfer, "state")}, field="transferId"
        )
    assert transfer.volunteer_id is not None  # an exported transfer has its volunteer
    volunteer = Volunteer.objects.select_for_update().get(id=transfer.volunteer_id)
    volunteer.status = VolunteerStatus.TRANSFERRED
    volunteer.status_reason = f"转出至 {transfer.counterpart_region_code}"
    volunteer.save(update_fields=["status", "status_reason"])
    HomeRegion.objects.filter(id_number_hash=volunteer.id_number_hash).update(
        region_code=transfer.counterpart_region_code
    )
    # The saved hours left with the records: the balance here is closed, never doubled.
    time_bank.close_for_transfer(
        volunteer.id,
        transfer.counterpart_region_code,
        str(transfer.public_id),
        "system:interop",
    )
    transfer.state = TransferState.COMPLETED
    transfer.completed_at = timezone.now()
    transfer.save(update_fields=["state", "completed_at"])
    audit(
        "system:interop", "transfer.completed", str(transfer.public_id), volunteer=volunteer.number
    )


def import_package(
    envelope, destination: Region, *, offline: bool = False
) -> tuple[Transfer, bool]:
    """Import a verified package into ``destination`` (the current schema) exactly
    once. Returns the incoming transfer and whether it was imported just now
    (False: it had been imported before and nothing changed). A file (``offline``)
    from another deployment is acknowledged to its source through the outbox: the
    source completes on that signed receipt (issue 11 finding 2)."""
    package = packages.check(envelope)
    require_active(destination)  # a suspended region is written to by no path
    if package["destination"]["regionCode"] != destination.code:
        raise packages.PackageRejected(
            "WRONG_DESTINATION",
            f"the package is for region {package['destination']['regionCode']}, "
            f"not {destination.code}",
        )
    package_id = uuid.UUID(package["packageId"])
    if not Transfer.objects.filter(direction=Direction.INCOMING, package_id=package_id).exists():
        _ask_remote_source(package, destination)
    with transaction.atomic():
        done = Transfer.objects.filter(direction=Direction.INCOMING, package_id=package_id).first()
        if done is not None:
            return done, False
        source_transfer = _bound_transfer(package, destination)
        try:
            with transaction.atomic():
                transfer = _import(package, envelope, destination, package_id)
                if source_transfer is not None:
                    # Within one deployment the source lets go in the same transaction.
                    with schema_context(source_transfer[0].schema_name):
                        complete_outgoing(source_transfer[1])
                elif offline:
                    _queue_acknowledgement(transfer, package, destination)
        except IntegrityError as error:
            again = Transfer.objects.filter(
                direction=Direction.INCOMING, package_id=package_id
            ).first()
            if again is not None:  # a concurrent delivery of the same package won
                return again, False
            raise packages.PackageRejected("CONFLICT", str(error).splitlines()[0]) from None
    return transfer, True


def acknowledgement(transfer: Transfer, package: dict, destination: Region) -> dict:
    """The message that tells a package's source it arrived: the destination's
    receipt (``receipts.issue``) for exactly that package, routed to the source."""
    return {
        "acknowledgement": {
            "to": package["source"]["regionCode"],
            "receipt": receipts.issue(
                destination,
                kind="package",
                subject_id=str(transfer.package_id),
                payload_digest=receipts.digest(package),
                status="imported",
            ),
        }
    }


def _queue_acknowledgement(transfer: Transfer, package: dict, destination: Region) -> None:
    source = signing.lookup(package["source"]["regionCode"])
    assert source is not None  # packages.check refused a package from elsewhere
    OutboxMessage.objects.create(
        kind="acknowledgement",
        transfer=transfer,
        destination_code=source.code,
        inbox_url=source.inbox_url,
        body=acknowledgement(transfer, package, destination),
        next_attempt_at=timezone.now(),
    )


def acknowledge(message: dict) -> Transfer:
    """At the source: the destination's signed receipt for an offline package
    (through the inbox, or ``manage.py interop acknowledge FILE``) completes the
    transfer. Only a receipt signed by the transfer's destination for the very
    package this region exported counts; a repeat changes nothing."""
    region = Region.objects.filter(code=str(message.get("to"))).first()
    if region is None:
        raise packages.PackageRejected("WRONG_DESTINATION", f"no region {message.get('to')} here")
    receipt = message.get("receipt")
    body: Any = receipt.get("receipt") if isinstance(receipt, dict) else None
    try:
        package_id = uuid.UUID(str((body or {}).get("id")))
    except ValueError:
        raise packages.PackageRejected("MALFORMED", "the receipt names no package") from None
    with schema_context(region.schema_name), transaction.atomic():
        transfer = (
            Transfer.objects.select_for_update()
            .filter(direction=Direction.OUTGOING, package_id=package_id)
            .first()
        )
        if transfer is None:
            raise packages.PackageRejected(
                "NOT_FOUND", f"{region.name} sent no package {package_id}"
            )
        sent = at_rest.clear(transfer.package)["package"]
        try:
            receipts.verify(
                receipt,
                region_code=transfer.counterpart_region_code,
                kind="package",
                subject_id=str(package_id),
                payload_digest=receipts.digest(sent),
            )
        except receipts.InvalidReceipt as invalid:
            raise packages.PackageRejected("BAD_SIGNATURE", str(invalid)) from None
        if body.get("status") not in receipts.ACCEPTED["package"]:
            raise packages.PackageRejected("MALFORMED", "the receipt does not say imported")
        if transfer.state == TransferState.EXPORTED:
            complete_outgoing(transfer)
            audit(
                f"region:{transfer.counterpart_region_code}",
                "transfer.acknowledged",
                str(transfer.public_id),
                package=str(package_id),
            )
        elif transfer.state != TransferState.COMPLETED:
            raise packages.PackageRejected(
                "TRANSFER_REFUSED",
                f"{region.name} {transfer.state} transfer {transfer.public_id}: {transfer.reason}"[
                    :480
                ],
            )
    return transfer


def _ask_remote_source(package, destination: Region) -> None:
    """Issue 11 finding 3 across deployments: before importing a package from a
    region of another deployment, ask that region (``POST /interop/transfer-status``,
    signed both ways) whether the package's transfer still stands there. A signed
    answer that it was refused, cancelled or expired, or that no such package was
    sent here, refuses the package. A source that cannot answer in
    ``FEDERATION_LOOKUP_TIMEOUT`` does not stop the import (a file may come from a
    deployment with no network path here): ``interop audit --peers`` checks later."""
    source = signing.lookup(package["source"]["regionCode"])
    if source is None or source.local or not source.inbox_url:
        return
    url = federation.peer_endpoint(source.inbox_url, federation.TRANSFER_STATUS_PATH)
    try:
        with httpx.Client(timeout=settings.FEDERATION_LOOKUP_TIMEOUT) as client:
            answer = federation.ask(
                client,
                url,
                destination,
                source.code,
                "transfer-status-query",
                packages=[package["packageId"]],
            )
    except federation.PeerUnanswered as error:
        audit(
            "system:interop",
            "transfer.source_not_asked",
            package["packageId"],
            source=source.code,
            why=str(error),
        )
        return
    known = answer.get("packages")
    there = known.get(package["packageId"]) if isinstance(known, dict) else None
    if not isinstance(there, dict) or there.get("direction") != Direction.OUTGOING:
        raise packages.PackageRejected(
            "TRANSFER_UNKNOWN", f"{source.code} says it sent no package {package['packageId']} here"
        )
    if there.get("state") not in (TransferState.EXPORTED, TransferState.COMPLETED):
        raise packages.PackageRejected(
            "TRANSFER_REFUSED",
            f"{source.code} says the transfer of this package is {there.get('state')}",
        )


def _bound_transfer(package, destination: Region) -> tuple[Region, Transfer] | None:
    """Issue 11 finding 3: a package is bound to one transfer, one destination and
    that transfer's state. Within this deployment the source's own row decides (the
    package must be the one it exported, for a transfer consented and not refused,
    cancelled, expired or completed elsewhere); returns the source region and its
    transfer, locked. A package from another deployment is checked against what it
    states (destination, consent: ``check``) and the home-region directory
    (``_import``): a refusal there after the package was signed cannot be seen here.
    """
    source = Region.objects.filter(code=package["source"]["regionCode"]).first()
    if source is None:
        return None
    with schema_context(source.schema_name):
        try:
            transfer_id = uuid.UUID(package["transferId"])
        except ValueError:
            raise packages.PackageRejected("MALFORMED", "transferId is not a UUID") from None
        transfer = (
            Transfer.objects.select_for_update()
            .filter(public_id=transfer_id, direction=Direction.OUTGOING)
            .first()
        )
        if transfer is None:
            raise packages.PackageRejected(
                "TRANSFER_UNKNOWN", f"{source.name} has no outgoing transfer {transfer_id}"
            )
        if transfer.counterpart_region_code != destination.code:
            raise packages.PackageRejected(
                "WRONG_DESTINATION",
                f"{source.name} sends transfer {transfer_id} to "
                f"{transfer.counterpart_region_code}, not here",
            )
        if transfer.volunteer_number != package["volunteer"]["number"]:
            raise packages.PackageRejected(
                "CONFLICT", "the package's volunteer is not the transfer's volunteer"
            )
        if transfer.state == TransferState.REQUESTED:
            raise packages.PackageRejected(
                "TRANSFER_NOT_CONSENTED",
                f"the volunteer has not consented to transfer {transfer_id} (000 Art.15)",
            )
        if transfer.state in (TransferState.REFUSED, TransferState.EXPIRED):
            raise packages.PackageRejected(
                "TRANSFER_REFUSED",
                f"{source.name} {transfer.state} transfer {transfer_id}: {transfer.reason}"[:480],
            )
        if str(transfer.package_id) != package["packageId"]:
            raise packages.PackageRejected(
                "PACKAGE_SUPERSEDED",
                f"this is not the package {source.name} exported for transfer {transfer_id}",
            )
        later = (
            Transfer.objects.filter(
                direction=Direction.OUTGOING,
                volunteer_number=transfer.volunteer_number,
                state__in=[TransferState.EXPORTED, TransferState.COMPLETED],
                consented_at__gt=transfer.consented_at,
            )
            .exclude(id=transfer.id)
            .first()
        )
        if later is not None:
            raise packages.PackageRejected(
                "ALREADY_TRANSFERRED",
                f"the volunteer has since moved from {source.name} to "
                f"{later.counterpart_region_code}",
            )
        # Completed already with this package (an offline file written before issue
        # 11, when offline completed at consent): it is still on its way here.
    return source, transfer


def _check_dates(package) -> None:
    """Issue 10 finding 9: a transferred record, training or award has no project here
    to bound its date; it still lies between the platform's earliest plausible date
    and today (a CHECK constraint holds the first in the database too)."""
    today = timezone.localdate()
    for key, name in (
        ("records", "serviceDate"),
        ("trainings", "trainedOn"),
        ("awards", "awardedOn"),
    ):
        for item in package[key]:
            day = datetime.date.fromisoformat(item[name])
            if not EARLIEST_SERVICE_DATE <= day <= today:
                raise packages.PackageRejected(
                    "MALFORMED",
                    f"{key}: {name} {day} is not a plausible date "
                    f"(from {EARLIEST_SERVICE_DATE} to today)",
                )


def _import(package, envelope, destination: Region, package_id) -> Transfer:
    _check_dates(package)
    data = package["volunteer"]
    source_code = package["source"]["regionCode"]
    id_hash = pii.keyed_hash("id", data["idNumber"])
    home = HomeRegion.objects.filter(id_number_hash=id_hash).first()
    if home is not None and home.region_code not in (source_code, destination.code):
        raise packages.PackageRejected(
            "CONFLICT", f"this person's home region is {home.region_code}, not the sender"
        )
    volunteer = Volunteer.objects.filter(number=data["number"]).first()
    if volunteer is None:
        local = Volunteer.objects.filter(id_number_hash=id_hash).first()
        if local is not None:
            raise packages.PackageRejected(
                "CONFLICT", "this person is already registered here under another number"
            )
        volunteer = Volunteer.objects.create(
            number=data["number"],
            name=data["name"],
            gender=data["gender"],
            birth_date=datetime.date.fromisoformat(data["birthDate"]),
            id_type=data["idType"],
            **pii.protected_fields(data["idNumber"], data["phone"]),
            service_area=data["serviceArea"],
            service_intentions=data["serviceIntentions"],
            skills=data["skills"],
            verification=data["verification"],
            verification_reason=_verification_reason(data),
            guardian_name=data["guardianName"],
            registered_by=f"transfer:{source_code}",
            # Where they live here is not known yet: the region's own authority answers.
            division_code=destination.code,
        )
    else:  # a volunteer coming back: the old row is reopened
        volunteer.status = VolunteerStatus.ACTIVE
        volunteer.status_reason = f"转入自 {source_code}"
        volunteer.save(update_fields=["status", "status_reason"])
    # i11-trust hook (issue 11 finding 11): the hash peers ask about.
    shared_hash = federation_hash(data["idNumber"])
    if home is None:
        HomeRegion.objects.create(
            id_number_hash=id_hash,
            federation_hash=shared_hash,
            region_code=destination.code,
            volunteer_number=volunteer.number,
        )
    else:
        HomeRegion.objects.filter(id=home.id).update(
            region_code=destination.code, federation_hash=shared_hash
        )
    added, count, pending = _import_records(package, volunteer, destination, source_code)
    _import_recognition(package, volunteer)
    username = _import_account(envelope, data, volunteer, source_code)
    totals, _unused = VolunteerTotals.objects.get_or_create(volunteer=volunteer)
    totals = VolunteerTotals.objects.select_for_update().get(pk=totals.pk)
    totals.counted_hours += added
    totals.counted_records += count
    totals.star_level = max(totals.star_level, package["starLevel"])
    totals.save()
    # Records counted at the source arrive counted and deposit nothing here: their
    # saved hours are in the balance the package carries, opened here as one entry.
    time_bank.open_from_transfer(
        volunteer.id,
        package.get("timeBank"),
        source_code,
        package["transferId"],
        destination.get_policy(),
        f"region:{source_code}",
    )
    transfer = Transfer.objects.create(
        direction=Direction.INCOMING,
        state=TransferState.COMPLETED,
        volunteer=volunteer,
        volunteer_number=volunteer.number,
        counterpart_region_code=source_code,
        requested_by=f"region:{source_code}",
        # A datetime, not the package's text: the answer shows this very object.
        consented_at=parse_datetime(package["consent"]["consentedAt"]),
        consented_by=package["consent"]["consentedBy"],
        package_id=package_id,
        # The login's hash is in the account now: the stored package keeps no copy.
        package=at_rest.stored(at_rest.without_credential(envelope)),
        completed_at=timezone.now(),
    )
    # An on-behalf request made here earlier is now fulfilled.
    Transfer.objects.filter(
        direction=Direction.INCOMING,
        state=TransferState.REQUESTED,
        volunteer_number=volunteer.number,
        counterpart_region_code=source_code,
    ).update(state=TransferState.COMPLETED, completed_at=timezone.now(), volunteer=volunteer)
    audit(
        f"region:{source_code}",
        "transfer.imported",
        str(transfer.public_id),
        volunteer=volunteer.number,
        records=count,
        hours=str(added),
        pending=pending,
        version=package["version"],
        account=username or "",
    )
    return transfer


def _import_records(
    package, volunteer: Volunteer, destination: Region, source_code: str
) -> tuple[Decimal, int, int]:
    """The package's records, in a number of statements that does not grow with them
    (issue 11, batch transfers): what is here already is read in one query each, the
    new records, their amendments and day slots are written in one INSERT each.
    Returns the hours and records that count here now, and how many are pending."""
    items = package["records"]
    home_ids = [
        int(item["provenance"]["recordId"])
        for item in items
        if item["provenance"]["regionCode"] == destination.code
        and item["provenance"]["recordId"].isdigit()
    ]
    homes = (
        {
            r.id: r
            for r in ServiceRecord.objects.filter(
                id__in=home_ids, volunteer=volunteer
            ).prefetch_related("amendments")
        }
        if home_ids
        else {}
    )
    origins = {(i["provenance"]["regionCode"], i["provenance"]["recordId"]) for i in items}
    seen = set()
    if origins:
        seen = set(
            ServiceRecord.objects.filter(
                origin_region_code__in={c for c, _unused in origins},
                origin_record_id__in={r for _unused, r in origins},
            ).values_list("origin_region_code", "origin_record_id")
        )
    added = Decimal(0)
    count = pending = 0
    now = timezone.now()
    names: dict[str, str] = {}
    fresh: list[tuple[ServiceRecord, dict]] = []
    for item in items:
        origin = item["provenance"]
        home = (
            homes.get(int(origin["recordId"]))
            if origin["regionCode"] == destination.code and origin["recordId"].isdigit()
            else None
        )
        if home is not None:
            # Recorded here before the volunteer left. If it left in publicity or
            # awaiting confirmation and counted where they were, it counts here now
            # (its row was frozen here meanwhile); otherwise it is already counted.
            # (A returning volunteer's records only: one or two statements each.)
            if (
                home.state in (RecordState.IN_PUBLICITY, RecordState.AWAITING_CONFIRMATION)
                and item.get("state", "counted") == "counted"
            ):
                hours = Decimal(item["hours"])
                if hours != home.current().hours:  # amended where it was
                    Amendment.objects.create(
                        record=home,
                        hours=hours,
                        reason=f"[{source_code}] amended there before it counted",
                        amended_by=f"region:{source_code}",
                    )
                ServiceRecord.objects.filter(id=home.id).update(
                    state=RecordState.COUNTED,
                    counted_at=now,
                    confirmed_by=item.get("confirmedBy", ""),
                )
                added += hours
                count += 1
            continue
        key = (origin["regionCode"], origin["recordId"])
        if key in seen:
            continue
        seen.add(key)  # a package naming one record twice imports it once
        hours = Decimal(item["hours"])
        # Version 1 carried counted records only; version 2 says each one's state.
        state = item.get("state", RecordState.COUNTED)
        counted = state not in (RecordState.AWAITING_CONFIRMATION, RecordState.IN_PUBLICITY)
        region_name = origin.get("regionName")
        if not region_name:
            if origin["regionCode"] not in names:
                names[origin["regionCode"]] = packages.region_name(origin["regionCode"])
            region_name = names[origin["regionCode"]]
        record = ServiceRecord(
            volunteer=volunteer,
            group=None,
            project=None,
            project_name=item["projectName"],
            service_date=datetime.date.fromisoformat(item["serviceDate"]),
            start_time=datetime.time.fromisoformat(item["startTime"]),
            end_time=datetime.time.fromisoformat(item["endTime"]),
            hours=hours,
            place=item["place"],
            service_target=item["serviceTarget"],
            content=item["content"],
            contact=item["contact"],
            punctuality=item["evaluation"].get("punctuality"),
            attitude=item["evaluation"].get("attitude"),
            professionalism=item["evaluation"].get("professionalism"),
            mode=RecordMode.IMPORTED,
            recorder=origin["recorder"],
            # Counted at the source: it counts here at once (and no longer there);
            # else it counts here (and only here) once its publicity/confirmation ends.
            state=RecordState.COUNTED if counted else state,
            counted_at=now if counted else None,
            confirmed_by=item.get("confirmedBy", "") if counted else "",
            # Finishes the publicity the source began (issue 11 finding 2).
            publicity_ends_on=(
                datetime.date.fromisoformat(item["publicityEndsOn"])
                if state == RecordState.IN_PUBLICITY
                else None
            ),
            origin_region_code=origin["regionCode"],
            origin_record_id=origin["recordId"],
            origin_group_name=origin["groupName"],
            origin_recorder=origin["recorder"],
            origin_region_name=region_name,
            origin_hours=Decimal(item["originalHours"]),
            origin_counted_at=item["countedAt"],
            origin_confirmed_by=item.get("confirmedBy", ""),
        )
        fresh.append((record, item))
        if counted:
            added += hours
            count += 1
        else:
            pending += 1
    if fresh:
        ServiceRecord.objects.bulk_create([record for record, _unused in fresh])
        amendments = [
            Amendment(
                record=record,
                hours=None,
                reason=f"[{item['provenance']['regionCode']}] "
                f"{amendment['reason']} (→ {amendment['hours'] or '—'} h)",
                amended_by=amendment["amendedBy"],
            )
            for record, item in fresh
            for amendment in item["amendments"]
        ]
        if amendments:
            Amendment.objects.bulk_create(amendments)
        DaySlot.objects.bulk_create(
            DaySlot(
                record=record,
                volunteer=volunteer,
                day=record.service_date,
                start_time=record.start_time,
                end_time=record.end_time,
            )
            for record, _unused in fresh
        )
    return added, count, pending


def _import_account(envelope, data: dict, volunteer: Volunteer, source_code: str) -> str | None:
    """Issue 11 finding 8: the volunteer logs in here at once with the password they
    know. A version 2 package carries the source login's username, and its envelope
    the Django hash (never the password) bound to the package by a digest that
    ``packages.check`` verified; a returning volunteer's account takes the current hash.
    A username already taken here by someone else becomes ``username.<source>``,
    then the volunteer number. Returns the username, or None (no login travelled)."""
    credential = envelope.get("credential") or {}
    username, password_hash = data.get("username"), credential.get("passwordHash")
    if not username or not password_hash:
        return None
    account = Account.objects.filter(volunteer=volunteer).first()
    if account is not None:
        account.password = password_hash
        account.is_active = True
        account.save(update_fields=["password", "is_active"])
        return account.username
    for candidate in (username, f"{username}.{source_code}"[:64], volunteer.number):
        if not Account.objects.filter(username=candidate).exists():
            Account.objects.create(
                username=candidate,
                password=password_hash,
                display_name=volunteer.name[:64],
                volunteer=volunteer,
            )
            return candidate
    raise packages.PackageRejected(
        "CONFLICT", f"no free username here for {volunteer.number}'s login"
    )


def _import_recognition(package, volunteer) -> None:
    for model, items, build in (
        (
            Training,
            package["trainings"],
            lambda i: {
                "title": i["title"],
                "content": i.get("content", ""),
                "trained_on": i["trainedOn"],
                "place": i.get("place", ""),
                "hours": Decimal(i["hours"]),
                "contact": i.get("contact", ""),
                "evidence": i.get("evidence", ""),
                "recorded_by": i["provenance"]["recorder"],
            },
        ),
        (
            Award,
            package["awards"],
            lambda i: {
                "title": i["title"],
                "awarding_body": i["awardingBody"],
                "level": i.get("level", "group"),
                "awarded_on": i["awardedOn"],
                "recorded_by": i["provenance"]["recorder"],
            },
        ),
        (
            Complaint,
            package["complaints"],
            lambda i: {
                "complainant": i.get("complainant", ""),
                "content": i["content"],
                "received_on": i["receivedOn"],
                "status": ComplaintStatus.UPHELD,
                "decision_reason": i["decisionReason"] or "—",
                "filed_by": i["provenance"]["recorder"] or "transfer",
                "decided_by": i["provenance"]["recorder"] or "transfer",
                "investigation_started_at": timezone.now(),
                "decided_at": timezone.now(),
            },
        ),
    ):
        if not items:
            continue
        # One query for what is here already, one INSERT for the rest.
        origins = {(i["provenance"]["regionCode"], i["provenance"]["recordId"]) for i in items}
        seen = set(
            model.objects.filter(
                origin_region_code__in={c for c, _unused in origins},
                origin_record_id__in={r for _unused, r in origins},
            ).values_list("origin_region_code", "origin_record_id")
        )
        rows: list[Any] = []  # of ``model``
        for item in items:
            origin = item["provenance"]
            key = (origin["regionCode"], origin["recordId"])
            if key in seen:
                continue
            seen.add(key)
            rows.append(
                model(
                    volunteer=volunteer,
                    group=None,
                    origin_region_code=origin["regionCode"],
                    origin_record_id=origin["recordId"],
                    origin_group_name=origin["groupName"],
                    origin_recorder=origin["recorder"],
                    **build(item),
                )
            )
        if rows:
            model.objects.bulk_create(rows)


def import_offline(*, envelope, principal: Principal) -> tuple[Transfer, bool]:
    """The destination's authority imports a package file (offline exchange)."""
    accounts.require_authority(principal)
    return import_package(envelope, _current_region(), offline=True)


def handle_transfer_request(envelope) -> Transfer:
    """A peer asks, on a volunteer's behalf, for a transfer from a region served here."""
    body = envelope.get("request") if isinstance(envelope, dict) else None
    signature = envelope.get("signature") if isinstance(envelope, dict) else None
    if not isinstance(body, dict) or not isinstance(signature, dict):
        raise packages.PackageRejected("MALFORMED", "not a transfer request")
    sender = signing.lookup(str(signature.get("keyId")))
    if sender is None or sender.code != body.get("to"):
        raise packages.PackageRejected("UNKNOWN_SENDER", "the requesting region is unknown")
    if not signing.signature_holds(signature, sender.public_key, body):
        raise packages.PackageRejected("BAD_SIGNATURE", "the request's signature is wrong")
    source = Region.objects.filter(code=body.get("from")).first()
    if source is None:
        raise packages.PackageRejected("WRONG_DESTINATION", "no such region here")
    require_active(source)  # a suspended region is written to by no path
    with schema_context(source.schema_name):
        volunteer = Volunteer.objects.filter(number=str(body.get("volunteerNumber"))).first()
        if volunteer is None:
            raise packages.PackageRejected("NOT_FOUND", "no such volunteer")
        existing = Transfer.objects.filter(
            direction=Direction.OUTGOING,
            volunteer_number=volunteer.number,
            counterpart_region_code=sender.code,
            state__in=["requested", "exported"],
        ).first()
        if existing:
            return existing
        return _open_outgoing(volunteer, sender.code, f"region:{sender.code}")


def reveal_package(*, transfer_id, reason: str, principal: Principal, policy: RegionPolicy) -> dict:
    """A transfer's package as signed, personal fields in full, to whoever may
    reveal them, logged like ``revealPersonalInfo`` (issue 10 finding 5): at the
    source (outgoing), ``may_reveal`` on the volunteer; at the destination
    (incoming), the authority or the volunteer themself. Writes a
    ``PersonalInfoAccess`` row and an audit entry."""
    principal = accounts.require(principal)
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise InvalidInput(_("say why you need to see this person's information"), field="reason")
    try:
        public_id = uuid.UUID(str(transfer_id))
    except ValueError:
        raise InvalidInput(_("not a transfer id"), field="transferId") from None
    transfer = Transfer.objects.select_related("volunteer").filter(public_id=public_id).first()
    if transfer is None:
        raise NotFound(_("no such transfer"), field="transferId")
    volunteer = transfer.volunteer
    permissions.require_package_revealer(transfer, principal, policy)
    if transfer.package is None or volunteer is None:
        raise Conflict(
            _("the transfer is %(state)s: it has no package") % {"state": shown(transfer, "state")},
            field="transferId",
        )
    with transaction.atomic():
        PersonalInfoAccess.objects.create(
            volunteer=volunteer,
            accessor=principal.actor,
            fields=["package.idNumber", "package.phone", "package.birthDate"],
            reason=reason,
        )
        audit(
            principal.actor,
            "transfer.package_revealed",
            str(transfer.public_id),
            volunteer=volunteer.number,
            reason=reason,
        )
    # A password hash is shown to no one, even with a reason; the package's signature
    # does not cover it (a digest does) and still verifies.
    return at_rest.without_credential(at_rest.clear(transfer.package))


def _verification_reason(data: dict) -> str:
    """The reason of a rejected real-name verification; a v1 package carried none, so
    the import says where the rejection came from (a rejection needs a reason)."""
    reason = (data.get("verificationReason") or "").strip()
    if data["verification"] == "rejected" and not reason:
        return "来源地区的实名认证未通过（转移包未附理由）"
    return reason
