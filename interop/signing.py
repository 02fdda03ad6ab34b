"""Signing, keys and the federation directory (issue 11 findings 9, 10).

Each region has an Ed25519 signing key and an X25519 exchange key
(``central.RegionKey``, created on first use, private halves encrypted at rest).
A receiver verifies against the directory: the regions of its own deployment,
and ``central.RemoteRegion`` rows (pinned keys) for regions served elsewhere.
What is signed is the canonical serialization of a JSON object (sorted keys,
no insignificant whitespace, UTF-8): a package (``interop/package.py``), a
transfer request, a directory entry, a key-rotation statement, or any message
signed with :func:`sign_json` (home-region queries and answers; receipts).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from central.errors import InvalidInput
from central.models import CentralAuditEntry, Region, RegionKey, RemoteRegion
from interop import crypto, messages
from tenants.volunteers import pii

ALGORITHM = "Ed25519"


class SignatureRejected(Exception):
    """A signed message that does not verify, with a stable code
    (``MALFORMED``, ``UNKNOWN_SENDER``, ``BAD_SIGNATURE``)."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def canonical(obj: Any) -> bytes:
    """What is signed: UTF-8 JSON, keys sorted, no insignificant whitespace."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _new_signing_pair() -> tuple[str, str]:
    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return (
        base64.b64encode(_raw_public(private.public_key())).decode(),
        base64.b64encode(raw_private).decode(),
    )


def fingerprint(public_key_b64: str) -> str:
    """The SHA-256 (hex) of a public key's 32 raw bytes: what an admin compares
    with the peer's operator over another channel before ``interop peer trust``."""
    try:
        return hashlib.sha256(base64.b64decode(public_key_b64, validate=True)).hexdigest()
    except ValueError:
        return ""


def same_fingerprint(given: str, public_key_b64: str) -> bool:
    wanted = "".join(ch for ch in (given or "").lower() if ch in "0123456789abcdef")
    return len(wanted) == 64 and wanted == fingerprint(public_key_b64)


def region_key(region: Region) -> RegionKey:
    """The region's keys, created (once, race-safe) on first use; a key row made
    before exchange keys existed gets its X25519 pair now."""
    existing = RegionKey.objects.filter(region=region).first()
    if existing is not None:
        if not existing.exchange_public_key:
            public, private = crypto.generate()
            RegionKey.objects.filter(id=existing.id, exchange_public_key="").update(
                exchange_public_key=public, exchange_private_key_encrypted=pii.encrypt(private)
            )
            existing.refresh_from_db()
        return existing
    public, private = _new_signing_pair()
    exchange_public, exchange_private = crypto.generate()
    try:
        with transaction.atomic():
            return RegionKey.objects.create(
                region=region,
                public_key=public,
                private_key_encrypted=pii.encrypt(private),
                exchange_public_key=exchange_public,
                exchange_private_key_encrypted=pii.encrypt(exchange_private),
            )
    except IntegrityError:
        return RegionKey.objects.get(region=region)


def _sign_with(private_encrypted: str, message: bytes) -> str:
    raw = base64.b64decode(pii.decrypt(private_encrypted))
    return base64.b64encode(Ed25519PrivateKey.from_private_bytes(raw).sign(message)).decode()


def sign(region: Region, message: bytes) -> str:
    return _sign_with(region_key(region).private_key_encrypted, message)


