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

from central.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProblemCollector,
    locked_row,
)
from central.messages import shown
from central.policy import Power, RegionPolicy
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
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


def _require_group_admin(group: VolunteerGroup, principal: Principal) -> None:
    require_group_staff(group, principal)


def check_draft(draft: ProjectDraft) -> None:
    """What every project states, checked the same on creation and on each edit."""
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


def _apply_draft(project: Project, draft: ProjectDraft) -> None:
    project.name = draft.name.strip()
    project.category = draft.category
    project.service_targets = draft.service_targets.strip()
    project.place = draft.place.strip()
    project.starts_on = draft.starts_on
    project.ends_on = draft.ends_on
    project.quota = draft.quota
    project.risk_notice = draft.risk_notice.strip()
    project.insured = draft.insured
    project.contact = draft.contact.strip()


DRAFT_FIELDS = [
    "name",
    "category",
    "service_targets",
    "place",
    "starts_on",
    "ends_on",
    "quota",
    "risk_notice",
    "insured",
    "contact",
]


def create_project(*, group_id: int, draft: ProjectDraft, principal: Principal) -> Project:
    group = VolunteerGroup.objects.filter(id=group_id).first()
    if group is None:
        raise NotFound(_("no such group"), field="groupId")
    _require_group_admin(group, principal)
    check_draft(draft)
    with transaction.atomic():
        project = Project(group=group, created_by=principal.actor)
        _apply_draft(project, draft)
        project.save()
        record(principal.actor, "project.created", str(project.id), group=group.id)
    return project


# Before publication a project is still its group's to change (issue 12 point 9).
EDITABLE = (ProjectStatus.DRAFT, ProjectStatus.PENDING_REVIEW, ProjectStatus.REJECTED)


def update_project(*, project_id: int, draft: ProjectDraft, principal: Principal) -> Project:
    """The group's admins (who may create it) rewrite a project not yet published:
    a draft, one awaiting review (the reviewer then sees the new text) or one
    rejected (to fix and submit again). Same checks as :func:`create_project`.
    Once published, volunteers applied to what it said: it is cancelled, not edited."""
    with transaction.atomic():
        project = _locked_project(project_id)
        _require_group_admin(project.group, principal)
        if project.status not in EDITABLE:
            raise Conflict(
                _("the project is %(status)s: only a project not yet published is edited")
                % {"status": shown(project, "status")},
                field="projectId",
            )
        check_draft(draft)
        _apply_draft(project, draft)
        project.save(update_fields=DRAFT_FIELDS)
        record(principal.actor, "project.updated", str(project.id), status=project.status)
    return project


def cancel_project(*, project_id: int, reason: str, principal: Principal) -> Project:
    """The group's admins cancel a project (项目取消), with a reason.

    Every open application (applied or accepted) becomes ``project_cancelled``, so
    each applicant sees it in their own applications. Refused (CONFLICT) once
    service has been recorded there — a live record, or a check-in under way: the
    project happened, records are never withdrawn with it (000 Art.23); it simply
    ends on its last day. Refused for an ended project too. The project row is
    locked: acceptance, application and recording serialise against it."""
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise InvalidInput(_("say why the project is cancelled"), field="reason")
    with transaction.atomic():
        project = _locked_project(project_id)
        _require_group_admin(project.group, principal)
        if project.status == ProjectStatus.CANCELLED:
            raise Conflict(_("the project is already cancelled"), field="projectId")
        if phase(project) == "ended":
            raise Conflict(_("the project has ended: it is not cancelled"), field="projectId")
        from tenants.records.models import OPEN_STATES, CheckIn, ServiceRecord

        recorded = ServiceRecord.objects.filter(project=project, state__in=OPEN_STATES).count()
        if recorded or CheckIn.objects.filter(project=project, checked_out_at=None).exists():
            raise Conflict(
                _(
                    "service has been recorded at this project (%(count)s records or a "
                    "check-in under way): it is not cancelled, it ends on its last day"
                )
                % {"count": recorded},
                field="projectId",
            )
        now = timezone.now()
        # Applicants first: the database refuses a cancelled project with open ones.
        told = project.applications.filter(
            status__in=[ApplicationStatus.APPLIED, ApplicationStatus.ACCEPTED]
        ).update(
            status=ApplicationStatus.PROJECT_CANCELLED, decided_at=now, decided_by=principal.actor
        )
        project.status = ProjectStatus.CANCELLED
        project.cancellation_reason = reason
        project.cancelled_at = now
        project.save(update_fields=["status", "cancellation_reason", "cancelled_at"])
        record(
            principal.actor, "project.cancelled", str(project.id), reason=reason, applications=told
        )
    return project


