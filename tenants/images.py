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
from django.utils.translation import gettext as _

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
    kind = _("must be a %(names)s image") % {"names": names}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                if image.format not in formats:
                    raise ImageRefused(kind)
                width, height = image.size
                if width < 1 or height < 1 or width * height > limit:
                    raise ImageRefused(
                        _("has %(width)s×%(height)s pixels: at most %(limit)s are accepted")
                        % {"width": width, "height": height, "limit": format(limit, ",")}
                    )
                extension = formats[image.format]
                image.verify()
            with Image.open(io.BytesIO(content)) as image:
                image.load()
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(
            _("has more than %(limit)s pixels") % {"limit": format(limit, ",")}
        ) from None
    except UnidentifiedImageError:
        claims = content.startswith(SIGNATURES)  # says it is one, but is not readable
        raise ImageRefused(
            _("is not a readable %(names)s image") % {"names": names} if claims else kind
        ) from None
    except Exception:
        raise ImageRefused(_("is not a readable %(names)s image") % {"names": names}) from None
    return extension
