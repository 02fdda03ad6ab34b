"""Work queues and what the caller waits for, on ``me`` (issue 12).

``me { workQueues { … } }`` lists what waits for the caller's decision, one
connection per queue (``tenants/queues.py`` decides what is in each); ``me { tasks }``
counts them; ``me { projectApplications declarations correctionRequests
starApplications objections }`` are the caller's own, each with its state and the
time of the decision. Resolvers parse, call the selector and shape the page.
"""

from __future__ import annotations

import datetime
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

import strawberry
from strawberry.types import Info

from central.errors import ServiceError
from schema.node import Node
from schema.region.auth import guarded, parse_id, policy_of, principal_of
from schema.region.fields import choices_enum, model_field, model_id
from schema.region.groups.types import GroupReview, Membership, MembershipStatus, VolunteerGroup
from schema.region.interop.types import TransferState, TransferType
from schema.region.pagination import PageInfo, encode_cursor, keyset_rows, paged, window
from schema.region.projects.types import (
    ApplicationStatus,
    Project,
    ProjectApplication,
    ProjectStatus,
)
from schema.region.records.filters import RecordState
from schema.region.records.requests import (
    CorrectionRequest,
    CorrectionRequestStatus,
    StarApplication,
    StarApplicationStatus,
)
from schema.region.records.types import ServiceRecord
from schema.region.volunteers.applicant import Applicant
from tenants import queues
from tenants.records import models as record_models
from tenants.records.models import Objection as ObjectionModel
from tenants.records.permissions import may_see_record, require_objection_resolver

# To mypy each enum is the choices class it is made from: the same members
# (named by the upper-cased value) and values.
if TYPE_CHECKING:
    ObjectionResolution = ObjectionModel.Resolution
else:
    ObjectionResolution = choices_enum(
        "ObjectionResolution", ObjectionModel.Resolution, "异议处理结果 (001 §4(4)3)"
    )

T = TypeVar("T")


@strawberry.type(description="An item of a work queue, with its cursor.")
class QueueEdge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(
    description="A page of a work queue, oldest first (keyset cursors, at most 100 a page)."
)
class QueueConnection(Generic[T]):
    edges: list[QueueEdge[T]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], int]]

    @strawberry.field(description="Items matching the filter (one COUNT query).")
    def total_count(self) -> int:
        return self._count()


def _applicant(volunteer) -> Applicant:
    # Who an item is about: number, name, gender, age band, verification — never the
    # ID number, phone or birth date (those are revealed, logged, elsewhere).
    return Applicant(_model=volunteer, _shared=frozenset())


@strawberry.type(
    description="Hours a volunteer declared (本人申报), which count only once the group "
    "accepts them (000 Art.9)."
)
class Declaration:
    _model: strawberry.Private[record_models.ServiceRecord]

    state: RecordState = model_field("state", RecordState)
    declared_at: datetime.datetime = model_field("created_at")
    decided_at: datetime.datetime | None = model_field(
        "decided_at", description="When the group accepted or rejected it; null while it waits."
    )
    reason: str = model_field("state_reason", description="Why it was rejected.")

    @strawberry.field
    def record(self) -> ServiceRecord:
        return ServiceRecord(_model=self._model)

    @strawberry.field(description="Who declared it (number, name; never personal information).")
    def volunteer(self) -> Applicant:
        return _applicant(self._model.volunteer)


@strawberry.type(description="An objection raised during publicity (公示期异议, 001 §4(4)3).")
class Objection(Node):
    _model: strawberry.Private[record_models.Objection]

    id: strawberry.ID = model_id("Objection")
    reason: str = model_field("reason")
    raised_at: datetime.datetime = model_field("raised_at")
    resolution: ObjectionResolution = model_field("resolution", ObjectionResolution)
    resolution_reason: str = model_field("resolution_reason")
    decided_at: datetime.datetime | None = model_field(
        "resolved_at", description="When it was upheld or dismissed; null while open."
    )

    @strawberry.field(
        description="The record objected to, as it stands now: to whoever may see it "
        "(its group's staff, the authority, the volunteer); null for the objector, who "
        "saw the publicity notice (000 Art.15)."
    )
    def record(self, info: Info) -> ServiceRecord | None:
        record = self._model.record
        if not may_see_record(record, principal_of(info), policy_of(info)):
            return None
        return ServiceRecord(_model=record)

    @strawberry.field(
        description="Whose record it is (number, name): to those who resolve it only."
    )
    def volunteer(self, info: Info) -> Applicant | None:
        record = self._model.record
        try:
            require_objection_resolver(record, principal_of(info))
        except ServiceError:
            return None
        return _applicant(record.volunteer)


