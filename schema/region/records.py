"""The records part of a region's API: projects, time recording, the record
lifecycle, amendments, corrections and stars."""

from __future__ import annotations

import datetime
import enum
import operator
from decimal import Decimal
from typing import Annotated

import strawberry
from django.utils.translation import gettext as _
from strawberry.types import Info

from central.errors import InvalidInput, PermissionDenied, Unauthenticated
from central.policy import Granter
from schema.errors import AccessError, Payload, QueryError, mutation_payload
from schema.identity import global_id
from schema.node import Node
from schema.region.auth import caller, guarded, local_id, parse_id, policy_of, principal_of
from schema.region.fields import model_field, model_id, reads
from schema.region.prefetch import optimized, read_window
from schema.region.types import (
    LIST_FIRST,
    Applicant,
    PageInfo,
    Volunteer,
    VolunteerGroup,
    Window,
    choices_enum,
    encode_cursor,
    keyset_rows,
    list_page,
    paged,
    window,
)
from tenants.accounts import services as accounts
from tenants.projects import models as project_models
from tenants.projects import selectors as project_selectors
from tenants.projects import services as projects
from tenants.records import cards, corrections, stars
from tenants.records import models as record_models
from tenants.records import permissions as record_permissions
from tenants.records import selectors as record_selectors
from tenants.records import services as records
from tenants.related import prefetched, to_attr
from tenants.volunteers.pii import mask_name

ProjectCategory = choices_enum("ProjectCategory", project_models.Category, "服务领域 (001 §4(3))")
ApplicationStatus = choices_enum(
    "ProjectApplicationStatus", project_models.ApplicationStatus, "报名状态"
)
RecordState = choices_enum("RecordState", record_models.RecordState, "记录状态")
RecordMode = choices_enum("RecordMode", record_models.RecordMode, "记录方式")
StarApplicationStatus = choices_enum(
    "StarApplicationStatus", record_models.StarApplication.Status, "星级申请状态"
)
CorrectionRequestStatus = choices_enum(
    "CorrectionRequestStatus", record_models.CorrectionRequest.Status, "更正申请状态"
)


@strawberry.enum(
    description="项目状态: a published project is ONGOING from its first day, ENDED after its last."
)
class ProjectStatus(enum.Enum):
    # The phases users see (projects.phase), not only the stored status.
    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    PUBLISHED = "published"
    ONGOING = "ongoing"
    ENDED = "ended"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


@strawberry.type(description="An amendment: the new values of a record, why, who, when.")
class Amendment:
    _model: strawberry.Private[object]

    hours: Decimal | None = model_field("hours")
    start_time: datetime.time | None = model_field("start_time")
    end_time: datetime.time | None = model_field("end_time")
    content: str = model_field("content")
    reason: str = model_field("reason")
    amended_by: str = model_field("amended_by")
    amended_at: datetime.datetime = model_field("amended_at")


@strawberry.type(description="A project (志愿服务项目).")
class Project(Node):
    _model: strawberry.Private[object]

    id: strawberry.ID = model_id("Project")
    name: str = model_field("name")
    category: ProjectCategory = model_field("category", ProjectCategory)
    service_targets: str = model_field("service_targets")
    place: str = model_field("place")
    starts_on: datetime.date = model_field("starts_on")
    ends_on: datetime.date = model_field("ends_on")
    quota: int = model_field("quota")
    risk_notice: str = model_field("risk_notice", description="风险告知 (003 Art.9)")
    insured: bool = model_field("insured", description="人身意外伤害保险 (003 Art.18)")

    @strawberry.field
    def status(self) -> ProjectStatus:
        return ProjectStatus(projects.phase(self._model))

    review_reason: str = model_field("review_reason")
    cancellation_reason: str = model_field(
        "cancellation_reason", description="取消原因: why the project was cancelled."
    )
    cancelled_at: datetime.datetime | None = model_field("cancelled_at")

    @strawberry.field(
        description="The project's records, oldest first, `first` at a time (at most 100); "
        "`after` the last one's id for the next. Group staff and the authority only."
    )
    def records(
        self, info: Info, first: int = LIST_FIRST, after: strawberry.ID | None = None
    ) -> list[ServiceRecord] | None:
        from schema.region.types import may_see_members

        if not may_see_members(self._model.group_id, info):
            raise AccessError(PermissionDenied(_("only the group's staff see its project records")))
        rows = list_page(self._model, "Project", "records", first, after, info)
        return [ServiceRecord(_model=r) for r in rows]


