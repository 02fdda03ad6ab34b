"""Bulk import (批量导入) of volunteers, group members and service records from
XLSX or CSV — the same services and rules as one-at-a-time entry.

Each row goes through the service the API's mutation calls: volunteers through
``volunteers.services.register_volunteer`` (000 Art.5–7, 003 Art.7), members
through ``groups.services.add_member`` (an invitation the volunteer accepts,
issue 10 finding 1), records through ``records.services.record_hours`` (000
Art.8–10, 003 Art.13; 001 §4(4)3: publicity starts as for any entry). This
module only reads the row's cells into the service's input, decides whether
the row is already present, and keeps the report; it validates nothing of its own
beyond reading the cells (a date, a time, a whole number).

- **Whole files.** All rows run in one transaction, each row in a savepoint, so
  every row is checked and the report lists every problem (line, column,
  message, typed code). By default the file is all or nothing: one bad row and
  the transaction is rolled back. With ``valid_rows_only`` the good rows are
  committed and the rest reported.
- **Safe to re-run.** A volunteer is present if their ID number is registered
  here (and, for a group's import, they are its active member); a member if
  they already have an open membership (invited, applied or active) in the
  group; a record if the volunteer already has a live record at the project on
  that service date starting at that time — the **record key** (volunteer
  number, project, 服务日期, 开始时间). Present rows are reported, not imported.
- **Who.** Checked once before any row is read, as for one-at-a-time entry:
  volunteers by a group's admins into their group (本团体内志愿者管理) or by an
  authority into its own area (each row's 所在县（区） must lie there); members by
  the group's admins holding 本团体内志愿者管理; records by the project's group's
  recorders and admins (certified where the policy says, 001 §4(4)3).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import DataError, transaction
from django.utils.translation import gettext as _
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

from central.errors import (
    InvalidInput,
    NotFound,
    PermissionDenied,
    Problem,
    ProblemCollector,
    ServiceError,
    require_active,
)
from central.models import Region
from central.policy import Power, RegionPolicy
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.audit.models import AuditEntry
from tenants.audit.services import record as audit
from tenants.groups import services as groups
from tenants.groups.models import Membership, MembershipStatus, VolunteerGroup
from tenants.groups.permissions import require_group_staff, require_member_manager, require_power
from tenants.imports import readers
from tenants.imports.columns import ImportKind
from tenants.projects.models import Project
from tenants.records import permissions as record_permissions
from tenants.records import services as records
from tenants.records.models import RecordState, ServiceRecord
from tenants.volunteers import pii
from tenants.volunteers import services as volunteers
from tenants.volunteers.models import Gender, IdType, PersonalInfoAccess, Volunteer

# The report lists at most this many problems and row outcomes; the counts are whole.
MAX_LISTED = 10_000

IMPORTED = "imported"
ALREADY_PRESENT = "already_present"
# A row that passed in a file that was not committed (all or nothing, other rows failed).
VALID = "valid"


@dataclass
class RowProblem:
    line: int
    column: str | None  # the header as the file wrote it
    field: str | None  # the API's input field
    code: str
    message: str


@dataclass
class RowOutcome:
    line: int
    outcome: str  # IMPORTED or ALREADY_PRESENT
    key: str  # volunteer number; for records the record's row key


@dataclass
class ImportReport:
    kind: ImportKind
    valid_rows_only: bool
    format: str = ""
    rows: int = 0
    imported: int = 0
    already_present: int = 0
    failed: int = 0
    committed: bool = False
    problems: list[RowProblem] = field(default_factory=list)
    problems_omitted: int = 0
    outcomes: list[RowOutcome] = field(default_factory=list)
    outcomes_omitted: int = 0

    def add_outcome(self, line: int, outcome: str, key) -> None:
        if outcome == IMPORTED:
            self.imported += 1
        else:
            self.already_present += 1
        if len(self.outcomes) < MAX_LISTED:
            self.outcomes.append(RowOutcome(line, outcome, str(key)))
        else:
            self.outcomes_omitted += 1

    def add_problems(self, line: int, problems: list[Problem], headers: dict[str, str]) -> None:
        self.failed += 1
        for problem in problems:
            if len(self.problems) >= MAX_LISTED:
                self.problems_omitted += 1
                continue
            self.problems.append(
                RowProblem(
                    line,
                    headers.get(problem.field or ""),
                    problem.field,
                    problem.code,
                    problem.message,
                )
            )


# --- reading cells -------------------------------------------------------------

LIST_SEPARATORS = re.compile(r"[、;；,，\n]")
DATE_SHAPES = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
TIME_SHAPE = re.compile(r"^(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?$")
YES = {"是", "同意", "yes", "y", "true", "1", "√"}
NO = {"否", "不同意", "no", "n", "false", "0", ""}


class Cells:
    """One row's cells, read into the types the services take; problems collected."""

    def __init__(self, values: dict):
        self.values = values
        self.problems = ProblemCollector()
        if values.get("__extra__"):
            self.problems.add(None, _("a value stands in a column without a header"))

    def text(self, name: str) -> str:
        value = self.values.get(name)
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, datetime.datetime | datetime.date | datetime.time):
            return value.isoformat()
        return str(value).strip()

    def digits(self, name: str) -> str:
        """An ID number or phone: Excel keeps only 15 digits of a number."""
        value = self.values.get(name)
        if isinstance(value, int | float) and abs(value) >= 10**15:
            self.problems.add(
                name,
                _("stored as a number, which Excel rounds to 15 digits: store the cell as text"),
            )
        return self.text(name)

    def date(self, name: str, *, required: bool = False) -> datetime.date | None:
        value = self.values.get(name)
        if value is None:
            if required:
                self.problems.add(name, _("required"))
            return None
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        text = str(value).strip()
        for shape in DATE_SHAPES:
            match = shape.match(text)
            if match:
                try:
                    return datetime.date(*(int(part) for part in match.groups()))
                except ValueError:
                    break
        self.problems.add(name, _("a date as YYYY-MM-DD, e.g. 2026-05-01"))
        return None

    def time(self, name: str) -> datetime.time | None:
        value = self.values.get(name)
        if isinstance(value, datetime.datetime):
            return value.time()
        if isinstance(value, datetime.time):
            return value
        if isinstance(value, float) and 0 <= value <= 1:  # Excel's fraction of a day
            seconds = min(round(value * 86400), 86399)
            return datetime.time(seconds // 3600, seconds // 60 % 60, seconds % 60)
        match = TIME_SHAPE.match(str(value or "").strip())
        if match:
            hour, minute, second = (int(part or 0) for part in match.groups())
            if (hour, minute, second) == (24, 0, 0):
                return records.END_OF_DAY  # a record that runs until midnight
            if hour < 24 and minute < 60 and second < 60:
                return datetime.time(hour, minute, second)
        self.problems.add(name, _("a time as HH:MM, e.g. 09:30"))
        return None

    def whole(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None:
            return None
        try:
            number = Decimal(str(value).strip())
            if number == number.to_integral_value():
                return int(number)
        except ArithmeticError:
            pass
        self.problems.add(name, _("a whole number"))
        return None

    def yes(self, name: str) -> bool:
        text = self.text(name).lower()
        if text in YES:
            return True
        if text not in NO:
            self.problems.add(name, _("是 or 否 (yes or no)"))
        return False

    def choice(self, name: str, choices, default: str = "") -> str:
        """A choice by its Chinese label or its value (男 or male); anything else is
        passed on for the service to refuse with its own message."""
        text = self.text(name)
        if not text:
            return default
        for value, label in choices.choices:
            if text.lower() in (value, label):
                return value
        return text

    def items(self, name: str) -> list[str]:
        return [part.strip() for part in LIST_SEPARATORS.split(self.text(name)) if part.strip()]


# --- the kinds -------------------------------------------------------------------


@dataclass
class Context:
    region: Region
    policy: RegionPolicy
    principal: Principal
    group: VolunteerGroup | None = None
    project: Project | None = None
    line: int = 0  # the row being imported
    # Every lookup of a volunteer by ID number: (line, masked ID number, the matched
    # volunteer's id and number, or None and "", whether it matched: a volunteers
    # file's row may match a person registered in another region, who has no row
    # here), small tuples written to the logs after the file's transaction,
    # committed or not.
    lookups: list[tuple[int, str, int | None, str, bool]] = field(default_factory=list)


def _volunteer_row(cells: Cells, ctx: Context) -> tuple[str, str]:
    id_type = cells.choice("idType", IdType, default=IdType.RESIDENT_ID)
    id_number = cells.digits("idNumber")
    birth_date = cells.date("birthDate")
    if birth_date is None and "birthDate" not in cells.values and id_type == IdType.RESIDENT_ID:
        # A resident ID number states the birth date (GB 11643); the service still
        # checks the two agree when both are given.
        try:
            birth_date = ric.get_birth_date(volunteers.check_resident_id(id_number))
        except StdnumError:
            birth_date = None  # the service says what is wrong with the number
    division_code = cells.text("divisionCode")
    if not division_code and ctx.group is None and len(ctx.principal.authority_roles) == 1:
        # An authority's volunteers live in its own area unless the row says where.
        division_code = ctx.principal.authority_roles[0].division_code
    data = volunteers.VolunteerRegistration(
        name=cells.text("name"),
        gender=cells.choice("gender", Gender),
        birth_date=birth_date,
        id_type=id_type,
        id_number=id_number,
        phone=cells.digits("phone"),
        service_area=cells.text("serviceArea"),
        service_intentions=cells.items("serviceIntentions"),
        skills=cells.items("skills"),
        guardian_name=cells.text("guardianName"),
        guardian_consent=cells.yes("guardianConsent"),
        division_code=division_code,
    )
    cells.problems.raise_if_any()
    compact = _compact_id(id_type, id_number)
    existing = volunteers.find_by_id_number(compact)
    # A row whose ID number is registered (here, or in another region: the service
    # refuses it) told the importer that the person exists: each is logged as a
    # members file's lookups are (audit round 3), the file committed or not.
    masked = pii.mask_id_number(compact)
    if existing is not None:
        ctx.lookups.append((ctx.line, masked, existing.id, existing.number, True))
        if ctx.group is not None:
            # Only the group's own active members are "present" to it: telling
            # anyone else that a person is registered would make this an oracle
            # (issue 10 finding 11); the service answers them as it always does.
            if Membership.objects.filter(
                volunteer=existing, group=ctx.group, status=MembershipStatus.ACTIVE
            ).exists():
                return ALREADY_PRESENT, existing.number
        elif ctx.principal.covers(existing.division_code):
            return ALREADY_PRESENT, existing.number
    try:
        volunteer = volunteers.register_volunteer(
            data=data,
            region=ctx.region,
            policy=ctx.policy,
            principal=ctx.principal,
            group_id=ctx.group.id if ctx.group is not None else None,
            audit_refusal=False,  # logged below with the file's other lookups
        )
    except volunteers.AlreadyRegistered:
        if existing is None:  # registered in another region (or concurrently)
            ctx.lookups.append((ctx.line, masked, None, "", True))
        raise
    return IMPORTED, volunteer.number


def _compact_id(id_type: str, id_number: str) -> str:
    try:
        if id_type == IdType.RESIDENT_ID:
            return volunteers.check_resident_id(id_number)
    except StdnumError:
        pass
    return pii.normalise(id_number)


def _member_row(cells: Cells, ctx: Context) -> tuple[str, str]:
    number = cells.text("number")
    id_number = cells.digits("idNumber")
    name = cells.text("name")
    cells.problems.raise_if_any()
    if number:
        volunteer = Volunteer.objects.filter(number=number).first()
        if volunteer is None:
            raise NotFound(
                _("no volunteer numbered %(number)s") % {"number": number}, field="number"
            )
    elif id_number:
        if not name:
            raise InvalidInput(_("give the name with the ID number"), field="name")
        volunteer = volunteers.find_by_id_number(_compact_id(IdType.RESIDENT_ID, id_number))
        if volunteer is not None and volunteer.name != name:
            volunteer = None
        masked = pii.mask_id_number(pii.normalise(id_number))
        if volunteer is not None:
            ctx.lookups.append((ctx.line, masked, volunteer.id, volunteer.number, True))
        else:
            ctx.lookups.append((ctx.line, masked, None, "", False))
        # The same answer for an unknown number and a wrong name.
        if volunteer is None:
            raise NotFound(
                _("no volunteer registered here with this ID number and name"), field="idNumber"
            )
    else:
        raise InvalidInput(_("give the volunteer number or the ID number"), field="number")
    if Membership.objects.filter(
        volunteer=volunteer,
        group=ctx.group,
        status__in=[MembershipStatus.INVITED, MembershipStatus.APPLIED, MembershipStatus.ACTIVE],
    ).exists():
        return ALREADY_PRESENT, volunteer.number
    assert ctx.group is not None  # ``authorize`` asks for the group of a members file
    groups.add_member(
        group_id=ctx.group.id, number=volunteer.number, principal=ctx.principal, policy=ctx.policy
    )
    return IMPORTED, volunteer.number


def _record_row(cells: Cells, ctx: Context) -> tuple[str, str]:
    number = cells.text("number")
    service_date = cells.date("serviceDate", required=True)
    start_time, end_time = cells.time("startTime"), cells.time("endTime")
    hours = cells.text("hours")
    punctuality = cells.whole("punctuality")
    attitude = cells.whole("attitude")
    professionalism = cells.whole("professionalism")
    cells.problems.raise_if_any()
    # Each of these, when None, was reported above.
    assert service_date is not None and start_time is not None and end_time is not None
    entry = records.RecordEntry(
        service_date=service_date,
        start_time=start_time,
        end_time=end_time,
        hours=hours,
        content=cells.text("content"),
        place=cells.text("place"),
        service_target=cells.text("serviceTarget"),
        contact=cells.text("contact"),
        punctuality=punctuality,
        attitude=attitude,
        professionalism=professionalism,
    )
    volunteer = Volunteer.objects.filter(number=number).first()
    if volunteer is not None:
        # The record key: volunteer, project, service date, start time.
        present = (
            ServiceRecord.objects.filter(
                volunteer=volunteer,
                project=ctx.project,
                service_date=entry.service_date,
                start_time=entry.start_time,
            )
            .exclude(state__in=[RecordState.VOID, RecordState.REJECTED])
            .values_list("id", flat=True)
            .first()
        )
        if present is not None:
            return ALREADY_PRESENT, str(present)
    assert ctx.project is not None  # ``authorize`` asks for the project of a records file
    record = records.record_hours(
        project_id=ctx.project.id,
        number=number,
        entry=entry,
        principal=ctx.principal,
        policy=ctx.policy,
    )
    name = cells.text("name")
    if name and name != record.volunteer.name:
        # Checked once the service let the recorder act for this volunteer; the
        # row's savepoint takes the record back.
        raise InvalidInput(
            _("%(number)s is not called %(name)s") % {"number": number, "name": name},
            field="name",
        )
    return IMPORTED, str(record.id)


def _lookup_reason(ctx: Context, kind: ImportKind, line: int) -> str:
    group = ctx.group
    if kind is ImportKind.MEMBERS:
        assert group is not None  # a members file names its group
        return _("members import into %(name)s, line %(line)s: ID number and name matched") % {
            "name": group.name,
            "line": line,
        }
    if group is not None:
        return _("volunteers import into %(name)s, line %(line)s: ID number already registered") % {
            "name": group.name,
            "line": line,
        }
    return _("volunteers import, line %(line)s: ID number already registered") % {"line": line}


def _log_lookups(ctx: Context, report: ImportReport) -> None:
    """Log every lookup by ID number a file made, after its transaction — so a file
    rolled back (one bad row) is logged too: a members file's, matched or not (audit
    round 2: an ID number and a name told a group whether the person is registered
    here), and a volunteers file's rows whose ID number was already registered, here
    or elsewhere (audit round 3). Each is an audit entry (``import.id_number_lookup``);
    a match here is also a ``PersonalInfoAccess`` of the volunteer, so they and the
    authority of their area see who looked them up by ID number
    (``myPersonalInfoAccesses``, ``personalInfoAccesses``). One INSERT per table and
    thousand lookups."""
    if not ctx.lookups:
        return
    group = ctx.group
    audited = [
        AuditEntry(
            actor=ctx.principal.actor,
            action="import.id_number_lookup",
            target=number,
            detail={
                "kind": report.kind.value,
                "group": group.id if group is not None else None,
                "line": line,
                "idNumber": masked,
                "matched": matched,
                "committed": report.committed,
            },
        )
        for line, masked, _volunteer_id, number, matched in ctx.lookups
    ]
    revealed = [
        PersonalInfoAccess(
            volunteer_id=volunteer_id,
            accessor=ctx.principal.actor,
            fields=["idNumberLookup"],
            reason=_lookup_reason(ctx, report.kind, line),
        )
        for line, _masked, volunteer_id, _number, _matched in ctx.lookups
        if volunteer_id is not None
    ]
    with transaction.atomic():
        AuditEntry.objects.bulk_create(audited, batch_size=1000)
        PersonalInfoAccess.objects.bulk_create(revealed, batch_size=1000)
    ctx.lookups.clear()


ROW_IMPORTERS: dict[ImportKind, Callable[[Cells, Context], tuple[str, str]]] = {
    ImportKind.VOLUNTEERS: _volunteer_row,
    ImportKind.MEMBERS: _member_row,
    ImportKind.RECORDS: _record_row,
}


def authorize(
    *,
    kind: ImportKind,
    region: Region,
    policy: RegionPolicy,
    principal: Principal,
    group_id: int | None = None,
    project_id: int | None = None,
) -> Context:
    """Who may import what (README "Who may do what, where"), decided before any
    row is read by the same checks as the one-at-a-time mutations."""
    principal = accounts.require(principal)
    ctx = Context(region, policy, principal)
    if kind is ImportKind.RECORDS:
        if project_id is None:
            raise InvalidInput(_("say which project the records belong to"), field="projectId")
        ctx.project = records.recording_project(project_id)
        record_permissions.require_recorder(ctx.project.group, principal, policy)
        return ctx
    if group_id is not None:
        ctx.group = groups.get_group(group_id)
    if kind is ImportKind.MEMBERS:
        if ctx.group is None:
            raise InvalidInput(_("say which group the members join"), field="groupId")
        require_member_manager(ctx.group, principal, policy)
    elif ctx.group is not None:
        require_group_staff(ctx.group, principal)
        require_power(ctx.group, Power.MANAGE_OWN_VOLUNTEERS, policy)
    elif not principal.is_authority:
        raise PermissionDenied(
            _(
                "volunteers are imported by a group's admins into their group (groupId) "
                "or by the authority into its area"
            )
        )
    return ctx


def import_rows(
    *,
    kind: ImportKind,
    stream,
    size: int,
    max_bytes: int,
    region: Region,
    policy: RegionPolicy,
    principal: Principal,
    group_id: int | None = None,
    project_id: int | None = None,
    valid_rows_only: bool = False,
    progress: Callable[[ImportReport, int | None], None] | None = None,
    progress_every: int = 500,
) -> ImportReport:
    """Import a file's rows of ``kind``; see the module's docstring for the rules.

    ``progress(report, expected_rows)`` is called every ``progress_every`` rows."""
    require_active(region)
    ctx = authorize(
        kind=kind,
        region=region,
        policy=policy,
        principal=principal,
        group_id=group_id,
        project_id=project_id,
    )
    source = readers.open_rows(stream, kind, size=size, max_bytes=max_bytes)
    report = ImportReport(kind, valid_rows_only, format=source.format)
    import_row = ROW_IMPORTERS[kind]
    with transaction.atomic():
        for line, values in source.rows:
            report.rows += 1
            ctx.line = line
            cells = Cells(values)
            try:
                with transaction.atomic():
                    outcome, key = import_row(cells, ctx)
            except ServiceError as error:
                report.add_problems(line, error.problems, source.headers)
            except DataError:
                report.add_problems(
                    line, [Problem(_("a value is too long or not valid text"))], source.headers
                )
            else:
                report.add_outcome(line, outcome, key)
            if progress is not None and report.rows % progress_every == 0:
                progress(report, source.expected)
        if report.rows == 0:
            raise readers.file_error(_("the file has no rows below its header"))
        report.committed = not report.failed or valid_rows_only
        if report.committed:
            audit(
                ctx.principal.actor,
                "import.committed",
                kind.value,
                rows=report.rows,
                imported=report.imported,
                already_present=report.already_present,
                failed=report.failed,
                group=ctx.group.id if ctx.group is not None else None,
                project=ctx.project.id if ctx.project is not None else None,
            )
        else:
            # All or nothing: every row was checked; none is kept.
            transaction.set_rollback(True)
    _log_lookups(ctx, report)
    if not report.committed:
        report.imported = 0
        for row in report.outcomes:
            if row.outcome == IMPORTED:
                row.outcome, row.key = VALID, ""
    if progress is not None:
        progress(report, source.expected)
    return report
