"""HTTP endpoints on the central hosts: the inbox peers post to, and this
deployment's part of the federation directory."""

from __future__ import annotations

import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_tenants.utils import tenant_context

from central.models import Region
from interop import signing
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
    """
    if len(request.body) > MAX_BODY:
        return _refuse(413, "TOO_LARGE", "the package is larger than 20 MiB")
    try:
        envelope = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _refuse(400, "MALFORMED", "the body is not JSON")
    try:
        if isinstance(envelope, dict) and "request" in envelope:
            transfer = handle_transfer_request(envelope)
            return JsonResponse({"status": "requested", "transferId": str(transfer.public_id)})
        code = (
            (envelope.get("package") or {}).get("destination", {}).get("regionCode")
            if isinstance(envelope, dict)
            else None
        )
        region = Region.objects.filter(code=code, status=Region.Status.ACTIVE).first()
        if region is None:
            return _refuse(400, "WRONG_DESTINATION", f"no active region {code} is served here")
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


@require_GET
def directory(request):
    """The regions served here, with their public keys and this inbox's URL."""
    from django.conf import settings

    return JsonResponse(
        {
            "regions": [
                {
                    "code": entry.code,
                    "name": entry.name,
                    "publicKey": entry.public_key,
                    "inboxUrl": settings.INTEROP_INBOX_URL,
                }
                for entry in signing.directory()
                if entry.local
            ]
        },
        json_dumps_params={"ensure_ascii": False},
    )
