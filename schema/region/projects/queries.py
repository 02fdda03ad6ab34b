"""One project."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from schema.region.auth import guarded, local_id, principal_of
from schema.region.prefetch import optimized
from schema.region.projects.types import Project
from tenants.projects import selectors as project_selectors


@strawberry.type
class ProjectsQuery:
    @strawberry.field(description="One project. Public once published.")
    def project(self, info: Info, id: strawberry.ID) -> Project | None:
        key = guarded(local_id, id, "Project")
        if key is None:
            return None
        queryset = project_selectors.visible_projects(principal_of(info))
        found = optimized(queryset.filter(id=key), info, "Project").first()
        return Project(_model=found) if found else None