@strawberry.type(description="A service record (志愿服务记录): current values, amendments applied.")
class ServiceRecord(Node):
    _model: strawberry.Private[object]

    id: strawberry.ID = model_id("ServiceRecord")
    project_name: str = model_field("project_name")
    service_date: datetime.date = model_field("service_date")

    @strawberry.field(metadata=reads("start_time"))
    def start_time(self) -> datetime.time:
        return self._model.current_value("start_time")

    @strawberry.field(metadata=reads("end_time"))
    def end_time(self) -> datetime.time:
        return self._model.current_value("end_time")

    @strawberry.field(description="Current hours (amendments applied).", metadata=reads("hours"))
    def hours(self) -> Decimal:
        return self._model.current_value("hours")

    original_hours: Decimal = model_field("hours", description="Hours as first recorded.")

    @strawberry.field(metadata=reads("place"))
    def place(self) -> str:
        return self._model.current_value("place")

    @strawberry.field(metadata=reads("service_target"))
    def service_target(self) -> str:
        return self._model.current_value("service_target")

    @strawberry.field(metadata=reads("content"))
    def content(self) -> str:
        return self._model.current_value("content")

    contact: str = model_field("contact")
    punctuality: int | None = model_field("punctuality", description="守时程度 1–5")
    attitude: int | None = model_field("attitude", description="服务态度 1–5")
    professionalism: int | None = model_field("professionalism", description="专业水平 1–5")
    mode: RecordMode = model_field("mode", RecordMode)

    @strawberry.field(
        description="记录人: the name of who recorded it (a staff account's display name; "
        "the origin group for a record transferred in; 本人申报 while self-declared).",
        metadata=reads("recorder", "mode", "state", "origin_group_name"),
    )
    def recorder(self, info: Info) -> str:
        return recorder_name(self._model, info)

    state: RecordState = model_field("state", RecordState)
    state_reason: str = model_field("state_reason")
    publicity_ends_on: datetime.date | None = model_field("publicity_ends_on")
    counted_at: datetime.datetime | None = model_field("counted_at")
    decided_at: datetime.datetime | None = model_field(
        "decided_at",
        description="When the group accepted or rejected it, for self-declared hours (本人申报).",
    )
    origin_region_code: str = model_field(
        "origin_region_code", description="Region the record came from, if transferred in."
    )

    origin_group_name: str = model_field("origin_group_name")
    origin_region_name: str = model_field(
        "origin_region_name",
        description="Name of the region the record was first recorded in, if transferred in.",
    )
    origin_record_id: str = model_field(
        "origin_record_id", description="The record's id in its origin region."
    )
    origin_hours: Decimal | None = model_field(
        "origin_hours", description="Hours as first recorded in the origin region."
    )
    origin_counted_at: datetime.datetime | None = model_field(
        "origin_counted_at", description="When it counted in the region it came from."
    )
    origin_confirmed_by: str = model_field(
        "origin_confirmed_by", description="Who confirmed it there (civil affairs), if anyone."
    )

    @strawberry.field
    def amendments(self) -> list[Amendment]:
        return [Amendment(_model=a) for a in prefetched(self._model, "amendments")]


def recorder_name(record, info: Info) -> str:
    """Who recorded ``record``, by name; the actor key stays internal."""
    if record.mode == record_models.RecordMode.IMPORTED:
        # The actor is an account of the origin region, unknown here.
        return record.origin_group_name or _("recorded in another region")
    if record.state == record_models.RecordState.DECLARED:
        return _("the volunteer (self-declared, 本人申报)")
    return info.context.actor_names.name(record.recorder) or _("the platform")


@strawberry.type
class ServiceRecordEdge:
    node: ServiceRecord

    @strawberry.field
    def cursor(self) -> str:
        # Encoded when asked for: a page of 1,000 volunteers' records rarely is.
        return _record_cursor(self.node._model)


@strawberry.type
class ServiceRecordConnection:
    edges: list[ServiceRecordEdge]
    page_info: PageInfo


@strawberry.input
class RecordFilter:
    state: RecordState | None = None
    project_id: strawberry.ID | None = None
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None


def _record_conditions(filter: RecordFilter | None) -> dict[str, object]:
    """The filter as Django lookups on a record, e.g. ``{"service_date__gte": …}``."""
    if filter is None:
        return {}
    conditions: dict[str, object] = {}
    if filter.state:
        conditions["state"] = filter.state.value
    if filter.project_id:
        conditions["project_id"] = guarded(parse_id, filter.project_id, "Project", "projectId")
    if filter.date_from:
        conditions["service_date__gte"] = filter.date_from
    if filter.date_to:
        conditions["service_date__lte"] = filter.date_to
    return conditions


