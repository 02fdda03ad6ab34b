"""Personal information at rest: encryption, keyed hashes for look-up, masks.

ID numbers and phones (000 Art.3, Art.15) are encrypted with Fernet
(AES-128-CBC + HMAC-SHA256, from ``cryptography``). ``PII_ENCRYPTION_KEYS``
holds one or more keys: the first encrypts, all decrypt, so a key is rotated by
putting a new key first and running ``manage.py rotate_pii_keys``, then
dropping the old key. Look-ups use an HMAC-SHA256 of the normalised value under
``PII_HASH_KEY``, so the database never holds a plain or unsalted hash of an
ID number.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def cipher() -> MultiFernet:
    return _cipher(tuple(settings.PII_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return cipher().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise RuntimeError(
            "personal information cannot be decrypted with the configured keys"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt under the first key (for key rotation)."""
    return cipher().rotate(token.encode()).decode() if token else ""


def normalise(value: str) -> str:
    return "".join(value.split()).upper()


def keyed_hash(kind: str, value: str) -> str:
    if not value:
        return ""
    message = f"{kind}:{normalise(value)}".encode()
    return hmac.new(settings.PII_HASH_KEY.encode(), message, hashlib.sha256).hexdigest()


# A number shorter than this shows two characters at each end, not four: four
# and four of a 9-character passport or 港澳通行证 number (E12345678, H12345678)
# left one character hidden, the number ten guesses away (README "Personal
# information"; 000 Art.3, Art.15 不得侵犯志愿者个人隐私).
SHORT_ID = 15


def mask_id_number(number: str) -> str:
    """``500101199001011234`` → ``5001**********1234``; ``E12345678`` → ``E1*****78``.

    A resident ID number (18) or a foreign permanent resident's (15 or 18) shows
    four characters at each end; a shorter one two, so that at least five stay
    hidden; eight or fewer, none."""
    number = normalise(number)
    if len(number) <= 8:
        return "*" * len(number)
    keep = 4 if len(number) >= SHORT_ID else 2
    return number[:keep] + "*" * (len(number) - 2 * keep) + number[-keep:]


def narrow_mask(masked: str) -> str:
    """A mask made before ``SHORT_ID`` (four characters at each end of a short
    number) as :func:`mask_id_number` makes it now; a mask made now is unchanged."""
    if len(masked) <= 8 or len(masked) >= SHORT_ID:
        return masked
    return masked[:2] + "*" * (len(masked) - 4) + masked[-2:]


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678``."""
    phone = normalise(phone)
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def protected_fields(id_number: str, phone: str) -> dict[str, str]:
    """A volunteer's ID number and phone as stored (个人信息保护): each normalised,
    then encrypted (revealed only to roles allowed, and logged), keyed-hashed (found
    without decrypting) and masked (shown by default). Registration and a transfer's
    import store them alike through this."""
    id_number, phone = normalise(id_number), normalise(phone)
    return {
        "id_number_encrypted": encrypt(id_number),
        "id_number_hash": keyed_hash("id", id_number),
        "id_number_masked": mask_id_number(id_number),
        "phone_encrypted": encrypt(phone),
        "phone_hash": keyed_hash("phone", phone),
        "phone_masked": mask_phone(phone),
    }


def mask_name(name: str) -> str:
    """A name as public notices (公示) show it: ``张三`` → ``张*``, ``欧阳明月`` →
    ``欧**月``; the surname and, for three characters or more, the last one."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
