"""Packages larger than one inbox message travel in parts (issue 11 finding 7).

One limit holds every message between deployments: ``INTEROP_INBOX_MAX_BYTES``
(20 MiB), on the sealed body as it travels. A volunteer whose history makes a
larger message is not refused: the signed envelope's canonical bytes are cut
into parts (:func:`split`), each part signed by the source region and sealed
on its own, and sent one after the other. The destination keeps each part
(``InboxPart``) and signs a ``part_received`` receipt naming the parts still
``missing``; when the last one arrives, :func:`receive` joins them, checks the
SHA-256 every part names and imports the whole package as if it had come in
one message — with the same receipt, the same refusals, exactly once. The
sender records how many parts were signed for (``OutboxMessage.
parts_acknowledged``) and goes on from there after an interruption; sending a
part again is harmless. The whole is bounded by ``INTEROP_PACKAGE_MAX_BYTES``
(512 MiB); parts of a package never completed are dropped after ``PART_TTL``.

A part on the wire (inside the sealed box)::

    {"part": {"format": "package-part", "version": 1, "packageId": "…",
              "source": {"regionCode": "500000"}, "destination": {"regionCode": "510000"},
              "index": 0, "count": 3, "totalBytes": 31457280,
              "envelopeDigest": "<sha256 hex of the whole envelope's bytes>",
              "data": "<base64 of this part's bytes>"},
     "signature": {"algorithm": "Ed25519", "keyId": "500000", "value": "…"}}
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re
import uuid
from typing import Any

import orjson
from django.conf import settings
from django.utils import timezone

from central.models import Region
from interop import signing
from interop.models import InboxPart
from interop.package import PackageRejected, canonical

FORMAT = "package-part"
VERSION = 1
PART_TTL = datetime.timedelta(days=7)
# What sealing adds around a part's data: base64 twice (the part's own data, then
# the sealed ciphertext), and a few hundred bytes of JSON each time.
_OVERHEAD = 4096


def part_bytes(limit: int) -> int:
    """The largest slice of the envelope whose part, sealed, fits in ``limit``."""
    return max((limit - _OVERHEAD) * 9 // 16, 1024)


def envelope_bytes(envelope: dict[str, Any]) -> bytes:
    """The bytes that are cut into parts: the envelope's canonical JSON."""
    return canonical(envelope)


def split(envelope: dict[str, Any], source: Region, destination_code: str) -> list[dict]:
    """The envelope as signed parts, each fitting one inbox message."""
    content = envelope_bytes(envelope)
    size = part_bytes(settings.INTEROP_INBOX_MAX_BYTES)
    count = -(-len(content) // size)
    digest = hashlib.sha256(content).hexdigest()
    parts = []
    for index in range(count):
        body = {
            "format": FORMAT,
            "version": VERSION,
            "packageId": envelope["package"]["packageId"],
            "source": {"regionCode": source.code},
            "destination": {"regionCode": destination_code},
            "index": index,
            "count": count,
            "totalBytes": len(content),
            "envelopeDigest": digest,
            "data": base64.b64encode(content[index * size : (index + 1) * size]).decode(),
        }
        parts.append(signing.envelope("part", source, body))
    return parts


_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def _checked(envelope: dict[str, Any], destination: Region) -> tuple[dict, bytes]:
    """The part's body and its bytes, or :class:`PackageRejected`."""
    body, signature = envelope.get("part"), envelope.get("signature")
    if not isinstance(body, dict) or not isinstance(signature, dict):
        raise PackageRejected("MALFORMED", "not a package part")
    if body.get("format") != FORMAT or body.get("version") != VERSION:
        raise PackageRejected("UNSUPPORTED_VERSION", "not a package part this platform reads")
    index, count, total = body.get("index"), body.get("count"), body.get("totalBytes")
    if not (type(index) is int and type(count) is int and type(total) is int):
        raise PackageRejected("MALFORMED", "index, count and totalBytes are integers")
    if not (0 <= index < count and total > 0):
        raise PackageRejected("MALFORMED", "index is not within count")
    if total > settings.INTEROP_PACKAGE_MAX_BYTES:
        raise PackageRejected(
            "TOO_LARGE",
            f"the package is {total} bytes, more than the {settings.INTEROP_PACKAGE_MAX_BYTES} "
            "this deployment takes",
        )
    if not isinstance(body.get("envelopeDigest"), str) or not _DIGEST.match(body["envelopeDigest"]):
        raise PackageRejected("MALFORMED", "envelopeDigest is a SHA-256 in hex")
    try:
        uuid.UUID(str(body.get("packageId")))
        data = base64.b64decode(str(body.get("data")), validate=True)
    except (ValueError, binascii.Error):
        raise PackageRejected("MALFORMED", "packageId or data is not valid") from None
    source = body.get("source")
    if not isinstance(source, dict):
        source = {}
    code = str(source.get("regionCode"))
    sender = signing.lookup(code)
    if sender is None or sender.local:
        raise PackageRejected("UNKNOWN_SENDER", f"{code} is not a peer in the directory")
    if signature.get("keyId") != code or not signing.signature_holds(
        signature, sender.public_key, body
    ):
        raise PackageRejected("BAD_SIGNATURE", f"the part is not signed by {code}")
    destination_code = (body.get("destination") or {}).get("regionCode")
    if destination_code != destination.code:
        raise PackageRejected("WRONG_DESTINATION", f"the part is for {destination_code}")
    return body, data


def receive(envelope: dict[str, Any], destination: Region) -> tuple[dict | None, list[int]]:
    """Keep one part (in ``destination``'s schema, the current one). Returns the
    whole envelope once every part is here (else None) and the parts still missing."""
    body, data = _checked(envelope, destination)
    InboxPart.objects.filter(received_at__lt=timezone.now() - PART_TTL).delete()
    InboxPart.objects.bulk_create(
        [
            InboxPart(
                package_id=body["packageId"],
                envelope_digest=body["envelopeDigest"],
                index=body["index"],
                count=body["count"],
                source_code=body["source"]["regionCode"],
                data=data,
            )
        ],
        ignore_conflicts=True,  # a part sent again
    )
    kept = InboxPart.objects.filter(
        package_id=body["packageId"], envelope_digest=body["envelopeDigest"]
    )
    have = set(kept.values_list("index", flat=True))
    missing = sorted(set(range(body["count"])) - have)
    if missing:
        return None, missing
    content = b"".join(bytes(part.data) for part in kept.order_by("index"))
    if (
        len(content) != body["totalBytes"]
        or hashlib.sha256(content).hexdigest() != body["envelopeDigest"]
    ):
        kept.delete()
        raise PackageRejected("MALFORMED", "the joined parts do not match their digest")
    try:
        whole = orjson.loads(content)
    except orjson.JSONDecodeError:
        kept.delete()
        raise PackageRejected("MALFORMED", "the joined parts are not JSON") from None
    package = whole.get("package") if isinstance(whole, dict) else None
    if not isinstance(package, dict) or package.get("packageId") != body["packageId"]:
        kept.delete()
        raise PackageRejected("MALFORMED", "the joined parts are not the package they name")
    return whole, []


def forget(envelope: dict[str, Any]) -> None:
    """Drop the kept parts of a package once it is imported or finally refused."""
    body: dict[str, Any] = envelope.get("part") or {}
    package_id = body.get("packageId")
    if package_id is None:  # not a part: none was kept
        return
    InboxPart.objects.filter(
        package_id=package_id, envelope_digest=body.get("envelopeDigest")
    ).delete()
