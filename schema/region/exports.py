"""Hours reports and exports (issue 12 point 6) in a region's API.

``exportLink`` parses, calls ``tenants/reports/services.export_link`` (which
decides who may export what) and answers a short-lived signed link to
``/exports/download`` on this host, as ``certificateDownloadLink`` does for a
certificate's PDF: a browser's plain GET cannot send the bearer token.
"""

from __future__ import annotations

import datetime
import enum

import strawberry
from strawberry.types import Info

from schema.context import bearer_token
from schema.errors import Payload, mutation_payload
from schema.region.auth import caller, parse_id
from tenants.accounts.services import token_id_of
from tenants.reports import services as reports


@strawberry.enum(
    description="What to export. HOURS_* are hours reports of counted hours only (已记入): "
    "by volunteer, group, project or division, over the period given."
)
class ExportKind(enum.Enum):
    HOURS_BY_VOLUNTEER = "hours_by_volunteer"
    HOURS_BY_GROUP = "hours_by_group"
    HOURS_BY_PROJECT = "hours_by_project"
    HOURS_BY_DIVISION = "hours_by_division"
    VOLUNTEERS = "volunteers"
    RECORDS = "records"


@strawberry.enum(description="CSV (UTF-8 with BOM), XLSX, or PDF (hours reports only).")
class ExportFormat(enum.Enum):
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


@strawberry.input(description="Which report or export, of whom, over which period.")
class ExportInput:
    kind: ExportKind
    format: ExportFormat
    group_id: strawberry.ID | None = strawberry.field(
        default=None, description="One group: its staff, or the authority of its area."
    )
    division_code: str | None = strawberry.field(
        default=None,
        description="An authority's area (default: the authority's own division). Without "
        "groupId and divisionCode a volunteer gets their own hours and records.",
    )
    date_from: datetime.date | None = strawberry.field(
        default=None, description="First service date (registration date for VOLUNTEERS)."
    )
    date_to: datetime.date | None = strawberry.field(default=None, description="Last one.")
    reveal: bool = strawberry.field(
        default=False,
        description="VOLUNTEERS only: full ID numbers and phones, for whoever may reveal "
        "them all (each volunteer's reveal is logged).",
    )
    reason: str = strawberry.field(default="", description="Why, when revealing.")


@strawberry.type
class ExportLinkPayload(Payload):
    url: str | None = strawberry.field(
        default=None, description="The file on this host, without Authorization, until expiresAt."
    )
    expires_at: datetime.datetime | None = None
    file_name: str | None = strawberry.field(default=None, description="The file's (Chinese) name.")


@strawberry.type
class ExportsMutation:
    @strawberry.mutation(
        description="A short-lived signed link to a report or export file: an authority "
        "of its area, a group's staff of their group, a volunteer their own hours."
    )
    @mutation_payload(ExportLinkPayload)
    def export_link(self, info: Info, input: ExportInput) -> ExportLinkPayload:
        principal, policy = caller(info)
        group_id = parse_id(input.group_id, "VolunteerGroup", "groupId") if input.group_id else None
        path, expires_at, name = reports.export_link(
            kind=input.kind.value,
            fmt=input.format.value,
            principal=principal,
            policy=policy,
            region=info.context.region,
            group_id=group_id,
            division_code=(input.division_code or "").strip() or None,
            date_from=input.date_from,
            date_to=input.date_to,
            reveal=input.reveal,
            reason=input.reason,
            token_id=token_id_of(bearer_token(info.context.request)),
        )
        return ExportLinkPayload(
            url=info.context.request.build_absolute_uri(path),
            expires_at=expires_at,
            file_name=name,
        )
