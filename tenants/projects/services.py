"""Projects: draft → (pending review →) published → ongoing → ended, and applications.

A group whose permission group holds 发布项目无须审核 (002 annex) publishes
directly; others wait for review by their liaison group's admins or the
authority. Ongoing and ended follow from the dates (see :func:`phase`).
The quota holds under concurrent acceptances: the project row is locked while
accepted applications are counted.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from central.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ProblemCollector
from central.messages import shown
from central.policy import Power
from tenants.accounts import services as accounts
from tenants.audit.services import record
from tenants.groups.models import VolunteerGroup
from tenants.groups.permissions import has_power, require_group_staff
from tenants.projects.models import (
    ApplicationStatus,
    Category,
    Project,
    ProjectApplication,
    ProjectStatus,
)
from tenants.projects.permissions import (
    require_application_decider,
    require_project_reviewer,
)
from tenants.volunteers.models import VolunteerStatus

INSURED_CATEGORIES = {Category.MAJOR_EVENTS, Category.EMERGENCY_RESCUE}


@dataclass
class ProjectDraft:
    name: str
    category: str
    service_targets: str
    place: str
    starts_on: datetime.date
    ends_on: datetime.date
    quota: int
    risk_notice: str
    contact: str
    insured: bool = False


def phase(project: Project, today: datetime.date | None = None) -> str:
    """The project's state as users see it: published turns ongoing, then ended."""
    if project.status != ProjectStatus.PUBLISHED:
        return project.status
    today = today or timezone.localdate()
    if today < project.starts_on:
        return "published"
    return "ongoing" if today <= project.ends_on else "ended"


def _require_group_admin(group: VolunteerGroup, principal) -> None:
    require_group_staff(group, principal)


def create_project(group_id: int, draft: ProjectDraft, *, principal) -> Project:
    group = VolunteerGroup.objects.filter(id=group_id).first()
    if group is None:
        raise NotFound(_("no such group"), field="groupId")
    _require_group_admin(group, principal)
    problems = ProblemCollector()
    for attr, label in (
        ("name", "name"),
        ("service_targets", "serviceTargets"),
        ("place", "place"),
        ("contact", "contact"),
    ):
        if not (getattr(draft, attr) or "").strip():
            problems.add(label, _("required"))
    if draft.category not in Category.values:
        problems.add("category", _("one of the service fields of 001 §4(3)"))
    if draft.ends_on < draft.starts_on:
        problems.add("endsOn", _("ends before it starts"))
    if draft.quota < 1 or draft.quota > 100000:
        problems.add("quota", _("between 1 and 100000"))
    if len((draft.risk_notice or "").strip()) < 4:
        problems.add("riskNotice", _("state the risks volunteers may meet (003 Art.9)"))
    if draft.category in INSURED_CATEGORIES and not draft.insured:
        problems.add(
            "insured", _("major events and emergency service insure volunteers (003 Art.18)")
        )
    problems.raise_if_any()
    with transaction.atomic():
        project = Project.objects.create(
            group=group,
            name=draft.name.strip(),
            category=draft.category,
            service_targets=draft.service_targets.strip(),
            place=draft.place.strip(),
            starts_on=draft.starts_on,
            ends_on=draft.ends_on,
            quota=draft.quota,
            risk_notice=draft.risk_notice.strip(),
            insured=draft.insured,
            contact=draft.contact.strip(),
            created_by=principal.actor,
        )
        record(principal.actor, "project.created", str(project.id), group=group.id)
    return project


def _locked_project(project_id: int) -> Project:
    project = (
        Project.objects.select_for_update(of=("self",))
        .select_related("group")
        .filter(id=project_id)
        .first()
    )
    if project is None:
        raise NotFound(_("no such project"), field="projectId")
    return project