def record_filter_lookups(raw) -> dict[str, object] | None:
    """A ``filter`` argument as the prefetch sees it (strawberry's ``SelectedField``:
    a literal's text, or a variable's parsed values) as :func:`_record_conditions`
    lookups, so a page of volunteers reads only matching records; None when it does
    not parse (the resolver then reports the error)."""
    try:
        state, date_from, date_to = (raw.get(k) for k in ("state", "dateFrom", "dateTo"))
        return _record_conditions(
            RecordFilter(
                state=RecordState[state] if isinstance(state, str) else state,
                project_id=raw.get("projectId"),
                date_from=_date(date_from),
                date_to=_date(date_to),
            )
        )
    except (AttributeError, KeyError, TypeError, ValueError, QueryError):
        return None


def _date(value) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if isinstance(value, str) else value


def _meets(record, conditions: dict[str, object]) -> bool:
    """``record`` (in memory) satisfies the lookups of :func:`_record_conditions`."""
    for lookup, wanted in conditions.items():
        name, _unused, operator = lookup.partition("__")
        value = getattr(record, name)
        if operator and value is None:  # e.g. an imported record has no project
            return False
        if operator == "gte" and not value >= wanted:
            return False
        if operator == "lte" and not value <= wanted:
            return False
        if not operator and value != wanted:
            return False
    return True


def volunteer_records(
    volunteer, page: Window, filter: RecordFilter | None, info: Info
) -> ServiceRecordConnection:
    """A page of a volunteer's records: from the rows prefetch.py loaded for a page of
    volunteers, else by one query for just this page."""
    rows = getattr(volunteer, to_attr("records"), None)
    forward = page.after is None and page.before is None and not page.backward
    if rows is not None and filter is None and forward:
        # A page of volunteers' first records, the usual case (once per volunteer of a
        # nested page): the prefetched rows, in id order, are the page and one more
        # (what ``paged`` does for a first page, without its generic steps).
        ids = list(map(_row_id, rows))
        if ids != sorted(ids):
            rows = sorted(rows, key=_row_id)
        shown = rows[: page.size]
        page_info = PageInfo(
            has_next_page=len(rows) > page.size,
            has_previous_page=False,
            _ends=(shown[0], shown[-1]) if shown else (),
            _cursor=_record_cursor,
        )
        return ServiceRecordConnection(edges=_record_edges(shown), page_info=page_info)
    conditions = _record_conditions(filter)
    if rows is None:  # not prefetched (prefetch._page_window declined): this page only
        rows = read_window(volunteer, "Volunteer", "records", info, page, conditions)
    if conditions:
        rows = [r for r in rows if _meets(r, conditions)]
    ids = list(map(_row_id, rows))  # (in C: once per volunteer of a page)
    if ids != sorted(ids):  # prefetched in id order; else sort them
        rows = sorted(rows, key=_row_id)
    rows, page_info = paged(rows, page, key=lambda r: r.id, cursor=_record_cursor)
    return ServiceRecordConnection(edges=_record_edges(rows), page_info=page_info)


_row_id = operator.attrgetter("id")


def _record_edges(rows: list) -> list[ServiceRecordEdge]:
    """``ServiceRecordEdge(node=ServiceRecord(_model=row))`` for each row, without the
    dataclass constructors: ServiceRecord's sets ~30 attributes its resolvers never
    read (each field resolves from ``_model``), ~5 µs a record, 50 ms of a nested
    page of 10,000 records (issue 16 point 2). Only what the types read is set."""
    new = object.__new__
    edges = []
    for row in rows:
        node = new(ServiceRecord)
        node._model = row
        edge = new(ServiceRecordEdge)
        edge.node = node
        edges.append(edge)
    return edges


def _record_cursor(record) -> str:
    return encode_cursor("r", record.id)


def volunteer_total_hours(volunteer) -> Decimal:
    totals = getattr(volunteer, "totals", None) if _has_totals(volunteer) else None
    return totals.counted_hours if totals else Decimal("0")


def volunteer_star_level(volunteer) -> int:
    totals = getattr(volunteer, "totals", None) if _has_totals(volunteer) else None
    return totals.star_level if totals else 0


def _has_totals(volunteer) -> bool:
    try:
        volunteer.totals  # noqa: B018 - reverse one-to-one raises when absent
        return True
    except record_models.VolunteerTotals.DoesNotExist:
        return False


