"""Issuing, revoking and verifying certificates of service (志愿服务记录证明).

Rules:
- 000 Art.17, 003 Art.25: a volunteer asks, the organisation issues a
  certificate of the recorded service, free of charge (there is no charge
  concept here at all) and truthfully, with its seal.
- 民发〔2015〕149号 (关于规范志愿服务记录证明工作的指导意见): whoever records
  certifies. A group certifies only the counted records it recorded itself
  (``ServiceRecord.group``), with their current (amended) hours; records that
  came in by transfer keep their origin region on the certificate. The
  certificate states the volunteer (name, ID type, masked ID number, volunteer
  number), the hours and service content, the issuing group with its
  responsible person, handler (经办人) and contact, a number, the issue date,
  notes and the seal (民发〔2015〕149号; docs/rules.md).
- Who asks: the volunteer themself, for a group they are an active member of,
  or an admin of the group on the volunteer's behalf.
- A certificate is never edited: what it stated is kept in ``snapshot``; a
  wrong one is revoked (with a reason) and a new one issued.

Nothing is written when a request is refused: every check runs before the
transaction, and the PDF file is written last inside it and removed if the
transaction fails.
"""

from __future__ import annotations

import datetime
import secrets
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from central.errors import Conflict, InvalidInput, NotFound, PermissionDenied, locked_row
from central.tenancy import connection
from central.throttle import VERIFY, check_refusals, count_refusal
from tenants.accounts import services as accounts
from tenants.accounts.models import LoginThrottle
from tenants.accounts.principal import Principal
from tenants.accounts.signers import signer
from tenants.audit.services import record
from tenants.certificates.models import Certificate, GroupSeal
from tenants.certificates.pdf import CertificateData, ServiceRow, render_certificate_pdf
from tenants.certificates.permissions import may_download, require_revoker, require_seal_keeper
from tenants.groups.models import Membership, MembershipStatus, Review, VolunteerGroup
from tenants.images import ImageRefused, check_image
from tenants.records.models import RecordMode, RecordState, ServiceRecord
from tenants.volunteers import pii
from tenants.volunteers.models import IdType, Volunteer

if TYPE_CHECKING:
    from central.models import Region

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Verification codes: 12 characters from an alphabet without look-alikes
# (no 0/O, 1/I/L), about 59 bits, drawn by ``secrets``: unguessable.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12
SELF_SERVICE_HANDLER = "网上自助出具"
MAX_NOTES = 500
MAX_REASON = 500


# --- files -----------------------------------------------------------------


def _region_dir(kind: str) -> Path:
    """Files are kept per region: one folder per schema, like group certificates."""
    return Path(settings.MEDIA_ROOT) / "regions" / connection.schema_name / kind


def seal_path(seal: GroupSeal) -> Path:
    return _region_dir("seals") / seal.file_name


def pdf_path(certificate: Certificate) -> Path:
    return _region_dir("certificates") / certificate.pdf_file


def _write(kind: str, file_name: str, content: bytes) -> Path:
    directory = _region_dir(kind)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name
    path.write_bytes(content)
    return path


