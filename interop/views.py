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

from central.errors import RegionSuspended
from central.models import Region
from central.text import first_bad_text
from interop import crypto, signing
from interop.package import PackageRejected
from interop.services import handle_transfer_request, import_package

MAX_BODY = 20 * 1024 * 1024


def _refuse(status: int, code: str, reason: str) -> JsonResponse:
    return JsonResponse(
        {"status": "rejected", "error": {"code": code, "reason": reason}},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


@csrf_exempt
@require_POST
def inbox(request):
    """Receive a signed package (or a signed transfer request) from a peer.

    Authentication is the signature: only regions in the directory can sign.
    A package is imported exactly once; a repeat answers ``already_imported``.
    A suspended region takes nothing: ``503 REGION_SUSPENDED`` with
    ``Retry-After`` (suspension may end; the sender's outbox retries), and
    nothing is written. A body that is not UTF-8 JSON, is nested deeper than 64
    levels or holds a NUL or a lone surrogate is ``400 MALFORMED`` (issue 10
    findings 7, 13).
    """
    if len(request.body) > MAX_BODY:
        return _refuse(413, "TOO_LARGE", "the package is larger than 20 MiB")
    try:
        envelope = orjson.loads(request.body)  # invalid UTF-8, too deep: refused
    except orjson.JSONDecodeError:
        return _refuse(400, "MALFORMED", "the body is not JSON")
    bad = first_bad_text(envelope, MAX_BODY)
    if bad is not None:
        return _refuse(400, "MALFORMED", f"{bad[0] or 'the body'}: {bad[1]}")
    # i11-trust hook (issue 11 finding 9): open the box sealed to a region served here.
    try:
        envelope, _recipient = signing.open_for_local(envelope)
    except crypto.SealError as error:
        return _refuse(400, error.code, error.reason)
    bad = first_bad_text(envelope, MAX_BODY)
    if bad is not None:
        return _refuse(400, "MALFORMED", f"{bad[0] or 'the body'}: {bad[1]}")
    try:
        if isinstance(envelope, dict) and "request" in envelope:
            transfer = handle_transfer_request(envelope)
            return JsonResponse({"status": "requested", "transferId": str(transfer.public_id)})
        code = (
            (envelope.get("package") or {}).get("destination", {}).get("regionCode")
            if isinstance(envelope, dict)
            else None
        )
        region = Region.objects.filter(code=str(code)).first()
        if region is None:
            return _refuse(400, "WRONG_DESTINATION", f"no region {code} is served here")
        with tenant_context(region):
            transfer, fresh = import_package(envelope, region)
        return JsonResponse(
            {
                "status": "imported" if fresh else "already_imported",
                "packageId": str(transfer.package_id),
                "volunteerNumber": transfer.volunteer_number,
            }
        )
    except PackageRejected as error:
        return _refuse(400, error.code, error.reason)
    except RegionSuspended as error:
        response = _refuse(503, "REGION_SUSPENDED", str(error))
        response["Retry-After"] = str(settings.SUSPENDED_RETRY_AFTER_SECONDS)
        return response
    except DataError:
        return _refuse(400, "MALFORMED", "a value of the package is not acceptable")


@require_GET
def directory(request):
    """The regions served here: public keys, exchange keys, this inbox's URL, each
    entry signed by its key with the chain of rotation statements (issue 11
    finding 10; i11-trust hook)."""
    return JsonResponse(signing.published_directory(), json_dumps_params={"ensure_ascii": False})
