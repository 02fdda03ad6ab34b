"""Region-host URLs of the benchmark servers: the real ones plus
``/plain/volunteer/<number>``, a plain Django view that does what the
``volunteer(number:)`` GraphQL field does — the same token authentication,
selector, permission check and fields — and returns the same JSON, so the
benchmark can tell GraphQL's share of a single lookup. Bench-only: selected by
``bench/bench_settings.py``."""

from django.http import JsonResponse
from django.urls import path

from central.errors import Unauthenticated
from central.urls_region import urlpatterns as region_urlpatterns
from schema.context import bearer_token
from tenants.accounts.services import authenticate
from tenants.volunteers import selectors
from tenants.volunteers.services import may_view


def _error(status: int, code: str, message: str) -> JsonResponse:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def plain_volunteer(request, number: str) -> JsonResponse:
    region = request.region
    if region is None:
        return _error(404, "NOT_FOUND", "a region's host only")
    try:
        principal = authenticate(bearer_token(request), region.code)
    except Unauthenticated as error:
        return _error(401, "UNAUTHENTICATED", str(error))
    if principal is None:
        return _error(401, "UNAUTHENTICATED", "log in to see volunteers")
    found = selectors.by_number(number).first()
    if found is not None and not may_view(found, principal, region.get_policy()):
        return _error(403, "PERMISSION_DENIED", f"you may not see volunteer {number}")
    volunteer = None
    if found is not None:
        volunteer = {
            "number": found.number,
            "name": found.name,
            "gender": found.gender.upper(),
            "birthDate": found.birth_date.isoformat(),
            "status": found.status.upper(),
            "verification": found.verification.upper(),
            "serviceArea": found.service_area,
            "skills": found.skills,
            "idNumberMasked": found.id_number_masked,
            "phoneMasked": found.phone_masked,
        }
    return JsonResponse(
        {"data": {"volunteer": volunteer}}, json_dumps_params={"ensure_ascii": False}
    )


urlpatterns = [
    *region_urlpatterns,
    path("plain/volunteer/<str:number>", plain_volunteer, name="bench-plain-volunteer"),
]
