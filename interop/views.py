"""HTTP endpoints on the central hosts: the inbox peers post to, and this
deployment's part of the federation directory."""

from __future__ import annotations

import orjson
from django.conf import settings
from django.db import DataError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_tenants.utils import tenant_context

from central.errors import RegionSuspended, ServiceError
from central.models import Region
from central.text import first_bad_text
from interop import crypto, messages, parts, receipts, signing
from interop.package import PackageRejected
from interop.services import acknowledge, handle_transfer_request, import_package

# HTTP status of each refusal code; anything not listed is 400.
REFUSAL_STATUS = {
    "UNKNOWN_SENDER": 403,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "TOO_LARGE": 413,
    "REGION_SUSPENDED": 503,
}


def _refuse(
    status: int, code: str, reason: str, receipt: dict | None = None, **extra
) -> JsonResponse:
    body = {"status": "rejected", "error": {"code": code, "reason": reason}, **extra}
    if receipt is not None:
        body["receipt"] = receipt
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def _answerer(envelope: dict) -> Region | None:
    """The region of this deployment a message is addressed to, which signs the
    answer (``messages.addressee``)."""
    code = messages.addressee(envelope)
    return Region.objects.filter(code=code).first() if code else None


@csrf_exempt
@require_POST
def inbox(request):
    """Receive a signed package (or a signed transfer request) from a peer.

    Authentication is the signature: only regions in the directory can sign.
    A package is imported exactly once; a repeat answers ``already_imported``.
    Every answer about a message for one of this deployment's regions carries a
    receipt signed by that region (``interop/receipts.py``): the sender completes
    only on a verified ``imported``/``already_imported`` receipt and ends the
    transfer only on a signed refusal with a permanent code (issue 11 findings 1,
    4). A refusal is a 4xx with a typed code, never a 500. A suspended region
    takes nothing: ``503 REGION_SUSPENDED`` with ``Retry-After`` (the sender
    retries). A body larger than ``INTEROP_INBOX_MAX_BYTES`` is ``413
    TOO_LARGE`` (issue 11 finding 7); one that is not UTF-8 JSON, is nested
    deeper than 64 levels or holds a NUL or a lone surrogate is ``400 MALFORMED``
    (issue 10 findings 7, 13).
    """
    limit = settings.INTEROP_INBOX_MAX_BYTES
    too_large = f"the message is larger than {limit} bytes ({limit / 1048576:g} MiB)"
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _refuse(413, "TOO_LARGE", too_large)
    # Read the stream ourselves: request.body would apply Django's
    # DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB), which was the real limit before.
    content = request.read(limit + 1)
    if len(content) > limit:
        return _refuse(413, "TOO_LARGE", too_large)
    try:
        envelope = orjson.loads(content)  # invalid UTF-8, too deep: refused
    except orjson.JSONDecodeError:
        return _refuse(400, "MALFORMED", "the body is not JSON")
    bad = first_bad_text(envelope, limit)
    if bad is not None:
        return _refuse(400, "MALFORMED", f"{bad[0] or 'the body'}: {bad[1]}")
    # Open the box sealed to a region served here (issue 11 finding 9).
    try:
        envelope, _recipient = signing.open_for_local(envelope)
    except crypto.SealError as error:
        return _refuse(400, error.code, error.reason)
    bad = first_bad_text(envelope, limit)
    if bad is not None:
        return _refuse(400, "MALFORMED", f"{bad[0] or 'the body'}: {bad[1]}")
    about = messages.subject(envelope)
    if about is None:
        return _refuse(
            400,
            "MALFORMED",
            "not a message this inbox takes: a package, a package part, a transfer request "
            "or an acknowledgement",
        )
    answerer = _answerer(envelope)
    if answerer is None:
        return _refuse(
            400, "WRONG_DESTINATION", f"no region {messages.addressee(envelope)} is served here"
        )
    answer = _Answer(answerer, *about)
    parts_of: dict | None = None  # the part that completed a package, to forget its parts
    try:
        kind = about[0]
        if kind == "transfer_request":
            transfer = handle_transfer_request(envelope)
            return answer.accept("requested", transferId=str(transfer.public_id))
        if kind == "acknowledgement":
            transfer = acknowledge(about[2])
            return answer.accept("acknowledged", transferId=str(transfer.public_id))
        if kind == "package_part":
            with tenant_context(answerer):
                whole, missing = parts.receive(envelope, answerer)
            part_receipt = answer.receipt("part_received", missing=missing)
            if whole is None:
                return answer.accept("part_received", missing=missing, partReceipt=part_receipt)
            bad = first_bad_text(whole, settings.INTEROP_PACKAGE_MAX_BYTES)
            if bad is not None:
                raise PackageRejected("MALFORMED", f"{bad[0] or 'the package'}: {bad[1]}")
            parts_of, envelope = envelope, whole
            about = messages.subject(whole)
            assert about is not None  # the parts' checked digest says it is a package
            answer = _Answer(answerer, *about, partReceipt=part_receipt)
        with tenant_context(answerer):
            transfer, fresh = import_package(envelope, answerer)
            if parts_of is not None:
                parts.forget(parts_of)
        return answer.accept(
            "imported" if fresh else "already_imported",
            packageId=str(transfer.package_id),
            volunteerNumber=transfer.volunteer_number,
        )
    except PackageRejected as error:
        if parts_of is not None:  # refused for good: the parts go too
            with tenant_context(answerer):
                parts.forget(parts_of)
        return answer.refuse(error.code, error.reason)
    except RegionSuspended as error:
        return answer.refuse("REGION_SUSPENDED", str(error))
    except ServiceError as error:  # e.g. CONFLICT: the volunteer was transferred already
        return answer.refuse(error.problems[0].code, str(error))
    except DataError:
        return answer.refuse("MALFORMED", "a value of the package is not acceptable")


class _Answer:
    """The inbox's answers about one message, each with a receipt signed by the
    region it was for (``interop/receipts.py``)."""

    def __init__(self, region: Region, kind: str, subject_id, payload: dict, **extra):
        self.region, self.kind, self.subject_id = region, kind, subject_id
        self.digest = receipts.digest(payload)
        self.extra = extra

    def receipt(self, status: str, code: str = "", reason: str = "", missing=None) -> dict:
        return receipts.issue(
            self.region,
            kind=self.kind,
            subject_id=self.subject_id,
            payload_digest=self.digest,
            status=status,
            code=code,
            reason=reason,
            missing=missing,
        )

    def accept(self, status: str, **fields) -> JsonResponse:
        body = {"status": status, **fields, **self.extra}
        if status != "part_received":  # a part's own receipt is ``partReceipt``
            body["receipt"] = self.receipt(status)
        return JsonResponse(body, json_dumps_params={"ensure_ascii": False})

    def refuse(self, code: str, reason: str) -> JsonResponse:
        status = REFUSAL_STATUS.get(code, 400)
        receipt = self.receipt("rejected", code, reason)
        response = _refuse(status, code, reason, receipt, **self.extra)
        if code == "REGION_SUSPENDED":
            response["Retry-After"] = str(settings.SUSPENDED_RETRY_AFTER_SECONDS)
        return response


@require_GET
def directory(request):
    """The regions served here: public keys, exchange keys, this inbox's URL, each
    entry signed by its key with the chain of rotation statements (issue 11
    finding 10; i11-trust hook)."""
    return JsonResponse(signing.published_directory(), json_dumps_params={"ensure_ascii": False})
