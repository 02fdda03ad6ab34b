"""Recording service hours and moving records along the region's lifecycle.

Rules:
- 000 Art.8 / 001 §4(4)1: what a record states; 000 Art.10: the evaluation.
- 000 Art.9, 003 Art.13: hours are real service time, in hours, without travel;
  here also: positive, within the stated start and end, not in the future, never
  overlapping another live record of the volunteer (so at most 24 a day) —
  the last enforced by an exclusion constraint too.
- 001 §4(4)3: publicity of N working days (``publicity_working_days``), then,
  where the policy says so, confirmation by civil affairs; only then it counts.
- 000 Art.23: a counted record is never edited; corrections are amendments.

Every write appends to the region's audit log. Totals move by row-locked
increments inside the same transaction as the state change that causes them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from django.db import IntegrityError, connection, transaction
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
from central.policy import RecordConfirmation, RegionPolicy
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.audit.services import record as audit
from tenants.groups.models import Membership, MembershipStatus
from tenants.projects.models import ApplicationStatus, Project
from tenants.projects.services import phase, require_not_cancelled
from tenants.records import permissions
from tenants.records.models import (
    EARLIEST_SERVICE_DATE,
    Amendment,
    DaySlot,
    Objection,
    RecordMode,
    RecordState,
    ServiceRecord,
    VolunteerTotals,
)
from tenants.records.workdays import add_working_days
from tenants.volunteers.models import Volunteer, VolunteerStatus
from tenants.volunteers.selectors import sees_every_volunteer

MAX_TEXT = 2000
# 服务评价 (000 Art.10): the group rates each.
EVALUATION = ("punctuality", "attitude", "professionalism")


@dataclass
class RecordEntry:
    """What a recorder (or a volunteer declaring) states about one stretch of service."""

    service_date: datetime.date
    start_time: datetime.time
    end_time: datetime.time
    hours: Decimal | str | float
    content: str
    place: str = ""  # defaults to the project's place
    service_target: str = ""  # defaults to the project's service targets
    contact: str = ""  # defaults to the project's contact
    punctuality: int | None = None
    attitude: int | None = None
    professionalism: int | None = None


def parse_hours(value, problems: ProblemCollector, field: str = "hours") -> Decimal | None:
    """Hours given by a person (服务时长 000 Art.9, 学时 000 Art.11): a finite number,
    positive, at most 24 (one day), in hundredths of an hour — the precision kept
    (``ServiceRecord.hours`` has two decimal places). More decimals are refused, never
    cut off: ``0.333`` stored as ``0.33`` would silently change what a person stated
    (issue 12, "Also seen")."""
    try:
        hours = Decimal(str(value))
    except (InvalidOperation, ValueError):
        hours = None
    if hours is None or not hours.is_finite():
        problems.add(field, _("a number of hours, e.g. 2.5"))
    elif hours <= 0:
        problems.add(field, _("must be positive"))
    elif hours > 24:
        problems.add(field, _("at most 24 hours (one day)"))
    elif hours != hours.quantize(Decimal("0.01")):
        problems.add(
            field, _("at most two decimal places (hours are kept to the hundredth of an hour)")
        )
    else:
        return hours.quantize(Decimal("0.01"))
    return None


# A record that runs until midnight ends at the day's last second (a record lies
# within one day and 24:00 is no time of day); it is read as 24:00.
END_OF_DAY = datetime.time(23, 59, 59)


def span_hours(start: datetime.time, end: datetime.time) -> Decimal:
    """Whole minutes from start to end, counted by the second (so no stretch shorter
    than a minute is worth one); an end at ``END_OF_DAY`` or later is 24:00."""
    end_seconds = 24 * 3600 if end >= END_OF_DAY else _seconds(end)
    minutes = (end_seconds - _seconds(start)) // 60
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def _seconds(moment: datetime.time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def check_times(start: datetime.time, end: datetime.time, problems: ProblemCollector) -> bool:
    """A record's times: whole seconds, in order, not starting in the day's last second
    (which ``END_OF_DAY`` gives to a record that runs until midnight). False, with
    the problem added, when they are not."""
    if start.microsecond or end.microsecond:
        problems.add(
            "startTime" if start.microsecond else "endTime", _("whole seconds, e.g. 09:30")
        )
    elif end <= start:
        problems.add("endTime", _("ends before it starts (a record lies within one day)"))
    elif start >= END_OF_DAY:
        problems.add("startTime", _("the day's last second belongs to the record before midnight"))
    else:
        return True
    return False


def check_date(
    service_date: datetime.date,
    problems: ProblemCollector,
    project: Project | None,
    today: datetime.date,
    field: str = "serviceDate",
) -> bool:
    """A record's date (issue 10 finding 9): within its project's dates (000 Art.8-9:
    the record describes that project's service), never in the future, never before
    the platform's earliest plausible date. False, with the problem added, if not."""
    if service_date < EARLIEST_SERVICE_DATE:
        problems.add(
            field,
            _("before %(earliest_service_date)s: not a plausible date of service")
            % {"earliest_service_date": EARLIEST_SERVICE_DATE},
        )
    elif service_date > today:
        problems.add(field, _("service cannot be recorded before it happens"))
    elif project is not None and not project.starts_on <= service_date <= project.ends_on:
        problems.add(
            field,
            _(
                "outside the project's dates (%(starts_on)s to %(ends_on)s): "
                "a record describes that project's service (000 Art.8-9)"
            )
            % {"starts_on": project.starts_on, "ends_on": project.ends_on},
        )
    else:
        return True
    return False


def check_entry(
    entry: RecordEntry,
    problems: ProblemCollector,
    project: Project | None = None,
    now: datetime.datetime | None = None,
) -> Decimal | None:
    """Validate the date, hours, times and texts (000 Art.8-9); return the hours."""
    hours = parse_hours(entry.hours, problems)
    now = timezone.localtime(now)
    check_date(entry.service_date, problems, project, now.date())
    if check_times(entry.start_time, entry.end_time, problems):
        if entry.service_date == now.date() and entry.end_time > now.time():
            problems.add("endTime", _("in the future"))
        elif hours is not None and hours > span_hours(entry.start_time, entry.end_time):
            problems.add(
                "hours",
                _("more than the time between start and end; travel does not count (000 Art.9)"),
            )
    if not (entry.content or "").strip() or len(entry.content) > MAX_TEXT:
        problems.add("content", _("describe the service (服务内容)"))
    for name in ("punctuality", "attitude", "professionalism"):
        value = getattr(entry, name)
        if value is not None and not 1 <= value <= 5:
            problems.add(name, _("from 1 to 5"))
    return hours


def require_participant(volunteer: Volunteer, project: Project) -> None:
    """Hours are recorded for someone who takes part: an active (or warned)
    volunteer who is an active member of the project's group or whose
    application to the project was accepted; anyone else is ``CONFLICT``. Whether
    they take part is asked first: a participant's status is the recorder's to know,
    anyone else's is not (audit round 2)."""
    accepted = project.applications.filter(
        volunteer=volunteer, status=ApplicationStatus.ACCEPTED
    ).exists()
    member = Membership.objects.filter(
        volunteer=volunteer, group_id=project.group_id, status=MembershipStatus.ACTIVE
    ).exists()
    if not (accepted or member):
        raise not_participant(volunteer.number, project)
    if volunteer.status not in (VolunteerStatus.ACTIVE, VolunteerStatus.WARNED):
        raise Conflict(
            _("%(number)s is %(status)s")
            % {"number": volunteer.number, "status": shown(volunteer, "status")},
            field="number",
        )


def not_participant(number: str, project: Project) -> Conflict:
    """The refusal of someone who takes no part in ``project`` — and of a number
    nobody has, alike (no oracle of who is registered)."""
    return Conflict(
        _("%(number)s neither joined %(name)s nor belongs to %(name2)s")
        % {"number": number, "name": project.name, "name2": project.group.name},
        field="number",
    )


def recording_project(
    project_id: int, *, any_phase: bool = False, today: datetime.date | None = None
) -> Project:
    """The project to record at (ongoing or ended); ``any_phase`` for closing what was
    opened there, even once it is cancelled."""
    project = Project.objects.select_related("group").filter(id=project_id).first()
    if project is None:
        raise NotFound(_("no such project"), field="projectId")
    if not any_phase and phase(project, today) not in ("ongoing", "ended"):
        raise Conflict(
            _("the project is %(phase)s: nothing to record yet") % {"phase": phase(project, today)},
            field="projectId",
        )
    return project


def _participant(number: str, project: Project) -> Volunteer:
    """The volunteer numbered ``number`` taking part in ``project`` (:func:`require_participant`);
    a number nobody has is refused as a volunteer who takes no part."""
    number = (number or "").strip()
    volunteer = Volunteer.objects.filter(number=number).first()
    if volunteer is None:
        raise not_participant(number, project)
    require_participant(volunteer, project)
    return volunteer


def require_not_frozen(volunteer_id: int) -> None:
    """Issue 11 finding 2 (000 Art.15–16): once the volunteer has consented to a
    transfer, nothing about their records changes here — no new record, no state
    change, no amendment — until the transfer is cancelled or refused (then they
    are back) or completes (then they are transferred and the records read-only).

    Call inside a transaction: the volunteer's row is locked ``FOR SHARE``, so a
    consent (which locks it ``FOR UPDATE`` before building the package) either
    sees this change or makes it wait and then refuses it. The database refuses
    the same (``records.0004``) for any path that forgets."""
    from interop.models import Direction, Transfer, TransferState

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, number FROM volunteers_volunteer WHERE id = %s FOR SHARE",
            [volunteer_id],
        )
        row = cursor.fetchone()
    if row is None:
        return
    status, number = row
    if status == VolunteerStatus.TRANSFERRED:
        raise Conflict(
            _("%(number)s has been transferred to another region: their records here are read-only")
            % {"number": number},
            field="number",
        )
    if Transfer.objects.filter(
        volunteer_id=volunteer_id, direction=Direction.OUTGOING, state=TransferState.EXPORTED
    ).exists():
        raise Conflict(
            _(
                "%(number)s has consented to a transfer: their records travel"
                " as they were at consent and change nowhere until it "
                "completes or is cancelled"
            )
            % {"number": number},
            field="number",
        )