def _locked_project(project_id: int) -> Project:
    return locked_row(
        Project.objects.select_related("group"),
        missing=NotFound(_("no such project"), field="projectId"),
        id=project_id,
    )


def shared_project(project_id: int) -> Project:
    """The project, locked ``FOR SHARE`` (inside a transaction): applying and
    recording hold it so that :func:`cancel_project` cannot pass them unseen."""
    project = next(
        iter(
            Project.objects.raw(
                "SELECT * FROM projects_project WHERE id = %s FOR SHARE", [project_id]
            )
        ),
        None,
    )
    if project is None:
        raise NotFound(_("no such project"), field="projectId")
    return project


def require_not_cancelled(project_id: int) -> None:
    """Inside the transaction that writes a record or a check-in at the project: hold
    it ``FOR SHARE`` and refuse if it was cancelled meanwhile (:func:`cancel_project`
    locks it ``FOR UPDATE`` and counts records and check-ins)."""
    project = shared_project(project_id)
    if project.status == ProjectStatus.CANCELLED:
        raise Conflict(_("the project was cancelled"), field="projectId")


def submit_project(*, project_id: int, principal: Principal, policy: RegionPolicy) -> Project:
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


def review_project(
    *, project_id: int, approve: bool, reason: str, principal: Principal, policy: RegionPolicy
) -> Project:
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


def apply(*, project_id: int, principal: Principal) -> ProjectApplication:
    principal = accounts.require(principal)
    volunteer = principal.volunteer
    if volunteer is None:
        raise PermissionDenied(_("only a volunteer's own account applies"))
    if volunteer.status not in (VolunteerStatus.ACTIVE, VolunteerStatus.WARNED):
        raise Conflict(
            _("%(number)s is %(status)s")
            % {"number": volunteer.number, "status": shown(volunteer, "status")}
        )
    try:
        with transaction.atomic():
            # FOR SHARE: a cancellation (FOR UPDATE) either sees this application or
            # has committed before it, and then the project is no longer open.
            project = shared_project(project_id)
            if phase(project) not in ("published", "ongoing"):
                raise Conflict(
                    _("the project is %(phase)s: applications are closed")
                    % {"phase": phase(project)},
                    field="projectId",
                )
            application = ProjectApplication.objects.create(project=project, volunteer=volunteer)
            record(principal.actor, "project.applied", str(application.id), project=project.id)
    except IntegrityError:
        raise Conflict(_("you already applied to this project"), field="projectId") from None
    return application


def decide_application(
    *, application_id: int, accept: bool, principal: Principal
) -> ProjectApplication:
    """Accept or decline; accepting locks the project so the quota cannot be exceeded."""
    principal = accounts.require(principal)
    with transaction.atomic():
        application = (
            ProjectApplication.objects.select_related("project__group")
            .filter(id=application_id)
            .first()
        )
        # Whoever is not staff of the project's group is refused as for an id with no
        # application behind it (audit round 3): which ids are applications, and to
        # which project, is not theirs to learn.
        if application is None or application.project.group_id not in principal.own_group_ids:
            raise PermissionDenied(_("you may not decide this application"))
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


def withdraw_application(*, application_id: int, principal: Principal) -> ProjectApplication:
    """A volunteer withdraws their own application (取消报名): while it is pending, or
    accepted before the project starts. Under the same project row lock as
    acceptance, so the place it held is free for the next acceptance at once."""
    principal = accounts.require(principal)
    volunteer = principal.volunteer
    with transaction.atomic():
        application = ProjectApplication.objects.filter(id=application_id).first()
        if volunteer is None:
            raise PermissionDenied(_("only the applicant withdraws an application"))
        # Someone else's application is not theirs to know of (audit round 3).
        if application is None or application.volunteer_id != volunteer.id:
            raise NotFound(_("no such application"), field="applicationId")
        project = _locked_project(application.project_id)  # as decide_application
        application = ProjectApplication.objects.select_for_update().get(id=application_id)
        if application.status == ApplicationStatus.ACCEPTED:
            if timezone.localdate() >= project.starts_on:
                raise Conflict(
                    _("the project has started: an accepted place is no longer withdrawn"),
                    field="applicationId",
                )
        elif application.status != ApplicationStatus.APPLIED:
            raise Conflict(
                _("the application is %(status)s") % {"status": shown(application, "status")},
                field="applicationId",
            )
        application.status = ApplicationStatus.WITHDRAWN
        application.decided_at = timezone.now()
        application.decided_by = principal.actor
        application.save(update_fields=["status", "decided_at", "decided_by"])
        record(principal.actor, "project.application_withdrawn", str(application.id))
    return application
