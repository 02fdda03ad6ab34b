"""Delivering outbox messages to other deployments, with retries.

``deliver_pending()`` goes through every region's outbox and POSTs each due
message to the peer's inbox, at the URL the federation directory gives **now**
(a peer that moved is followed; issue 11 finding 5). What the answer means
(issue 11 findings 1, 4, 5; the table is in ``interop/README.md``):

- a **receipt** signed by the destination region's key (``interop/receipts.py``)
  naming the message's id and the SHA-256 of what was sent, saying
  ``imported``/``already_imported`` (a package) or ``requested`` (a transfer
  request): delivered; a package's transfer completes at the source, in the same
  transaction. Any other 2xx (``{}``, not JSON, a receipt that does not verify)
  is retried: a transfer never completes on an HTTP status alone;
- a **signed refusal** (4xx, ``status: rejected``) whose code is permanent
  (``PERMANENT``): final; the transfer is refused with that code and reason;
- 429, 503 or ``REGION_SUSPENDED``: retried after ``Retry-After`` (else backoff);
- anything else (network error, 5xx, an unsigned or non-permanent 4xx):
  retried with exponential backoff, ``BACKOFF_SECONDS`` doubling to
  ``MAX_BACKOFF``.

A package larger than one message goes in parts (``interop/parts.py``), each
moved past only on its signed ``part_received`` receipt; the last part's answer
is judged as the whole package's. An ``acknowledgement`` (the destination's
receipt for a package that came as a file) is delivered like any message and
completes nothing here.

Because the peer imports a package exactly once and answers
``already_imported`` (with a receipt) for a repeat, re-sending is always safe.
"""

from __future__ import annotations

import datetime
import email.utils
import json
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from central.models import OutboxBacklog, Region
from interop import at_rest, messages, parts, receipts, signing
from interop.models import OutboxMessage, Transfer, TransferState
from interop.services import complete_outgoing
from tenants.audit.services import record as audit

BACKOFF_SECONDS = 2
MAX_BACKOFF = 300
MAX_RETRY_AFTER = 24 * 3600
TIMEOUT = 10

# Refusal codes that end a message (signed by the region it was sent to). Every
# other code, and a refusal that is not signed, is retried.
PERMANENT = frozenset(
    {
        "MALFORMED",
        "UNSUPPORTED_VERSION",
        "BAD_SIGNATURE",
        "WRONG_DESTINATION",
        "CONFLICT",
        "NOT_FOUND",
        "INVALID",
        "PERMISSION_DENIED",
        "TOO_LARGE",
        # The package's transfer does not stand at the source (finding 3).
        "TRANSFER_UNKNOWN",
        "TRANSFER_NOT_CONSENTED",
        "TRANSFER_REFUSED",
        "PACKAGE_SUPERSEDED",
        "ALREADY_TRANSFERRED",
    }
)
# Refusals that say "later": retried after Retry-After.
LATER_STATUS = frozenset({429, 503})
LATER_CODES = frozenset({"REGION_SUSPENDED", "THROTTLED"})


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    refused: int = 0


def _backoff(attempts: int) -> datetime.timedelta:
    return datetime.timedelta(seconds=min(BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF))


def retry_after(value: str | None) -> datetime.timedelta | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as a delay, capped."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = int(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        seconds = int((when - timezone.now()).total_seconds())
    return datetime.timedelta(seconds=min(max(seconds, 1), MAX_RETRY_AFTER))


def deliver_pending(
    now: datetime.datetime | None = None, client: httpx.Client | None = None
) -> DeliveryReport:
    report = DeliveryReport()
    own_client = client is None
    client = client or httpx.Client(timeout=TIMEOUT)
    backlog: dict[str, tuple[int, datetime.datetime]] = {}
    visited: set[str] = set()
    try:
        for region in Region.objects.filter(status=Region.Status.ACTIVE):
            visited.add(region.code)
            with tenant_context(region):
                # Every undelivered message (few: they leave once delivered), so the
                # same query gives the due ones and the backlog /metrics reports.
                waiting = list(
                    OutboxMessage.objects.filter(delivered_at__isnull=True).values_list(
                        "id", "next_attempt_at", "created_at"
                    )
                )
                cutoff = now or timezone.now()
                due = [id_ for id_, next_at, _created in waiting if next_at <= cutoff]
                for message_id in due:
                    _deliver_one(message_id, region, client, report)
                if due:  # some may have left: count again
                    waiting = list(
                        OutboxMessage.objects.filter(delivered_at__isnull=True).values_list(
                            "id", "next_attempt_at", "created_at"
                        )
                    )
                if waiting:
                    backlog[region.code] = (len(waiting), min(row[2] for row in waiting))
        record_backlog(backlog, visited)
    finally:
        if own_client:
            client.close()
    return report


