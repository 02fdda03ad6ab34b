"""The volunteer's card and QR time recording (扫码记时).

A card code is ``<region code>.<volunteer number>.<card version>`` signed with
Django's TimestampSigner. The app shows it as a QR image and refreshes it; a
code older than ``CARD_CODE_MAX_AGE`` seconds is refused, and rotating the card
(``rotate_card``) bumps the version so every earlier code stops working at
once (a lost or photographed card). A recorder scans the code at check-in and
again at check-out; check-out proposes the hours between the two (rounded
down to a quarter hour) and records them like a manual entry.

A record lies within one calendar day, so a night shift (checked in before
midnight, out after it) becomes one record per day: the first ends at the end
of its day (``records.END_OF_DAY``, 23:59:59, read as 24:00), the next starts at
00:00, and each day's hours are rounded down on their own. A check-in stays open
at most ``OPEN_CHECK_IN_LIMIT``; past that nobody can say what happened, the
check-out is refused (record those hours by hand), and the next check-in of the
volunteer closes the forgotten one without a record instead of being blocked by
it for ever.
"""

from __future__ import annotations

import base64
import datetime
import io
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

import qrcode
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from central.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ProblemCollector
from central.policy import RegionPolicy
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.audit.services import record as audit
from tenants.projects.services import phase, require_not_cancelled
from tenants.records import services as records
from tenants.records.models import CheckIn, RecordMode, ServiceRecord, VolunteerCard
from tenants.records.permissions import require_recorder
from tenants.volunteers.models import Volunteer

CARD_CODE_MAX_AGE = 300
# The longest stretch one check-out records (one record's hours are at most 24, 000 Art.9).
OPEN_CHECK_IN_LIMIT = datetime.timedelta(hours=24)
_SIGNER = signing.TimestampSigner(salt="volunteer-card")


def _card(volunteer: Volunteer) -> VolunteerCard:
    card, _unused = VolunteerCard.objects.get_or_create(volunteer=volunteer)
    return card


def card_code(volunteer: Volunteer, region_code: str) -> tuple[str, datetime.datetime]:
    """A fresh signed code for the volunteer's card and when it stops working."""
    card = _card(volunteer)
    code = _SIGNER.sign(f"{region_code}.{volunteer.number}.{card.version}")
    return code, timezone.now() + datetime.timedelta(seconds=CARD_CODE_MAX_AGE)


def qr_png(code: str) -> bytes:
    image = qrcode.make(code, box_size=6, border=2)
    buffer = io.BytesIO()
    image.save(buffer)  # PNG, qrcode's default kind
    return buffer.getvalue()


def qr_data_url(code: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(code)).decode()


def rotate_card(*, principal: Principal) -> VolunteerCard:
    principal = accounts.require(principal)
    if principal.volunteer is None:
        raise PermissionDenied(_("only a volunteer's own account rotates their card"))
    with transaction.atomic():
        card = _card(principal.volunteer)
        card = VolunteerCard.objects.select_for_update().get(pk=card.pk)
        card.version += 1
        card.save(update_fields=["version"])
        audit(principal.actor, "card.rotated", principal.volunteer.number, version=card.version)
    return card


def read_code(code: str, region_code: str) -> Volunteer:
    """The volunteer behind a scanned code, or a clear refusal."""
    try:
        value = _SIGNER.unsign(code or "", max_age=CARD_CODE_MAX_AGE)
    except signing.SignatureExpired:
        raise InvalidInput(
            _("the card code has expired; ask the volunteer to refresh it"), field="cardCode"
        ) from None
    except signing.BadSignature:
        raise InvalidInput(_("not a volunteer card code"), field="cardCode") from None
    code_region, number, version = value.split(".")
    if code_region != region_code:
        raise InvalidInput(_("this card belongs to another region"), field="cardCode")
    volunteer = Volunteer.objects.filter(number=number).first()
    if volunteer is None:
        raise NotFound(_("no such volunteer"), field="cardCode")
    if str(_card(volunteer).version) != version:
        raise InvalidInput(
            _("this card was replaced; ask the volunteer for the new code"), field="cardCode"
        )
    return volunteer


