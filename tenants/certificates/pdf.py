"""The volunteer-service record certificate (志愿服务记录证明) as a PDF.

What a certificate states follows 民发〔2015〕149号 (关于规范志愿服务记录证明工作的
指导意见) 二, its four kinds of information, and docs/rules.md:

1. the volunteer: name, ID type and number (masked), volunteer number;
2. the service: hours (小时) and content, here by project, rows imported from
   another region (转移接续, 000 Art.16) marked with that region;
3. the issuer: group name, its responsible person (负责人), handler (经办人) and
   contact; sealed with the group's seal (149号 二, 三; 000 Art.17 加盖公章);
4. a certificate number, the issue date and notes;

plus a verification code and a QR code of the public verification URL, where
anyone holding the code can check the certificate is genuine.

Pure Python: reportlab draws the page, its own QR widget the QR code (vector,
no image), and the text is set in an embedded, subsetted TrueType CJK font
(:mod:`tenants.certificates.fonts`) so it shows and copies out the same on any
reader, with no reliance on the reader's fonts.
"""

from __future__ import annotations

import datetime
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from tenants.certificates.fonts import pil_font, register_font

__all__ = ["CertificateData", "ServiceRow", "render_certificate_pdf", "render_seal_placeholder_png"]

TITLE = "志愿服务记录证明"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SEAL_DIAMETER = 42 * mm  # the usual diameter of an organisation's official seal (公章)
QR_SIZE = 30 * mm
_SEAL_RED = (200, 16, 46)


def _hours(value: Decimal | int | str, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"{what}: give hours as a Decimal, int or str, not {type(value).__name__}")
    try:
        hours = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{what}: {value!r} is not a number of hours") from None
    if not hours.is_finite() or hours < 0:
        raise ValueError(f"{what}: hours must be a finite number ≥ 0")
    return hours


