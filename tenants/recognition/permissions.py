"""Who records trainings and awards and who handles complaints (000 Art.11–13):
the one place it is decided (issue 10; scope rules in
``tenants/volunteers/permissions.py``)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from central.errors import NotFound, PermissionDenied
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.groups.models import VolunteerGroup
from tenants.volunteers.selectors import sees_every_volunteer


def require_complaint_handler(complaint, principal: Principal):
    """The complaint's group's admins, or the authority of its area (the group's, or
    for a complaint without a group the volunteer's).

    ``complaint`` None (no row with the id) is refused as a complaint the caller may
    not see — anyone but its group's staff and the authority of its area — is, with
    words that name no group (audit round 3); only to whoever sees every volunteer
    is it ``NOT_FOUND``."""
    principal = accounts.require(principal)
    if complaint is None:
        if sees_every_volunteer(principal):
            raise NotFound(_("no such complaint"), field="complaintId")
        raise PermissionDenied(_("you may not handle this complaint"))
    area = complaint.group.division_code if complaint.group else complaint.volunteer.division_code
    if not handles_complaints_of(principal, complaint.group_id, area):
        raise PermissionDenied(_("you may not handle this complaint"))
    if not (principal.covers(area) or complaint.group_id in principal.admin_group_ids):
        handler = complaint.group.name if complaint.group else "the authority"
        raise PermissionDenied(
            _("only admins of %(handler)s handle this complaint") % {"handler": handler}
        )
    return principal


def handles_complaints_of(
    principal: Principal | None, group_id: int | None, division_code: str | None = None
) -> bool:
    """Group staff and the authority of the group's area see a group's complaints in
    every state. Without ``division_code`` the group's is read once per request."""
    if principal is None:
        return False
    if group_id in principal.staff_group_ids:
        return True
    if not principal.is_authority:
        return False
    if division_code is None:
        if group_id is None:  # transferred in: no group of this region
            return False
        known = principal.__dict__.setdefault("_group_divisions", {})
        if group_id not in known:
            known[group_id] = (
                VolunteerGroup.objects.filter(id=group_id)
                .values_list("division_code", flat=True)
                .first()
            )
        division_code = known[group_id]
    return division_code is not None and principal.covers(division_code)