def record_backlog(backlog: dict[str, tuple[int, datetime.datetime]], visited: set[str]) -> None:
    """Keep ``central.OutboxBacklog`` equal to ``backlog`` (region code → count and
    oldest message) for the ``visited`` regions (a suspended one keeps its last
    count), writing only what changed: one read, at most one upsert and
    one delete per pass, whatever the region count (``central/metrics.py``)."""
    with transaction.atomic():
        known = {
            row.region_code: (row.pending, row.oldest_at)
            for row in OutboxBacklog.objects.select_for_update()
        }
        changed = [
            OutboxBacklog(
                region_code=code, pending=count, oldest_at=oldest, counted_at=timezone.now()
            )
            for code, (count, oldest) in backlog.items()
            if known.get(code) != (count, oldest)
        ]
        if changed:
            OutboxBacklog.objects.bulk_create(
                changed,
                update_conflicts=True,
                unique_fields=["region_code"],
                update_fields=["pending", "oldest_at", "counted_at"],
            )
        gone = [code for code in known if code in visited and code not in backlog]
        if gone:
            OutboxBacklog.objects.filter(region_code__in=gone).delete()


@dataclass
class _Verdict:
    """What an answer means, by the retry table: ``accept`` (a verified receipt),
    ``refuse`` (a signed permanent refusal) or ``retry`` (anything else)."""

    action: str
    receipt: dict | None = None
    error: str = ""
    code: str = ""
    delay: datetime.timedelta | None = None


def _judge(
    response: httpx.Response,
    *,
    region_code: str,
    kind: str,
    subject_id: str | None,
    digest: str,
    field: str = "receipt",
) -> _Verdict:
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        answer = {}
    error: dict[str, Any] = answer["error"] if isinstance(answer.get("error"), dict) else {}
    code = str(error.get("code") or "")
    status = response.status_code
    untrusted = ""
    try:
        receipt = receipts.verify(
            answer.get(field),
            region_code=region_code,
            kind=kind,
            subject_id=subject_id,
            payload_digest=digest,
        )
    except receipts.InvalidReceipt as invalid:
        receipt, untrusted = None, str(invalid)
    if 200 <= status < 300:
        if receipt is None or receipt["status"] not in receipts.ACCEPTED[kind]:
            why = untrusted if receipt is None else f"the receipt says {receipt['status']}"
            return _Verdict("retry", error=f"HTTP {status} without a valid receipt: {why}")
        return _Verdict("accept", receipt=receipt)
    if status in LATER_STATUS or code in LATER_CODES:
        delay = retry_after(response.headers.get("Retry-After"))
        reason = error.get("reason", "")
        return _Verdict("retry", error=f"HTTP {status} {code}: {reason}", delay=delay)
    if 400 <= status < 500 and code in PERMANENT:
        if receipt is not None and receipt["status"] == "rejected" and receipt["code"] == code:
            return _Verdict("refuse", receipt=receipt, code=code, error=receipt["reason"])
        return _Verdict("retry", error=f"HTTP {status} {code}, not a signed refusal: {untrusted}")
    return _Verdict("retry", error=f"HTTP {status} {code}: {response.text[:300]}")


def _post(client: httpx.Client, message: OutboxMessage, envelope: dict) -> httpx.Response | str:
    """POST one envelope, sealed, to the message's peer: the answer, or why not sent."""
    # HTTPS only, sealed to the destination region's exchange key (finding 9).
    try:
        url, sealed = signing.outbound(message.destination_code, message.inbox_url, envelope)
    except signing.OutboundRefused as refused:
        return str(refused)[:500]
    content = json.dumps(sealed, ensure_ascii=False).encode()
    try:
        return client.post(url, content=content, headers={"Content-Type": "application/json"})
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"