def _insert(
    volunteer: Volunteer,
    project: Project,
    entry: RecordEntry,
    hours: Decimal,
    *,
    mode: str,
    state: str,
    actor: str,
) -> ServiceRecord:
    """Write the record and its day slot; the exclusion constraint refuses overlaps."""
    try:
        with transaction.atomic():
            require_not_frozen(volunteer.id)
            require_not_cancelled(project.id)
            record = ServiceRecord.objects.create(
                volunteer=volunteer,
                group=project.group,
                project=project,
                project_name=project.name,
                service_date=entry.service_date,
                start_time=entry.start_time,
                end_time=entry.end_time,
                hours=hours,
                place=(entry.place or project.place).strip(),
                service_target=(entry.service_target or project.service_targets).strip(),
                content=entry.content.strip(),
                contact=(entry.contact or project.contact).strip(),
                punctuality=entry.punctuality,
                attitude=entry.attitude,
                professionalism=entry.professionalism,
                mode=mode,
                recorder=actor,
                state=state,
            )
            DaySlot.objects.create(
                record=record,
                volunteer=volunteer,
                day=entry.service_date,
                start_time=entry.start_time,
                end_time=entry.end_time,
            )
    except IntegrityError as error:
        if "dayslot_no_overlap" in str(error):
            raise Conflict(
                _(
                    "%(number)s already has service recorded on %(service_date)s "
                    "overlapping %(start_time)s–%(end_time)s"
                )
                % {
                    "number": volunteer.number,
                    "service_date": entry.service_date,
                    "start_time": format(entry.start_time, "%H:%M"),
                    "end_time": format(entry.end_time, "%H:%M"),
                },
                field="startTime",
            ) from None
        raise
    return record