def format_hours(hours: Decimal) -> str:
    """``Decimal("123.50")`` → ``"123.5"``, ``Decimal("100")`` → ``"100"``."""
    text = format(hours, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_date(day: datetime.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class ServiceRow:
    """One line of service content: the volunteer's counted hours in one project."""

    project_name: str
    first_date: datetime.date
    last_date: datetime.date
    hours: Decimal
    # The region the hours were recorded in, when they came in by transfer
    # (转移接续, 000 Art.16); None for hours recorded in the issuing region.
    origin_region: str | None = None
    # Issue 11 finding 12: each transferred record's provenance (origin id, hours
    # first recorded, when it counted there, who confirmed it), kept in the snapshot.
    origin_records: tuple = ()

    def __post_init__(self) -> None:
        if not self.project_name.strip():
            raise ValueError("service row: project name is empty")
        if self.last_date < self.first_date:
            raise ValueError(f"service row {self.project_name!r}: last date before first date")
        object.__setattr__(self, "hours", _hours(self.hours, f"service row {self.project_name!r}"))

    @property
    def dates_text(self) -> str:
        if self.first_date == self.last_date:
            return self.first_date.isoformat()
        return f"{self.first_date.isoformat()} 至 {self.last_date.isoformat()}"


@dataclass(frozen=True)
class CertificateData:
    """Everything a certificate states (民发〔2015〕149号 二; docs/rules.md)."""

    # (1) the volunteer
    volunteer_name: str
    id_type: str  # the label, e.g. "居民身份证"
    id_number_masked: str  # already masked, e.g. "5001**********1234"; never the full number
    volunteer_number: str
    # (2) the service
    total_hours: Decimal  # counted hours only (past publicity, 001 §4(4)3)
    service_rows: Sequence[ServiceRow]
    # (3) the issuer
    issuer_name: str
    responsible_person: str  # 负责人
    handler: str  # 经办人
    contact: str  # 联系方式
    # (4) number, date, notes
    certificate_number: str
    issue_date: datetime.date
    verification_code: str
    verification_url: str
    notes: str = ""
    seal_png: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        required = (
            "volunteer_name",
            "id_type",
            "id_number_masked",
            "volunteer_number",
            "issuer_name",
            "responsible_person",
            "handler",
            "contact",
            "certificate_number",
            "verification_code",
            "verification_url",
        )
        empty = [name for name in required if not str(getattr(self, name)).strip()]
        if empty:
            raise ValueError(f"certificate: empty {', '.join(empty)}")
        if "*" not in self.id_number_masked:
            # The full ID number never appears on a certificate (000 Art.3).
            raise ValueError("certificate: the ID number must be masked")
        total = _hours(self.total_hours, "total hours")
        object.__setattr__(self, "total_hours", total)
        rows = tuple(self.service_rows)
        object.__setattr__(self, "service_rows", rows)
        if rows and sum((row.hours for row in rows), Decimal(0)) != total:
            raise ValueError("certificate: the service rows do not add up to the total hours")
        if self.seal_png is not None and not self.seal_png.startswith(_PNG_SIGNATURE):
            raise ValueError("certificate: the seal must be a PNG image")


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=11, leading=17, wordWrap="CJK")
    return {
        "base": base,
        "title": ParagraphStyle(
            "title", parent=base, fontSize=24, leading=30, alignment=TA_CENTER, spaceAfter=4
        ),
        "number": ParagraphStyle("number", parent=base, fontSize=10, alignment=TA_CENTER),
        "heading": ParagraphStyle("heading", parent=base, fontSize=12.5, leading=18, spaceBefore=8),
        "cell": ParagraphStyle("cell", parent=base, fontSize=10, leading=14),
        "small": ParagraphStyle(
            "small", parent=base, fontSize=8.5, leading=12, textColor=colors.HexColor("#444444")
        ),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


class _IssuerBlock(Flowable):
    """QR code with the verification code on the left; the issuer on the right, sealed."""

    def __init__(self, data: CertificateData, font: str, width: float):
        super().__init__()
        self.data = data
        self.font = font
        self.width = width
        # The seal is centred about 98 pt below the top; keep all of it inside the block.
        self.height = 98 + SEAL_DIAMETER / 2 + 6

    def wrap(self, available_width, available_height):
        return self.width, self.height

    def _fit(self, text: str, size: float, max_width: float) -> float:
        while size > 7 and stringWidth(text, self.font, size) > max_width:
            size -= 0.5
        return size

    def draw(self):
        canv, data, font = self.canv, self.data, self.font
        top = self.height
        # Left: the QR code of the verification URL, and the code under it.
        qr = QrCodeWidget(
            data.verification_url, barLevel="M", barBorder=2, barWidth=QR_SIZE, barHeight=QR_SIZE
        )
        drawing = Drawing(QR_SIZE, QR_SIZE, initialFontName=font)  # no stray Helvetica
        drawing.add(qr)
        renderPDF.draw(drawing, canv, 0, top - QR_SIZE)
        canv.setFont(font, 9)
        canv.drawString(0, top - QR_SIZE - 13, "扫码核验真伪")
        code = f"验证码：{data.verification_code}"
        canv.setFont(font, self._fit(code, 9, 62 * mm))
        canv.drawString(0, top - QR_SIZE - 26, code)

        # Right: who issues it, and the seal over the issuer's name and date.
        right = self.width
        left = self.width * 0.42
        size = 11
        lines = [
            f"负责人（签字）：{data.responsible_person}",
            f"经办人（签字）：{data.handler}",
            f"联系方式：{data.contact}",
        ]
        y = top - 12
        for line in lines:
            canv.setFont(font, self._fit(line, size, right - left))
            canv.drawString(left, y, line)
            y -= 19
        issuer = f"出具单位（盖章）：{data.issuer_name}"
        issuer_size = self._fit(issuer, size, right - left)
        date = format_date(data.issue_date)
        issuer_y = y - 22
        date_y = issuer_y - 21
        canv.setFont(font, issuer_size)
        canv.drawRightString(right, issuer_y, issuer)
        canv.setFont(font, size)
        canv.drawRightString(right, date_y, date)
        if data.seal_png is not None:
            name_width = stringWidth(data.issuer_name, font, issuer_size)
            centre_x = max(right - name_width / 2, left + SEAL_DIAMETER / 2)
            centre_x = min(centre_x, right - SEAL_DIAMETER / 2)
            centre_y = (issuer_y + date_y) / 2 + 4
            canv.drawImage(
                ImageReader(io.BytesIO(data.seal_png)),
                centre_x - SEAL_DIAMETER / 2,
                centre_y - SEAL_DIAMETER / 2,
                SEAL_DIAMETER,
                SEAL_DIAMETER,
                mask="auto",
                preserveAspectRatio=True,
                anchor="c",
            )


def _service_table(data: CertificateData, st: dict[str, ParagraphStyle], width: float) -> Table:
    header = ["序号", "项目名称", "服务日期", "时长（小时）", "记录地区"]
    rows: list[list] = [[_p(text, st["cell"]) for text in header]]
    for number, row in enumerate(data.service_rows, start=1):
        origin = f"{row.origin_region}（转入）" if row.origin_region else "本地区"
        rows.append(
            [
                _p(str(number), st["cell"]),
                _p(row.project_name, st["cell"]),
                _p(row.dates_text, st["cell"]),
                _p(format_hours(row.hours), st["cell"]),
                _p(origin, st["cell"]),
            ]
        )
    rows.append(
        [
            _p("合计", st["cell"]),
            "",
            "",
            _p(format_hours(data.total_hours), st["cell"]),
            "",
        ]
    )
    widths = [12 * mm, None, 52 * mm, 24 * mm, 30 * mm]
    widths[1] = width - sum(w for w in widths if w)
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), st["cell"].fontName),  # also for empty cells
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("SPAN", (0, -1), (2, -1)),
                ("SPAN", (3, -1), (4, -1)),
            ]
        )
    )
    return table


