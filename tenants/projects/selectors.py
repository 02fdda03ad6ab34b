"""Reading projects: published projects are public; a group's staff see every
project of their group (drafts, those under review, rejected, cancelled), the
admins of its liaison group too (they review them, 002 §3(3)), the authority
every project of a group in its area."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from central.divisions import prefixes_q
from tenants.accounts.principal import Principal
from tenants.projects.models import Project, ProjectStatus


def visible_projects(principal: Principal | None) -> QuerySet[Project]:
    """The projects ``principal`` (None: anyone) may see, oldest first."""
    queryset = Project.objects.order_by("id")
    if principal is None:
        return queryset.filter(status=ProjectStatus.PUBLISHED)
    if principal.authority_prefixes == ("",):  # a central operator: the whole region
        return queryset
    return queryset.filter(
        Q(status=ProjectStatus.PUBLISHED)
        | Q(group_id__in=principal.own_group_ids)
        | Q(group__liaison_group_id__in=principal.admin_group_ids)
        | prefixes_q("group__division_code", principal.authority_prefixes)
    )