def _after_acceptance(
    record: ServiceRecord, policy: RegionPolicy, actor: str, also: tuple[str, ...] = ()
) -> None:
    """A record the group stands behind enters publicity, confirmation, or counts;
    ``also`` names columns set with it (a declaration's evaluation: records 0006
    allows one only once the record has left ``declared``, in the same UPDATE)."""
    today = timezone.localdate()
    if policy.publicity_working_days > 0:
        record.state = RecordState.IN_PUBLICITY
        record.publicity_ends_on = add_working_days(
            today,
            policy.publicity_working_days,
            extra_holidays=policy.extra_holidays,
            extra_workdays=policy.extra_workdays,
        )
        record.save(update_fields=["state", "publicity_ends_on", *also])
        audit(
            actor,
            "record.publicity_started",
            str(record.id),
            ends_on=record.publicity_ends_on.isoformat(),
        )
    else:
        _after_publicity(record, policy, actor, also)


def _after_publicity(
    record: ServiceRecord, policy: RegionPolicy, actor: str, also: tuple[str, ...] = ()
) -> None:
    if policy.record_confirmation != RecordConfirmation.NONE:
        record.state = RecordState.AWAITING_CONFIRMATION
        record.save(update_fields=["state", *also])
        audit(actor, "record.awaiting_confirmation", str(record.id))
    else:
        _count(record, policy, actor, also)


