"""Delivering outbox messages to other deployments, with retries.

``deliver_pending()`` goes through every region's outbox, POSTs each due
message to the peer's inbox, and on a 2xx answer marks it delivered and — for
a package — completes the transfer at the source, in one transaction. A
failure (peer down, timeout, 5xx) is recorded and retried later with
exponential backoff (``BACKOFF_SECONDS`` doubling up to ``MAX_BACKOFF``); a
4xx refusal is final for that message and recorded as the transfer's reason.
Because the peer imports a package exactly once and answers
``already_imported`` for a repeat, re-sending after a crash is always safe.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import httpx
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from central.models import Region
from interop import at_rest, signing
from interop.models import OutboxMessage, TransferState
from interop.services import complete_outgoing
from tenants.audit.services import record as audit

BACKOFF_SECONDS = 2
MAX_BACKOFF = 300
TIMEOUT = 10


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    refused: int = 0


def _backoff(attempts: int) -> datetime.timedelta:
    return datetime.timedelta(seconds=min(BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF))


def deliver_pending(
    now: datetime.datetime | None = None, client: httpx.Client | None = None
) -> DeliveryReport:
    report = DeliveryReport()
    client = client or httpx.Client(timeout=TIMEOUT)
    for region in Region.objects.filter(status=Region.Status.ACTIVE):
        with tenant_context(region):
            due = list(
                OutboxMessage.objects.filter(
                    delivered_at__isnull=True, next_attempt_at__lte=now or timezone.now()
                ).values_list("id", flat=True)
            )
            for message_id in due:
                _deliver_one(message_id, client, report)
    return report


def _deliver_one(message_id: int, client: httpx.Client, report: DeliveryReport) -> None:
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .select_related("transfer")
            .filter(id=message_id, delivered_at__isnull=True)
            .first()
        )
        if message is None:
            return  # another worker has it, or it was delivered meanwhile
        message.attempts += 1
        # i11-trust hook (issue 11 finding 9): HTTPS only, sealed to the destination's key.
        try:
            url, sealed = signing.outbound(
                message.destination_code, message.inbox_url, at_rest.clear(message.body)
            )
        except signing.OutboundRefused as error:
            _retry(message, str(error)[:500], report)
            return
        try:
            # Decrypted only to seal: the signature inside covers the clear content.
            response = client.post(url, json=sealed)
        except httpx.HTTPError as error:
            _retry(message, f"{type(error).__name__}: {error}"[:500], report)
            return
        if response.status_code >= 500:
            _retry(message, f"HTTP {response.status_code}", report)
            return
        if response.status_code >= 400:
            message.delivered_at = timezone.now()
            message.last_error = response.text[:500]
            message.save()
            transfer = message.transfer
            if transfer.state == TransferState.EXPORTED:
                transfer.state = TransferState.REFUSED
                transfer.reason = f"refused by {message.destination_code}: {response.text[:400]}"
                transfer.save(update_fields=["state", "reason"])
            audit("system:interop", "outbox.refused", str(message.id), status=response.status_code)
            report.refused += 1
            return
        message.delivered_at = timezone.now()
        message.last_error = ""
        message.save()
        if message.kind == "package":
            complete_outgoing(message.transfer)
        audit(
            "system:interop",
            "outbox.delivered",
            str(message.id),
            answer=response.json().get("status", ""),
        )
        report.delivered += 1


def _retry(message: OutboxMessage, error: str, report: DeliveryReport) -> None:
    message.last_error = error
    message.next_attempt_at = timezone.now() + _backoff(message.attempts)
    message.save()
    report.retrying += 1