def submit_project(project_id: int, *, principal, policy) -> Project:
    """Publish a draft: directly with 发布项目无须审核, otherwise for review."""
    with transaction.atomic():
        project = _locked_project(project_id)
        _require_group_admin(project.group, principal)
        if project.status not in (ProjectStatus.DRAFT, ProjectStatus.REJECTED):
            raise Conflict(
                _("the project is %(status)s") % {"status": shown(project, "status")},
                field="projectId",
            )
        direct = has_power(project.group, Power.PUBLISH_WITHOUT_REVIEW, policy)
        project.status = ProjectStatus.PUBLISHED if direct else ProjectStatus.PENDING_REVIEW
        project.save(update_fields=["status"])
        record(principal.actor, "project.submitted", str(project.id), status=project.status)
    return project


def review_project(project_id: int, approve: bool, reason: str, *, principal, policy) -> Project:
    """The liaison group's admins or the authority review a project."""
    principal = accounts.require(principal)
    reason = (reason or "").strip()
    if not approve and not reason:
        raise InvalidInput(_("say why the project is rejected"), field="reason")
    with transaction.atomic():
        project = _locked_project(project_id)
        require_project_reviewer(project, principal)
        if project.status != ProjectStatus.PENDING_REVIEW:
            raise Conflict(
                _("the project is %(status)s") % {"status": shown(project, "status")},
                field="projectId",
            )
        project.status = ProjectStatus.PUBLISHED if approve else ProjectStatus.REJECTED
        project.review_reason = reason
        project.reviewed_by = principal.actor
        project.save(update_fields=["status", "review_reason", "reviewed_by"])
        record(principal.actor, "project.reviewed", str(project.id), approve=approve)
    return project


def apply(project_id: int, *, principal) -> ProjectApplication:
    principal = accounts.require(principal)
    volunteer = principal.volunteer
    if volunteer is None:
        raise PermissionDenied(_("only a volunteer's own account applies"))
    if volunteer.status not in (VolunteerStatus.ACTIVE, VolunteerStatus.WARNED):
        raise Conflict(
            _("%(number)s is %(status)s")
            % {"number": volunteer.number, "status": shown(volunteer, "status")}
        )
    project = Project.objects.filter(id=project_id).first()
    if project is None:
        raise NotFound(_("no such project"), field="projectId")
    if phase(project) not in ("published", "ongoing"):
        raise Conflict(
            _("the project is %(phase)s: applications are closed") % {"phase": phase(project)},
            field="projectId",
        )
    try:
        with transaction.atomic():
            application = ProjectApplication.objects.create(project=project, volunteer=volunteer)
            record(principal.actor, "project.applied", str(application.id), project=project.id)
    except IntegrityError:
        raise Conflict(_("you already applied to this project"), field="projectId") from None
    return application


def decide_application(application_id: int, accept: bool, *, principal) -> ProjectApplication:
    """Accept or decline; accepting locks the project so the quota cannot be exceeded."""
    principal = accounts.require(principal)
    with transaction.atomic():
        application = (
            ProjectApplication.objects.select_related("project__group")
            .filter(id=application_id)
            .first()
        )
        if application is None:
            raise NotFound(_("no such application"), field="applicationId")
        project = _locked_project(application.project_id)  # serialises acceptances
        application = ProjectApplication.objects.select_for_update().get(id=application_id)
        require_application_decider(project, principal)
        if application.status != ApplicationStatus.APPLIED:
            raise Conflict(
                _("the application is %(status)s") % {"status": shown(application, "status")},
                field="applicationId",
            )
        if accept:
            accepted = project.applications.filter(status=ApplicationStatus.ACCEPTED).count()
            if accepted >= project.quota:
                raise Conflict(
                    _("the project's quota of %(quota)s is full") % {"quota": project.quota},
                    field="applicationId",
                )
        application.status = ApplicationStatus.ACCEPTED if accept else ApplicationStatus.DECLINED
        application.decided_at = timezone.now()
        application.decided_by = principal.actor
        application.save(update_fields=["status", "decided_at", "decided_by"])
        record(principal.actor, "project.application_decided", str(application.id), accept=accept)
    return application