@strawberry.type(description="The volunteer's card: a signed, rotating code and its QR image.")
class VolunteerCard(Node):
    _volunteer_id: strawberry.Private[int]
    code: str
    expires_at: datetime.datetime
    qr_png_data_url: str

    @strawberry.field(description="Opaque, stable and unique across types and regions.")
    def id(self) -> strawberry.ID:
        # The volunteer's card, whatever its current code: rotateCard updates it in a cache.
        return strawberry.ID(global_id("VolunteerCard", self._volunteer_id))


def card_of(volunteer, region_code: str) -> VolunteerCard:
    """The volunteer's card as shown now (a fresh code)."""
    code, expires = cards.card_code(volunteer, region_code)
    return VolunteerCard(
        _volunteer_id=volunteer.id,
        code=code,
        expires_at=expires,
        qr_png_data_url=cards.qr_data_url(code),
    )


@strawberry.type
class StarApplication(Node):
    _model: strawberry.Private[object]

    id: strawberry.ID = model_id("StarApplication")
    level: int = model_field("level")
    granter: Granter = model_field("granter", Granter, description="Who grants it (001 §6).")
    status: StarApplicationStatus = model_field("status", StarApplicationStatus)
    reason: str = model_field("reason")
    hours_at_application: Decimal = model_field("hours_at_application")
    applied_at: datetime.datetime = model_field("applied_at")
    decided_at: datetime.datetime | None = model_field(
        "decided_at", description="When it was granted or refused; null while it waits."
    )

    @strawberry.field(description="Who applied (number, name; never personal information).")
    def volunteer(self) -> Applicant:
        return Applicant(_model=self._model.volunteer, _shared=frozenset())

    @strawberry.field(description="The group that grants it, where the policy names the group.")
    def group(self) -> VolunteerGroup | None:
        group = self._model.group
        return VolunteerGroup(_model=group) if group is not None else None


@strawberry.type
class CorrectionRequest(Node):
    _model: strawberry.Private[object]

    id: strawberry.ID = model_id("CorrectionRequest")
    status: CorrectionRequestStatus = model_field("status", CorrectionRequestStatus)
    description: str = model_field("description")
    due_on: datetime.date = model_field("due_on")

    @strawberry.field(
        description="Still open past dueOn (the policy's correctionDeadlineDays after it was "
        "asked)."
    )
    def overdue(self) -> bool:
        return corrections.is_overdue(self._model)

    decision_reason: str = model_field("decision_reason")
    created_at: datetime.datetime = model_field("created_at", description="When it was asked.")
    decided_at: datetime.datetime | None = model_field(
        "decided_at", description="When the group answered it; null while it is open."
    )

    @strawberry.field(description="Who asked (number, name; never personal information).")
    def volunteer(self) -> Applicant:
        return Applicant(_model=self._model.volunteer, _shared=frozenset())

    @strawberry.field(description="The group asked to correct its record.")
    def group(self) -> VolunteerGroup:
        return VolunteerGroup(_model=self._model.group)

    @strawberry.field(description="The record to correct; null when service is missing.")
    def record(self) -> ServiceRecord | None:
        record = self._model.record
        return ServiceRecord(_model=record) if record is not None else None


# ---- payloads and inputs -------------------------------------------------------------


@strawberry.type(
    description="A record under publicity (公示, 001 §4(4)3) as the notice shows it, to whoever "
    "may object: the volunteer's name masked, never an ID number or phone."
)
class PublicityEntry:
    _model: strawberry.Private[object]

    id: strawberry.ID = model_id(
        "ServiceRecord", description="The record's id: object to it with raiseObjection."
    )

    @strawberry.field(description="姓名, masked as public notices show it (张*, 欧**月).")
    def volunteer_name(self) -> str:
        return mask_name(self._model.volunteer.name)

    project_name: str = model_field("project_name")

    @strawberry.field
    def group_name(self) -> str:
        return self._model.group.name

    service_date: datetime.date = model_field("service_date")

    @strawberry.field
    def start_time(self) -> datetime.time:
        return self._model.current_value("start_time")

    @strawberry.field
    def end_time(self) -> datetime.time:
        return self._model.current_value("end_time")

    @strawberry.field(description="Current hours (amendments applied).")
    def hours(self) -> Decimal:
        return self._model.current_value("hours")

    state: RecordState = model_field(
        "state", RecordState, description="IN_PUBLICITY, or OBJECTED while an objection is open."
    )
    publicity_ends_on: datetime.date = model_field(
        "publicity_ends_on", description="The last day of publicity: objections until then."
    )


