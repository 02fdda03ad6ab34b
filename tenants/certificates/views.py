"""Certificates on the region's own host: the PDF, and the public verification page.

Both find the certificate in the request's region schema, so a code shown on
another region's host is simply unknown there (404).

- ``GET /certificates/<code>.pdf``: the volunteer, the issuing group's staff
  and the authority, with ``Authorization: Bearer <token>`` as for
  ``/groups/<id>/certificate``; or, without any header, with the short-lived
  signed ``?link=`` of the ``certificateDownloadLink`` mutation (a browser's
  plain GET, an ``<a href>``, cannot send the token). The link names who asked
  for it and the token they asked with; if that account is disabled, the token
  revoked (logged out) or the account may no longer download the certificate
  (``may_download``, asked again: ``certificates.check_link_signer``), the link
  answers ``403 PERMISSION_DENIED`` and serves nothing.
- ``GET /certificates/verify/<code>``: public, the page the QR code points to;
  says whether the certificate is genuine (现行有效) or revoked (已撤销) and
  shows exactly what the certificate states (000 Art.17, 民发〔2015〕149号),
  never more: the ID number stays masked and no phone of the volunteer is held.
- ``GET /certificates/verify`` (``?code=``): the same page for a code typed
  into its form, for whoever holds a paper certificate and no QR scanner.

Both verification pages look codes up as ``verifyCertificate`` does, throttled
per client address (``certificates.verify_from``, audit round 6): once an
address has looked up too many codes that do not exist it is answered ``429``
with ``Retry-After`` and the page's throttled notice, whatever the code.
"""

from __future__ import annotations

from decimal import Decimal

from django.http import FileResponse, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from central.errors import ServiceError, Throttled
from central.throttle import client_address
from schema.context import bearer_token
from tenants.accounts.services import authenticate
from tenants.certificates import services as certificates
from tenants.certificates.models import Certificate
from tenants.certificates.pdf import format_hours
from tenants.certificates.permissions import may_download


def _refuse(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message}},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


@require_safe
def certificate_pdf(request, code: str):
    link = request.GET.get("link")
    principal = None
    signed = None
    if link is None:
        try:
            principal = authenticate(bearer_token(request), request.region.code)
        except ServiceError as error:
            return _refuse(401, "UNAUTHENTICATED", str(error))
        if principal is None:
            return _refuse(
                401,
                "UNAUTHENTICATED",
                _("send Authorization: Bearer <token>, or use a link from certificateDownloadLink"),
            )
    elif (signed := certificates.open_link(link, code, request.region)) is None:
        return _refuse(
            403, "LINK_EXPIRED", _("this download link is expired or not valid; ask for a new one")
        )
    normalized = certificates.normalize_code(code)
    certificate = (
        Certificate.objects.filter(verification_code=normalized).first()
        if len(normalized) == certificates.CODE_LENGTH
        else None
    )
    path = certificates.pdf_path(certificate) if certificate else None
    if certificate is None or path is None or not path.is_file():
        return _refuse(404, "NOT_FOUND", _("no such certificate"))
    if signed is not None:
        # The link's signer, as they are now, may still download it (audit round 6).
        try:
            certificates.check_link_signer(signed, certificate)
        except ServiceError as refused:
            problem = refused.problems[0]
            return _refuse(403, problem.code, problem.message)
    if principal is not None and not may_download(certificate, principal):
        return _refuse(
            403,
            "PERMISSION_DENIED",
            _("only the volunteer, the issuing group's staff and the authority"),
        )
    response = FileResponse(
        path.open("rb"), content_type="application/pdf", filename=certificate.pdf_file
    )
    response["Cache-Control"] = "private, no-store"
    return response


@require_safe
def verify_page(request, code: str | None = None):
    """The verification page: of ``code`` from the QR code's path, of ``?code=``
    typed into the page's form, or the form alone."""
    if code is None:
        code = request.GET.get("code", "").strip()[:100]
    throttled: Throttled | None = None
    found = None
    if code:
        try:
            found = certificates.verify_from(code, address=client_address(request))
        except Throttled as refused:
            throttled = refused
    context = {
        "found": found,
        "title": _("Verification of a certificate of volunteer service"),
        "asked": bool(code),
        "typed": code,
        "throttled": throttled.problems[0].message if throttled else "",
    }
    if found is not None:
        context["verdict_class"] = "genuine" if found["genuine"] else "revoked"
        context["verdict"] = (
            "✔ "
            + _(
                "Genuine: issued by the volunteer-service information system of %(region)s, "
                "and in force"
            )
            % {"region": request.region.name}
            if found["genuine"]
            else "✘ " + _("Revoked: the issuing organisation revoked this certificate; it is void")
        )
        context["total_hours"] = format_hours(Decimal(found["totalHours"]))
        context["rows"] = [
            {
                **row,
                "hours": format_hours(Decimal(row["hours"])),
                "origin": _("%(region)s (transferred in)") % {"region": row["originRegion"]}
                if row["originRegion"]
                else _("this region"),
                "dates": row["firstDate"]
                if row["firstDate"] == row["lastDate"]
                else _("%(first)s to %(last)s")
                % {"first": row["firstDate"], "last": row["lastDate"]},
            }
            for row in found["rows"]
        ]
    status = 200 if found or not code else 404
    if throttled is not None:
        status = 429
    response = HttpResponse(
        render_to_string("certificates/verify.html", context, request), status=status
    )
    if throttled is not None and throttled.retry_after:
        response["Retry-After"] = str(throttled.retry_after)
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
