"""Reading an import file a row at a time, in bounded memory.

XLSX goes through openpyxl's read-only mode (the sheet's XML is streamed, never
loaded whole); CSV through :mod:`csv` over a text stream (UTF-8, with or
without Excel's BOM, or GB18030 — what Chinese Excel saves as "CSV"). The
format is told by the bytes, not the name. A bad file — empty, too large, an
old ``.xls``, not readable, wrong headers — is one typed ``INVALID`` error on
``file`` that lists every header problem at once, before any row is read.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils.translation import gettext as _

from central.errors import InvalidInput, Problem
from tenants.imports.columns import COLUMNS, Column, ImportKind, header_key, lookup

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls (and .doc)
SNIFF_BYTES = 64 * 1024


def file_error(message: str) -> InvalidInput:
    return InvalidInput(message, field="file")


@dataclass
class RowSource:
    """The file's columns (by position; None for an ignored empty header) and its
    data rows as ``(line, {field: value})``; ``expected`` rows, when the file says."""

    format: str
    columns: list[Column | None]
    headers: dict[str, str]  # field -> the header as the file wrote it
    rows: Iterator[tuple[int, dict]]
    expected: int | None = None


def _binary(stream):
    # An uploaded file (Django's UploadedFile) wraps the real file object.
    return getattr(stream, "file", stream)


def open_rows(stream, kind: ImportKind, *, size: int, max_bytes: int) -> RowSource:
    """Check the file and its header row; return its rows, read as they are consumed."""
    if size > max_bytes:
        raise file_error(
            _("the file is larger than %(limit)s KiB; split it into several files")
            % {"limit": max_bytes // 1024}
        )
    stream = _binary(stream)
    stream.seek(0)
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    if not head:
        raise file_error(_("the file is empty"))
    if head.startswith(OLE_MAGIC):
        raise file_error(
            _("an old Excel .xls file cannot be read: save it as .xlsx or CSV (UTF-8) first")
        )
    if head.startswith(XLSX_MAGIC):
        return _xlsx(stream, kind, max_bytes)
    return _csv(stream, head, kind)


# What an XLSX may unpack to (audit round 5): a zip of a few MiB can hold gigabytes
# of XML ("zip bomb"). Worksheets stream (read-only mode), so the whole workbook may
# unpack to UNPACKED_FACTOR times the upload limit; every other part (shared strings,
# styles) openpyxl reads whole into memory, so each at most PART_FACTOR times.
UNPACKED_FACTOR = 32
PART_FACTOR = 4


def _check_unpacked(stream, max_bytes: int) -> None:
    """Refuse a workbook whose parts would unpack past the limits, before openpyxl
    opens it: the sizes its zip directory declares bound what reading yields
    (:mod:`zipfile` stops at a member's declared size)."""
    try:
        with zipfile.ZipFile(stream) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise file_error(_("not a readable XLSX workbook (nor a CSV file)")) from None
    finally:
        stream.seek(0)
    whole = sum(m.file_size for m in members)
    parts = [m for m in members if not m.filename.startswith("xl/worksheets/")]
    if whole > UNPACKED_FACTOR * max_bytes or any(
        m.file_size > PART_FACTOR * max_bytes for m in parts
    ):
        raise file_error(
            _("the workbook unpacks to more than %(limit)s MiB; split it into several files")
            % {"limit": UNPACKED_FACTOR * max_bytes // (1024 * 1024)}
        )


def _xlsx(stream, kind: ImportKind, max_bytes: int) -> RowSource:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    _check_unpacked(stream, max_bytes)
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header_line, header = _first_nonempty(enumerate(rows, start=1))
    except (zipfile.BadZipFile, InvalidFileException, KeyError, IndexError, OSError, ValueError):
        raise file_error(_("not a readable XLSX workbook (nor a CSV file)")) from None
    columns, headers = _columns(header, kind)
    expected = sheet.max_row - header_line if sheet.max_row else None

    def data():
        try:
            for line, values in enumerate(rows, start=header_line + 1):
                row = _row(columns, values)
                if row is not None:
                    yield line, row
        finally:
            workbook.close()

    return RowSource("xlsx", columns, headers, data(), expected)


def _encoding(head: bytes) -> str:
    """UTF-8 (with or without a BOM) if the first bytes decode as UTF-8, else GB18030."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "gb18030"


def _csv(stream, head: bytes, kind: ImportKind) -> RowSource:
    if b"\x00" in head:
        raise file_error(_("not a readable XLSX workbook (nor a CSV file)"))
    lines = _count_lines(stream)
    text = io.TextIOWrapper(stream, encoding=_encoding(head), newline="")
    first_line = head.split(b"\n", 1)[0]
    delimiter = "\t" if b"\t" in first_line and b"," not in first_line else ","
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = _first_nonempty((reader.line_num, values) for values in reader)[1]
    except (UnicodeDecodeError, csv.Error):
        raise file_error(_("not a readable XLSX workbook (nor a CSV file)")) from None
    columns, headers = _columns(header, kind)

    def data():
        # The line a row starts on (a quoted cell may hold line breaks).
        line = reader.line_num
        try:
            for values in reader:
                start, line = line + 1, reader.line_num
                row = _row(columns, values)
                if row is not None:
                    yield start, row
        except (UnicodeDecodeError, csv.Error) as error:
            raise file_error(
                _("line %(line)s cannot be read: %(error)s") % {"line": line + 1, "error": error}
            ) from None
        finally:
            text.detach()

    # For progress only: a quoted cell's line breaks make it a few rows too many.
    return RowSource("csv", columns, headers, data(), max(lines - reader.line_num, 0))


def _count_lines(stream) -> int:
    """Line breaks in the file, read in 1 MiB pieces (then back to its start)."""
    count, last = 0, b""
    for piece in iter(lambda: stream.read(1 << 20), b""):
        count, last = count + piece.count(b"\n"), piece
    stream.seek(0)
    return count + (1 if last and not last.endswith(b"\n") else 0)


def _first_nonempty(numbered) -> tuple[int, tuple]:
    for line, values in numbered:
        if any(_blank(v) is False for v in values):
            return line, tuple(values)
    raise file_error(_("the file has no header row: download the template"))


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _columns(header, kind: ImportKind) -> tuple[list[Column | None], dict[str, str]]:
    """Match the header row to the kind's columns; every problem with it at once."""
    known = lookup(kind)
    problems: list[Problem] = []
    columns: list[Column | None] = []
    headers: dict[str, str] = {}
    for text in header:
        if _blank(text):
            columns.append(None)
            continue
        column = known.get(header_key(text))
        if column is None:
            problems.append(
                Problem(_("unknown column %(header)s") % {"header": str(text).strip()}, "file")
            )
        elif column.field in headers:
            problems.append(
                Problem(_("column %(header)s appears twice") % {"header": column.header}, "file")
            )
        else:
            headers[column.field] = str(text).strip()
        columns.append(column)
    for column in COLUMNS[kind]:
        if column.required and column.field not in headers:
            problems.append(
                Problem(
                    _("column %(header)s (%(field)s) is missing")
                    % {"header": column.header, "field": column.field},
                    "file",
                )
            )
    if kind is ImportKind.MEMBERS and not {"number", "idNumber"} & headers.keys():
        problems.append(
            Problem(_("give a column 志愿者编号 (number) or 证件号码 (idNumber)"), "file")
        )
    if problems:
        problems.append(
            Problem(
                _("the first row must hold the template's headers (in Chinese or English)"), "file"
            )
        )
        raise InvalidInput(problems=problems)
    return columns, headers


def _row(columns: list[Column | None], values) -> dict | None:
    """A data row as {field: value}; None for an empty row (skipped)."""
    row = {}
    for column, value in zip(columns, values, strict=False):
        if column is not None and not _blank(value):
            row[column.field] = value.strip() if isinstance(value, str) else value
    extra = any(not _blank(v) for v in list(values)[len(columns) :])
    if extra:
        row["__extra__"] = True
    return row or None