@strawberry.type
class PublicityEdge:
    node: PublicityEntry
    cursor: str


@strawberry.type
class PublicityConnection:
    edges: list[PublicityEdge]
    page_info: PageInfo


def _publicity_cursor(record) -> str:
    return encode_cursor("pub", record.id)


@strawberry.type(description="A volunteer's application to a project (项目报名).")
class ProjectApplication(Node):
    _model: strawberry.Private[object]

    id: strawberry.ID = model_id("ProjectApplication")
    status: ApplicationStatus = model_field(
        "status",
        ApplicationStatus,
        description="PROJECT_CANCELLED: the project was cancelled (see the project's "
        "cancellationReason); WITHDRAWN: the volunteer withdrew.",
    )
    applied_at: datetime.datetime = model_field("applied_at")
    decided_at: datetime.datetime | None = model_field(
        "decided_at",
        description="When it was accepted, declined, withdrawn or cancelled; null while it waits.",
    )

    @strawberry.field(description="The project applied to, whatever its status now.")
    def project(self) -> Project:
        return Project(_model=self._model.project)

    @strawberry.field(description="Who applied (number, name; never personal information).")
    def volunteer(self) -> Applicant:
        # Number, name, gender, age band, verification: never the ID number, phone or
        # birth date (those are revealed, logged, elsewhere).
        return Applicant(_model=self._model.volunteer, _shared=frozenset())


@strawberry.type
class ProjectPayload(Payload):
    project: Project | None = None


@strawberry.type
class ProjectApplicationPayload(Payload):
    application_id: strawberry.ID | None = None
    status: ApplicationStatus | None = None


@strawberry.type
class RecordPayload(Payload):
    record: ServiceRecord | None = None


@strawberry.type
class CheckOutPayload(Payload):
    records: list[ServiceRecord] = strawberry.field(
        default_factory=list,
        description="One record per calendar day the check-in spans (a night shift gives two).",
    )

    @strawberry.field(description="The last day's record (the only one unless overnight).")
    def record(self) -> ServiceRecord | None:
        return self.records[-1] if self.records else None


@strawberry.type
class ObjectionPayload(Payload):
    objection_id: strawberry.ID | None = None
    record: ServiceRecord | None = None


@strawberry.type
class CardPayload(Payload):
    card: VolunteerCard | None = None


@strawberry.type
class StarPayload(Payload):
    application: StarApplication | None = None


@strawberry.type
class CorrectionPayload(Payload):
    request: CorrectionRequest | None = None


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


@strawberry.input(description="One stretch of service (000 Art.8).")
class RecordInput:
    service_date: datetime.date
    start_time: datetime.time
    end_time: datetime.time
    hours: Decimal
    content: str
    place: str = ""
    service_target: str = ""
    contact: str = ""
    punctuality: int | None = None
    attitude: int | None = None
    professionalism: int | None = None


@strawberry.input(description="New values for a record; leave out what does not change.")
class AmendmentInput:
    hours: Decimal | None = None
    start_time: datetime.time | None = None
    end_time: datetime.time | None = None
    place: str | None = None
    service_target: str | None = None
    content: str | None = None


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


def _entry(data: RecordInput) -> records.RecordEntry:
    return records.RecordEntry(
        service_date=data.service_date,
        start_time=data.start_time,
        end_time=data.end_time,
        hours=data.hours,
        content=data.content,
        place=data.place,
        service_target=data.service_target,
        contact=data.contact,
        punctuality=data.punctuality,
        attitude=data.attitude,
        professionalism=data.professionalism,
    )


def _changes(data: AmendmentInput) -> dict:
    return {name: value for name, value in data.__dict__.items() if value is not None}


