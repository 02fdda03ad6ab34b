"""Who reviews a project and decides its applications: the one place it is decided
(issue 10; scope rules in ``tenants/volunteers/permissions.py``). Creating and
submitting are a group admin's (``groups.permissions.require_group_staff``)."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from central.divisions import prefixes_q
from central.errors import PermissionDenied
from tenants.accounts.principal import Principal
from tenants.groups.permissions import require_group_staff


def require_project_reviewer(project, principal: Principal) -> None:
    """002 §3(3): the group's liaison group's admins, or the authority of its area."""
    liaison_id = project.group.liaison_group_id
    if principal.covers(project.group.division_code):
        return
    if liaison_id is None or liaison_id not in principal.admin_group_ids:
        raise PermissionDenied(
            _("only the group's liaison group or the authority of its area reviews it")
        )


def project_reviewer_q(principal: Principal) -> Q:
    """:func:`require_project_reviewer` as a condition on Project: the projects
    ``principal`` reviews (its work queue)."""
    return Q(group__liaison_group_id__in=principal.admin_group_ids) | prefixes_q(
        "group__division_code", principal.authority_prefixes
    )


def require_application_decider(project, principal: Principal) -> None:
    """The project's group's staff (admins and recorders) accept volunteers."""
    require_group_staff(project.group, principal, admin=False)


def application_decider_q(principal: Principal) -> Q:
    """:func:`require_application_decider` as a condition on ProjectApplication: the
    applications ``principal`` decides (its work queue)."""
    return Q(project__group_id__in=principal.staff_group_ids)
