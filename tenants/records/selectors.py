"""Reading records: by area (what an authority answers for) and under publicity."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from central.errors import NotFound
from central.policy import RegionPolicy
from tenants.accounts.principal import Principal
from tenants.groups.selectors import visible_group
from tenants.projects.selectors import visible_projects
from tenants.records.models import RecordState, ServiceRecord
from tenants.records.permissions import record_area_q
from tenants.volunteers.permissions import member_groups_seen_by


def records_in_area(principal: Principal) -> QuerySet[ServiceRecord]:
    """Records whose division (``permissions.record_division``: the project's group's,
    or the volunteer's for a record without a project) lies in the authority's area."""
    return (
        ServiceRecord.objects.filter(record_area_q(principal.authority_prefixes))
        .select_related("volunteer", "group", "project__group")
        .order_by("-id")
    )


def group_records_seen_by(principal: Principal, policy: RegionPolicy) -> QuerySet[ServiceRecord]:
    """Records of the groups whose members the caller may see (``member_groups_seen_by``:
    a group's staff, its viewing groups' staff, the authority and hubs of its area),
    in id order: a project's records as ``Project.records`` pages them, which refuses
    everyone else outright by the same rule (``schema.region.auth.may_see_members``)."""
    rows = ServiceRecord.objects.order_by("id")
    groups = member_groups_seen_by(principal, policy)
    return rows if groups is None else rows.filter(group_id__in=groups)


# Under publicity (公示, 001 §4(4)3): in it, or held by an open objection.
PUBLICITY_STATES = [RecordState.IN_PUBLICITY, RecordState.OBJECTED]


def in_publicity(*, project_id: int | None = None, group_id: int | None = None):
    """Records under publicity at a project or a group, oldest first, with only the
    columns a public notice shows (the volunteer's name, never ID number or phone)
    and their amendments (current hours), in a constant number of queries a page."""
    queryset = ServiceRecord.objects.filter(state__in=PUBLICITY_STATES)
    if project_id is not None:
        queryset = queryset.filter(project_id=project_id)
    if group_id is not None:
        queryset = queryset.filter(group_id=group_id)
    return (
        queryset.select_related("volunteer", "group")
        .only(
            "id",
            "project_name",
            "service_date",
            "start_time",
            "end_time",
            "hours",
            "state",
            "publicity_ends_on",
            "volunteer__name",
            "group__name",
        )
        .with_few("amendments")
        .order_by("id")
    )


def publicity_group(
    *, principal: Principal, project_id: int | None = None, group_id: int | None = None
):
    """The group whose publicity is asked for: the project's, or the group itself. A
    project or group ``principal`` may not see (a draft, a pending group: ``project(id:)``
    and ``group(id:)`` are null to them) is "no such …", as an id with no row: its
    empty publicity would tell that it exists (audit round 5)."""
    if project_id is not None:
        project = visible_projects(principal).select_related("group").filter(id=project_id)
        found = project.first()
        if found is None:
            raise NotFound(_("no such project"), field="projectId")
        return found.group
    if group_id is None:
        raise NotFound(_("no such group"), field="groupId")
    return visible_group(group_id, principal)
