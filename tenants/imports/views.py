"""The import templates, downloadable from each region's host (no login: they
hold nothing but headers): ``/imports/templates/<kind>.<xlsx|csv>``."""

from __future__ import annotations

from urllib.parse import quote

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from tenants.imports.columns import TITLES, ImportKind
from tenants.imports.templates import CONTENT_TYPES, FORMATS, file_name, template


@require_GET
def import_template(request, kind: str, fmt: str):
    try:
        chosen = ImportKind(kind)
    except ValueError:
        raise Http404(kind) from None
    if fmt not in FORMATS:
        raise Http404(fmt)
    response = HttpResponse(template(chosen, fmt), content_type=CONTENT_TYPES[fmt])
    chinese = f"{TITLES[chosen]}导入模板.{fmt}"
    response["Content-Disposition"] = (
        f"attachment; filename=\"{file_name(chosen, fmt)}\"; filename*=UTF-8''{quote(chinese)}"
    )
    return response
