"""Drafting, reviewing, cancelling projects; applying to them."""

from __future__ import annotations

import datetime

import strawberry
from strawberry.types import Info

from schema.errors import Payload, mutation_payload
from schema.identity import global_id
from schema.region.auth import caller, parse_id
from schema.region.projects.types import ApplicationStatus, Project, ProjectCategory
from tenants.projects import services as projects


@strawberry.type
class ProjectPayload(Payload):
    project: Project | None = None


@strawberry.type
class ProjectApplicationPayload(Payload):
    application_id: strawberry.ID | None = None
    status: ApplicationStatus | None = None


@strawberry.input
class ProjectInput:
    name: str
    category: ProjectCategory
    service_targets: str
    place: str
    starts_on: datetime.date
    ends_on: datetime.date
    quota: int
    risk_notice: str
    contact: str
    insured: bool = False


def _draft(data: ProjectInput) -> projects.ProjectDraft:
    return projects.ProjectDraft(
        name=data.name,
        category=data.category.value,
        service_targets=data.service_targets,
        place=data.place,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        quota=data.quota,
        risk_notice=data.risk_notice,
        contact=data.contact,
        insured=data.insured,
    )


@strawberry.type
class ProjectsMutation:
    @strawberry.mutation(description="A group admin drafts a project.")
    @mutation_payload(ProjectPayload)
    def create_project(
        self, info: Info, group_id: strawberry.ID, input: ProjectInput
    ) -> ProjectPayload:
        principal, _unused = caller(info)
        project = projects.create_project(
            group_id=parse_id(group_id, "VolunteerGroup", "groupId"),
            draft=_draft(input),
            principal=principal,
        )
        return ProjectPayload(project=Project(_model=project))

    @strawberry.mutation(
        description="The group's admins rewrite a project before it is published (draft, "
        "awaiting review or rejected); the same checks as createProject."
    )
    @mutation_payload(ProjectPayload)
    def update_project(
        self, info: Info, project_id: strawberry.ID, input: ProjectInput
    ) -> ProjectPayload:
        principal, _unused = caller(info)
        project = projects.update_project(
            project_id=parse_id(project_id, "Project", "projectId"),
            draft=_draft(input),
            principal=principal,
        )
        return ProjectPayload(project=Project(_model=project))

    @strawberry.mutation(
        description="The group's admins cancel a project, saying why; open applications become "
        "PROJECT_CANCELLED. Refused once service was recorded there (it ends instead)."
    )
    @mutation_payload(ProjectPayload)
    def cancel_project(self, info: Info, project_id: strawberry.ID, reason: str) -> ProjectPayload:
        principal, _unused = caller(info)
        project = projects.cancel_project(
            project_id=parse_id(project_id, "Project", "projectId"),
            reason=reason,
            principal=principal,
        )
        return ProjectPayload(project=Project(_model=project))

    @strawberry.mutation(
        description="A volunteer withdraws their own application: pending, or accepted "
        "before the project starts (the place is free again at once)."
    )
    @mutation_payload(ProjectApplicationPayload)
    def withdraw_application(
        self, info: Info, application_id: strawberry.ID
    ) -> ProjectApplicationPayload:
        principal, _unused = caller(info)
        application = projects.withdraw_application(
            application_id=parse_id(application_id, "ProjectApplication", "applicationId"),
            principal=principal,
        )
        return ProjectApplicationPayload(
            application_id=strawberry.ID(global_id("ProjectApplication", application.id)),
            status=ApplicationStatus(application.status),
        )

    @strawberry.mutation(
        description="Publish a draft: at once with 发布项目无须审核, "
        "otherwise for the liaison group's review."
    )
    @mutation_payload(ProjectPayload)
    def submit_project(self, info: Info, project_id: strawberry.ID) -> ProjectPayload:
        principal, policy = caller(info)
        project = projects.submit_project(
            project_id=parse_id(project_id, "Project", "projectId"),
            principal=principal,
            policy=policy,
        )
        return ProjectPayload(project=Project(_model=project))

    @strawberry.mutation
    @mutation_payload(ProjectPayload)
    def review_project(
        self, info: Info, project_id: strawberry.ID, approve: bool, reason: str = ""
    ) -> ProjectPayload:
        principal, policy = caller(info)
        project = projects.review_project(
            project_id=parse_id(project_id, "Project", "projectId"),
            approve=approve,
            reason=reason,
            principal=principal,
            policy=policy,
        )
        return ProjectPayload(project=Project(_model=project))

    @strawberry.mutation(description="The logged-in volunteer applies to a project.")
    @mutation_payload(ProjectApplicationPayload)
    def apply_to_project(self, info: Info, project_id: strawberry.ID) -> ProjectApplicationPayload:
        principal, _unused = caller(info)
        application = projects.apply(
            project_id=parse_id(project_id, "Project", "projectId"), principal=principal
        )
        return ProjectApplicationPayload(
            application_id=strawberry.ID(global_id("ProjectApplication", application.id)),
            status=ApplicationStatus(application.status),
        )

    @strawberry.mutation(description="The group accepts (within the quota) or declines.")
    @mutation_payload(ProjectApplicationPayload)
    def decide_project_application(
        self, info: Info, application_id: strawberry.ID, accept: bool
    ) -> ProjectApplicationPayload:
        principal, _unused = caller(info)
        application = projects.decide_application(
            application_id=parse_id(application_id, "ProjectApplication", "applicationId"),
            accept=accept,
            principal=principal,
        )
        return ProjectApplicationPayload(
            application_id=strawberry.ID(global_id("ProjectApplication", application.id)),
            status=ApplicationStatus(application.status),
        )
