"""Recording trainings, awards and complaints, and handling complaints.

Who: the staff (group admins and recorders, 记录员) of the group record for
volunteers who are active members of that group, and so may the regional
authority; where the policy asks recorders to hold a certificate
(记录员须持证上岗, 001 §4(4)3) a staff member needs one. Complaints are
investigated and decided by the group's admins or the authority (000 Art.13:
团体应当及时核查处理, 并予以记录).

Every check runs before anything is written; a refused request writes nothing.
Every write appends to the region's audit log.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from central.divisions import prefixes_q
from central.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProblemCollector,
    locked_row,
)
from central.messages import shown
from central.policy import RegionPolicy
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.audit.services import record
from tenants.groups.models import Membership, MembershipStatus, VolunteerGroup
from tenants.groups.selectors import visible_group
from tenants.recognition.models import (
    DECIDED,
    Award,
    AwardLevel,
    Complaint,
    ComplaintStatus,
    Training,
)
from tenants.recognition.permissions import handles_complaints_of, require_complaint_handler
from tenants.records.models import EARLIEST_SERVICE_DATE
from tenants.records.permissions import require_recorder
from tenants.records.services import parse_hours
from tenants.volunteers.models import Volunteer, VolunteerStatus

MAX_CONTENT = 2000


@dataclass
class TrainingEntry:
    """培训信息 (000 Art.11): 主题、内容、日期、地点、学时、联系人; 证明材料 (003 Art.14)."""

    title: str
    content: str
    trained_on: datetime.date
    place: str
    hours: Decimal | str | float
    contact: str = ""  # defaults to the group's contact person
    evidence: str = ""


@dataclass
class AwardEntry:
    """表彰奖励 (000 Art.12): 获奖日期、表彰奖励名称; and who gave it, at what level."""

    title: str
    awarding_body: str
    level: str
    awarded_on: datetime.date


@dataclass
class ComplaintEntry:
    """投诉 (000 Art.13, 003 Art.22): who complained, about what, when it was received."""

    complainant: str
    content: str
    received_on: datetime.date


# -- shared checks -------------------------------------------------------------------------


def _id(value, field: str) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        if field == "complaintId":
            raise NotFound(_("no such complaint"), field=field) from None
        raise NotFound(_("no such group"), field=field) from None


def _group(group_id) -> VolunteerGroup:
    group = VolunteerGroup.objects.filter(id=_id(group_id, "groupId")).first()
    if group is None:
        raise NotFound(_("no such group"), field="groupId")
    return group


def _member(
    problems: ProblemCollector, number: str, group: VolunteerGroup, *, allow_cancelled: bool
) -> Volunteer | None:
    """The volunteer numbered ``number``, an active member of ``group``. Membership is
    asked first, and a number nobody has is answered as a non-member: the status of
    someone who is not the group's member is not the group's to learn, nor whether
    the number is anyone's (audit round 2)."""
    number = (number or "").strip()
    volunteer = Volunteer.objects.filter(number=number).first()
    member = (
        volunteer is not None
        and Membership.objects.filter(
            volunteer=volunteer, group=group, status=MembershipStatus.ACTIVE
        ).exists()
    )
    if not member:
        problems.add(
            "number",
            _("%(number)s is not an active member of %(name)s")
            % {"number": number, "name": group.name},
            "CONFLICT",
        )
        return None
    assert volunteer is not None  # a member is someone
    closed = [VolunteerStatus.TRANSFERRED]
    if not allow_cancelled:
        closed.append(VolunteerStatus.CANCELLED)
    if volunteer.status in closed:
        # A transferred volunteer's records here are read-only (000 Art.16; interop/README.md).
        problems.add(
            "number",
            _("%(number)s is %(status)s")
            % {"number": volunteer.number, "status": shown(volunteer, "status")},
            "CONFLICT",
        )
        return None
    return volunteer


def _text(problems: ProblemCollector, field: str, value, limit: int, what: str) -> str:
    text = (value or "").strip()
    if not text:
        problems.add(field, _("give the %(what)s") % {"what": what})
    elif len(text) > limit:
        problems.add(field, _("at most %(limit)s characters") % {"limit": limit})
    return text