def check_in(
    *,
    project_id: int,
    code: str,
    principal: Principal,
    policy: RegionPolicy,
    region_code: str,
    now: datetime.datetime | None = None,
) -> CheckIn:
    now = now or timezone.now()
    project = _ongoing_project(project_id, timezone.localdate(now))
    principal = require_recorder(project.group, principal, policy)
    volunteer = read_code(code, region_code)
    records.require_participant(volunteer, project)
    try:
        with transaction.atomic():
            forgotten = (
                CheckIn.objects.select_for_update()
                .filter(
                    volunteer=volunteer,
                    checked_out_at__isnull=True,
                    checked_in_at__lte=now - OPEN_CHECK_IN_LIMIT,
                )
                .first()
            )
            if forgotten is not None:
                # Closed by whoever scans the volunteer next, at any project: the audit
                # names the project it was open at, since that may be another group's.
                _close_without_record(
                    forgotten, volunteer, "card.check_in_abandoned", principal.actor, now
                )
            require_not_cancelled(project.id)
            check = CheckIn.objects.create(
                volunteer=volunteer,
                project=project,
                checked_in_at=now,
                checked_in_by=principal.actor,
            )
            audit(principal.actor, "card.checked_in", str(check.id), volunteer=volunteer.number)
    except IntegrityError:
        raise Conflict(
            _("%(number)s is already checked in") % {"number": volunteer.number}, field="cardCode"
        ) from None
    return check


def _ongoing_project(project_id: int, today: datetime.date):
    """The project to check in at: one running today (issue 10 finding 9; a check-in
    becomes a record of that project's service, 000 Art.8-9)."""
    project = records.recording_project(project_id, any_phase=True)
    state = phase(project, today)
    if state == "published":
        raise InvalidInput(
            _("the project starts on %(starts_on)s: no check-in before")
            % {"starts_on": project.starts_on},
            field="projectId",
        )
    if state == "ended":
        raise InvalidInput(
            _("the project ended on %(ends_on)s: no check-in after") % {"ends_on": project.ends_on},
            field="projectId",
        )
    if state != "ongoing":
        raise Conflict(
            _("the project is %(state)s: nothing to record") % {"state": state}, field="projectId"
        )
    return project


def _open_check_in(volunteer: Volunteer, project) -> CheckIn:
    """The volunteer's open check-in at the project, locked, or a Conflict."""
    check = (
        CheckIn.objects.select_for_update()
        .filter(volunteer=volunteer, project=project, checked_out_at__isnull=True)
        .first()
    )
    if check is None:
        raise Conflict(
            _("%(number)s is not checked in at %(name)s")
            % {"number": volunteer.number, "name": project.name},
            field="cardCode",
        )
    return check


def cancel_check_in(
    *,
    project_id: int,
    code: str,
    principal: Principal,
    policy: RegionPolicy,
    region_code: str,
    now: datetime.datetime | None = None,
) -> CheckIn:
    """Close the volunteer's open check-in without a record: scanned by mistake, or
    too short to count (under a quarter hour, on each day where it spans midnight);
    also when the project has since been cancelled."""
    project = records.recording_project(project_id, any_phase=True)
    principal = require_recorder(project.group, principal, policy)
    volunteer = read_code(code, region_code)
    with transaction.atomic():
        check = _open_check_in(volunteer, project)
        _close_without_record(
            check, volunteer, "card.check_in_cancelled", principal.actor, now or timezone.now()
        )
    return check


def close_stale_check_ins(now: datetime.datetime | None = None) -> int:
    """Close, with no record, every check-in open longer than ``OPEN_CHECK_IN_LIMIT``
    (the scheduled job, issue 12 point 2): past the limit its check-out is refused
    anyway, and the recorder's list of who is on site should not show it for ever."""
    now = now or timezone.now()
    stale = CheckIn.objects.filter(
        checked_out_at__isnull=True, checked_in_at__lte=now - OPEN_CHECK_IN_LIMIT
    ).values_list("id", flat=True)
    closed = 0
    for check_id in list(stale):
        with transaction.atomic():
            check = (
                CheckIn.objects.select_for_update()
                .select_related("volunteer")
                .filter(id=check_id, checked_out_at__isnull=True)
                .first()
            )
            if check is None:
                continue  # checked out (or closed by a new check-in) meanwhile
            _close_without_record(
                check, check.volunteer, "card.check_in_expired", "system:schedule", now
            )
            closed += 1
    return closed


def _close_without_record(check: CheckIn, volunteer: Volunteer, action: str, actor: str, now):
    """Close an open (locked) check-in with no record, and say so in the audit log."""
    check.checked_out_at = now
    check.save(update_fields=["checked_out_at"])
    audit(
        actor,
        action,
        str(check.id),
        volunteer=volunteer.number,
        project=check.project_id,
        checked_in_at=check.checked_in_at.isoformat(),
    )


