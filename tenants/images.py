"""Uploaded images (a group's registration certificate, its seal), checked in
full before anything is written (issue 10 finding 13).

The first bytes only say what a file claims to be. The image is opened with
Pillow, its size bounded (``UPLOAD_MAX_PIXELS``, checked from the header before
any pixel is decoded, so a small file that would expand to gigabytes — a
decompression bomb — is refused without being expanded), verified (PNG chunk
checksums) and then decoded completely (a truncated or corrupt JPEG fails
here). Any failure of the decoder on the client's bytes is the client's bad
input, never a 500.
"""

from __future__ import annotations

import io
import warnings

from django.conf import settings

FORMATS = {"PNG": "png", "JPEG": "jpg"}
SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


class ImageRefused(ValueError):
    """Why an upload is not an acceptable image (a message for the client)."""


def check_image(content: bytes, formats: dict[str, str] = FORMATS) -> str:
    """The file extension for ``content``, an image of one of ``formats`` (Pillow
    format name → extension) that decodes completely within the pixel bound;
    else :class:`ImageRefused`."""
    from PIL import Image, UnidentifiedImageError

    names = " or ".join(formats)
    limit = settings.UPLOAD_MAX_PIXELS
    kind = f"must be a {names} image"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                if image.format not in formats:
                    raise ImageRefused(kind)
                width, height = image.size
                if width < 1 or height < 1 or width * height > limit:
                    raise ImageRefused(
                        f"has {width}×{height} pixels: at most {limit:,} are accepted"
                    )
                extension = formats[image.format]
                image.verify()
            with Image.open(io.BytesIO(content)) as image:
                image.load()
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(f"has more than {limit:,} pixels") from None
    except UnidentifiedImageError:
        claims = content.startswith(SIGNATURES)  # says it is one, but is not readable
        raise ImageRefused(f"is not a readable {names} image" if claims else kind) from None
    except Exception:
        raise ImageRefused(f"is not a readable {names} image") from None
    return extension
