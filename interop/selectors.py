"""Reading transfers: what a transfer shows beside itself. Who sees a transfer at
all is :func:`interop.permissions.visible_transfers`."""

from __future__ import annotations

from django.db.models import QuerySet

from interop.models import Direction, Transfer, TransferState
from interop.package import TRAVELLING
from tenants.records.models import RecordMode, ServiceRecord


def moved_records(transfer: Transfer) -> QuerySet[ServiceRecord]:
    """The records that moved: at the source, the records holding hours that
    leave, in their states (``package.TRAVELLING``, issue 11 finding 2); at the
    destination, once completed, the records imported here."""
    if transfer.volunteer_id is None or (
        transfer.direction == Direction.INCOMING and transfer.state != TransferState.COMPLETED
    ):
        return ServiceRecord.objects.none()
    rows = ServiceRecord.objects.filter(
        volunteer_id=transfer.volunteer_id, state__in=TRAVELLING
    ).prefetch_related("amendments")
    if transfer.direction == Direction.INCOMING:
        rows = rows.filter(mode=RecordMode.IMPORTED)
    return rows