def proposed_hours(start: datetime.datetime, end: datetime.datetime) -> Decimal:
    quarters = int((end - start).total_seconds() // 900)
    return (Decimal(quarters) / 4).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


@dataclass(frozen=True)
class DayPart:
    """The part of a checked-in stretch that falls on one calendar day."""

    service_date: datetime.date
    start_time: datetime.time
    end_time: datetime.time  # records.END_OF_DAY: until midnight
    proposal: Decimal


def day_parts(start: datetime.datetime, end: datetime.datetime) -> list[DayPart]:
    """Split a stretch (local times) at midnight; each part's hours rounded down alone."""
    parts = []
    while start < end:
        midnight = datetime.datetime.combine(
            start.date() + datetime.timedelta(days=1), datetime.time(), start.tzinfo
        )
        until = min(end, midnight)
        parts.append(
            DayPart(
                service_date=start.date(),
                start_time=start.time().replace(microsecond=0),
                end_time=records.END_OF_DAY
                if until == midnight
                else until.time().replace(microsecond=0),
                proposal=proposed_hours(start, until),
            )
        )
        start = until
    return parts


def _allot(parts: list[DayPart], hours: Decimal | None) -> list[tuple[DayPart, Decimal]]:
    """The hours each day receives: its proposal, or, when the recorder gives fewer,
    the given hours counted from the check-in onward. Days left with none are dropped."""
    total = sum((part.proposal for part in parts), Decimal(0))
    if total <= 0:
        raise InvalidInput(
            _(
                "less than a quarter hour between check-in and check-out (on "
                "each day, where it spans midnight); cancelCheckIn closes the"
                " check-in without a record"
            ),
            field="hours",
        )
    chosen = total
    if hours is not None:
        problems = ProblemCollector()
        parsed = records.parse_hours(hours, problems)
        problems.raise_if_any()
        assert parsed is not None  # parse_hours reported why not
        chosen = parsed
        if chosen > total:
            raise InvalidInput(
                _("at most %(total)s hours between check-in and check-out") % {"total": total},
                field="hours",
            )
    allotted = []
    for part in parts:
        share = min(part.proposal, chosen)
        if share > 0:
            allotted.append((part, share))
        chosen -= share
    return allotted


def check_out(
    *,
    project_id: int,
    code: str,
    content: str,
    principal: Principal,
    policy: RegionPolicy,
    region_code: str,
    hours: Decimal | None = None,
    now: datetime.datetime | None = None,
) -> list[ServiceRecord]:
    """Close the open check-in and record the hours (proposed, or fewer if the recorder
    says so — breaks and travel do not count): one record per day it spans."""
    now = now or timezone.now()
    project = records.recording_project(project_id, today=timezone.localdate(now))
    principal = require_recorder(project.group, principal, policy)
    volunteer = read_code(code, region_code)
    with transaction.atomic():
        check = _open_check_in(volunteer, project)
        start, end = timezone.localtime(check.checked_in_at), timezone.localtime(now)
        if end - start > OPEN_CHECK_IN_LIMIT:
            raise Conflict(
                _(
                    "checked in at %(start)s, more than 24 hours ago; record "
                    "those hours by hand (the next check-in closes this one)"
                )
                % {"start": format(start, "%Y-%m-%d %H:%M")},
                field="cardCode",
            )
        parts = day_parts(start, end)
        outside = [
            part.service_date
            for part in parts
            if not project.starts_on <= part.service_date <= project.ends_on
        ]
        if outside:
            raise InvalidInput(
                _(
                    "the check-in runs into %(outside)s, outside the project's "
                    "dates (%(starts_on)s to %(ends_on)s); record the hours "
                    "within them by hand (cancelCheckIn closes this check-in)"
                )
                % {
                    "outside": outside[0],
                    "starts_on": project.starts_on,
                    "ends_on": project.ends_on,
                },
                field="projectId",
            )
        created = []
        for part, share in _allot(parts, hours):
            entry = records.RecordEntry(
                service_date=part.service_date,
                start_time=part.start_time,
                end_time=part.end_time,
                hours=share,
                content=content or project.name,
            )
            created.append(
                records.record_hours(
                    project_id=project.id,
                    number=volunteer.number,
                    entry=entry,
                    principal=principal,
                    policy=policy,
                    mode=RecordMode.QR,
                    now=now,
                )
            )
        check.checked_out_at = now
        check.record = created[-1]
        check.save(update_fields=["checked_out_at", "record"])
        audit(
            principal.actor,
            "card.checked_out",
            str(check.id),
            records=[record.id for record in created],
        )
    return created
