"""Hours reports and exports (issue 12 point 6): the signed link, then the file.

``export_link`` decides who may export what (``tenants/reports/permissions.py``)
and signs everything the download needs — region, kind, format, scope, period,
whether to reveal and why, and who asked — into a short-lived link
(``settings.EXPORT_LINK_SECONDS``, default 5 minutes) that works without a token,
like a certificate's PDF link. ``open_link`` checks the signature, expiry and
region; ``check_signer`` then asks again whether the account that signed it may
still have the file (audit round 6: it exists, is active, the token it signed
with is live, and ``authorize_export`` — the very check ``export_link`` made —
still grants the same scope), so a role removed, an account disabled or a
logout inside the link's minutes stops the download; ``stream`` yields the file
a block at a time.

Reveal log (000 Art.3, Art.15): a volunteer export that reveals ID numbers and
phones writes one ``PersonalInfoAccess`` row **per volunteer revealed** (who,
whom, fields, the reason with the export's file name), all in one
``INSERT … SELECT`` committed before the first byte leaves, so each volunteer
sees the export in ``myPersonalInfoAccesses`` and no revealed number is sent
unlogged; every download also appends one ``export.downloaded`` audit entry.

The rows are then read in one read-only transaction: a consistent snapshot, and
a plain server-side cursor that PostgreSQL streams (outside a transaction Django
declares it ``WITH HOLD``, which materialises the whole result first).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from central.divisions import DivisionCodeError, check_division_in_region, division_name
from central.errors import InvalidInput, PermissionDenied, ServiceError
from central.policy import RegionPolicy
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.accounts.signers import signer
from tenants.audit.services import record
from tenants.groups.models import VolunteerGroup
from tenants.groups.selectors import visible_group
from tenants.reports import formats, selectors
from tenants.reports.permissions import (
    AREA,
    GROUP,
    SELF,
    Scope,
    may_reveal_all,
    scope_for,
)
from tenants.volunteers import pii
from tenants.volunteers.models import PersonalInfoAccess, Volunteer
from tenants.volunteers.services import age_band

if TYPE_CHECKING:
    from central.models import Region

_SALT = "report-export-link"
DOWNLOAD_PATH = "/exports/download"
KINDS = (*selectors.HOURS_REPORTS, selectors.VOLUNTEERS, selectors.RECORDS)
FORMATS = (formats.CSV, formats.XLSX, formats.PDF)
_KIND_NAMES = {
    selectors.HOURS_BY_VOLUNTEER: "志愿服务时长_按志愿者",
    selectors.HOURS_BY_GROUP: "志愿服务时长_按团体",
    selectors.HOURS_BY_PROJECT: "志愿服务时长_按项目",
    selectors.HOURS_BY_DIVISION: "志愿服务时长_按行政区划",
    selectors.VOLUNTEERS: "志愿者名册",
    selectors.RECORDS: "志愿服务记录台账",
}


@dataclass(frozen=True)
class ExportSpec:
    """Everything a download needs, as signed into its link."""

    region: str
    kind: str
    format: str
    scope: str  # Scope.encode()
    date_from: str | None
    date_to: str | None
    reveal: bool
    reason: str
    actor: str
    file_name: str
    # What the signer asked for and the token they signed with, so the download
    # asks ``authorize_export`` the same question again (``check_signer``).
    group_id: int | None = None
    division_code: str | None = None
    token: int | None = None

    @property
    def period(self) -> tuple[datetime.date | None, datetime.date | None]:
        return (
            datetime.date.fromisoformat(self.date_from) if self.date_from else None,
            datetime.date.fromisoformat(self.date_to) if self.date_to else None,
        )


def _scope_name(scope: Scope) -> str:
    if scope.kind == SELF:
        return Volunteer.objects.filter(id=int(scope.key)).values_list("name", flat=True).get()
    if scope.kind == GROUP:
        return VolunteerGroup.objects.filter(id=int(scope.key)).values_list("name", flat=True).get()
    return division_name(scope.key) or scope.key


def file_name(kind: str, fmt: str, scope: Scope, date_from, date_to) -> str:
    """e.g. ``志愿服务时长_按志愿者_某某志愿服务队_2026-01-01至2026-06-30.csv``."""
    until = date_to or timezone.localdate()
    period = f"{date_from}至{until}" if date_from else f"截至{until}"
    name = f"{_KIND_NAMES[kind]}_{_scope_name(scope)}_{period}.{fmt}"
    # No path separators or control characters in a file name a browser saves.
    return "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in name)


def authorize_export(
    *,
    kind: str,
    principal: Principal,
    policy: RegionPolicy,
    region: Region,
    group_id: int | None = None,
    division_code: str | None = None,
    reveal: bool = False,
    reason: str = "",
) -> Scope:
    """The scope ``principal`` may export ``kind`` of (revealing, if asked), or the
    refusal: what ``export_link`` checks before signing, and ``check_signer`` again
    at download."""
    group = None
    if group_id is not None:
        # A pending or rejected group the caller may not see is "no such group", as
        # an id with no group (audit round 4; groups.selectors.visible_group).
        group = visible_group(group_id, principal)
    if division_code:
        try:
            division_code = check_division_in_region(division_code, region.code)
        except DivisionCodeError as error:
            raise InvalidInput(str(error), field="divisionCode") from None
    scope = scope_for(principal, group=group, division_code=division_code)
    if kind == selectors.VOLUNTEERS and scope.kind == SELF:
        raise PermissionDenied(
            _("a volunteer exports their own hours and records, not a list of volunteers"),
            field="kind",
        )
    if reveal:
        if kind != selectors.VOLUNTEERS:
            raise InvalidInput(
                _("only a volunteer export reveals personal information"), field="reveal"
            )
        if len(reason) < 2:
            raise InvalidInput(
                _("say why you need to see these people's information"), field="reason"
            )
        if not may_reveal_all(scope, principal, policy):
            raise PermissionDenied(
                _("you may not see the personal information of these volunteers"),
                field="reveal",
            )
    return scope


def export_link(
    *,
    kind: str,
    fmt: str,
    principal: Principal,
    policy: RegionPolicy,
    region: Region,
    group_id: int | None = None,
    division_code: str | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    reveal: bool = False,
    reason: str = "",
    token_id: int | None = None,
) -> tuple[str, datetime.datetime, str]:
    """A signed path to the file, when it expires, and the file's name. ``token_id``:
    the access token the caller signs with (the API's), which must still be live
    when the file is downloaded."""
    principal = accounts.require(principal)
    if kind not in KINDS:
        raise InvalidInput(_("no such report"), field="kind")
    if fmt not in FORMATS:
        raise InvalidInput(_("no such file format"), field="format")
    if date_from and date_to and date_from > date_to:
        raise InvalidInput(_("the period ends before it starts"), field="dateTo")
    reason = (reason or "").strip()
    scope = authorize_export(
        kind=kind,
        principal=principal,
        policy=policy,
        region=region,
        group_id=group_id,
        division_code=division_code,
        reveal=reveal,
        reason=reason,
    )
    if fmt == formats.PDF:
        if kind not in selectors.HOURS_REPORTS:
            raise InvalidInput(
                _("PDF is for hours reports; export lists as CSV or XLSX"), field="format"
            )
        if selectors.report_size(kind, scope, date_from, date_to) > formats.PDF_MAX_ROWS:
            raise InvalidInput(
                _("this report has more than %(limit)s rows for a PDF; use CSV or XLSX")
                % {"limit": formats.PDF_MAX_ROWS},
                field="format",
            )
    spec = ExportSpec(
        region=region.code,
        kind=kind,
        format=fmt,
        scope=scope.encode(),
        date_from=date_from.isoformat() if date_from else None,
        date_to=date_to.isoformat() if date_to else None,
        reveal=reveal,
        reason=reason,
        actor=principal.actor,
        file_name=file_name(kind, fmt, scope, date_from, date_to),
        group_id=group_id,
        division_code=division_code,
        token=token_id,
    )
    link = signing.dumps(asdict(spec), salt=_SALT, compress=True)
    expires_at = timezone.now() + datetime.timedelta(seconds=settings.EXPORT_LINK_SECONDS)
    return f"{DOWNLOAD_PATH}?link={link}", expires_at, spec.file_name


def open_link(link: str, region: Region) -> ExportSpec | None:
    """The export a link asks for, if it is signed here, not expired and of ``region``."""
    try:
        data = signing.loads(link, salt=_SALT, max_age=settings.EXPORT_LINK_SECONDS)
        spec = ExportSpec(**data)
    except (signing.BadSignature, TypeError, ValueError):  # SignatureExpired included
        return None
    return spec if spec.region == region.code else None


def check_signer(spec: ExportSpec, region: Region) -> None:
    """Raise ``PermissionDenied`` unless whoever signed ``spec`` may still download
    it: the account exists and is active, the token it signed with is live, and
    ``authorize_export`` still grants it the same scope (and the reveal). Reads
    and writes nothing else: the reveal log is written by ``stream``, after."""
    principal = signer(spec.actor, spec.token)
    if principal is None:
        raise PermissionDenied(
            _(
                "the account that asked for this link is disabled or logged out; "
                "log in and ask for a new link"
            )
        )
    try:
        scope = authorize_export(
            kind=spec.kind,
            principal=principal,
            policy=region.get_policy(),
            region=region,
            group_id=spec.group_id,
            division_code=spec.division_code,
            reveal=spec.reveal,
            reason=spec.reason,
        )
    except ServiceError:
        scope = None
    if scope is None or scope.encode() != spec.scope:
        raise PermissionDenied(
            _("the account that asked for this link may no longer export this file")
        )


def stream(spec: ExportSpec) -> Iterator[bytes]:
    """The file's bytes, a block at a time."""
    scope = Scope.decode(spec.scope)
    date_from, date_to = spec.period
    record(
        spec.actor,
        "export.downloaded",
        spec.scope,
        kind=spec.kind,
        format=spec.format,
        dateFrom=spec.date_from,
        dateTo=spec.date_to,
        revealed=spec.reveal,
        reason=spec.reason,
    )
    if spec.reveal:
        _log_reveals(spec, scope, date_from, date_to)
    with transaction.atomic():
        yield from _file(spec, scope, date_from, date_to)


def _file(spec: ExportSpec, scope: Scope, date_from, date_to) -> Iterator[bytes]:
    header = selectors.HEADERS[spec.kind]
    if spec.kind in selectors.HOURS_REPORTS:
        rows = selectors.hours_rows(spec.kind, scope, date_from, date_to)
    elif spec.kind == selectors.RECORDS:
        rows = selectors.record_rows(scope, date_from, date_to)
    else:
        rows = _volunteer_rows(spec, scope, date_from, date_to)
    title = selectors.TITLES[spec.kind]
    if spec.format == formats.CSV:
        yield from formats.csv_stream(header, rows)
    elif spec.format == formats.XLSX:
        yield from formats.xlsx_stream(title, header, rows)
    else:
        yield formats.pdf_bytes(title, _pdf_lines(spec, scope), header, rows)


def _pdf_lines(spec: ExportSpec, scope: Scope) -> list[str]:
    return [
        f"范围：{_scope_name(scope)}",
        f"期间：{spec.date_from or '不限'} 至 {spec.date_to or '不限'}（按服务日期）",
        "仅统计已记入（公示期满、按规定确认后计入）的服务时长；"
        "公示中、待确认、有异议、未通过和已作废的记录不计入。时长为更正后的现值。",
        f"生成时间：{timezone.localtime():%Y-%m-%d %H:%M}",
    ]


def _log_reveals(spec: ExportSpec, scope: Scope, date_from, date_to) -> None:
    """One reveal-log row per volunteer of the export, in one statement."""
    reason = _("export %(kind)s: %(reason)s") % {"kind": spec.file_name, "reason": spec.reason}
    volunteers, params = (
        selectors.volunteers_in(scope, date_from, date_to).values("id").query.sql_with_params()
    )
    table = PersonalInfoAccess._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (volunteer_id, accessor, fields, reason, accessed_at) "
            f"SELECT v.id, %s, %s::jsonb, %s, now() FROM ({volunteers}) AS v",
            [spec.actor, json.dumps(["idNumber", "phone"]), reason[:500], *params],
        )


def _volunteer_rows(spec: ExportSpec, scope: Scope, date_from, date_to) -> Iterator[list]:
    """Volunteers, masked unless the export reveals (and ``_log_reveals`` logged) them."""
    today = timezone.localdate()
    for chunk in selectors.volunteer_chunks(scope, date_from, date_to):
        for (
            _id,
            number,
            name,
            gender,
            birth_date,
            id_type,
            id_masked,
            id_encrypted,
            phone_masked,
            phone_encrypted,
            division,
            verification,
            status,
            registered_at,
            counted,
        ) in chunk:
            yield [
                number,
                name,
                selectors.label("gender", gender),
                age_band(birth_date, today),
                selectors.label("id_type", id_type),
                pii.decrypt(id_encrypted) if spec.reveal else id_masked,
                pii.decrypt(phone_encrypted) if spec.reveal else phone_masked,
                division,
                selectors.label("verification", verification),
                selectors.label("status", status),
                timezone.localtime(registered_at),
                counted,
            ]


__all__ = [
    "AREA",
    "GROUP",
    "SELF",
    "authorize_export",
    "check_signer",
    "export_link",
    "open_link",
    "stream",
]
