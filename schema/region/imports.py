"""Bulk import (批量导入) in a region's API: one multipart mutation, the report."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, cast

import strawberry
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from strawberry.file_uploads import Upload
from strawberry.types import Info

from schema.errors import ErrorCode, Payload, UserError, mutation_payload
from schema.identity import global_id
from schema.region.auth import caller, parse_id
from tenants.imports import services as imports
from tenants.imports.columns import ImportKind as Kind

# To mypy each enum is the choices class it is made from: the same members
# (named by the upper-cased value) and values.
if TYPE_CHECKING:
    ImportKind = Kind
else:
    ImportKind = strawberry.enum(
        enum.Enum("ImportKind", {kind.value.upper(): kind.value for kind in Kind}),
        description="What a file holds: VOLUNTEERS (志愿者), MEMBERS (团体成员, invited), "
        "RECORDS (服务记录).",
    )


@strawberry.enum(description="What became of a row.")
class ImportOutcome(enum.Enum):
    IMPORTED = imports.IMPORTED
    ALREADY_PRESENT = imports.ALREADY_PRESENT
    VALID = strawberry.enum_value(
        imports.VALID,
        description="The row passed, but the file was not committed (other rows failed).",
    )


@strawberry.type(description="One problem of one row: its line, column and message.")
class ImportProblem:
    line: int = strawberry.field(description="The line (CSV) or row (XLSX) of the file.")
    column: str | None = strawberry.field(description="The column's header, as in the file.")
    field: str | None = strawberry.field(description="The input field (English header).")
    code: ErrorCode
    message: str


@strawberry.type(description="A row imported or found already present.")
class ImportedRow:
    line: int
    outcome: ImportOutcome
    key: str = strawberry.field(
        description="The volunteer number; for RECORDS the record's id. Empty for VALID."
    )


@strawberry.type(description="What an import did, row by row.")
class ImportReport:
    kind: ImportKind
    rows: int = strawberry.field(description="Data rows read (empty rows are skipped).")
    imported: int = strawberry.field(description="Rows written (0 unless committed).")
    already_present: int
    failed: int = strawberry.field(description="Rows with problems.")
    committed: bool = strawberry.field(
        description="False: nothing was written (all or nothing and some row failed)."
    )
    valid_rows_only: bool
    problems: list[ImportProblem] = strawberry.field(
        description="Every problem of every row, the first 10,000."
    )
    problems_omitted: int
    outcomes: list[ImportedRow] = strawberry.field(
        description="The rows imported, present or valid, the first 10,000."
    )
    outcomes_omitted: int


@strawberry.type
class ImportPayload(Payload):
    report: ImportReport | None = None


def _report(report: imports.ImportReport) -> ImportReport:
    def key(outcome):
        if report.kind is Kind.RECORDS and outcome.key:
            return global_id("ServiceRecord", outcome.key)
        return outcome.key

    return ImportReport(
        kind=ImportKind(report.kind.value),
        rows=report.rows,
        imported=report.imported,
        already_present=report.already_present,
        failed=report.failed,
        committed=report.committed,
        valid_rows_only=report.valid_rows_only,
        problems=[
            ImportProblem(
                line=p.line,
                column=p.column,
                field=p.field,
                code=ErrorCode(p.code),
                message=p.message,
            )
            for p in report.problems
        ],
        problems_omitted=report.problems_omitted,
        outcomes=[
            ImportedRow(line=o.line, outcome=ImportOutcome(o.outcome), key=key(o))
            for o in report.outcomes
        ],
        outcomes_omitted=report.outcomes_omitted,
    )


@strawberry.type
class ImportsMutation:
    @strawberry.mutation(
        description="Import a file (XLSX or CSV, multipart request; templates at "
        "/imports/templates/<volunteers|members|records>.<xlsx|csv>) through the same services "
        "as one at a time: VOLUNTEERS by a group's admins (groupId) or an authority (its "
        "area), MEMBERS by the group's admins (invitations), RECORDS by the project's "
        "recorders (projectId). All or nothing unless validRowsOnly; rows already present "
        "(by ID number, membership, record key) are reported, not imported again."
    )
    @mutation_payload(ImportPayload)
    def import_rows(
        self,
        info: Info,
        kind: ImportKind,
        file: Upload,
        group_id: strawberry.ID | None = None,
        project_id: strawberry.ID | None = None,
        valid_rows_only: bool = False,
    ) -> ImportPayload:
        principal, policy = caller(info)
        uploaded = cast("UploadedFile", file)  # what Upload is at run time
        # Django's uploads know their size; one that did not is refused as too large.
        size = uploaded.size if uploaded.size is not None else settings.UPLOAD_MAX_BYTES + 1
        report = imports.import_rows(
            kind=Kind(kind.value),
            stream=file,
            size=size,
            max_bytes=settings.UPLOAD_MAX_BYTES,
            region=info.context.region,
            policy=policy,
            principal=principal,
            group_id=parse_id(group_id, "VolunteerGroup", "groupId") if group_id else None,
            project_id=parse_id(project_id, "Project", "projectId") if project_id else None,
            valid_rows_only=valid_rows_only,
        )
        errors = []
        if not report.committed:
            errors.append(
                UserError(
                    field="file",
                    code=ErrorCode.INVALID,
                    message=_("%(failed)s of %(rows)s rows have problems; nothing was imported")
                    % {"failed": report.failed, "rows": report.rows},
                )
            )
        return ImportPayload(report=_report(report), errors=errors)
