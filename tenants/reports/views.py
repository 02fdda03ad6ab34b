"""``GET /exports/download?link=…`` on a region's host: a report or export as a file.

The link (from the ``exportLink`` mutation) is the only credential: it is signed,
expires after ``settings.EXPORT_LINK_SECONDS`` and names its region, so a changed,
expired or other region's link answers ``403 LINK_EXPIRED`` and reads nothing.
A valid link whose signer may no longer have the file (its role removed, its
account disabled, the token it signed with revoked: ``services.check_signer``)
answers ``403 PERMISSION_DENIED`` and serves nothing, logs no reveal.
The body streams (``StreamingHttpResponse``) from a server-side cursor, so memory
stays flat whatever the size (README "Reports and exports").
"""

from __future__ import annotations

from urllib.parse import quote

from django.http import JsonResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from central.errors import ServiceError
from tenants.reports import formats, services


def _refuse(code: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message}},
        status=403,
        json_dumps_params={"ensure_ascii": False},
    )


@require_GET  # not HEAD: that would run the export (and log reveals) for nothing
def download(request):
    spec = services.open_link(request.GET.get("link", ""), request.region)
    if spec is None:
        return _refuse(
            "LINK_EXPIRED", _("this download link is expired or not valid; ask for a new one")
        )
    try:
        services.check_signer(spec, request.region)
    except ServiceError as refused:
        problem = refused.problems[0]
        return _refuse(problem.code, problem.message)
    response = StreamingHttpResponse(
        services.stream(spec), content_type=formats.CONTENT_TYPES[spec.format]
    )
    # filename*=UTF-8''… carries the Chinese name (RFC 6266); filename= an ASCII
    # fallback for the rare client that reads only that.
    response["Content-Disposition"] = (
        f'attachment; filename="export.{spec.format}"; '
        f"filename*=UTF-8''{quote(spec.file_name, safe='')}"
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
