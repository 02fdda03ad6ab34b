"""Work queues (待办): what waits for the caller's decision, read by one selector each.

Each queue lists exactly what the caller may decide: its condition is the
permission rule of the deciding service, as SQL, written beside that rule in the
domain's ``permissions.py`` (``application_decider_q`` beside
``require_application_decider``, …), so that whoever a queue shows an item to may
decide it and nobody else sees it. Authorities see their own area only (the rule's
``covers``). Every queue is oldest first (by id), filtered in the same SQL; a
caller who decides nothing gets an empty queue.

- applications to join a group (``decideMembership``: its admins holding
  本团体内志愿者管理, 002 annex);
- projects waiting for review before publication (002 §3(3); ``reviewProject``);
- project applications waiting for the group (``decideProjectApplication``);
- self-declared hours (本人申报) waiting for the group's recorders (000 Art.9:
  志愿团体应当及时…核实并录入服务时长; ``decideDeclaration``);
- objections raised during publicity (001 §4(4)3 公示…接受社会监督;
  ``resolveObjection``);
- records waiting for civil affairs' confirmation where the policy asks for it
  (001 §4(4)3 经民政部门确认无误; ``confirmRecord``);
- correction requests (记录更正), due within the policy's ``correctionDeadlineDays``
  (``overdue`` past ``due_on``; ``declineCorrection`` and the amending answers);
- star applications (星级认定, 001 §6, 003 Art.26; ``decideStarApplication``);
- groups waiting for review (002 §3(3); ``reviewGroup``);
- transfer requests waiting for the volunteer's consent (000 Art.15–16
  转移接续, 经志愿者本人同意; ``consentTransfer``, ``rejectTransfer``).

And what the caller waits for: their own applications, declarations, correction
requests, star applications and objections, with the time of the decision
(``own_*``; oldest first like the queues, ``last`` reads the newest).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import models
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from central.errors import InvalidInput
from central.policy import RegionPolicy
from interop.models import Transfer, TransferState
from interop.permissions import transfer_decider_q
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.groups.models import Membership, MembershipStatus, Review, VolunteerGroup
from tenants.groups.permissions import group_reviewer_q, member_manager_group_ids
from tenants.projects.models import ApplicationStatus, Project, ProjectApplication, ProjectStatus
from tenants.projects.permissions import application_decider_q, project_reviewer_q
from tenants.records.models import (
    CorrectionRequest,
    Objection,
    RecordMode,
    RecordState,
    ServiceRecord,
    StarApplication,
)
from tenants.records.permissions import (
    confirmer_q,
    correction_handler_q,
    objection_resolver_q,
    recording_group_ids,
    star_granter_q,
)


@dataclass(frozen=True)
class QueueFilter:
    """What an operator narrows a queue by; each queue takes some of these."""

    project_id: int | None = None
    group_id: int | None = None
    since: datetime.date | None = None  # arrived on or after
    until: datetime.date | None = None  # arrived on or before
    overdue: bool | None = None  # correction requests only
    level: int | None = None  # star applications only


@dataclass(frozen=True)
class Queue:
    """One queue: its rows, the pending state shown by default, where each filter
    applies (a Django lookup path; a filter a queue lacks is refused)."""

    name: str
    model: type[models.Model]
    status_field: str
    pending: str
    arrived: str  # the timestamp the queue is ordered and filtered by
    lookups: dict[str, str]

    def rows(
        self,
        principal: Principal | None,
        policy: RegionPolicy,
        status: str | None,
        filter: QueueFilter,
    ) -> QuerySet:
        """The items ``principal`` decides, in ``status`` (default: pending), filtered."""
        principal = accounts.require(principal)
        queryset = self.model._default_manager.filter(_DECIDERS[self.name](principal, policy))
        queryset = queryset.filter(**{self.status_field: status or self.pending})
        queryset = queryset.filter(**self._conditions(filter))
        return _SHAPES[self.name](queryset).order_by("id")

    def _conditions(self, filter: QueueFilter) -> dict:
        conditions = {}
        for name in ("project_id", "group_id", "level"):
            value = getattr(filter, name)
            if value is None:
                continue
            if name not in self.lookups:
                raise InvalidInput(_("this queue is not filtered by that"), field=_camel(name))
            conditions[self.lookups[name]] = value
        if filter.since is not None:
            conditions[f"{self.arrived}__date__gte"] = filter.since
        if filter.until is not None:
            conditions[f"{self.arrived}__date__lte"] = filter.until
        if filter.overdue is not None:
            if "overdue" not in self.lookups:
                raise InvalidInput(_("this queue is not filtered by that"), field="overdue")
            today = timezone.localdate()
            key = "due_on__lt" if filter.overdue else "due_on__gte"
            conditions[key] = today
        return conditions


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _records_with_amendments():
    # A record's current values need its amendments: loaded for the amended ones only.
    return ServiceRecord.objects.with_few("amendments")


def _declarations_q(principal: Principal, policy: RegionPolicy) -> Q:
    """Self-declared records whose group ``principal`` records for (``require_recorder``,
    the rule of ``decideDeclaration``)."""
    groups = recording_group_ids(principal, policy)
    return Q(mode=RecordMode.SELF_DECLARED, project__group_id__in=groups)


def _transfers_q(principal: Principal, policy: RegionPolicy) -> Q:
    # Expired requests are answered by nobody (consent and refusal turn them EXPIRED).
    return transfer_decider_q(principal) & (
        ~Q(state=TransferState.REQUESTED) | Q(expires_at__gt=timezone.now())
    )


_DECIDERS = {
    "membershipApplications": lambda principal, policy: Q(
        group_id__in=member_manager_group_ids(principal, policy)
    ),
    "projectReviews": lambda principal, policy: project_reviewer_q(principal),
    "recordConfirmations": lambda principal, policy: confirmer_q(principal),
    "projectApplications": lambda principal, policy: application_decider_q(principal),
    "declarations": _declarations_q,
    "objections": lambda principal, policy: objection_resolver_q(principal),
    "correctionRequests": lambda principal, policy: correction_handler_q(principal),
    "starApplications": lambda principal, policy: star_granter_q(principal),
    "groupReviews": group_reviewer_q,
    "transferRequests": _transfers_q,
}

# What each queue's items show, joined or prefetched with the page (a constant number
# of statements whatever the page size).
_SHAPES = {
    "membershipApplications": lambda qs: qs.select_related("volunteer", "group"),
    "projectReviews": lambda qs: qs.select_related("group"),
    "recordConfirmations": lambda qs: qs.select_related("volunteer", "project__group").with_few(
        "amendments"
    ),
    "projectApplications": lambda qs: qs.select_related("project__group", "volunteer"),
    "declarations": lambda qs: qs.select_related("volunteer", "project__group").with_few(
        "amendments"
    ),
    "objections": lambda qs: qs.prefetch_related(
        Prefetch(
            "record",
            queryset=_records_with_amendments().select_related("volunteer", "project__group"),
        )
    ),
    "correctionRequests": lambda qs: qs.select_related("volunteer", "group").prefetch_related(
        Prefetch("record", queryset=_records_with_amendments())
    ),
    "starApplications": lambda qs: qs.select_related("volunteer", "group"),
    "groupReviews": lambda qs: qs.select_related("liaison_group"),
    "transferRequests": lambda qs: qs.select_related("volunteer", "batch"),
}

QUEUES = {
    queue.name: queue
    for queue in (
        Queue(
            "membershipApplications",
            Membership,
            "status",
            MembershipStatus.APPLIED,
            "applied_at",
            {"group_id": "group_id"},
        ),
        Queue(
            "projectReviews",
            Project,
            "status",
            ProjectStatus.PENDING_REVIEW,
            "created_at",
            {"group_id": "group_id"},
        ),
        Queue(
            "projectApplications",
            ProjectApplication,
            "status",
            ApplicationStatus.APPLIED,
            "applied_at",
            {"project_id": "project_id", "group_id": "project__group_id"},
        ),
        Queue(
            "declarations",
            ServiceRecord,
            "state",
            RecordState.DECLARED,
            "created_at",
            {"project_id": "project_id", "group_id": "project__group_id"},
        ),
        Queue(
            "objections",
            Objection,
            "resolution",
            Objection.Resolution.OPEN,
            "raised_at",
            {"project_id": "record__project_id", "group_id": "record__group_id"},
        ),
        Queue(
            "recordConfirmations",
            ServiceRecord,
            "state",
            RecordState.AWAITING_CONFIRMATION,
            "created_at",
            {"project_id": "project_id", "group_id": "project__group_id"},
        ),
        Queue(
            "correctionRequests",
            CorrectionRequest,
            "status",
            CorrectionRequest.Status.OPEN,
            "created_at",
            {"group_id": "group_id", "project_id": "record__project_id", "overdue": "due_on"},
        ),
        Queue(
            "starApplications",
            StarApplication,
            "status",
            StarApplication.Status.APPLIED,
            "applied_at",
            {"group_id": "group_id", "level": "level"},
        ),
        Queue(
            "groupReviews",
            VolunteerGroup,
            "review",
            Review.PENDING,
            "created_at",
            {"group_id": "liaison_group_id"},
        ),
        Queue(
            "transferRequests",
            Transfer,
            "state",
            TransferState.REQUESTED,
            "requested_at",
            {},
        ),
    )
}


def task_counts(principal: Principal | None, policy: RegionPolicy) -> dict[str, int]:
    """``myTasks``: how many pending items wait in each of the caller's queues — the
    same selectors as the lists, so a count equals its list's length."""
    principal = accounts.require(principal)
    empty = QueueFilter()
    return {
        name: queue.rows(principal, policy, None, empty).order_by().count()
        for name, queue in QUEUES.items()
    }