@strawberry.type
class RecordsQuery:
    @strawberry.field(description="One project. Public once published.")
    def project(self, info: Info, id: strawberry.ID) -> Project | None:
        key = guarded(local_id, id, "Project")
        if key is None:
            return None
        queryset = project_selectors.visible_projects(principal_of(info))
        found = optimized(queryset.filter(id=key), info, "Project").first()
        return Project(_model=found) if found else None

    @strawberry.field(
        description="Records under publicity (公示, 001 §4(4)3) at a project or a group (give "
        "one), oldest first (keyset cursors, at most 100), with their publicity end date: "
        "to whoever the policy lets object (objectionRaisers)."
    )
    def publicity(
        self,
        info: Info,
        project_id: strawberry.ID | None = None,
        group_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> PublicityConnection:
        principal = guarded(accounts.require, principal_of(info))
        if (project_id is None) == (group_id is None):
            raise QueryError(InvalidInput(_("give projectId or groupId"), field="projectId"))
        project_key = guarded(parse_id, project_id, "Project", "projectId") if project_id else None
        group_key = guarded(parse_id, group_id, "VolunteerGroup", "groupId") if group_id else None
        group = guarded(
            record_selectors.publicity_group, project_id=project_key, group_id=group_key
        )
        guarded(record_permissions.require_publicity_viewer, group, principal, policy_of(info))
        w = window("pub", first, after, last, before, default=20)
        queryset = record_selectors.in_publicity(project_id=project_key, group_id=group_key)
        page, page_info = paged(
            keyset_rows(queryset, "id", w), w, key=lambda r: r.id, cursor=_publicity_cursor
        )
        return PublicityConnection(
            edges=[
                PublicityEdge(node=PublicityEntry(_model=r), cursor=_publicity_cursor(r))
                for r in page
            ],
            page_info=page_info,
        )

    @strawberry.field(description="The logged-in volunteer's card code and QR image.")
    def my_card(self, info: Info) -> VolunteerCard:
        principal = principal_of(info)
        if principal is None:
            raise AccessError(Unauthenticated(_("log in as a volunteer to show your card")))
        if principal.volunteer is None:
            raise AccessError(PermissionDenied(_("log in as a volunteer to show your card")))
        return card_of(principal.volunteer, info.context.region.code)


@strawberry.type
class RecordsMutation:
    @strawberry.mutation(description="A group admin drafts a project.")
    @mutation_payload(ProjectPayload)
    def create_project(
        self, info: Info, group_id: strawberry.ID, input: ProjectInput
    ) -> ProjectPayload:
        principal, _unused = caller(info)
        project = projects.create_project(
            parse_id(group_id, "VolunteerGroup", "groupId"), _draft(input), principal=principal
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
            parse_id(project_id, "Project", "projectId"), _draft(input), principal=principal
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
            parse_id(project_id, "Project", "projectId"), reason, principal=principal
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
            parse_id(application_id, "ProjectApplication", "applicationId"), principal=principal
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
            parse_id(project_id, "Project", "projectId"), principal=principal, policy=policy
        )
        return ProjectPayload(project=Project(_model=project))

    @strawberry.mutation
    @mutation_payload(ProjectPayload)
    def review_project(
        self, info: Info, project_id: strawberry.ID, approve: bool, reason: str = ""
    ) -> ProjectPayload:
        principal, policy = caller(info)
        project = projects.review_project(
            parse_id(project_id, "Project", "projectId"),
            approve,
            reason,
            principal=principal,
            policy=policy,
        )
        return ProjectPayload(project=Project(_model=project))

    @strawberry.mutation(description="The logged-in volunteer applies to a project.")
    @mutation_payload(ProjectApplicationPayload)
    def apply_to_project(self, info: Info, project_id: strawberry.ID) -> ProjectApplicationPayload:
        principal, _unused = caller(info)
        application = projects.apply(
            parse_id(project_id, "Project", "projectId"), principal=principal
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
            parse_id(application_id, "ProjectApplication", "applicationId"),
            accept,
            principal=principal,
        )
        return ProjectApplicationPayload(
            application_id=strawberry.ID(global_id("ProjectApplication", application.id)),
            status=ApplicationStatus(application.status),
        )

    @strawberry.mutation(description="A recorder enters a volunteer's hours (记录员录入).")
    @mutation_payload(RecordPayload)
    def record_hours(
        self, info: Info, project_id: strawberry.ID, number: str, input: RecordInput
    ) -> RecordPayload:
        principal, policy = caller(info)
        record = records.record_hours(
            parse_id(project_id, "Project", "projectId"),
            number,
            _entry(input),
            principal=principal,
            policy=policy,
        )
        return RecordPayload(record=ServiceRecord(_model=record))

    @strawberry.mutation(
        description="A volunteer declares their own hours; the group confirms and evaluates "
        "them (000 Art.10: the input's punctuality, attitude and professionalism are refused)."
    )
    @mutation_payload(RecordPayload)
    def declare_hours(
        self, info: Info, project_id: strawberry.ID, input: RecordInput
    ) -> RecordPayload:
        principal, policy = caller(info)
        record = records.declare_hours(
            parse_id(project_id, "Project", "projectId"),
            _entry(input),
            principal=principal,
            policy=policy,
        )
        return RecordPayload(record=ServiceRecord(_model=record))

    @strawberry.mutation
    @mutation_payload(RecordPayload)
    def decide_declaration(
        self,
        info: Info,
        record_id: strawberry.ID,
        accept: bool,
        reason: str = "",
        punctuality: Annotated[
            int | None,
            strawberry.argument(description="守时程度 1–5: the group evaluates (000 Art.10)."),
        ] = None,
        attitude: Annotated[int | None, strawberry.argument(description="服务态度 1–5")] = None,
        professionalism: Annotated[
            int | None, strawberry.argument(description="专业水平 1–5")
        ] = None,
    ) -> RecordPayload:
        principal, policy = caller(info)
        record = records.decide_declaration(
            parse_id(record_id, "ServiceRecord", "recordId"),
            accept,
            reason,
            principal=principal,
            policy=policy,
            evaluation={
                "punctuality": punctuality,
                "attitude": attitude,
                "professionalism": professionalism,
            },
        )
        return RecordPayload(record=ServiceRecord(_model=record))

    @strawberry.mutation(description="A recorder scans a volunteer's card to check in.")
    @mutation_payload(RecordPayload)
    def check_in(self, info: Info, project_id: strawberry.ID, card_code: str) -> RecordPayload:
        principal, policy = caller(info)
        cards.check_in(
            parse_id(project_id, "Project", "projectId"),
            card_code,
            principal=principal,
            policy=policy,
            region_code=info.context.region.code,
        )
        return RecordPayload()

    @strawberry.mutation(
        description="Close a volunteer's open check-in without a record (scanned by mistake, "
        "or too short to count)."
    )
    @mutation_payload(RecordPayload)
    def cancel_check_in(
        self, info: Info, project_id: strawberry.ID, card_code: str
    ) -> RecordPayload:
        principal, policy = caller(info)
        cards.cancel_check_in(
            parse_id(project_id, "Project", "projectId"),
            card_code,
            principal=principal,
            policy=policy,
            region_code=info.context.region.code,
        )
        return RecordPayload()

    @strawberry.mutation(
        description="Scan again to check out: records the hours between (or fewer, if given), "
        "one record per calendar day."
    )
    @mutation_payload(CheckOutPayload)
    def check_out(
        self,
        info: Info,
        project_id: strawberry.ID,
        card_code: str,
        content: str = "",
        hours: Decimal | None = None,
    ) -> CheckOutPayload:
        principal, policy = caller(info)
        created = cards.check_out(
            parse_id(project_id, "Project", "projectId"),
            card_code,
            content,
            principal=principal,
            policy=policy,
            region_code=info.context.region.code,
            hours=hours,
        )
        return CheckOutPayload(records=[ServiceRecord(_model=record) for record in created])

    @strawberry.mutation(description="Replace the card: every earlier code stops working.")
    @mutation_payload(CardPayload)
    def rotate_card(self, info: Info) -> CardPayload:
        principal, _unused = caller(info)
        cards.rotate_card(principal=principal)
        return CardPayload(card=card_of(principal.volunteer, info.context.region.code))

    @strawberry.mutation(description="Object to a record in publicity (公示期异议).")
    @mutation_payload(ObjectionPayload)
    def raise_objection(
        self, info: Info, record_id: strawberry.ID, reason: str
    ) -> ObjectionPayload:
        principal, policy = caller(info)
        objection = records.raise_objection(
            parse_id(record_id, "ServiceRecord", "recordId"),
            reason,
            principal=principal,
            policy=policy,
        )
        return ObjectionPayload(objection_id=strawberry.ID(global_id("Objection", objection.id)))

    @strawberry.mutation(description="The group upholds (voids the record) or dismisses.")
    @mutation_payload(ObjectionPayload)
    def resolve_objection(
        self, info: Info, objection_id: strawberry.ID, upheld: bool, reason: str
    ) -> ObjectionPayload:
        principal, policy = caller(info)
        objection = records.resolve_objection(
            parse_id(objection_id, "Objection", "objectionId"),
            upheld,
            reason,
            principal=principal,
            policy=policy,
        )
        record = record_models.ServiceRecord.objects.get(id=objection.record_id)
        return ObjectionPayload(
            objection_id=strawberry.ID(global_id("Objection", objection.id)),
            record=ServiceRecord(_model=record),
        )

    @strawberry.mutation(description="Civil affairs confirms a record (001 §4(4)3).")
    @mutation_payload(RecordPayload)
    def confirm_record(self, info: Info, record_id: strawberry.ID) -> RecordPayload:
        principal, policy = caller(info)
        record = records.confirm_record(
            parse_id(record_id, "ServiceRecord", "recordId"), principal=principal, policy=policy
        )
        return RecordPayload(record=ServiceRecord(_model=record))

    @strawberry.mutation(description="Correct a record by an amendment, with a reason.")
    @mutation_payload(RecordPayload)
    def amend_record(
        self, info: Info, record_id: strawberry.ID, changes: AmendmentInput, reason: str
    ) -> RecordPayload:
        principal, policy = caller(info)
        amendment = records.amend_record(
            parse_id(record_id, "ServiceRecord", "recordId"),
            _changes(changes),
            reason,
            principal=principal,
            policy=policy,
        )
        record = record_models.ServiceRecord.objects.get(id=amendment.record_id)
        return RecordPayload(record=ServiceRecord(_model=record))

    @strawberry.mutation(description="A volunteer asks a group to correct or add a record.")
    @mutation_payload(CorrectionPayload)
    def request_correction(
        self,
        info: Info,
        group_id: strawberry.ID,
        description: str,
        record_id: strawberry.ID | None = None,
    ) -> CorrectionPayload:
        principal, policy = caller(info)
        request = corrections.request_correction(
            parse_id(group_id, "VolunteerGroup", "groupId"),
            description,
            parse_id(record_id, "ServiceRecord", "recordId") if record_id else None,
            principal=principal,
            policy=policy,
        )
        return CorrectionPayload(request=CorrectionRequest(_model=request))

    @strawberry.mutation(description="Answer a correction request by amending the record.")
    @mutation_payload(CorrectionPayload)
    def amend_for_correction(
        self, info: Info, request_id: strawberry.ID, changes: AmendmentInput, reason: str
    ) -> CorrectionPayload:
        principal, policy = caller(info)
        request = corrections.amend_for_request(
            parse_id(request_id, "CorrectionRequest", "requestId"),
            _changes(changes),
            reason,
            principal=principal,
            policy=policy,
        )
        return CorrectionPayload(request=CorrectionRequest(_model=request))

    @strawberry.mutation(description="Answer a correction request by recording missing service.")
    @mutation_payload(CorrectionPayload)
    def record_missing_for_correction(
        self, info: Info, request_id: strawberry.ID, project_id: strawberry.ID, input: RecordInput
    ) -> CorrectionPayload:
        principal, policy = caller(info)
        request = corrections.record_missing_for_request(
            parse_id(request_id, "CorrectionRequest", "requestId"),
            parse_id(project_id, "Project", "projectId"),
            _entry(input),
            principal=principal,
            policy=policy,
        )
        return CorrectionPayload(request=CorrectionRequest(_model=request))

    @strawberry.mutation(description="Decline a correction request, with a reason.")
    @mutation_payload(CorrectionPayload)
    def decline_correction(
        self, info: Info, request_id: strawberry.ID, reason: str
    ) -> CorrectionPayload:
        principal, _unused = caller(info)
        request = corrections.decline_request(
            parse_id(request_id, "CorrectionRequest", "requestId"), reason, principal=principal
        )
        return CorrectionPayload(request=CorrectionRequest(_model=request))

    @strawberry.mutation(description="Apply for a star level once counted hours reach it.")
    @mutation_payload(StarPayload)
    def apply_for_star(
        self, info: Info, level: int, group_id: strawberry.ID | None = None
    ) -> StarPayload:
        principal, policy = caller(info)
        application = stars.apply_for_star(
            level,
            parse_id(group_id, "VolunteerGroup", "groupId") if group_id else None,
            principal=principal,
            policy=policy,
        )
        return StarPayload(application=StarApplication(_model=application))

    @strawberry.mutation(description="The body the policy names grants or refuses a star.")
    @mutation_payload(StarPayload)
    def decide_star_application(
        self, info: Info, application_id: strawberry.ID, grant: bool, reason: str = ""
    ) -> StarPayload:
        principal, policy = caller(info)
        application = stars.decide_star(
            parse_id(application_id, "StarApplication", "applicationId"),
            grant,
            reason,
            principal=principal,
            policy=policy,
        )
        return StarPayload(application=StarApplication(_model=application))


__all__ = ["RecordsMutation", "RecordsQuery", "Volunteer", "VolunteerGroup"]