@strawberry.type(
    description="A record waiting for civil affairs' confirmation (001 §4(4)3 经民政部门确认)."
)
class RecordToConfirm:
    _model: strawberry.Private[record_models.ServiceRecord]

    state: RecordState = model_field("state", RecordState)
    recorded_at: datetime.datetime = model_field("created_at")
    publicity_ends_on: datetime.date | None = model_field("publicity_ends_on")

    @strawberry.field
    def record(self) -> ServiceRecord:
        return ServiceRecord(_model=self._model)

    @strawberry.field(description="Whose record it is (number, name; never personal information).")
    def volunteer(self) -> Applicant:
        return _applicant(self._model.volunteer)


def _connection(node_type, name: str):
    """The connection type of a queue of ``node_type`` (a concrete class: ``me`` names
    it lazily)."""
    return strawberry.type(name=name)(types.new_class(name, (QueueConnection[node_type],)))


# To mypy each connection is the generic class it is made from.
if TYPE_CHECKING:
    MembershipConnection = QueueConnection[Membership]
    ProjectConnection = QueueConnection[Project]
    RecordToConfirmConnection = QueueConnection[RecordToConfirm]
    ProjectApplicationConnection = QueueConnection[ProjectApplication]
    DeclarationConnection = QueueConnection[Declaration]
    ObjectionConnection = QueueConnection[Objection]
    CorrectionRequestConnection = QueueConnection[CorrectionRequest]
    StarApplicationConnection = QueueConnection[StarApplication]
    GroupReviewConnection = QueueConnection[VolunteerGroup]
    TransferRequestConnection = QueueConnection[TransferType]
else:
    MembershipConnection = _connection(Membership, "MembershipQueueConnection")
    ProjectConnection = _connection(Project, "ProjectQueueConnection")
    RecordToConfirmConnection = _connection(RecordToConfirm, "RecordToConfirmQueueConnection")
    ProjectApplicationConnection = _connection(
        ProjectApplication, "ProjectApplicationQueueConnection"
    )
    DeclarationConnection = _connection(Declaration, "DeclarationQueueConnection")
    ObjectionConnection = _connection(Objection, "ObjectionQueueConnection")
    CorrectionRequestConnection = _connection(CorrectionRequest, "CorrectionRequestQueueConnection")
    StarApplicationConnection = _connection(StarApplication, "StarApplicationQueueConnection")
    GroupReviewConnection = _connection(VolunteerGroup, "VolunteerGroupQueueConnection")
    TransferRequestConnection = _connection(TransferType, "TransferQueueConnection")
CONNECTIONS = {
    Membership: MembershipConnection,
    Project: ProjectConnection,
    RecordToConfirm: RecordToConfirmConnection,
    ProjectApplication: ProjectApplicationConnection,
    Declaration: DeclarationConnection,
    Objection: ObjectionConnection,
    CorrectionRequest: CorrectionRequestConnection,
    StarApplication: StarApplicationConnection,
    VolunteerGroup: GroupReviewConnection,
    TransferType: TransferRequestConnection,
}


@strawberry.input(
    description="Narrow a work queue; every condition given must hold. A filter a queue "
    "does not take is INVALID (projectId: applications, declarations, objections, "
    "corrections; groupId: all but transfers (groupReviews: the liaison group); overdue: "
    "corrections; level: star applications)."
)
class QueueFilter:
    project_id: strawberry.ID | None = None
    group_id: strawberry.ID | None = None
    since: datetime.date | None = strawberry.field(
        default=None, description="Arrived on or after this day."
    )
    until: datetime.date | None = strawberry.field(
        default=None, description="Arrived on or before this day."
    )
    overdue: bool | None = strawberry.field(
        default=None, description="Correction requests past (true) or within (false) dueOn."
    )
    level: int | None = strawberry.field(default=None, description="Star level (1–5).")


