"""The CJK font certificates are set in, embedded in every PDF.

Noto Sans SC Regular (思源黑体's Google Fonts build; © Adobe, SIL Open Font
License 1.1, which allows embedding it in documents) in ``font_files/``, vendored
from the npm package ``@expo-google-fonts/noto-sans-sc`` (Expo's packaging of
Google Fonts) by ``python -m central.vendor_assets``, which pins its SHA-384 and
copies the licence beside it. It is part of this repository: nothing is fetched
when the platform installs or runs, and no system font is used. Google Fonts'
build has TrueType (``glyf``) outlines, which reportlab can subset and embed as
``FontFile2``; the CFF-based Noto/Source Han OTFs it cannot embed.
"""

from __future__ import annotations

import functools
from pathlib import Path

FONT_NAME = "NotoSansSC"
FONT_FILE = Path(__file__).resolve().parent / "font_files" / "NotoSansSC-Regular.ttf"


def font_path() -> Path:
    """The font file; a clear error if it is missing from the checkout."""
    if not FONT_FILE.is_file():
        raise RuntimeError(
            f"the CJK font is missing: {FONT_FILE}; run `python -m central.vendor_assets`"
        )
    return FONT_FILE


@functools.cache
def register_font() -> str:
    """Register the font with reportlab (once per process); return its reportlab name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(FONT_NAME, str(font_path())))
    return FONT_NAME


def pil_font(size: int):
    """The same face for Pillow (used to draw the placeholder seal)."""
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path()), size=size)