def _optional_text(problems: ProblemCollector, field: str, value, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        problems.add(field, _("at most %(limit)s characters") % {"limit": limit})
    return text


def _past_date(
    problems: ProblemCollector, field: str, value, volunteer: Volunteer | None, what: str
) -> None:
    if not isinstance(value, datetime.date):
        problems.add(field, _("give the %(what)s") % {"what": what})
    elif value > timezone.localdate():
        problems.add(
            field,
            _("the %(what)s is in the future; record it once it has happened") % {"what": what},
        )
    elif value < EARLIEST_SERVICE_DATE:
        # Issue 10 finding 9; a CHECK constraint holds it too (migration 0004).
        problems.add(
            field,
            _("before %(earliest_service_date)s: not a plausible %(what)s")
            % {"earliest_service_date": EARLIEST_SERVICE_DATE, "what": what},
        )
    elif volunteer is not None and value < volunteer.birth_date:
        problems.add(field, _("the %(what)s is before the volunteer was born") % {"what": what})


# -- trainings and awards ------------------------------------------------------------------


def record_training(
    *, number: str, group_id, entry: TrainingEntry, principal: Principal, policy: RegionPolicy
) -> Training:
    """The organising group confirms and records a training (003 Art.14)."""
    group = _group(group_id)
    principal = require_recorder(group, principal, policy, authority_may=True)
    problems = ProblemCollector()
    volunteer = _member(problems, number, group, allow_cancelled=False)
    title = _text(problems, "title", entry.title, 120, "topic of the training (主题)")
    content = _text(problems, "content", entry.content, MAX_CONTENT, "content (内容)")
    _past_date(problems, "trainedOn", entry.trained_on, volunteer, "date of the training")
    place = _text(problems, "place", entry.place, 200, "place (地点)")
    hours = parse_hours(entry.hours, problems)
    contact = _optional_text(problems, "contact", entry.contact, 64) or group.contact_person
    evidence = _optional_text(problems, "evidence", entry.evidence, 500)
    problems.raise_if_any()
    assert volunteer is not None and hours is not None  # reported above if not
    with transaction.atomic():
        training = Training.objects.create(
            volunteer=volunteer,
            group=group,
            title=title,
            content=content,
            trained_on=entry.trained_on,
            place=place,
            hours=hours,
            contact=contact,
            evidence=evidence,
            recorded_by=principal.actor,
        )
        record(
            principal.actor,
            "training.recorded",
            volunteer.number,
            training=training.id,
            group=group.id,
            title=title,
            trained_on=entry.trained_on.isoformat(),
            hours=str(hours),
        )
    return training


def record_award(
    *, number: str, group_id, entry: AwardEntry, principal: Principal, policy: RegionPolicy
) -> Award:
    """The group records an award the volunteer received (000 Art.12, 003 Art.22 ¶2)."""
    group = _group(group_id)
    principal = require_recorder(group, principal, policy, authority_may=True)
    problems = ProblemCollector()
    volunteer = _member(problems, number, group, allow_cancelled=False)
    title = _text(problems, "title", entry.title, 120, "name of the award (表彰奖励名称)")
    body = _text(problems, "awardingBody", entry.awarding_body, 120, "awarding body (颁奖单位)")
    if entry.level not in AwardLevel.values:
        problems.add("level", _("one of %(choices)s") % {"choices": ", ".join(AwardLevel.values)})
    _past_date(problems, "awardedOn", entry.awarded_on, volunteer, "date of the award")
    problems.raise_if_any()
    assert volunteer is not None  # _member reported why not
    with transaction.atomic():
        award = Award.objects.create(
            volunteer=volunteer,
            group=group,
            title=title,
            awarding_body=body,
            level=entry.level,
            awarded_on=entry.awarded_on,
            recorded_by=principal.actor,
        )
        record(
            principal.actor,
            "award.recorded",
            volunteer.number,
            award=award.id,
            group=group.id,
            title=title,
            awarding_body=body,
            level=entry.level,
            awarded_on=entry.awarded_on.isoformat(),
        )
    return award


# -- complaints ----------------------------------------------------------------------------


def file_complaint(
    *, number: str, group_id, entry: ComplaintEntry, principal: Principal, policy: RegionPolicy
) -> Complaint:
    """Record a complaint received about a member (000 Art.13); it starts open."""
    group = _group(group_id)
    principal = require_recorder(group, principal, policy, authority_may=True)
    problems = ProblemCollector()
    # A complaint may concern a volunteer cancelled since; not one transferred out.
    volunteer = _member(problems, number, group, allow_cancelled=True)
    complainant = _text(
        problems, "complainant", entry.complainant, 120, "complainant (投诉人, e.g. 服务对象)"
    )
    content = _text(problems, "content", entry.content, MAX_CONTENT, "content of the complaint")
    _past_date(problems, "receivedOn", entry.received_on, None, "date the complaint was received")
    problems.raise_if_any()
    assert volunteer is not None  # _member reported why not
    with transaction.atomic():
        complaint = Complaint.objects.create(
            volunteer=volunteer,
            group=group,
            complainant=complainant,
            content=content,
            received_on=entry.received_on,
            filed_by=principal.actor,
        )
        record(
            principal.actor,
            "complaint.filed",
            volunteer.number,
            complaint=complaint.id,
            group=group.id,
            complainant=complainant,
            received_on=entry.received_on.isoformat(),
        )
    return complaint


def _locked_complaint(complaint_id, principal: Principal) -> tuple[Complaint, Principal]:
    """The complaint, locked, for one who handles it (``require_complaint_handler``,
    which refuses an id with no complaint as a complaint the caller may not see)."""
    complaint = locked_row(
        Complaint.objects.select_related("volunteer", "group"),
        missing=None,
        id=_id(complaint_id, "complaintId"),
    )
    principal = require_complaint_handler(complaint, principal)
    assert complaint is not None  # refused above
    return complaint, principal


def start_investigation(*, complaint_id, principal: Principal | None) -> Complaint:
    """open → investigating (核查)."""
    principal = accounts.require(principal)
    with transaction.atomic():
        complaint, principal = _locked_complaint(complaint_id, principal)
        if complaint.status != ComplaintStatus.OPEN:
            raise Conflict(
                _("the complaint is already %(status)s") % {"status": shown(complaint, "status")},
                field="complaintId",
            )
        complaint.status = ComplaintStatus.INVESTIGATING
        complaint.investigated_by = principal.actor
        complaint.investigation_started_at = timezone.now()
        complaint.save(update_fields=["status", "investigated_by", "investigation_started_at"])
        record(
            principal.actor,
            "complaint.investigating",
            complaint.volunteer.number,
            complaint=complaint.id,
        )
    return complaint


def decide_complaint(
    *, complaint_id, upheld: bool, reason: str, principal: Principal | None
) -> Complaint:
    """investigating → upheld (属实, kept on file: 003 Art.22 ¶3) or dismissed, with a reason.

    A decision is final: the trigger refuses any later change of the row.
    """
    principal = accounts.require(principal)
    reason = (reason or "").strip()
    with transaction.atomic():
        complaint, principal = _locked_complaint(complaint_id, principal)
        if not reason:
            raise InvalidInput(_("say what the investigation found (核查结论)"), field="reason")
        if len(reason) > 500:
            raise InvalidInput(_("at most 500 characters"), field="reason")
        if complaint.status in DECIDED:
            raise Conflict(
                _("the complaint was already decided (%(status)s)")
                % {"status": shown(complaint, "status")},
                field="complaintId",
            )
        if complaint.status != ComplaintStatus.INVESTIGATING:
            raise Conflict(
                _("start the investigation first (核查, 000 Art.13)"), field="complaintId"
            )
        complaint.status = ComplaintStatus.UPHELD if upheld else ComplaintStatus.DISMISSED
        complaint.decided_by = principal.actor
        complaint.decided_at = timezone.now()
        complaint.decision_reason = reason
        complaint.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        record(
            principal.actor,
            "complaint.decided",
            complaint.volunteer.number,
            complaint=complaint.id,
            upheld=upheld,
            reason=reason,
        )
    return complaint


# -- reading -------------------------------------------------------------------------------


def on_record(*, complaint: Complaint, principal: Principal | None) -> bool:
    """Whether ``complaint`` shows on the volunteer's record to ``principal``.

    An upheld complaint is kept on file (记录在案, 003 Art.22 ¶3) and shows to
    whoever may see the volunteer; an open or investigating one only to the
    group's staff and the authority; a dismissed one is not part of the record
    (it stays in the table, for the audit, and in the staff's ``complaints`` list).
    """
    if complaint.status == ComplaintStatus.UPHELD:
        return True
    if complaint.status == ComplaintStatus.DISMISSED:
        return False
    return handles_complaints_of(principal, complaint.group_id)


def complaints_of_group(
    *, principal: Principal | None, group_id=None, status: str | None = None, after=None
):
    """A group's complaints, every state, for its staff; every group's for the authority.

    Oldest first; ``after`` is the id of the last complaint of the previous page.
    """
    principal = accounts.require(principal)
    queryset = Complaint.objects.select_related("volunteer")
    if group_id is None:
        if not principal.is_authority:
            raise PermissionDenied(_("give the groupId of a group you staff"))
        queryset = queryset.filter(
            prefixes_q("group__division_code", principal.authority_prefixes)
            | prefixes_q("volunteer__division_code", principal.authority_prefixes)
        )
    else:
        # A pending or rejected group the caller may not see is "no such group", as an
        # id with no group: its name is not told (audit round 5; visible_group).
        group = visible_group(_id(group_id, "groupId"), principal)
        if not handles_complaints_of(principal, group.id, group.division_code):
            raise PermissionDenied(
                _("you may not see the complaints of %(name)s") % {"name": group.name}
            )
        queryset = queryset.filter(group=group)
    if status is not None:
        queryset = queryset.filter(status=status)
    if after is not None:
        try:
            queryset = queryset.filter(id__gt=int(str(after)))
        except ValueError:
            raise InvalidInput(_("the id of the last complaint seen"), field="after") from None
    return queryset.order_by("id")