def _count(
    record: ServiceRecord, policy: RegionPolicy, actor: str, also: tuple[str, ...] = ()
) -> None:
    """The one place a record of this region becomes counted (directly, after
    publicity, on confirmation); where the policy has a time bank its hours are
    saved in the same transaction (时长储蓄, 000 Art.20)."""
    from tenants.timebank.services import deposit_counted

    record.state = RecordState.COUNTED
    record.counted_at = timezone.now()
    record.save(update_fields=["state", "counted_at", "confirmed_by", *also])
    add_to_totals(record.volunteer_id, record.current().hours, records=1)
    audit(actor, "record.counted", str(record.id), hours=str(record.current().hours))
    deposit_counted(record, policy, actor)


def _adjust_time_bank(record: ServiceRecord, actor: str, reason: str) -> None:
    # tenants.timebank imports this module: imported here, when first needed.
    from tenants.timebank.services import adjust_for_record

    adjust_for_record(record, actor, reason)


def add_to_totals(volunteer_id: int, hours: Decimal, records: int = 0) -> VolunteerTotals:
    """Add (or, negative, remove) counted hours under a row lock."""
    VolunteerTotals.objects.get_or_create(volunteer_id=volunteer_id)
    totals = VolunteerTotals.objects.select_for_update().get(volunteer_id=volunteer_id)
    totals.counted_hours += hours
    totals.counted_records += records
    totals.save(update_fields=["counted_hours", "counted_records", "updated_at"])
    return totals


def record_hours(
    *,
    project_id: int,
    number: str,
    entry: RecordEntry,
    principal: Principal,
    policy: RegionPolicy,
    mode: str = RecordMode.MANUAL,
    now: datetime.datetime | None = None,
) -> ServiceRecord:
    """A recorder enters a volunteer's hours at a project (记录员录入)."""
    project = recording_project(project_id, today=timezone.localdate(now))
    principal = permissions.require_recorder(project.group, principal, policy)
    volunteer = _participant(number, project)
    problems = ProblemCollector()
    hours = check_entry(entry, problems, project, now)
    problems.raise_if_any()
    assert hours is not None  # None only beside a problem, raised above
    with transaction.atomic():
        record = _insert(
            volunteer,
            project,
            entry,
            hours,
            mode=mode,
            state=RecordState.IN_PUBLICITY,
            actor=principal.actor,
        )
        audit(
            principal.actor,
            "record.recorded",
            str(record.id),
            volunteer=volunteer.number,
            hours=str(hours),
            mode=mode,
        )
        _after_acceptance(record, policy, principal.actor)
    return record