def _deliver_one(
    message_id: int, region: Region, client: httpx.Client, report: DeliveryReport
) -> None:
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
        # The peer's inbox as the directory says now, not as it was when written.
        entry = signing.lookup(message.destination_code)
        if entry is None or entry.local or not entry.inbox_url:
            _retry(message, f"{message.destination_code} has no inbox in the directory", report)
            return
        if entry.inbox_url != message.inbox_url:
            audit(
                "system:interop",
                "outbox.readdressed",
                str(message.id),
                old=message.inbox_url,
                new=entry.inbox_url,
            )
            message.inbox_url = entry.inbox_url
        # Decrypted only to send: the signature covers the clear content.
        envelope = at_rest.clear(message.body)
        about = messages.subject(envelope)
        if about is None:
            _refuse(message, "MALFORMED", "not a message kind", report, by="outbox")
            return
        kind, subject_id, payload = about
        judged: dict[str, Any] = {
            "region_code": message.destination_code,
            "kind": kind,
            "subject_id": subject_id,
            "digest": receipts.digest(payload),
        }
        limit = parts.part_bytes(settings.INTEROP_INBOX_MAX_BYTES)
        if kind == "package" and len(parts.envelope_bytes(envelope)) > limit:
            _deliver_parts(message, envelope, region, client, report, judged)
            return
        response = _post(client, message, envelope)
        if isinstance(response, str):
            _retry(message, response, report)
            return
        _act(message, _judge(response, **judged), report)


def _deliver_parts(message, envelope, region: Region, client, report, judged) -> None:
    """A package larger than one message, part after part (``interop/parts.py``):
    each part must come back with its signed ``part_received``; the answer to the
    last is the package's own (receipt or refusal), judged as for one message."""
    pieces = parts.split(envelope, region, message.destination_code)
    if pieces[0]["part"]["totalBytes"] > settings.INTEROP_PACKAGE_MAX_BYTES:
        size = pieces[0]["part"]["totalBytes"]
        _refuse(
            message,
            "TOO_LARGE",
            f"the package is {size} bytes, more than {settings.INTEROP_PACKAGE_MAX_BYTES}",
            report,
            by="this deployment",
        )
        return
    last = len(pieces) - 1
    start = message.parts_acknowledged if message.parts_acknowledged <= last else 0
    for index in range(start, last + 1):
        piece = pieces[index]
        response = _post(client, message, piece)
        if isinstance(response, str):
            _retry(message, f"part {index + 1}/{last + 1}: {response}", report)
            return
        part = _judge(
            response,
            region_code=message.destination_code,
            kind="package_part",
            subject_id=f"{piece['part']['packageId']}:{index}",
            digest=receipts.digest(piece["part"]),
            field="partReceipt",
        )
        if index < last:
            if part.action != "accept":
                part.error = f"part {index + 1}/{last + 1}: {part.error}"
                _act(message, part, report)
                return
            message.parts_acknowledged = index + 1
            continue
        whole = _judge(response, **judged)
        missing = (part.receipt or {}).get("missing") or []
        if whole.action == "retry" and part.action == "accept" and missing:
            # The destination lost parts (dropped after PART_TTL): start over.
            message.parts_acknowledged = 0
            whole.error = f"the destination is missing parts {missing[:10]}: sending all again"
        _act(message, whole, report)


def _act(message: OutboxMessage, verdict: _Verdict, report: DeliveryReport) -> None:
    if verdict.action == "accept":
        message.delivered_at = timezone.now()
        message.last_error = ""
        message.save()
        if message.kind == "package":
            complete_outgoing(message.transfer)
        assert verdict.receipt is not None  # an accepting verdict carries its receipt
        status = verdict.receipt["status"]
        audit("system:interop", "outbox.delivered", str(message.id), answer=status)
        report.delivered += 1
    elif verdict.action == "refuse":
        _refuse(message, verdict.code, verdict.error, report, by=message.destination_code)
    else:
        _retry(message, verdict.error, report, verdict.delay)


def _retry(
    message: OutboxMessage,
    error: str,
    report: DeliveryReport,
    delay: datetime.timedelta | None = None,
) -> None:
    message.last_error = error[:500]
    message.next_attempt_at = timezone.now() + (delay or _backoff(message.attempts))
    message.save()
    report.retrying += 1


def _refuse(
    message: OutboxMessage, code: str, reason: str, report: DeliveryReport, *, by: str
) -> None:
    """A final refusal: the message is done, and the transfer it carried is refused
    with the code and reason (a package at the source, a request at the asker)."""
    message.delivered_at = timezone.now()
    message.last_error = f"{code}: {reason}"[:500]
    message.save()
    transfer = Transfer.objects.select_for_update().get(id=message.transfer_id)
    if transfer.state in (TransferState.EXPORTED, TransferState.REQUESTED):
        transfer.state = TransferState.REFUSED
        transfer.refusal_code = code
        transfer.reason = f"refused by {by}: {code}: {reason}"[:500]
        transfer.save(update_fields=["state", "refusal_code", "reason"])
    audit("system:interop", "outbox.refused", str(message.id), code=code, by=by)
    report.refused += 1
