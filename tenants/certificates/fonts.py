"""The CJK font certificates are set in, embedded in every PDF.

文泉驿微米黑 (WenQuanYi Micro Hei, Regular, version 0.2.0-beta) as shipped in the
``paperang-p2-fonts-cjk`` wheel (a pip dependency of this project, no system
fonts, nothing fetched at run time). The font's own name table licenses it under
the Apache License 2.0 (upstream also offers GPLv3 with the font exception), and
its OS/2 ``fsType`` allows embedding. It is a TrueType collection with ``glyf``
outlines, which reportlab can subset and embed as ``FontFile2``; the CFF-based
Noto/Source Han OTFs on PyPI cannot be embedded by reportlab, and the Noto Sans SC
variable TTF defaults to its Thin master.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

FONT_NAME = "WenQuanYiMicroHei"
_PACKAGE = "paperang_p2_fonts_cjk"
_FILE = ("fonts", "wqy-microhei.ttc")
SUBFONT_INDEX = 0  # 0 = WenQuanYi Micro Hei, 1 = its monospaced face


def font_path() -> Path:
    """The installed font file; a clear error if the package is missing."""
    try:
        root = resources.files(_PACKAGE)
    except ModuleNotFoundError as error:
        raise RuntimeError(
            f"the CJK font package {_PACKAGE!r} is not installed; run `pip install -e .`"
        ) from error
    path = Path(str(root.joinpath(*_FILE)))
    if not path.is_file():
        raise RuntimeError(f"the CJK font file is missing from {_PACKAGE}: {path}")
    return path


@functools.cache
def register_font() -> str:
    """Register the font with reportlab (once per process); return its reportlab name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(FONT_NAME, str(font_path()), subfontIndex=SUBFONT_INDEX))
    return FONT_NAME


def pil_font(size: int):
    """The same face for Pillow (used to draw the placeholder seal)."""
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path()), size=size, index=SUBFONT_INDEX)
