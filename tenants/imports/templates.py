"""The downloadable import templates (导入模板): one per kind, XLSX and CSV, with
the Chinese headers; the XLSX has a second sheet explaining each column."""

from __future__ import annotations

import csv
import io

from django.utils.translation import gettext as _

from tenants.imports.columns import COLUMNS, TITLES, ImportKind

FORMATS = ("xlsx", "csv")
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
# Cells Excel would otherwise turn into numbers (and round to 15 digits) or dates.
TEXT_FIELDS = {"idNumber", "phone", "number", "divisionCode"}


def template(kind: ImportKind, fmt: str) -> bytes:
    if fmt == "csv":
        text = io.StringIO()
        csv.writer(text).writerow([c.header for c in COLUMNS[kind]])
        # With a BOM, so Excel opens the Chinese headers as UTF-8.
        return text.getvalue().encode("utf-8-sig")
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    [sheet] = workbook.worksheets  # a new workbook has one sheet
    sheet.title = TITLES[kind]
    for index, column in enumerate(COLUMNS[kind], start=1):
        cell = sheet.cell(row=1, column=index, value=column.header)
        cell.font = Font(bold=True, color="C00000" if column.required else None)
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(12, len(column.header) * 2 + 4)
        if column.field in TEXT_FIELDS:
            # The column is text, so Excel keeps long numbers exact as they are typed.
            sheet.column_dimensions[letter].number_format = "@"
    sheet.freeze_panes = "A2"
    notes = workbook.create_sheet(_("instructions"))
    notes.append([_("column"), _("English header"), _("required"), _("what to write")])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for column in COLUMNS[kind]:
        required = _("yes") if column.required else _("no")
        notes.append([column.header, column.field, required, str(column.note)])
    for letter, width in zip("ABCD", (16, 20, 8, 70), strict=True):
        notes.column_dimensions[letter].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def file_name(kind: ImportKind, fmt: str) -> str:
    return f"{kind.value}-template.{fmt}"
