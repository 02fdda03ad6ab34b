"""The volunteer's card and QR time recording (扫码记时).

A card code is ``<region code>.<volunteer number>.<card version>`` signed with
Django's TimestampSigner. The app shows it as a QR image and refreshes it; a
code older than ``CARD_CODE_MAX_AGE`` seconds is refused, and rotating the card
(``rotate_card``) bumps the version so every earlier code stops working at
once (a lost or photographed card). A recorder scans the code at check-in and
again at check-out; check-out proposes the hours between the two (rounded
down to a quarter hour) and records them like a manual entry.
"""

from __future__ import annotations

import base64
import datetime
import io
from decimal import ROUND_DOWN, Decimal

import qrcode
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from central.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tenants.accounts import services as accounts
from tenants.audit.services import record as audit
from tenants.records import services as records
from tenants.records.models import CheckIn, RecordMode, ServiceRecord, VolunteerCard
from tenants.volunteers.models import Volunteer

CARD_CODE_MAX_AGE = 300
_SIGNER = signing.TimestampSigner(salt="volunteer-card")


def _card(volunteer: Volunteer) -> VolunteerCard:
    card, _ = VolunteerCard.objects.get_or_create(volunteer=volunteer)
    return card


def card_code(volunteer: Volunteer, region_code: str) -> tuple[str, datetime.datetime]:
    """A fresh signed code for the volunteer's card and when it stops working."""
    card = _card(volunteer)
    code = _SIGNER.sign(f"{region_code}.{volunteer.number}.{card.version}")
    return code, timezone.now() + datetime.timedelta(seconds=CARD_CODE_MAX_AGE)


def qr_png(code: str) -> bytes:
    image = qrcode.make(code, box_size=6, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def qr_data_url(code: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(code)).decode()


def rotate_card(*, principal) -> VolunteerCard:
    principal = accounts.require(principal)
    if principal.volunteer is None:
        raise PermissionDenied("only a volunteer's own account rotates their card")
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
            "the card code has expired; ask the volunteer to refresh it", field="cardCode"
        ) from None
    except signing.BadSignature:
        raise InvalidInput("not a volunteer card code", field="cardCode") from None
    code_region, number, version = value.split(".")
    if code_region != region_code:
        raise InvalidInput("this card belongs to another region", field="cardCode")
    volunteer = Volunteer.objects.filter(number=number).first()
    if volunteer is None:
        raise NotFound("no such volunteer", field="cardCode")
    if str(_card(volunteer).version) != version:
        raise InvalidInput(
            "this card was replaced; ask the volunteer for the new code", field="cardCode"
        )
    return volunteer


def check_in(project_id: int, code: str, *, principal, policy, region_code: str) -> CheckIn:
    project = records._project(project_id)
    principal = records._may_record(project, principal, policy)
    volunteer = read_code(code, region_code)
    records._participant(volunteer, project)
    try:
        with transaction.atomic():
            check = CheckIn.objects.create(
                volunteer=volunteer,
                project=project,
                checked_in_at=timezone.now(),
                checked_in_by=principal.actor,
            )
            audit(principal.actor, "card.checked_in", str(check.id), volunteer=volunteer.number)
    except IntegrityError:
        raise Conflict(f"{volunteer.number} is already checked in", field="cardCode") from None
    return check


def proposed_hours(start: datetime.datetime, end: datetime.datetime) -> Decimal:
    quarters = int((end - start).total_seconds() // 900)
    return (Decimal(quarters) / 4).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def check_out(
    project_id: int,
    code: str,
    content: str,
    *,
    principal,
    policy,
    region_code: str,
    hours: Decimal | None = None,
) -> ServiceRecord:
    """Close the open check-in and record the hours (proposed, or fewer if the recorder
    says so — breaks and travel do not count)."""
    project = records._project(project_id)
    principal = records._may_record(project, principal, policy)
    volunteer = read_code(code, region_code)
    with transaction.atomic():
        check = (
            CheckIn.objects.select_for_update()
            .filter(volunteer=volunteer, project=project, checked_out_at__isnull=True)
            .first()
        )
        if check is None:
            raise Conflict(
                f"{volunteer.number} is not checked in at {project.name}", field="cardCode"
            )
        now = timezone.now()
        start, end = timezone.localtime(check.checked_in_at), timezone.localtime(now)
        if start.date() != end.date():
            raise Conflict(
                "the check-in was on another day; record those hours by hand", field="cardCode"
            )
        proposal = proposed_hours(start, end)
        chosen = proposal if hours is None else Decimal(str(hours))
        if chosen > proposal:
            raise InvalidInput(
                f"at most {proposal} hours between check-in and check-out", field="hours"
            )
        if chosen <= 0:
            raise InvalidInput(
                "less than a quarter hour between check-in and check-out", field="hours"
            )
        entry = records.RecordEntry(
            service_date=start.date(),
            start_time=start.time().replace(microsecond=0),
            end_time=end.time().replace(microsecond=0),
            hours=chosen,
            content=content or project.name,
        )
        record = records.record_hours(
            project.id,
            volunteer.number,
            entry,
            principal=principal,
            policy=policy,
            mode=RecordMode.QR,
        )
        check.checked_out_at = now
        check.record = record
        check.save(update_fields=["checked_out_at", "record"])
        audit(principal.actor, "card.checked_out", str(check.id), record=record.id)
    return record