def declare_hours(
    *,
    project_id: int,
    entry: RecordEntry,
    principal: Principal,
    policy: RegionPolicy,
    now: datetime.datetime | None = None,
) -> ServiceRecord:
    """A volunteer declares their own hours (本人申报); they count only once the group
    confirms them (:func:`decide_declaration`)."""
    principal = accounts.require(principal)
    volunteer = principal.volunteer
    if volunteer is None:
        raise PermissionDenied(_("only a volunteer's own account declares hours"))
    project = recording_project(project_id, today=timezone.localdate(now))
    require_participant(volunteer, project)
    problems = ProblemCollector()
    hours = check_entry(entry, problems, project, now)
    # 000 Art.10: the group evaluates the volunteer's service, not the volunteer: the
    # group's staff give the evaluation when they decide the declaration.
    for name in EVALUATION:
        if getattr(entry, name) is not None:
            problems.add(name, _("the group evaluates the service when it decides (000 Art.10)"))
    problems.raise_if_any()
    assert hours is not None  # None only beside a problem, raised above
    with transaction.atomic():
        record = _insert(
            volunteer,
            project,
            entry,
            hours,
            mode=RecordMode.SELF_DECLARED,
            state=RecordState.DECLARED,
            actor=principal.actor,
        )
        audit(principal.actor, "record.declared", str(record.id), hours=str(hours))
    return record


def _require_answering(record: ServiceRecord, principal: Principal, policy: RegionPolicy):
    """Who answers for a record: its group's recorders; a record brought in by a
    transfer has no project or group here, so only this region's authority answers
    for it (000 Art.16; the source's recorders are gone)."""
    if record.project is None:
        return permissions.require_area_authority(record, principal)
    return permissions.require_recorder(record.project.group, principal, policy)


def _locked_record(record_id: int) -> ServiceRecord:
    record = locked_row(
        ServiceRecord.objects.select_related("project__group", "volunteer"),
        missing=NotFound(_("no such record"), field="recordId"),
        id=record_id,
    )
    require_not_frozen(record.volunteer_id)
    return record


def _record_for(record_id: int, principal: Principal | None, policy: RegionPolicy) -> ServiceRecord:
    """:func:`_locked_record` for a caller: one who may not see the record is refused
    as for an id with no record, before its state or a transfer is told
    (``permissions.require_record_seen``, audit round 3)."""
    principal = accounts.require(principal)
    record = locked_row(
        ServiceRecord.objects.select_related("project__group", "volunteer"),
        missing=None,
        id=record_id,
    )
    permissions.require_record_seen(record, principal, policy)
    assert record is not None
    require_not_frozen(record.volunteer_id)
    return record


def _release_slot(record: ServiceRecord) -> None:
    DaySlot.objects.filter(record=record).delete()


def decide_declaration(
    *,
    record_id: int,
    accept: bool,
    reason: str,
    principal: Principal,
    policy: RegionPolicy,
    evaluation: dict[str, int | None] | None = None,
):
    """The group confirms a self-declared record, or rejects it with a reason.

    Confirming, the group's staff give the evaluation of the service (守时程度、服务态度、
    专业水平, 000 Art.10), which the volunteer could not; the database lets it be set
    only while the record is declared (records 0006)."""
    reason = (reason or "").strip()
    if not accept and not reason:
        raise InvalidInput(_("say why the declaration is rejected"), field="reason")
    given = {k: v for k, v in (evaluation or {}).items() if v is not None}
    problems = ProblemCollector()
    for name, value in given.items():
        if name not in EVALUATION:
            raise InvalidInput(_("unknown evaluation"), field=name)
        if not 1 <= value <= 5:
            problems.add(name, _("from 1 to 5"))
    if given and not accept:
        problems.add(next(iter(given)), _("a rejected declaration is not evaluated (000 Art.10)"))
    problems.raise_if_any()
    with transaction.atomic():
        record = _record_for(record_id, principal, policy)
        principal = _require_answering(record, principal, policy)
        if record.state != RecordState.DECLARED:
            raise Conflict(
                _("the record is %(state)s") % {"state": shown(record, "state")}, field="recordId"
            )
        record.recorder = principal.actor
        record.decided_at = timezone.now()
        if accept:
            for name, value in given.items():
                setattr(record, name, value)
            audit(principal.actor, "record.declaration_confirmed", str(record.id), **given)
            _after_acceptance(record, policy, principal.actor, ("recorder", "decided_at", *given))
        else:
            record.state = RecordState.REJECTED
            record.state_reason = reason
            record.save(update_fields=["state", "state_reason", "recorder", "decided_at"])
            _release_slot(record)
            audit(principal.actor, "record.declaration_rejected", str(record.id), reason=reason)
    return record


