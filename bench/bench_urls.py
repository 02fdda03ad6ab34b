"""Region-host URLs of the benchmark servers: the real ones plus
``/plain/volunteer/<number>``, a plain Django view that does what the
``volunteer(number:)`` GraphQL field does — the same token authentication,
selector, permission check and fields — and returns the same JSON, so the
benchmark can tell GraphQL's share of a single lookup; and ``/plain/nested``, the
served baseline of ``bench/nested_page.py``: the nested page's rows by three
hand-written SQL statements behind the same HTTP, host, token and role path
(issue 16 point 2). Bench-only: selected by ``bench/bench_settings.py``."""

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.urls import path

from central.errors import Unauthenticated
from central.urls_region import urlpatterns as region_urlpatterns
from schema.context import bearer_token
from schema.views import encode_json
from tenants.accounts.services import authenticate
from tenants.volunteers import selectors
from tenants.volunteers.permissions import may_reveal, may_view, member_groups_seen_by


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
    policy = region.get_policy()
    if found is not None and not may_view(found, principal, policy):
        return _error(403, "PERMISSION_DENIED", f"you may not see volunteer {number}")
    volunteer = None
    if found is not None:
        volunteer = {
            "number": found.number,
            "name": found.name,
            "gender": found.gender.upper(),
            # As Volunteer.birthDate: shown only to whoever may see personal information.
            "birthDate": (
                found.birth_date.isoformat() if may_reveal(found, principal, policy) else None
            ),
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


# The nested page's rows, lean: the groups; each group's first active members by
# volunteer id (the partial index on active memberships); each volunteer's first
# records by id, with the hours of the latest amendment that sets them where a
# record has any (one index probe per record: the answer must be right).
GROUPS_SQL = "SELECT id, name FROM groups_volunteergroup ORDER BY id LIMIT %s"
MEMBERS_SQL = """
SELECT m.group_id, v.id, v.number, v.name
FROM unnest(%s::bigint[]) AS g(id)
CROSS JOIN LATERAL (
    SELECT group_id, volunteer_id FROM groups_membership
    WHERE group_id = g.id AND status = 'active' ORDER BY volunteer_id LIMIT %s
) m
JOIN volunteers_volunteer v ON v.id = m.volunteer_id
ORDER BY m.group_id, m.volunteer_id
"""
RECORDS_SQL = """
SELECT r.volunteer_id, coalesce(
    (SELECT a.hours FROM records_amendment a
     WHERE a.record_id = r.id AND a.hours IS NOT NULL ORDER BY a.id DESC LIMIT 1),
    r.hours), r.service_date
FROM unnest(%s::bigint[]) AS v(id)
CROSS JOIN LATERAL (
    SELECT id, volunteer_id, hours, service_date FROM records_servicerecord
    WHERE volunteer_id = v.id ORDER BY id LIMIT %s
) r
ORDER BY r.volunteer_id, r.id
"""


def nested_rows(groups: int, members: int, records: int) -> dict:
    """The nested page's ``data``, shaped as the API answers it."""
    with connection.cursor() as cur:
        cur.execute(GROUPS_SQL, [groups])
        group_rows = cur.fetchall()
        cur.execute(MEMBERS_SQL, [[g[0] for g in group_rows], members])
        member_rows = cur.fetchall()
        cur.execute(RECORDS_SQL, [sorted({m[1] for m in member_rows}), records])
        record_rows = cur.fetchall()
    by_volunteer: dict[int, list] = {}
    for volunteer_id, hours, day in record_rows:
        by_volunteer.setdefault(volunteer_id, []).append(
            {"node": {"hours": str(hours), "serviceDate": day.isoformat()}}
        )
    by_group: dict[int, list] = {}
    for group_id, volunteer_id, number, name in member_rows:
        by_group.setdefault(group_id, []).append(
            {
                "node": {
                    "number": number,
                    "name": name,
                    "records": {"edges": by_volunteer.get(volunteer_id, [])},
                }
            }
        )
    edges = [
        {"node": {"name": name, "volunteers": {"edges": by_group.get(group_id, [])}}}
        for group_id, name in group_rows
    ]
    return {"groups": {"edges": edges}}


def plain_nested(request) -> HttpResponse:
    """``GET /plain/nested?groups=50&members=20&records=10``: the nested page by hand,
    for a caller who may see every group's members (the authority of the whole
    region, as in the benchmark); others are refused as the API refuses them."""
    region = request.region
    if region is None:
        return _error(404, "NOT_FOUND", "a region's host only")
    try:
        principal = authenticate(bearer_token(request), region.code)
    except Unauthenticated as error:
        return _error(401, "UNAUTHENTICATED", str(error))
    if principal is None:
        return _error(401, "UNAUTHENTICATED", "log in to see volunteers")
    if member_groups_seen_by(principal, region.get_policy()) is not None:
        return _error(403, "PERMISSION_DENIED", "the whole region's authority only")
    defaults = (("groups", 50), ("members", 20), ("records", 10))
    sizes = [int(request.GET.get(key, value)) for key, value in defaults]
    body = encode_json({"data": nested_rows(*sizes)})
    return HttpResponse(body, content_type="application/json")


urlpatterns = [
    *region_urlpatterns,
    path("plain/volunteer/<str:number>", plain_volunteer, name="bench-plain-volunteer"),
    path("plain/nested", plain_nested, name="bench-plain-nested"),
]