def verify(public_key_b64: str, message: bytes, signature_b64: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(base64.b64decode(signature_b64, validate=True), message)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def exchange_private_keys(region: Region) -> list[str]:
    """The region's X25519 private keys (base64): the current one, then retired ones."""
    key = region_key(region)
    return [pii.decrypt(key.exchange_private_key_encrypted)] + [
        pii.decrypt(token) for token in reversed(key.retired_exchange_keys or [])
    ]


# Signed JSON messages ------------------------------------------------------


def envelope(key: str, region: Region, body: dict[str, Any]) -> dict[str, Any]:
    """``{key: body, "signature": {"algorithm", "keyId", "value"}}``: the one shape
    of every signed interop message (``interop/messages.py``), ``body``'s canonical
    bytes signed by ``region``."""
    return {
        key: body,
        "signature": {
            "algorithm": ALGORITHM,
            "keyId": region.code,
            "value": sign(region, canonical(body)),
        },
    }


def signature_holds(signature: Any, public_key_b64: str, body: Any) -> bool:
    """True if ``signature`` (an envelope's ``signature`` object) is an Ed25519
    signature of ``body``'s canonical bytes by ``public_key_b64``. Who the signer
    must be is the caller's to check (``keyId`` against the directory)."""
    return (
        isinstance(signature, dict)
        and signature.get("algorithm") == ALGORITHM
        and verify(public_key_b64, canonical(body), str(signature.get("value")))
    )


def sign_json(region: Region, obj: dict[str, Any]) -> dict[str, Any]:
    """``{"signed": obj, "signature": {...}}``: ``obj`` signed by ``region`` (for
    any message whose receiver acts on it: queries, answers, receipts)."""
    return envelope("signed", region, obj)


def verify_json(
    envelope: Any, *, signers: set[str] | None = None, remote_only: bool = False
) -> tuple[dict[str, Any], DirectoryEntry]:
    """The signed object of a :func:`sign_json` envelope and its signer's directory
    entry; ``signers`` limits who may have signed it, ``remote_only`` refuses this
    deployment's own regions. Raises :class:`SignatureRejected`."""
    if not isinstance(envelope, dict):
        raise SignatureRejected("MALFORMED", "a signed message is a JSON object")
    obj, signature = envelope.get("signed"), envelope.get("signature")
    if not isinstance(obj, dict) or not isinstance(signature, dict):
        raise SignatureRejected("MALFORMED", "a signed message has signed and signature")
    if signature.get("algorithm") != ALGORITHM:
        raise SignatureRejected("MALFORMED", f"signature.algorithm must be {ALGORITHM}")
    code = str(signature.get("keyId"))
    entry = lookup(code)
    if entry is None or (remote_only and entry.local) or (signers and code not in signers):
        raise SignatureRejected("UNKNOWN_SENDER", f"region {code} may not sign this message")
    if not signature_holds(signature, entry.public_key, obj):
        raise SignatureRejected("BAD_SIGNATURE", f"the signature does not match {code}'s key")
    return obj, entry


# The directory ----------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryEntry:
    code: str
    name: str
    public_key: str
    local: bool
    inbox_url: str = ""
    exchange_key: str = ""


def _local(region: Region) -> DirectoryEntry:
    key = region_key(region)
    return DirectoryEntry(
        region.code,
        region.name,
        key.public_key,
        True,
        settings.INTEROP_INBOX_URL,
        key.exchange_public_key,
    )


def _remote(remote: RemoteRegion) -> DirectoryEntry:
    return DirectoryEntry(
        remote.code, remote.name, remote.public_key, False, remote.inbox_url, remote.exchange_key
    )


def directory() -> list[DirectoryEntry]:
    """Every region this deployment knows: its own, then remote ones."""
    entries = [_local(r) for r in Region.objects.order_by("code")]
    local_codes = {e.code for e in entries}
    entries += [_remote(r) for r in RemoteRegion.objects.exclude(code__in=local_codes)]
    return entries


def lookup(code: str) -> DirectoryEntry | None:
    region = Region.objects.filter(code=code).first()
    if region is not None:
        return _local(region)
    remote = RemoteRegion.objects.filter(code=code).first()
    return _remote(remote) if remote is not None else None


ENTRY_FIELDS = ("code", "name", "publicKey", "exchangeKey", "inboxUrl")


def entry_body(item: dict[str, Any]) -> dict[str, Any]:
    """The part of a published directory entry its signature covers."""
    return {name: item.get(name) for name in ENTRY_FIELDS}


def published_entry(region: Region) -> dict[str, Any]:
    """A region's directory entry as published at ``GET /interop/directory``:
    signed by its current key, with the chain of rotation statements."""
    key = region_key(region)
    body = {
        "code": region.code,
        "name": region.name,
        "publicKey": key.public_key,
        "exchangeKey": key.exchange_public_key,
        "inboxUrl": settings.INTEROP_INBOX_URL,
    }
    return {
        **body,
        "fingerprint": fingerprint(key.public_key),
        "signature": _sign_with(key.private_key_encrypted, canonical(body)),
        "rotations": key.rotations or [],
    }


def published_directory() -> dict[str, Any]:
    return {"regions": [published_entry(r) for r in Region.objects.order_by("code")]}


def rotate(region: Region, actor: str) -> dict[str, Any]:
    """New signing and exchange keys for a local region. The rotation statement
    (old key → new keys) is signed by the old key and published with the
    directory entry, so peers that pinned the old key accept the new one; the
    old exchange key is kept (encrypted) to open messages sealed before."""
    with transaction.atomic():
        region_key(region)
        key = RegionKey.objects.select_for_update().get(region=region)
        public, private = _new_signing_pair()
        exchange_public, exchange_private = crypto.generate()
        statement = {
            "kind": "key-rotation",
            "region": region.code,
            "oldPublicKey": key.public_key,
            "newPublicKey": public,
            "newExchangeKey": exchange_public,
            "rotatedAt": timezone.now().isoformat(),
        }
        signed = {
            "statement": statement,
            "signature": _sign_with(key.private_key_encrypted, canonical(statement)),
        }
        key.rotations = [*(key.rotations or []), signed]
        key.retired_exchange_keys = [
            *(key.retired_exchange_keys or []),
            key.exchange_private_key_encrypted,
        ]
        key.public_key = public
        key.private_key_encrypted = pii.encrypt(private)
        key.exchange_public_key = exchange_public
        key.exchange_private_key_encrypted = pii.encrypt(exchange_private)
        key.save()
        CentralAuditEntry.objects.create(
            actor=actor,
            action="region.key_rotated",
            region_code=region.code,
            detail={
                "oldFingerprint": fingerprint(statement["oldPublicKey"]),
                "newFingerprint": fingerprint(public),
            },
        )
    return signed


def follows_rotations(pinned: str, target: str, rotations: Any, code: str) -> bool:
    """Whether ``rotations`` lead from the ``pinned`` key to ``target``, each
    statement signed by the key it replaces."""
    if not isinstance(rotations, list):
        return False
    current = pinned
    for _unused in range(len(rotations)):
        step = next(
            (
                r
                for r in rotations
                if isinstance(r, dict)
                and isinstance(r.get("statement"), dict)
                and r["statement"].get("oldPublicKey") == current
                and r["statement"].get("region") == code
                and r["statement"].get("kind") == "key-rotation"
            ),
            None,
        )
        if step is None or not verify(
            current, canonical(step["statement"]), str(step.get("signature"))
        ):
            return False
        current = str(step["statement"].get("newPublicKey"))
        if current == target:
            return True
    return current == target


# Peer URLs ----------------------------------------------------------------------

LOOPBACK_NAMES = {"localhost"}


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_peer_url(url: str, field: str = "inboxUrl") -> str:
    """A peer's URL, if it may carry transfers: HTTPS, or plain HTTP to a loopback
    host while ``INTEROP_ALLOW_LOOPBACK_HTTP`` is on (development). Raises
    :class:`InvalidInput` with code ``INSECURE_URL`` (issue 11 finding 9)."""
    parts = urlsplit(url or "")
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and host and _is_loopback(host):
        if settings.INTEROP_ALLOW_LOOPBACK_HTTP:
            return url
        raise InvalidInput(
            _(
                "%(url)s: plain HTTP to a loopback host is allowed only in "
                "development (PLATFORM_INTEROP_ALLOW_LOOPBACK_HTTP)"
            )
            % {"url": url},
            field=field,
            code="INSECURE_URL",
        )
    raise InvalidInput(
        _("%(url)s: a peer's URL must be https:// (personal data travels to it)") % {"url": url},
        field=field,
        code="INSECURE_URL",
    )


# Sealing to a region -------------------------------------------------------------


def seal_for(code: str, envelope: Any) -> dict[str, Any]:
    """``{"sealed": …}``: the signed ``envelope`` encrypted to region ``code``'s
    exchange key from the directory. Raises :class:`crypto.SealError`."""
    entry = lookup(code)
    if entry is None or not entry.exchange_key:
        raise crypto.SealError(
            "NO_EXCHANGE_KEY",
            f"region {code} publishes no exchange key: fetch its directory again",
        )
    return {"sealed": crypto.seal(code, entry.exchange_key, canonical(envelope))}


def open_for_local(body: Any) -> tuple[Any, Region]:
    """The envelope inside a ``{"sealed": …}`` body addressed to a region served
    here, and that region. Raises :class:`crypto.SealError`."""
    sealed = body.get("sealed") if isinstance(body, dict) else None
    if not isinstance(sealed, dict):
        raise crypto.SealError(
            "NOT_SEALED",
            "messages between deployments are sealed to the recipient region's exchange "
            "key (issue 11 finding 9)",
        )
    region = Region.objects.filter(code=str(sealed.get("recipient"))).first()
    if region is None:
        raise crypto.SealError(
            "WRONG_DESTINATION", f"no region {sealed.get('recipient')} is served here"
        )
    plaintext = crypto.open_sealed(sealed, exchange_private_keys(region))
    try:
        envelope = orjson.loads(plaintext)  # as deep as the inbox allows
    except ValueError:
        raise crypto.SealError("MALFORMED", "the sealed message is not JSON") from None
    # What is inside must be for the region it was sealed to (a message that names
    # no region is refused by the inbox as malformed).
    meant = messages.addressee(envelope)
    if meant is None:
        meant = region.code
    if meant != region.code:
        raise crypto.SealError(
            "WRONG_DESTINATION", f"the message inside is for {meant}, sealed to {region.code}"
        )
    return envelope, region


class OutboundRefused(Exception):
    """A message this deployment will not send as it is (insecure URL, no key)."""


def outbound(code: str, inbox_url: str, envelope: Any) -> tuple[str, dict[str, Any]]:
    """Where and what to POST for a message to region ``code``: the directory's
    current inbox URL (a change signed by the pinned key applies to messages
    already queued), HTTPS-checked, and the signed ``envelope`` sealed to the
    region's exchange key (issue 11 finding 9). Raises :class:`OutboundRefused`."""
    entry = lookup(code)
    url = (entry.inbox_url if entry is not None and not entry.local else "") or inbox_url
    try:
        return check_peer_url(url), seal_for(code, envelope)
    except InvalidInput as error:
        raise OutboundRefused(f"INSECURE_URL: {error}") from None
    except crypto.SealError as error:
        raise OutboundRefused(f"{error.code}: {error.reason}") from None
