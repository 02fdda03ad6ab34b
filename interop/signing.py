"""Signing transfer packages and the federation directory of public keys.

Each region signs with its own Ed25519 key (``central.RegionKey``, created on
first use). A receiver verifies against the directory: the regions of its own
deployment, and ``central.RemoteRegion`` rows for regions served elsewhere.
What is signed is the canonical serialization of the package (see
``interop/package.py``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.db import IntegrityError, transaction

from central.models import Region, RegionKey, RemoteRegion
from tenants.volunteers import pii


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def region_key(region: Region) -> RegionKey:
    """The region's key, created (once, race-safe) on first use."""
    existing = RegionKey.objects.filter(region=region).first()
    if existing is not None:
        return existing
    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    try:
        with transaction.atomic():
            return RegionKey.objects.create(
                region=region,
                public_key=base64.b64encode(_raw_public(private.public_key())).decode(),
                private_key_encrypted=pii.encrypt(base64.b64encode(raw_private).decode()),
            )
    except IntegrityError:
        return RegionKey.objects.get(region=region)


def sign(region: Region, message: bytes) -> str:
    key = region_key(region)
    raw = base64.b64decode(pii.decrypt(key.private_key_encrypted))
    return base64.b64encode(Ed25519PrivateKey.from_private_bytes(raw).sign(message)).decode()


@dataclass(frozen=True)
class DirectoryEntry:
    code: str
    name: str
    public_key: str
    local: bool
    inbox_url: str = ""


def directory() -> list[DirectoryEntry]:
    """Every region this deployment knows: its own, then remote ones."""
    entries = [
        DirectoryEntry(r.code, r.name, region_key(r).public_key, True)
        for r in Region.objects.order_by("code")
    ]
    local_codes = {e.code for e in entries}
    entries += [
        DirectoryEntry(r.code, r.name, r.public_key, False, r.inbox_url)
        for r in RemoteRegion.objects.exclude(code__in=local_codes)
    ]
    return entries


def lookup(code: str) -> DirectoryEntry | None:
    region = Region.objects.filter(code=code).first()
    if region is not None:
        return DirectoryEntry(region.code, region.name, region_key(region).public_key, True)
    remote = RemoteRegion.objects.filter(code=code).first()
    if remote is not None:
        return DirectoryEntry(remote.code, remote.name, remote.public_key, False, remote.inbox_url)
    return None


def verify(public_key_b64: str, message: bytes, signature_b64: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(base64.b64decode(signature_b64, validate=True), message)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False
