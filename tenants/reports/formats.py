"""Writing report rows as CSV, XLSX and PDF, a chunk at a time.

- **CSV**: UTF-8 with a byte-order mark, so Excel opens the Chinese headers and
  names as Chinese (without it Excel reads GBK); rows are encoded and yielded as
  they come.
- **XLSX**: openpyxl in write-only mode, which writes each row to a temporary
  file as it is appended instead of keeping cells in memory; the workbook (a zip)
  is written to a temporary file and streamed from there. Past Excel's
  1,048,576 rows a sheet, the rows go on in a second sheet (with the header).
- **Formula injection** (audit round 5): a text cell starting with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return is a formula to Excel, LibreOffice and
  WPS (a volunteer who registers as ``=HYPERLINK(…)`` or records the content
  ``=cmd|…`` would run it on the machine of whoever opens the group's export, with
  the other rows' ID numbers beside it). Every such text cell, in CSV and XLSX
  alike, is written with a leading apostrophe (``'=…``, OWASP's neutralisation)
  and, in XLSX, as a string cell, never a formula; numbers, dates and times are
  written as they are (a negative number stays a number).
- **PDF**: reportlab with the certificates' embedded Noto Sans SC
  (``tenants/certificates/fonts.py``), for hours reports of at most
  ``PDF_MAX_ROWS`` rows (a PDF table is laid out in memory).
"""

from __future__ import annotations

import csv
import datetime
import io
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal
from xml.sax.saxutils import escape

CSV = "csv"
XLSX = "xlsx"
PDF = "pdf"
CONTENT_TYPES = {
    CSV: "text/csv; charset=utf-8",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    PDF: "application/pdf",
}
PDF_MAX_ROWS = 5000
XLSX_MAX_ROWS = 1_048_575  # a sheet's rows (1,048,576) less the header
_BLOCK = 64 * 1024


# What makes a text cell a formula to a spreadsheet (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutral(text: str) -> str:
    """``text`` as a spreadsheet shows it and never evaluates: a leading apostrophe
    when it starts as a formula would."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def csv_stream(header: list[str], rows: Iterable[list]) -> Iterator[bytes]:
    """The rows as CSV bytes, with a BOM and a header line; one block per ~64 KiB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutral(v) if isinstance(v, str) else _text(v) for v in row])
        if buffer.tell() >= _BLOCK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _cell(value):
    if isinstance(value, str):
        # openpyxl writes a text starting with "=" as a formula: never one here.
        return neutral(value)
    # Timezone-aware datetimes are refused by openpyxl; a report states local time.
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        from django.utils import timezone

        return timezone.localtime(value).replace(tzinfo=None)
    return value


def _sheet_title(title: str, number: int) -> str:
    suffix = f"（{number}）" if number > 1 else ""
    return title[: 31 - len(suffix)] + suffix


def xlsx_stream(sheet: str, header: list[str], rows: Iterable[list]) -> Iterator[bytes]:
    """The rows as an XLSX workbook of one sheet, built in write-only mode."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    worksheet = None
    sheets = written = 0
    for row in rows:
        if worksheet is None or written == XLSX_MAX_ROWS:
            # Excel opens at most 1,048,576 rows a sheet: go on in the next one.
            sheets += 1
            worksheet = workbook.create_sheet(title=_sheet_title(sheet, sheets))
            worksheet.append(header)
            written = 0
        worksheet.append([_cell(v) for v in row])
        written += 1
    if worksheet is None:
        workbook.create_sheet(title=_sheet_title(sheet, 1)).append(header)
    with tempfile.TemporaryFile() as file:
        workbook.save(file)
        file.seek(0)
        while block := file.read(_BLOCK):
            yield block


def pdf_bytes(title: str, lines: list[str], header: list[str], rows: Iterable[list]) -> bytes:
    """An hours report as an A4 PDF: title, what it counts, and the table."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        Flowable,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    from tenants.certificates.fonts import register_font
    from tenants.certificates.pdf import format_hours

    font = register_font()
    base = ParagraphStyle("base", fontName=font, fontSize=10, leading=14, wordWrap="CJK")
    heading = ParagraphStyle("title", parent=base, fontSize=16, leading=22, spaceAfter=4)
    cell = ParagraphStyle("cell", parent=base, fontSize=9, leading=12)

    def shown(value) -> str:
        return format_hours(value) if isinstance(value, Decimal) else _text(value)

    data = [[Paragraph(escape(h), cell) for h in header]]
    data += [[Paragraph(escape(shown(v)), cell) for v in row] for row in rows]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=title,
        creator="volunteer-records-platform",
        initialFontName=font,
    )
    table = Table(data, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    story: list[Flowable] = [Paragraph(escape(title), heading)]
    story += [Paragraph(escape(line), base) for line in lines]
    story += [Spacer(1, 4 * mm), table]
    doc.build(story)
    return buffer.getvalue()