def _filter(raw: QueueFilter | None) -> queues.QueueFilter:
    if raw is None:
        return queues.QueueFilter()
    return queues.QueueFilter(
        project_id=guarded(parse_id, raw.project_id, "Project", "projectId")
        if raw.project_id
        else None,
        group_id=guarded(parse_id, raw.group_id, "VolunteerGroup", "groupId")
        if raw.group_id
        else None,
        since=raw.since,
        until=raw.until,
        overdue=raw.overdue,
        level=raw.level,
    )


def _page(queryset, kind: str, node_type, first, after, last, before):
    """A keyset page of ``queryset`` (ascending ids) as a connection of ``node_type``."""
    page = window(kind, first, after, last, before, default=20)
    rows = keyset_rows(queryset, "id", page)

    def cursor(row) -> str:
        return encode_cursor(kind, row.id)

    rows, page_info = paged(rows, page, key=lambda row: row.id, cursor=cursor)
    return CONNECTIONS[node_type](
        edges=[QueueEdge(cursor=cursor(row), node=node_type(_model=row)) for row in rows],
        page_info=page_info,
        _count=queryset.order_by().count,
    )


def _queue(info: Info, name: str, status, filter, node_type, first, after, last, before):
    """A page of the queue ``name``: what the caller decides, in ``status`` (default:
    pending), filtered."""
    rows = guarded(
        queues.QUEUES[name].rows,
        principal_of(info),
        policy_of(info),
        _stored(status),
        _filter(filter),
    )
    return _page(rows, _KINDS[name], node_type, first, after, last, before)


def _stored(status) -> str | None:
    """The stored state a ``status`` argument stands for: a published project shows as
    ONGOING or ENDED (``projects.phase``), both stored as published."""
    if status is None:
        return None
    if status in (ProjectStatus.ONGOING, ProjectStatus.ENDED):
        return ProjectStatus.PUBLISHED.value
    return status.value


# One cursor kind per queue: a cursor of one list is refused by another.
_KINDS = {
    "membershipApplications": "qm",
    "projectReviews": "qp",
    "recordConfirmations": "qr",
    "projectApplications": "qa",
    "declarations": "qd",
    "objections": "qo",
    "correctionRequests": "qc",
    "starApplications": "qs",
    "groupReviews": "qg",
    "transferRequests": "qt",
}


