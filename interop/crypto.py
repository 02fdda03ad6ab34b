"""Sealing messages to a region's public key (issue 11 finding 9).

A sealed box built from ``cryptography``, in the manner of HPKE base mode:

- the sender makes a fresh X25519 key pair for every message (``ephemeralKey``);
- the shared secret of that ephemeral key and the recipient region's X25519
  public key (published in the federation directory as ``exchangeKey``) goes
  through HKDF-SHA256 (salt: ephemeral public key ‖ recipient public key; info:
  ``INFO``) to a 32-byte key;
- the plaintext (the whole signed envelope, as canonical JSON) is encrypted with
  ChaCha20-Poly1305 under that key and a random 96-bit nonce; the associated
  data binds the algorithm, the recipient region's code and both public keys.

Only the holder of the recipient's private key can open it; the Ed25519
signature inside still says who sent it (the box itself is anonymous).
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALGORITHM = "X25519-HKDF-SHA256-ChaCha20Poly1305"
INFO = b"vrp-interop-sealed-box-v1"


class SealError(Exception):
    """A sealed message that cannot be opened here, with a stable code."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except ValueError:
        raise SealError("MALFORMED", f"sealed.{what} is not base64") from None


def raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def generate() -> tuple[str, str]:
    """A new X25519 key pair as (public, private), each base64 of 32 raw bytes."""
    private = X25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return _b64(raw_public(private.public_key())), _b64(raw_private)


def key_id(public_b64: str) -> str:
    """A short, stable name for a public key: the first 16 hex of its SHA-256."""
    return hashlib.sha256(base64.b64decode(public_b64)).hexdigest()[:16]


def _derive(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=INFO).derive(
        shared
    )


def _aad(recipient_code: str, ephemeral: bytes, recipient: bytes) -> bytes:
    return b"|".join([ALGORITHM.encode(), recipient_code.encode(), ephemeral, recipient])


def seal(recipient_code: str, recipient_public_b64: str, plaintext: bytes) -> dict[str, str]:
    """The ``sealed`` object for ``plaintext``, readable only by the recipient."""
    try:
        recipient = base64.b64decode(recipient_public_b64, validate=True)
        recipient_key = X25519PublicKey.from_public_bytes(recipient)
    except ValueError:
        raise SealError(
            "NO_EXCHANGE_KEY", f"region {recipient_code} has no valid exchange key"
        ) from None
    ephemeral_private = X25519PrivateKey.generate()
    ephemeral = raw_public(ephemeral_private.public_key())
    key = _derive(ephemeral_private.exchange(recipient_key), ephemeral, recipient)
    nonce = os.urandom(12)
    ciphertext = ChaCha20Poly1305(key).encrypt(
        nonce, plaintext, _aad(recipient_code, ephemeral, recipient)
    )
    return {
        "algorithm": ALGORITHM,
        "recipient": recipient_code,
        "recipientKeyId": key_id(recipient_public_b64),
        "ephemeralKey": _b64(ephemeral),
        "nonce": _b64(nonce),
        "ciphertext": _b64(ciphertext),
    }


def open_sealed(sealed: Any, private_keys_b64: list[str]) -> bytes:
    """The plaintext of a ``sealed`` object, opened with one of the recipient's
    private keys (the current one first, then retired ones, for messages sealed
    before a rotation). Raises :class:`SealError`."""
    if not isinstance(sealed, dict) or sealed.get("algorithm") != ALGORITHM:
        raise SealError("MALFORMED", f"sealed.algorithm must be {ALGORITHM}")
    ephemeral = _unb64(sealed.get("ephemeralKey"), "ephemeralKey")
    nonce = _unb64(sealed.get("nonce"), "nonce")
    ciphertext = _unb64(sealed.get("ciphertext"), "ciphertext")
    if len(ephemeral) != 32 or len(nonce) != 12:
        raise SealError("MALFORMED", "sealed.ephemeralKey or sealed.nonce has the wrong length")
    code = str(sealed.get("recipient"))
    for private_b64 in private_keys_b64:
        private = X25519PrivateKey.from_private_bytes(base64.b64decode(private_b64))
        recipient = raw_public(private.public_key())
        try:
            shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral))
            key = _derive(shared, ephemeral, recipient)
            aad = _aad(code, ephemeral, recipient)
            return ChaCha20Poly1305(key).decrypt(nonce, ciphertext, aad)
        except (InvalidTag, ValueError):
            continue
    raise SealError(
        "WRONG_RECIPIENT_KEY",
        f"the message is not sealed to a key of region {code} served here "
        "(fetch its current exchange key from the directory)",
    )
