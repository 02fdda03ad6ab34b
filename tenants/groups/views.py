"""Serving a group's uploaded certificate image, on its own region's host only.

The file is found through the group row in the request's region schema and
read from that region's own upload folder, so another region's host cannot
reach it: the group id simply does not exist there.
"""

from __future__ import annotations

from django.http import FileResponse, JsonResponse

from central.errors import ServiceError
from schema.context import bearer_token
from schema.identity import local_key
from tenants.accounts.services import authenticate
from tenants.groups import selectors
from tenants.groups.services import certificate_path


def _refuse(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message}},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


def group_certificate(request, group_id: str):
    """The group's certificate image; ``group_id`` is the group's API id
    (schema/identity.py), as a front-end has it."""
    try:
        principal = authenticate(bearer_token(request), request.region.code)
    except ServiceError as error:
        return _refuse(401, "UNAUTHENTICATED", str(error))
    if principal is None:
        return _refuse(401, "UNAUTHENTICATED", "send Authorization: Bearer <token>")
    try:
        key = int(local_key(group_id, ("VolunteerGroup",)))
    except ValueError:  # not a group's id, or another region's: no such group here
        key = None
    # A pending or rejected group the caller may not see is no group, as group(id:)
    # shows it: a 403 would tell that the id has a group behind it (audit round 5).
    visible = selectors.visible_groups(principal)
    group = visible.filter(id=key).first() if key is not None else None
    if group is None:
        return _refuse(404, "NOT_FOUND", "no certificate for this group")
    # Asked before the file: whether a group has a certificate is the keepers' to know.
    if not selectors.keeps(group, principal):
        return _refuse(403, "PERMISSION_DENIED", "only the group, its liaison and the authority")
    path = certificate_path(group)
    if path is None or not path.exists():
        return _refuse(404, "NOT_FOUND", "no certificate for this group")
    content_type = "image/png" if path.suffix == ".png" else "image/jpeg"
    return FileResponse(path.open("rb"), content_type=content_type)