@strawberry.type(
    description="What waits for the caller's decision (待办), one queue per kind of "
    "decision, each holding exactly what the caller may decide, in their area; oldest "
    "first. `status` shows decided items instead of the pending ones."
)
class WorkQueues:
    @strawberry.field(
        description="Applications to join the groups whose admins the caller is, where the "
        "group holds 本团体内志愿者管理 (decideMembership); `applicant` shows what was shared."
    )
    def membership_applications(
        self,
        info: Info,
        filter: QueueFilter | None = None,
        status: MembershipStatus | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> MembershipConnection:
        return _queue(
            info, "membershipApplications", status, filter, Membership, first, after, last, before
        )

    @strawberry.field(
        description="Projects waiting for review before publication: the liaison group's "
        "admins and the authority of the group's area (reviewProject; 002 §3(3)). "
        "`status: ONGOING` or `ENDED` shows every published one."
    )
    def project_reviews(
        self,
        info: Info,
        filter: QueueFilter | None = None,
        status: ProjectStatus | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ProjectConnection:
        return _queue(info, "projectReviews", status, filter, Project, first, after, last, before)

    @strawberry.field(
        description="Records past publicity waiting for civil affairs' confirmation where "
        "the policy asks for it: the authority of the record's area (confirmRecord; 001 "
        "§4(4)3)."
    )
    def record_confirmations(
        self,
        info: Info,
        filter: QueueFilter | None = None,
        status: RecordState | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> RecordToConfirmConnection:
        return _queue(
            info, "recordConfirmations", status, filter, RecordToConfirm, first, after, last, before
        )

    @strawberry.field(
        description="Applications to the projects of the groups the caller is staff of "
        "(decideProjectApplication)."
    )
    def project_applications(
        self,
        info: Info,
        filter: QueueFilter | None = None,
        status: ApplicationStatus | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ProjectApplicationConnection:
        return _queue(
            info,
            "projectApplications",
            status,
            filter,
            ProjectApplication,
            first,
            after,
            last,
            before,
        )

    @strawberry.field(
        description="Self-declared hours (本人申报) of the groups the caller records for, "
        "certified where the policy says (decideDeclaration; 000 Art.9)."
    )
    def declarations(
        self,
        info: Info,
        filter: QueueFilter | None = None,
        status: RecordState | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> DeclarationConnection:
        return _queue(info, "declarations", status, filter, Declaration, first, after, last, before)

    @strawberry.field(
        description="Objections to records in publicity: the recording group's admins and "
        "the authority of the record's area (resolveObjection; 001 §4(4)3)."
    )
    def objections(
        self,
        info: Info,
        filter: QueueFilter | None = None,
        status: ObjectionResolution | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ObjectionConnection:
        return _queue(info, "objections", status, filter, Objection, first, after, last, before)

    @strawberry.field(
        description="Correction requests (记录更正) to the groups the caller is staff of, "
        "or in the caller's area as the authority; `overdue` past dueOn."
    )
    def correction_requests(
        self,
        info: Info,
        filter: QueueFilter | None = None,
        status: CorrectionRequestStatus | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> CorrectionRequestConnection:
        return _queue(
            info,
            "correctionRequests",
            status,
            filter,
            CorrectionRequest,
            first,
            after,
            last,
            before,
        )

    @strawberry.field(
        description="Star applications (星级认定) the caller grants: the group's admins, or "
        "the authority of the policy's level for the volunteer's area (001 §6)."
    )
    def star_applications(
        self,
        info: Info,
        filter: QueueFilter | None = None,
        status: StarApplicationStatus | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> StarApplicationConnection:
        return _queue(
            info,
            "starApplications",
            status,
            filter,
            StarApplication,
            first,
            after,
            last,
            before,
        )

    @strawberry.field(
        description="Groups waiting for review: by the liaison's admins holding "
        "对下级团体快审, the authority of their division, a legal person's registration "
        "authority (reviewGroup; 002 §3(3))."
    )
    def group_reviews(
        self,
        info: Info,
        filter: QueueFilter | None = None,
        status: GroupReview | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> GroupReviewConnection:
        return _queue(
            info, "groupReviews", status, filter, VolunteerGroup, first, after, last, before
        )

    @strawberry.field(
        description="Transfer requests waiting for consent (转移接续, 000 Art.15–16): the "
        "volunteer's own (consentTransfer) and, for the authority of their area, those it "
        "may refuse (rejectTransfer). Expired ones are left out."
    )
    def transfer_requests(
        self,
        info: Info,
        filter: QueueFilter | None = None,
        status: TransferState | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> TransferRequestConnection:
        return _queue(
            info, "transferRequests", status, filter, TransferType, first, after, last, before
        )


@strawberry.type(description="How many items wait in each of the caller's work queues.")
class TaskCounts:
    membership_applications: int
    project_reviews: int
    record_confirmations: int
    project_applications: int
    declarations: int
    objections: int
    correction_requests: int
    star_applications: int
    group_reviews: int
    transfer_requests: int

    @strawberry.field(description="All of them.")
    def total(self) -> int:
        return sum(
            (
                self.membership_applications,
                self.project_reviews,
                self.record_confirmations,
                self.project_applications,
                self.declarations,
                self.objections,
                self.correction_requests,
                self.star_applications,
                self.group_reviews,
                self.transfer_requests,
            )
        )


def task_counts(info: Info) -> TaskCounts:
    counts = guarded(queues.task_counts, principal_of(info), policy_of(info))
    return TaskCounts(
        membership_applications=counts["membershipApplications"],
        project_reviews=counts["projectReviews"],
        record_confirmations=counts["recordConfirmations"],
        project_applications=counts["projectApplications"],
        declarations=counts["declarations"],
        objections=counts["objections"],
        correction_requests=counts["correctionRequests"],
        star_applications=counts["starApplications"],
        group_reviews=counts["groupReviews"],
        transfer_requests=counts["transferRequests"],
    )


def own(info: Info, selector, kind: str, node_type, first, after, last, before):
    """A page of what the caller is waiting for (``tenants.queues.own_*``)."""
    rows = guarded(selector, principal_of(info))
    return _page(rows, kind, node_type, first, after, last, before)
