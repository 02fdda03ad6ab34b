"""Reading projects: published projects are public; a group's staff see every
project of their group (drafts, those under review, rejected, cancelled), the
authority every project."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tenants.projects.models import Project, ProjectStatus


def visible_projects(principal) -> QuerySet[Project]:
    """The projects ``principal`` (None: anyone) may see, oldest first."""
    queryset = Project.objects.order_by("id")
    if principal is not None and principal.is_authority:
        return queryset
    staff_of = principal.staff_group_ids if principal is not None else ()
    return queryset.filter(Q(status=ProjectStatus.PUBLISHED) | Q(group_id__in=staff_of))