# A record in publicity (公示), open to objections.
PUBLIC_STATES = (RecordState.IN_PUBLICITY, RecordState.OBJECTED)


def raise_objection(
    *, record_id: int, reason: str, principal: Principal, policy: RegionPolicy
) -> Objection:
    """Object to a record in publicity (公示, 接受社会监督: 001 §4(4)3): anyone logged
    in, or — where the policy's ``objection_raisers`` says so — only the recording
    group's members and staff and the authority."""
    principal = accounts.require(principal)
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise InvalidInput(_("say what is wrong with the record"), field="reason")
    with transaction.atomic():
        record = locked_row(
            ServiceRecord.objects.select_related("project__group", "volunteer"),
            missing=None,
            id=record_id,
        )
        # Whoever may neither see the record nor object to it in publicity gets one
        # answer for a record in another state, one they may not object to and an id
        # with no record alike: neither its state nor its existence is theirs to
        # learn (audit round 3).
        if record is None or not permissions.may_see_record(record, principal, policy):
            public = record is not None and record.state in PUBLIC_STATES
            if not (public and permissions.may_object(record, principal, policy)):
                raise permissions.unseen_objection(policy)
        assert record is not None
        require_not_frozen(record.volunteer_id)
        if record.state not in PUBLIC_STATES:
            raise Conflict(
                _("the record is %(state)s, not in publicity") % {"state": shown(record, "state")},
                field="recordId",
            )
        permissions.require_objector(record, principal, policy)
        objection = Objection.objects.create(
            record=record, raised_by=principal.actor, reason=reason
        )
        record.state = RecordState.OBJECTED
        record.save(update_fields=["state"])
        audit(principal.actor, "record.objection_raised", str(record.id), reason=reason)
    return objection


