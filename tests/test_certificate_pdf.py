"""The certificate PDF (志愿服务记录证明, docs/rules.md): pure Python, no database.

Each PDF is read back the way a person or a verifier would: pdfium renders it and
extracts its text layer, zxing-cpp scans the QR code off the rendered page.
"""

from __future__ import annotations

import ctypes
import datetime
import io
import re
from dataclasses import replace
from decimal import Decimal

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest
import zxingcpp
from PIL import Image

from tenants.certificates.pdf import (
    CertificateData,
    ServiceRow,
    render_certificate_pdf,
    render_seal_placeholder_png,
)

D = datetime.date
ISSUER = "云南省昆明市五华区志愿者协会"
URL = "https://yunnan.example.org/verify/7KQ2-M9XD-4PLA"
PREVIEW = "/tmp/certificate.png"


@pytest.fixture(scope="module")
def seal() -> bytes:
    return render_seal_placeholder_png(ISSUER)


@pytest.fixture(scope="module")
def data(seal) -> CertificateData:
    return CertificateData(
        volunteer_name="张三丰",
        id_type="居民身份证",
        id_number_masked="5301**********1234",
        volunteer_number="53010219900101123",
        total_hours=Decimal("123.5"),
        service_rows=[
            ServiceRow("翠湖公园文明劝导", D(2025, 9, 1), D(2025, 9, 30), Decimal(60)),
            ServiceRow("社区敬老助老服务", D(2025, 10, 9), D(2025, 10, 9), Decimal("3.5")),
            ServiceRow(
                "长江生态保护宣传",
                D(2024, 5, 1),
                D(2024, 8, 31),
                Decimal(60),
                origin_region="重庆市",
            ),
        ],
        issuer_name=ISSUER,
        responsible_person="李四",
        handler="王五",
        contact="0871-12345678",
        certificate_number="ZM-530102-2026-000123",
        issue_date=D(2026, 11, 23),
        verification_code="7KQ2-M9XD-4PLA",
        verification_url=URL,
        notes="本证明用于升学材料 & 评优（复印无效）。",
        seal_png=seal,
    )


@pytest.fixture(scope="module")
def pdf(data) -> bytes:
    return render_certificate_pdf(data)


def _text(pdf_bytes: bytes) -> str:
    doc = pdfium.PdfDocument(pdf_bytes)
    return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))


def _qr_codes(page: pdfium.PdfPage) -> list[str]:
    image = page.render(scale=3).to_pil()
    return [
        r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode
    ]


def test_text_layer_states_what_a_certificate_must(pdf):
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) == 1
    doc[0].render(scale=2).to_pil().save(PREVIEW)  # for a person to look at
    text = _text(pdf)
    for expected in (
        "志愿服务记录证明",
        "张三丰",
        "居民身份证",
        "5301**********1234",
        "53010219900101123",
        "123.5",
        "ZM-530102-2026-000123",
        "翠湖公园文明劝导",
        "2025-09-01 至 2025-09-30",
        "重庆市（转入）",
        ISSUER,
        "负责人（签字）：李四",
        "经办人（签字）：王五",
        "0871-12345678",
        "2026年11月23日",
        "7KQ2-M9XD-4PLA",
        URL,
        "本证明用于升学材料 & 评优（复印无效）。",  # escaped for reportlab, shown as typed
    ):
        assert expected in text, expected


def _font_names(page: pdfium.PdfPage) -> dict[str, bool]:
    fonts = {}
    for obj in page.get_objects(filter=[pdfium_raw.FPDF_PAGEOBJ_TEXT], max_depth=5):
        font = pdfium_raw.FPDFTextObj_GetFont(obj.raw)
        size = pdfium_raw.FPDFFont_GetBaseFontName(font, None, 0)
        buffer = ctypes.create_string_buffer(size)
        pdfium_raw.FPDFFont_GetBaseFontName(font, buffer, size)
        fonts[buffer.value.decode()] = bool(pdfium_raw.FPDFFont_GetIsEmbedded(font))
    return fonts