# ---- what the caller waits for -----------------------------------------------------


def _own_volunteer(principal: Principal):
    principal = accounts.require(principal)
    return principal.volunteer


def own_project_applications(principal: Principal) -> QuerySet[ProjectApplication]:
    """The caller's own applications to projects (a volunteer's account; else none)."""
    volunteer = _own_volunteer(principal)
    if volunteer is None:
        return ProjectApplication.objects.none()
    return ProjectApplication.objects.filter(volunteer=volunteer).select_related(
        "project__group", "volunteer"
    )


def own_declarations(principal: Principal) -> QuerySet[ServiceRecord]:
    """The hours the caller declared (本人申报), decided or not."""
    volunteer = _own_volunteer(principal)
    if volunteer is None:
        return ServiceRecord.objects.none()
    return (
        ServiceRecord.objects.filter(volunteer=volunteer, mode=RecordMode.SELF_DECLARED)
        .select_related("volunteer", "project__group")
        .with_few("amendments")
    )


def own_correction_requests(principal: Principal) -> QuerySet[CorrectionRequest]:
    volunteer = _own_volunteer(principal)
    if volunteer is None:
        return CorrectionRequest.objects.none()
    return _SHAPES["correctionRequests"](CorrectionRequest.objects.filter(volunteer=volunteer))


def own_star_applications(principal: Principal) -> QuerySet[StarApplication]:
    volunteer = _own_volunteer(principal)
    if volunteer is None:
        return StarApplication.objects.none()
    return _SHAPES["starApplications"](StarApplication.objects.filter(volunteer=volunteer))


def own_objections(principal: Principal) -> QuerySet[Objection]:
    """The objections the caller's account raised (any account may object, 001 §4(4)3):
    ``raised_by`` is the account's actor, ``account:<id>:<username>``."""
    principal = accounts.require(principal)
    if principal.account is None:  # an operator at the command line raises none
        return _SHAPES["objections"](Objection.objects.none())
    return _SHAPES["objections"](
        Objection.objects.filter(raised_by__startswith=f"account:{principal.account.id}:")
    )
