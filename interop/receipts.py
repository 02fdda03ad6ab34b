"""Signed answers from an inbox: receipts and refusals (issue 11 findings 1, 4).

A sender must not take an HTTP status for an answer: anything (a proxy, a
misconfigured URL, a fake peer) can say ``200 {}``. The inbox therefore answers
every message it can attribute to one of its regions with a **receipt** signed
by that region's Ed25519 key::

    {"receipt": {"format": "interop-receipt", "version": 1,
                 "regionCode": "510000", "subject": "package",
                 "id": "<packageId>", "digest": "<sha256 hex of canonical(package)>",
                 "status": "imported", "code": "", "reason": "",
                 "issuedAt": "…"},
     "signature": {"algorithm": "Ed25519", "keyId": "510000", "value": "…"}}

``status`` is ``imported`` / ``already_imported`` (a package),
``requested`` (a transfer request), ``part_received`` (one part of a large
package, with ``missing``: the parts still to come), ``acknowledged`` (a
receipt for an offline package, sent back to its source) or ``rejected`` (a
refusal, with its ``code`` and ``reason``). The sender checks it against its directory
(:func:`verify`): signed by the region it addressed, naming the id and the
digest of exactly what it sent. Nothing else completes or ends a transfer.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.utils import timezone

from central.models import Region
from interop import signing
from interop.package import canonical

FORMAT = "interop-receipt"
VERSION = 1
ACCEPTED = {
    "package": {"imported", "already_imported"},
    "transfer_request": {"requested"},
    "package_part": {"part_received"},
    "acknowledgement": {"acknowledged"},
}


class InvalidReceipt(Exception):
    """The answer is not a receipt the sender can trust; it says why."""


def digest(payload: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical bytes of a package or transfer request."""
    return hashlib.sha256(canonical(payload)).hexdigest()


def issue(
    region: Region,
    *,
    kind: str,
    subject_id: str | None,
    payload_digest: str,
    status: str,
    code: str = "",
    reason: str = "",
    missing: list[int] | None = None,
) -> dict[str, Any]:
    """A receipt (or refusal) signed by ``region`` (one of this deployment's)."""
    body = {
        "format": FORMAT,
        "version": VERSION,
        "regionCode": region.code,
        "subject": kind,
        "id": subject_id,
        "digest": payload_digest,
        "status": status,
        "code": code,
        "reason": reason[:400],
        "issuedAt": timezone.now().isoformat(),
    }
    if missing is not None:
        body["missing"] = missing
    return signing.envelope("receipt", region, body)


def verify(
    signed: Any, *, region_code: str, kind: str, subject_id: str | None, payload_digest: str
) -> dict[str, Any]:
    """The receipt's body if ``signed`` is a receipt from ``region_code`` (its key
    in the directory) about exactly this message; else :class:`InvalidReceipt`."""
    if not isinstance(signed, dict):
        raise InvalidReceipt("no receipt")
    body, signature = signed.get("receipt"), signed.get("signature")
    if not isinstance(body, dict) or not isinstance(signature, dict):
        raise InvalidReceipt("no receipt")
    if body.get("format") != FORMAT or body.get("version") != VERSION:
        raise InvalidReceipt("not an interop receipt")
    if signature.get("keyId") != region_code or body.get("regionCode") != region_code:
        raise InvalidReceipt(f"signed by {signature.get('keyId')!r}, not {region_code}")
    entry = signing.lookup(region_code)
    if entry is None:
        raise InvalidReceipt(f"{region_code} is not in the directory")
    if not signing.signature_holds(signature, entry.public_key, body):
        raise InvalidReceipt(f"the signature does not match {region_code}'s key")
    if body.get("subject") != kind or body.get("id") != subject_id:
        raise InvalidReceipt(f"the receipt is for {body.get('subject')} {body.get('id')}")
    if body.get("digest") != payload_digest:
        raise InvalidReceipt("the receipt names another digest")
    if not isinstance(body.get("status"), str) or not isinstance(body.get("code"), str):
        raise InvalidReceipt("the receipt has no status")
    return body