def resolve_objection(
    *, objection_id: int, upheld: bool, reason: str, principal: Principal, policy: RegionPolicy
):
    """The group resolves an objection, with a reason: upheld voids the record;
    dismissed returns it to publicity (it counts once publicity has ended)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("give the reason for the resolution"), field="reason")
    with transaction.atomic():
        principal = accounts.require(principal)
        objection = locked_row(Objection.objects, missing=None, id=objection_id)
        if objection is None:
            # Refused as an objection to a record the caller may not see (audit round 3).
            if not sees_every_volunteer(principal):
                raise PermissionDenied(_("you may not act on this record"))
            raise NotFound(_("no such objection"), field="objectionId")
        record = _record_for(objection.record_id, principal, policy)
        permissions.require_objection_resolver(record, principal)
        if objection.resolution != Objection.Resolution.OPEN:
            raise Conflict(_("the objection was already resolved"), field="objectionId")
        objection.resolution = (
            Objection.Resolution.UPHELD if upheld else Objection.Resolution.DISMISSED
        )
        objection.resolution_reason = reason
        objection.resolved_by = principal.actor
        objection.resolved_at = timezone.now()
        objection.save()
        # A record voided by an objection upheld before this one stays as it is (void
        # is final; the database refuses to change it): only the objection is answered.
        if record.state != RecordState.OBJECTED:
            pass
        elif upheld:
            record.state = RecordState.VOID
            record.state_reason = reason
            record.save(update_fields=["state", "state_reason"])
            _release_slot(record)
            _adjust_time_bank(record, principal.actor, reason)  # nothing unless deposited
        elif not record.objections.filter(resolution=Objection.Resolution.OPEN).exists():
            record.state = RecordState.IN_PUBLICITY
            record.save(update_fields=["state"])
        audit(
            principal.actor,
            "record.objection_resolved",
            str(record.id),
            upheld=upheld,
            reason=reason,
        )
    return objection


def close_publicity(
    policy_for_region: RegionPolicy,
    today: datetime.date | None = None,
    actor: str = "system:publicity",
) -> int:
    """Move every record whose publicity has ended without open objection onward.

    Safe to run repeatedly: a record leaves ``in_publicity`` once, under a lock.
    Returns how many records moved.
    """
    today = today or timezone.localdate()
    due = list(
        ServiceRecord.objects.filter(
            state=RecordState.IN_PUBLICITY, publicity_ends_on__lt=today
        ).values_list("id", flat=True)
    )
    moved = 0
    for record_id in due:
        with transaction.atomic():
            try:
                record = _locked_record(record_id)
            except Conflict:
                # The volunteer consented to a transfer (or left): the record travels
                # in publicity and finishes it at the destination (issue 11 finding 2).
                continue
            if record.state != RecordState.IN_PUBLICITY:
                continue  # another run got there first
            _after_publicity(record, policy_for_region, actor)
            moved += 1
    return moved


def confirm_record(*, record_id: int, principal: Principal, policy: RegionPolicy) -> ServiceRecord:
    """Civil affairs confirms a record (001 §4(4)3: 经民政部门确认无误); it then counts.

    Two concurrent confirmations: the row lock lets one through; the other
    finds the record counted and gets CONFLICT.
    """
    principal = accounts.require(principal)
    if not principal.is_authority:  # refused before any row is locked
        raise PermissionDenied(_("only civil-affairs staff confirm records"))
    with transaction.atomic():
        record = _record_for(record_id, principal, policy)
        permissions.require_confirmer(record, principal)
        if record.state != RecordState.AWAITING_CONFIRMATION:
            raise Conflict(
                _("the record is %(state)s") % {"state": shown(record, "state")}, field="recordId"
            )
        record.confirmed_by = principal.actor
        _count(record, policy, principal.actor)
    return record


def amend_record(
    *, record_id: int, changes: dict, reason: str, principal: Principal, policy: RegionPolicy
) -> Amendment:
    """Correct a record by an amendment (never in place). Counted hours follow at once."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("say why the record is corrected"), field="reason")
    allowed = {"hours", "start_time", "end_time", "place", "service_target", "content"}
    unknown = set(changes) - allowed
    if unknown or not changes:
        raise InvalidInput(
            _("change at least one of %(choices)s") % {"choices": ", ".join(sorted(allowed))},
            field="changes",
        )
    with transaction.atomic():
        record = _record_for(record_id, principal, policy)
        principal = _require_answering(record, principal, policy)
        if record.state in (RecordState.REJECTED, RecordState.VOID, RecordState.DECLARED):
            raise Conflict(
                _("the record is %(state)s") % {"state": shown(record, "state")}, field="recordId"
            )
        before = record.current()
        problems = ProblemCollector()
        new_hours = parse_hours(changes["hours"], problems) if "hours" in changes else None
        start = changes.get("start_time") or before.start_time
        end = changes.get("end_time") or before.end_time
        hours = new_hours or before.hours
        if check_times(start, end, problems) and hours > span_hours(start, end):
            problems.add("hours", _("more than the time between start and end (000 Art.9)"))
        problems.raise_if_any()
        amendment = Amendment.objects.create(
            record=record,
            hours=new_hours,
            start_time=changes.get("start_time"),
            end_time=changes.get("end_time"),
            place=(changes.get("place") or "").strip(),
            service_target=(changes.get("service_target") or "").strip(),
            content=(changes.get("content") or "").strip(),
            reason=reason,
            amended_by=principal.actor,
        )
        if "start_time" in changes or "end_time" in changes:
            try:
                with transaction.atomic():
                    DaySlot.objects.filter(record=record).update(start_time=start, end_time=end)
            except IntegrityError:
                raise Conflict(
                    _("the corrected times overlap another record of the volunteer"),
                    field="startTime",
                ) from None
        if record.state == RecordState.COUNTED and hours != before.hours:
            add_to_totals(record.volunteer_id, hours - before.hours)
            # Saved hours follow by a compensating entry (the ledger is append-only).
            _adjust_time_bank(record, principal.actor, reason)
        audit(
            principal.actor,
            "record.amended",
            str(record.id),
            reason=reason,
            before=str(before.hours),
            after=str(hours),
        )
    return amendment