def _discard(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


# --- seals -----------------------------------------------------------------


def _read_seal(upload) -> bytes:
    """A PNG by its bytes (not its name), at most ``UPLOAD_MAX_BYTES``, readable."""
    if upload is None:
        raise InvalidInput(_("upload the seal as a PNG image"), field="seal")
    content = upload.read(settings.UPLOAD_MAX_BYTES + 1)
    if len(content) > settings.UPLOAD_MAX_BYTES:
        raise InvalidInput(
            _("larger than %(number)s KiB") % {"number": settings.UPLOAD_MAX_BYTES // 1024},
            field="seal",
        )
    if not content.startswith(PNG_SIGNATURE):
        raise InvalidInput(_("the seal must be a PNG image"), field="seal")
    try:  # decoded in full within UPLOAD_MAX_PIXELS: a decompression bomb is refused
        check_image(content, {"PNG": "png"})
    except ImageRefused as refused:
        raise InvalidInput(_("the seal %(refused)s") % {"refused": refused}, field="seal") from None
    return content


def _group(group_id) -> VolunteerGroup:
    try:
        group = VolunteerGroup.objects.filter(id=int(group_id)).first()
    except (TypeError, ValueError):
        group = None
    if group is None:
        raise NotFound(_("no such group"), field="groupId")
    return group


def upload_seal(*, group_id, upload, principal: Principal | None) -> GroupSeal:
    """A group admin uploads (or replaces) the group's seal (000 Art.17 加盖公章)."""
    principal = accounts.require(principal)
    group = _group(group_id)
    require_seal_keeper(group, principal)
    content = _read_seal(upload)
    file_name = f"{uuid.uuid4().hex}.png"
    stored: Path | None = None
    previous: str | None = None
    try:
        with transaction.atomic():
            seal = locked_row(GroupSeal.objects, missing=None, group=group)
            if seal is None:
                seal = GroupSeal(group=group)
            else:
                previous = seal.file_name
            seal.file_name = file_name
            seal.uploaded_at = timezone.now()
            seal.uploaded_by = principal.actor
            seal.save()
            record(
                principal.actor, "certificate.seal_uploaded", str(group.id), replaced=bool(previous)
            )
            stored = _write("seals", file_name, content)
    except IntegrityError:  # a concurrent first upload for the same group won
        _discard(stored)
        raise Conflict(
            _("the seal was uploaded at the same moment; try again"), field="seal"
        ) from None
    except BaseException:
        _discard(stored)
        raise
    if previous:
        # Certificates already issued carry the seal inside their PDFs.
        _discard(_region_dir("seals") / previous)
    return seal


# --- issuing ---------------------------------------------------------------


def certificate_number(region_code: str, year: int, sequence: int) -> str:
    """``ZS-<region code>-<yyyy>-<seq>``, the sequence zero-padded to six digits."""
    return f"ZS-{region_code}-{year:04d}-{sequence:06d}"


def _next_number(region_code: str, year: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('certificate_number_seq')")
        sequence = cursor.fetchone()[0]
    return certificate_number(region_code, year, sequence)


def new_verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _unused in range(CODE_LENGTH))


def normalize_code(code: str | None) -> str:
    """Accept the code as printed, in any case, with spaces or dashes between groups."""
    return "".join(ch for ch in (code or "").upper() if ch not in " -")


def verification_path(code: str) -> str:
    return f"/certificates/verify/{code}"


def download_path(code: str) -> str:
    return f"/certificates/{code}.pdf"


# A signed download link lets a browser fetch the PDF with a plain GET (an <a
# href>, window.open), which cannot carry the bearer token; it is short-lived
# and names one certificate of one region, so a leaked link is worth little.
# It also names who asked for it and the token they asked with (audit round 6):
# at download ``check_link_signer`` asks ``may_download`` again, of that
# account as it is now, as export links do (``reports.services.check_signer``).
_LINK_SALT = "certificate-pdf-link"


@dataclass(frozen=True)
class CertificateLink:
    """What a certificate's PDF link carries, signed."""

    region: str
    code: str
    actor: str
    token: int | None


def download_link(
    *, code: str, principal: Principal | None, region: Region, token_id: int | None = None
) -> tuple[str, datetime.datetime]:
    """A path to the certificate's PDF that works without ``Authorization`` for
    ``settings.CERTIFICATE_LINK_SECONDS``, and when it expires; for those who may
    download it (the volunteer, the issuing group's staff, the authority).
    ``token_id``: the access token the caller asks with, which must still be live
    when the PDF is downloaded."""
    principal = accounts.require(principal)
    certificate = find(code)
    if certificate is None:
        raise NotFound(_("no such certificate"), field="code")
    if not may_download(certificate, principal):
        raise PermissionDenied(
            _("only the volunteer, the issuing group's staff and the authority"), field="code"
        )
    signed = CertificateLink(
        region=region.code,
        code=certificate.verification_code,
        actor=principal.actor,
        token=token_id,
    )
    link = signing.dumps(asdict(signed), salt=_LINK_SALT, compress=True)
    expires_at = timezone.now() + datetime.timedelta(seconds=settings.CERTIFICATE_LINK_SECONDS)
    return f"{download_path(certificate.verification_code)}?link={link}", expires_at


def open_link(link: str, code: str, region: Region) -> CertificateLink | None:
    """What ``link`` (from ``download_link``) carries, if it is signed here, not
    expired, of ``region`` and for the certificate ``code``."""
    try:
        data = signing.loads(link, salt=_LINK_SALT, max_age=settings.CERTIFICATE_LINK_SECONDS)
        signed = CertificateLink(**data)
    except (signing.BadSignature, TypeError, ValueError):  # SignatureExpired included
        return None
    if signed.region != region.code or signed.code != normalize_code(code):
        return None
    return signed


def check_link_signer(signed: CertificateLink, certificate: Certificate) -> None:
    """Raise ``PermissionDenied`` unless whoever asked for the link may still
    download ``certificate``: the account exists and is active, the token it asked
    with is live, and ``may_download`` — the check ``download_link`` made — still
    says yes."""
    principal = signer(signed.actor, signed.token)
    if principal is None:
        raise PermissionDenied(
            _(
                "the account that asked for this link is disabled or logged out; "
                "log in and ask for a new link"
            )
        )
    if not may_download(certificate, principal):
        raise PermissionDenied(
            _("the account that asked for this link may no longer download this certificate")
        )


def _site_url(region: Region) -> str:
    """The region's own site when no request tells us (e.g. from the command line)."""
    domain = region.domains.order_by("-is_primary", "domain").first()
    return f"http://{domain.domain}" if domain else "http://localhost"


def _origin_label(code: str, cache: dict[str, str]) -> str:
    """An imported record's origin region by name (central rows are read by code)."""
    if code not in cache:
        from central.models import Region

        name = Region.objects.filter(code=code).values_list("name", flat=True).first()
        cache[code] = name or f"行政区划{code}"
    return cache[code]


def service_rows(
    volunteer: Volunteer, group: VolunteerGroup, *, imported: bool = True
) -> list[ServiceRow]:
    """The counted records the group recorded, one row per project (民发〔2015〕149号),
    plus (``imported``) the records the volunteer brought in by transfer (转移接续):
    those were certified by their origin region's group and are part of the
    volunteer's record here (issue 5 §6), so they appear in rows of their own,
    marked with their origin region.

    Hours are the records' current values (amendments applied).
    """
    brought = Q(group__isnull=True, mode=RecordMode.IMPORTED) if imported else Q(pk__in=[])
    records = (
        ServiceRecord.objects.filter(
            Q(group=group) | brought,
            volunteer=volunteer,
            state=RecordState.COUNTED,
        )
        .prefetch_related("amendments")
        .order_by("service_date", "start_time", "id")
    )
    rows: OrderedDict[tuple, dict] = OrderedDict()
    origins: dict[str, str] = {}
    for row in records:
        origin = row.origin_region_code or ""
        key = (row.project_id or row.project_name, origin)
        entry = rows.setdefault(
            key,
            {
                "name": row.project_name,
                "first": row.service_date,
                "last": row.service_date,
                "hours": Decimal(0),
                # The origin's name as the package gave it (a peer's region is not
                # in this deployment's table); older imports: looked up by code.
                "origin": (row.origin_region_name or _origin_label(origin, origins))
                if origin
                else None,
                "records": [],
            },
        )
        entry["first"] = min(entry["first"], row.service_date)
        entry["last"] = max(entry["last"], row.service_date)
        entry["hours"] += row.current().hours
        if origin:
            entry["records"].append(
                {
                    "originRecordId": row.origin_record_id,
                    "originalHours": str(row.origin_hours)
                    if row.origin_hours is not None
                    else None,
                    "countedAt": _isoformat(row.origin_counted_at or row.counted_at),
                    "confirmedBy": row.origin_confirmed_by,
                }
            )
    return [
        ServiceRow(
            e["name"],
            e["first"],
            e["last"],
            e["hours"],
            origin_region=e["origin"],
            origin_records=tuple(e["records"]),
        )
        for e in rows.values()
        if e["hours"] > 0
    ]


def _isoformat(moment: datetime.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _requester(
    volunteer: Volunteer | None,
    number: str,
    group: VolunteerGroup,
    principal: Principal,
    *,
    member: bool,
) -> str:
    """Who may ask, and the handler (经办人) the certificate names: the volunteer while
    an active ``member`` of the group; an admin of the group for its active members
    and for whoever it recorded service of (000 Art.17: 本人加入或经常参加活动的志愿团体)
    — not for a volunteer it has nothing of, whose records brought in by a transfer
    would otherwise be certified by any group (000 Art.15: 不得向第三方提供)."""
    own = (
        volunteer is not None
        and principal.volunteer is not None
        and principal.volunteer.id == volunteer.id
    )
    if group.id in principal.admin_group_ids:
        recorded = (
            volunteer is not None
            and ServiceRecord.objects.filter(group=group, volunteer=volunteer).exists()
        )
        if not (member or recorded):
            raise PermissionDenied(
                _(
                    "%(number)s is not a member of %(name)s and it recorded no service of "
                    "theirs; a group certifies its members' and the service it recorded"
                )
                % {"number": number, "name": group.name},
                field="number",
            )
        return principal.account.display_name if principal.account else principal.actor
    if own:
        if not member:
            raise PermissionDenied(
                _("you are not an active member of %(name)s; ask the group to issue it")
                % {"name": group.name}
            )
        return SELF_SERVICE_HANDLER
    raise PermissionDenied(
        _("only the volunteer themself or an admin of %(name)s asks for a certificate")
        % {"name": group.name}
    )


def _snapshot(data: CertificateData) -> dict:
    """Exactly what the certificate states, in JSON (verification shows this)."""
    return {
        "number": data.certificate_number,
        "name": data.volunteer_name,
        "idType": data.id_type,
        "idNumberMasked": data.id_number_masked,
        "volunteerNumber": data.volunteer_number,
        "totalHours": str(data.total_hours),
        "rows": [
            {
                "projectName": row.project_name,
                "firstDate": row.first_date.isoformat(),
                "lastDate": row.last_date.isoformat(),
                "hours": str(row.hours),
                "originRegion": row.origin_region,
                **({"originRecords": list(row.origin_records)} if row.origin_records else {}),
            }
            for row in data.service_rows
        ],
        "groupName": data.issuer_name,
        "responsiblePerson": data.responsible_person,
        "handler": data.handler,
        "contact": data.contact,
        "issuedOn": data.issue_date.isoformat(),
        "notes": data.notes,
        "verificationCode": data.verification_code,
        "verificationUrl": data.verification_url,
    }


def issue_certificate(
    *,
    number: str,
    group_id,
    notes: str = "",
    principal: Principal | None,
    region: Region,
    site_url: str | None = None,
) -> Certificate:
    """Issue a certificate of the service ``group_id`` recorded for volunteer ``number``.

    ``site_url`` (scheme and host, e.g. ``https://chongqing.example.org``) is
    where the region's verification page is reached; the QR code encodes
    ``<site_url>/certificates/verify/<code>``. The resolver passes the request's
    own host; without it, the region's primary domain is used.
    """
    principal = accounts.require(principal)
    number = (number or "").strip()
    # A number nobody has is refused as a volunteer the caller may not certify (no
    # oracle of who is registered, audit round 2).
    volunteer = Volunteer.objects.filter(number=number).first()
    group = _group(group_id)
    member = (
        volunteer is not None
        and Membership.objects.filter(
            volunteer=volunteer, group=group, status=MembershipStatus.ACTIVE
        ).exists()
    )
    handler = _requester(volunteer, number, group, principal, member=member)
    assert volunteer is not None  # _requester refused an unknown number
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES:
        raise InvalidInput(
            _("at most %(max_notes)s characters") % {"max_notes": MAX_NOTES}, field="notes"
        )
    if group.review != Review.APPROVED:
        raise Conflict(
            _("%(name)s is not approved; it cannot issue certificates") % {"name": group.name},
            field="groupId",
        )
    seal = GroupSeal.objects.filter(group=group).first()
    seal_png = seal_path(seal).read_bytes() if seal and seal_path(seal).is_file() else None
    if seal_png is None:
        raise Conflict(
            _(
                "%(name)s has no seal on file; its admin uploads the seal "
                "first (a certificate is sealed, 000 Art.17)"
            )
            % {"name": group.name},
            field="groupId",
        )
    # Records brought in by a transfer: for the group's own members only.
    rows = service_rows(volunteer, group, imported=member)
    if not rows:
        raise Conflict(
            _(
                "%(name)s has recorded no counted hours for %(number)s; a "
                "group certifies only the service it recorded (民发〔2015〕149号)"
            )
            % {"name": group.name, "number": volunteer.number},
            field="number",
        )
    total = sum((row.hours for row in rows), Decimal(0))
    base = (site_url or _site_url(region)).rstrip("/")
    contact = " ".join(p for p in (group.contact_person, group.contact_phone) if p.strip())

    stored: Path | None = None
    try:
        with transaction.atomic():
            now = timezone.now()
            issued_on = timezone.localdate(now)
            code = new_verification_code()
            while Certificate.objects.filter(verification_code=code).exists():
                code = new_verification_code()  # practically never
            data = CertificateData(
                volunteer_name=volunteer.name,
                id_type=IdType(volunteer.id_type).label,
                id_number_masked=volunteer.id_number_masked,
                volunteer_number=volunteer.number,
                total_hours=total,
                service_rows=rows,
                issuer_name=group.name,
                responsible_person=group.responsible_person,
                handler=handler,
                contact=contact or group.name,
                certificate_number=_next_number(region.code, issued_on.year),
                issue_date=issued_on,
                verification_code=code,
                verification_url=base + verification_path(code),
                notes=notes,
                seal_png=seal_png,
            )
            pdf = render_certificate_pdf(data)
            certificate = Certificate.objects.create(
                number=data.certificate_number,
                volunteer=volunteer,
                group=group,
                issued_at=now,
                handler_actor=principal.actor,
                handler_name=handler,
                notes=notes,
                verification_code=code,
                snapshot=_snapshot(data),
                pdf_file=f"{data.certificate_number}.pdf",
            )
            record(
                principal.actor,
                "certificate.issued",
                certificate.number,
                volunteer=volunteer.number,
                group=group.id,
                total_hours=str(total),
            )
            stored = _write("certificates", certificate.pdf_file, pdf)  # last
    except BaseException:
        _discard(stored)
        raise
    return certificate


# --- revoking and verifying ------------------------------------------------


def find(code_or_id) -> Certificate | None:
    """A certificate by verification code, by number, or by id."""
    text = str(code_or_id or "").strip()
    if not text:
        return None
    queryset = Certificate.objects.select_related("group", "volunteer")
    if text.isdigit():
        return queryset.filter(id=int(text)).first()
    if text.upper().startswith("ZS-"):
        return queryset.filter(number=text.upper()).first()
    return queryset.filter(verification_code=normalize_code(text)).first()


def revoke_certificate(*, code_or_id, reason: str, principal: Principal | None) -> Certificate:
    """Revoke a certificate (an admin of the issuing group, or the authority)."""
    principal = accounts.require(principal)
    reason = (reason or "").strip()
    found = find(code_or_id)
    if found is None:
        raise NotFound(_("no such certificate"), field="code")
    require_revoker(found, principal)
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(_("say why the certificate is revoked"), field="reason")
    with transaction.atomic():
        certificate = Certificate.objects.select_for_update().get(id=found.id)
        if certificate.revoked_at is not None:
            raise Conflict(
                _("%(number)s was already revoked") % {"number": certificate.number}, field="code"
            )
        certificate.revoked_at = timezone.now()
        certificate.revoked_reason = reason
        certificate.revoked_by = principal.actor
        certificate.save(update_fields=["revoked_at", "revoked_reason", "revoked_by"])
        record(principal.actor, "certificate.revoked", certificate.number, reason=reason)
    return certificate


def status_of(certificate: Certificate) -> str:
    return "revoked" if certificate.revoked_at is not None else "current"


def verify_from(code, *, address: str) -> dict | None:
    """:func:`verify` for an anonymous caller at client ``address`` (the API's
    ``verifyCertificate`` and the public verification page), throttled (audit
    round 6): a lookup that finds nothing is counted against the address
    (``central.throttle.count_refusal``, scope ``verify``) and, past
    ``VERIFY_MISS_LIMIT``, the address is refused *every* lookup with
    ``THROTTLED`` until the lock ends — a lookup that finds a certificate is never
    counted, but a locked address is not told it either, else the lock would
    answer "not found" in the miss's place. A miss is told only once counted: an
    address locked meanwhile by its concurrent requests gets ``THROTTLED``. Each
    lock appends one ``certificate.verify_throttled`` to the audit log."""
    check_refusals(LoginThrottle, address, VERIFY)
    found = verify(code)
    if found is None:
        locked = count_refusal(LoginThrottle, address, VERIFY)
        if locked is not None:
            record(
                "anonymous",
                "certificate.verify_throttled",
                "",
                address=address,
                until=locked.isoformat(),
            )
    return found


def verify(code) -> dict | None:
    """What the certificate with this verification code stated, and its status; None if
    no certificate of this region has that code. Public: shows nothing the
    certificate does not show. Unthrottled: anonymous callers go through
    :func:`verify_from`."""
    normalized = normalize_code(code)
    # Whatever was typed into the page's form reaches here: only a code's own
    # characters go to the database (a NUL would make it fail).
    if len(normalized) != CODE_LENGTH or not (normalized.isascii() and normalized.isalnum()):
        return None
    certificate = Certificate.objects.filter(verification_code=normalized).first()
    if certificate is None:
        return None
    return {
        **certificate.snapshot,
        # A certificate issued before short numbers were masked more shows the
        # narrower mask here: the public page and the API never show more of it.
        "idNumberMasked": pii.narrow_mask(certificate.snapshot["idNumberMasked"]),
        "status": status_of(certificate),
        "genuine": certificate.revoked_at is None,
    }