def test_the_cjk_font_is_embedded_and_the_only_font(pdf):
    fonts = _font_names(pdfium.PdfDocument(pdf)[0])
    assert fonts == {"NotoSansSC-Regular": True}
    # The font dictionaries themselves: one subsetted TrueType, its outlines in the file.
    base_fonts = set(re.findall(rb"/BaseFont\s*/([^\s/>\]]+)", pdf))
    assert base_fonts and all(re.fullmatch(rb"[A-Z]{6}\+.+", name) for name in base_fonts)
    descriptors = re.findall(rb"/Type\s*/FontDescriptor", pdf)
    assert len(descriptors) == pdf.count(b"/FontFile2") == 1
    assert b"STSong" not in pdf and b"Helvetica" not in pdf


def test_qr_code_encodes_the_verification_url(pdf):
    assert _qr_codes(pdfium.PdfDocument(pdf)[0]) == [URL]


def test_seal_is_drawn_over_the_issuer_line(pdf):
    page = pdfium.PdfDocument(pdf)[0]
    images = list(page.get_objects(filter=[pdfium_raw.FPDF_PAGEOBJ_IMAGE], max_depth=5))
    assert len(images) == 1  # the seal; the QR code is vector
    left, bottom, right, top = images[0].get_bounds()
    textpage = page.get_textpage()
    found = textpage.search(ISSUER).get_next()
    assert found is not None
    start, count = found
    covered = 0
    for index in range(start, start + count):
        c_left, c_bottom, c_right, c_top = textpage.get_charbox(index)
        cx, cy = (c_left + c_right) / 2, (c_bottom + c_top) / 2
        covered += left <= cx <= right and bottom <= cy <= top
    assert covered >= 3  # the seal sits on the issuer's name
    # and it stays on the page, inside the margins
    width, _height = page.get_size()
    assert left >= 0 and right <= width - 20 * 72 / 25.4 + 1


def test_without_a_seal_there_is_no_image(data):
    pdf = render_certificate_pdf(replace(data, seal_png=None))
    page = pdfium.PdfDocument(pdf)[0]
    assert not list(page.get_objects(filter=[pdfium_raw.FPDF_PAGEOBJ_IMAGE], max_depth=5))
    assert ISSUER in _text(pdf)
    assert _qr_codes(page) == [URL]


def test_a_long_service_list_runs_onto_more_pages(data):
    rows = [
        ServiceRow(f"社区服务项目第{i}期", D(2025, 1, 1), D(2025, 1, 2), Decimal("2.5"))
        for i in range(1, 61)
    ]
    pdf = render_certificate_pdf(replace(data, service_rows=rows, total_hours=Decimal(150)))
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) >= 2
    last = doc[len(doc) - 1]
    text = last.get_textpage().get_text_range()
    assert "序号" in text  # the table header repeats
    assert f"第 {len(doc)} 页" in text and "ZM-530102-2026-000123" in text
    assert "社区服务项目第60期" in text and ISSUER in text
    assert _qr_codes(last) == [URL]


def test_invalid_certificates_are_refused(data):
    with pytest.raises(ValueError, match="masked"):
        replace(data, id_number_masked="530102199001011234")
    with pytest.raises(ValueError, match="add up"):
        replace(data, total_hours=Decimal(124))
    with pytest.raises(ValueError):
        replace(data, total_hours=Decimal(-1), service_rows=[])
    with pytest.raises(TypeError):
        replace(data, total_hours=123.5)  # floats are not hours on a certificate
    with pytest.raises(ValueError, match="PNG"):
        replace(data, seal_png=b"GIF89a...")
    with pytest.raises(ValueError, match="empty"):
        replace(data, handler=" ")
    with pytest.raises(ValueError, match="last date"):
        ServiceRow("x", D(2025, 2, 1), D(2025, 1, 1), Decimal(1))


def test_hours_are_printed_as_given(data):
    rows = [ServiceRow("整点项目", D(2025, 3, 1), D(2025, 3, 1), Decimal("100.00"))]
    text = _text(render_certificate_pdf(replace(data, service_rows=rows, total_hours="100.00")))
    assert "累计 100 小时" in text and "100.0" not in text


def test_seal_placeholder_is_a_transparent_red_png(seal):
    assert seal.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(seal))
    assert image.mode == "RGBA" and image.size == (600, 600)
    corner = image.getpixel((0, 0))
    assert isinstance(corner, tuple) and corner[3] == 0  # transparent outside the ring
    pixels = image.tobytes()
    red = sum(
        1
        for r, g, b, a in zip(pixels[0::4], pixels[1::4], pixels[2::4], pixels[3::4], strict=True)
        if a > 200 and r > 150 and g < 80 and b < 100
    )
    assert red > 10_000