def _volunteer_table(data: CertificateData, st: dict[str, ParagraphStyle], width: float) -> Table:
    c = st["cell"]
    rows: list[list[Any]] = [
        [
            _p("姓名", c),
            _p(data.volunteer_name, c),
            _p("志愿者编号", c),
            _p(data.volunteer_number, c),
        ],
        [_p("证件类型", c), _p(data.id_type, c), _p("证件号码", c), _p(data.id_number_masked, c)],
        [
            _p("累计志愿服务时长", c),
            _p(f"{format_hours(data.total_hours)} 小时", c),
            "",
            "",
        ],
    ]
    label = 36 * mm
    table = Table(rows, colWidths=[label, width / 2 - label, label, width / 2 - label])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), st["cell"].fontName),  # also for empty cells
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#EEEEEE")),
                ("BACKGROUND", (2, 0), (2, 1), colors.HexColor("#EEEEEE")),
                ("SPAN", (1, 2), (3, 2)),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def render_certificate_pdf(data: CertificateData) -> bytes:
    """The certificate as a PDF (A4, one page unless the service rows run over)."""
    font = register_font()
    st = _styles(font)
    buffer = io.BytesIO()
    margin = 20 * mm
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"{TITLE} {data.certificate_number}",
        author=data.issuer_name,
        subject=TITLE,
        creator="volunteer-records-platform",
        initialFontName=font,  # else every page names Helvetica, a font never embedded
    )
    width = doc.width - 12  # the frame's own padding, 6 pt each side
    hours = format_hours(data.total_hours)
    story: list[Flowable] = [
        _p(TITLE, st["title"]),
        _p(f"证明编号：{data.certificate_number}", st["number"]),
        Spacer(1, 6 * mm),
        _p(
            f"兹证明 {data.volunteer_name}（志愿者编号：{data.volunteer_number}）"
            f"截至{format_date(data.issue_date)}，经记录的志愿服务时长累计 {hours} 小时。"
            "具体情况如下：",
            st["base"],
        ),
        _p("一、志愿者信息", st["heading"]),
        Spacer(1, 2 * mm),
        _volunteer_table(data, st, width),
        _p("二、志愿服务内容", st["heading"]),
        Spacer(1, 2 * mm),
        _service_table(data, st, width),
    ]
    if any(row.origin_region for row in data.service_rows):
        story.append(Spacer(1, 1.5 * mm))
        story.append(_p("注：标“转入”的时长由原记录地区记录，经转移接续转入本地区。", st["small"]))
    story += [
        _p("三、备注", st["heading"]),
        _p(data.notes or "无", st["base"]),
        Spacer(1, 8 * mm),
        KeepTogether(
            [
                _IssuerBlock(data, font, width),
                Spacer(1, 3 * mm),
                _p(
                    f"核验方式：扫描二维码，或访问 {data.verification_url} 并输入验证码。"
                    "核验页面仅显示本证明所载信息。",
                    st["small"],
                ),
            ]
        ),
    ]

    def footer(canv, doc_):
        canv.saveState()
        canv.setFont(font, 8)
        canv.setFillColor(colors.HexColor("#666666"))
        canv.drawString(
            margin,
            10 * mm,
            f"证明编号：{data.certificate_number}　验证码：{data.verification_code}",
        )
        canv.drawRightString(A4[0] - margin, 10 * mm, f"第 {doc_.page} 页")
        canv.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def render_seal_placeholder_png(
    issuer_name: str, *, size: int = 600, centre_text: str = "样章"
) -> bytes:
    """A stand-in seal for tests and previews: a red ring, a star, the name round the top.

    Transparent outside the ink, like a scanned seal, and marked 样章 (specimen)
    so it is never mistaken for a real one.
    """
    from PIL import Image, ImageDraw

    red = (*_SEAL_RED, 255)
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    ring = max(4, size // 40)
    draw.ellipse((ring, ring, size - ring, size - ring), outline=red, width=ring)

    # The five-pointed star in the middle.
    cx = cy = size / 2
    outer, inner = size * 0.16, size * 0.16 * 0.382
    points = []
    for i in range(10):
        radius = outer if i % 2 == 0 else inner
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(points, fill=red)

    # The name along the upper arc, each character upright to the centre.
    name = issuer_name.strip() or "志愿服务组织"
    char_size = max(10, int(size * 0.11 if len(name) <= 12 else size * 1.3 / len(name)))
    font = pil_font(char_size)
    radius = size / 2 - ring * 2.5 - char_size * 0.65
    span = min(math.radians(250), math.radians(22) * len(name))
    for i, char in enumerate(name):
        angle = -math.pi / 2 - span / 2 + (span * (i + 0.5) / len(name))
        glyph = Image.new("RGBA", (char_size * 2, char_size * 2), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((char_size, char_size), char, font=font, fill=red, anchor="mm")
        glyph = glyph.rotate(-math.degrees(angle + math.pi / 2), resample=Image.Resampling.BICUBIC)
        x = cx + radius * math.cos(angle) - glyph.width / 2
        y = cy + radius * math.sin(angle) - glyph.height / 2
        image.alpha_composite(glyph, (round(x), round(y)))

    bottom = pil_font(max(10, int(size * 0.09)))
    draw.text((cx, cy + size * 0.29), centre_text, font=bottom, fill=red, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
