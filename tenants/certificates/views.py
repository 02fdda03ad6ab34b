"""Certificates on the region's own host: the PDF, and the public verification page.

Both find the certificate in the request's region schema, so a code shown on
another region's host is simply unknown there (404).

- ``GET /certificates/<code>.pdf``: the volunteer, the issuing group's staff
  and the authority, with ``Authorization: Bearer <token>`` as for
  ``/groups/<id>/certificate``; or, without any header, with the short-lived
  signed ``?link=`` of the ``certificateDownloadLink`` mutation (a browser's
  plain GET, an ``<a href>``, cannot send the token).
- ``GET /certificates/verify/<code>``: public, the page the QR code points to;
  says whether the certificate is genuine (现行有效) or revoked (已撤销) and
  shows exactly what the certificate states (000 Art.17, 民发〔2015〕149号),
  never more: the ID number stays masked and no phone of the volunteer is held.
- ``GET /certificates/verify`` (``?code=``): the same page for a code typed
  into its form, for whoever holds a paper certificate and no QR scanner.
"""

from __future__ import annotations

from decimal import Decimal

from django.http import FileResponse, HttpResponse, JsonResponse
from django.template import engines
from django.views.decorators.http import require_safe

from central.errors import ServiceError
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
    if link is None:
        try:
            principal = authenticate(bearer_token(request), request.region.code)
        except ServiceError as error:
            return _refuse(401, "UNAUTHENTICATED", str(error))
        if principal is None:
            return _refuse(
                401,
                "UNAUTHENTICATED",
                "send Authorization: Bearer <token>, or use a link from certificateDownloadLink",
            )
    elif not certificates.link_is_valid(link, code, request.region):
        return _refuse(
            403, "LINK_EXPIRED", "this download link is expired or not valid; ask for a new one"
        )
    normalized = certificates.normalize_code(code)
    certificate = (
        Certificate.objects.filter(verification_code=normalized).first()
        if len(normalized) == certificates.CODE_LENGTH
        else None
    )
    path = certificates.pdf_path(certificate) if certificate else None
    if path is None or not path.is_file():
        return _refuse(404, "NOT_FOUND", "no such certificate")
    if principal is not None and not may_download(certificate, principal):
        return _refuse(
            403,
            "PERMISSION_DENIED",
            "only the volunteer, the issuing group's staff and the authority",
        )
    response = FileResponse(
        path.open("rb"), content_type="application/pdf", filename=certificate.pdf_file
    )
    response["Cache-Control"] = "private, no-store"
    return response


_PAGE = engines["django"].from_string(
    """{% load i18n %}<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ title }}</title>
<style>
body { font-family: sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
.status { font-size: 1.4rem; font-weight: bold; padding: .6rem 1rem; border-radius: .3rem; }
.genuine { color: #0a6b2d; background: #e6f4ea; }
.revoked, .unknown { color: #a50e0e; background: #fce8e6; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border: 1px solid #999; padding: .35rem .5rem; text-align: left; }
th { background: #eee; white-space: nowrap; }
.verify-form { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: 1rem 0; }
.verify-form label { width: 100%; }
.verify-form input { font: inherit; font-size: 1.2rem; letter-spacing: .1em; padding: .4rem .6rem;
 flex: 1 1 14rem; text-transform: uppercase; }
.verify-form button { font: inherit; font-size: 1.1rem; padding: .4rem 1.2rem; }
</style>
</head>
<body>
<h1>志愿服务记录证明核验</h1>
<form method="get" action="/certificates/verify" id="verify-form" class="verify-form">
<label for="code">{% translate "Verification code (printed on the certificate)" %}</label>
<input id="code" name="code" value="{{ typed }}" required maxlength="40" autocomplete="off"
 autocapitalize="characters" spellcheck="false" placeholder="7KQ2 M9XD 4PLA">
<button type="submit">{% translate "Verify" %}</button>
</form>
{% if not asked %}
<p id="hint">{% blocktranslate trimmed %}Type the 12-character verification code printed
under the certificate's QR code. Letters may be in any case; spaces and dashes are
ignored.{% endblocktranslate %}</p>
{% elif found %}
<p class="status {{ verdict_class }}" id="status">{{ verdict }}</p>
<table>
<tr><th>证明编号</th><td id="number">{{ found.number }}</td></tr>
<tr><th>姓名</th><td id="name">{{ found.name }}</td></tr>
<tr><th>证件类型</th><td>{{ found.idType }}</td></tr>
<tr><th>证件号码</th><td>{{ found.idNumberMasked }}</td></tr>
<tr><th>志愿者编号</th><td>{{ found.volunteerNumber }}</td></tr>
<tr><th>累计志愿服务时长</th><td id="total-hours">{{ total_hours }} 小时</td></tr>
</table>
<table>
<tr><th>序号</th><th>项目名称</th><th>服务日期</th><th>时长（小时）</th><th>记录地区</th></tr>
{% for row in rows %}<tr><td>{{ forloop.counter }}</td><td>{{ row.projectName }}</td>
<td>{{ row.dates }}</td><td>{{ row.hours }}</td><td>{{ row.origin }}</td></tr>
{% endfor %}</table>
<table>
<tr><th>出具单位</th><td id="group">{{ found.groupName }}</td></tr>
<tr><th>负责人</th><td>{{ found.responsiblePerson }}</td></tr>
<tr><th>经办人</th><td>{{ found.handler }}</td></tr>
<tr><th>联系方式</th><td>{{ found.contact }}</td></tr>
<tr><th>出具日期</th><td id="issued-on">{{ found.issuedOn }}</td></tr>
<tr><th>备注</th><td>{{ found.notes|default:"无" }}</td></tr>
</table>
<p>核验页面仅显示本证明所载信息。</p>
{% else %}
<p class="status unknown">未找到该验证码对应的证明。请核对验证码，并确认在出具地区的网站核验。</p>
{% endif %}
</body>
</html>
"""
)


@require_safe
def verify_page(request, code: str | None = None):
    """The verification page: of ``code`` from the QR code's path, of ``?code=``
    typed into the page's form, or the form alone."""
    if code is None:
        code = request.GET.get("code", "").strip()[:100]
    found = certificates.verify(code) if code else None
    context = {"found": found, "title": "志愿服务记录证明核验", "asked": bool(code), "typed": code}
    if found is not None:
        context["verdict_class"] = "genuine" if found["genuine"] else "revoked"
        context["verdict"] = (
            f"✔ 真实有效：本证明由{request.region.name}志愿服务信息系统出具，现行有效"
            if found["genuine"]
            else "✘ 已撤销：本证明已被出具单位撤销，不再有效"
        )
        context["total_hours"] = format_hours(Decimal(found["totalHours"]))
        context["rows"] = [
            {
                **row,
                "hours": format_hours(Decimal(row["hours"])),
                "origin": f"{row['originRegion']}（转入）" if row["originRegion"] else "本地区",
                "dates": row["firstDate"]
                if row["firstDate"] == row["lastDate"]
                else f"{row['firstDate']} 至 {row['lastDate']}",
            }
            for row in found["rows"]
        ]
    status = 200 if found or not code else 404
    response = HttpResponse(_PAGE.render(context), status=status)
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
