"""Global object identity: every entity's ``id`` (issue 21 finding 3).

A client's normalised cache (Apollo's InMemoryCache, urql's graphcache, Relay's
store) keys objects by ``id``, Relay by ``id`` alone. Row numbers collide
between types ("1" is a group and a project at once) and between regions, and
they tell how many rows there are; a volunteer's number or ID-card number is
personal. So an ``id`` is ``<type name>:<schema>:<key>`` encrypted with AES-SIV
under a key derived from ``SECRET_KEY``: deterministic (the same object always
has the same id, which a cache needs), authenticated (a forged or altered id
does not decode) and unreadable (the row key does not show). The schema is the
region's PostgreSQL schema (``public`` for what central serves), so the same row
number in two regions gives two ids.
"""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from django.conf import settings
from django.db import connection

CENTRAL = "public"  # the schema of what central serves (regions)


@functools.cache
def _cipher(secret: str) -> AESSIV:
    # A key of its own, so an id reveals nothing about SECRET_KEY's other uses.
    key = hashlib.sha512(b"volunteer-platform global object id\x00" + secret.encode()).digest()
    return AESSIV(key)


def current_schema() -> str:
    return getattr(connection, "schema_name", CENTRAL)


@functools.lru_cache(maxsize=1 << 16)  # a page repeats objects; encrypting costs ~µs
def _encode(type_name: str, schema: str, key: str, secret: str) -> str:
    sealed = _cipher(secret).encrypt(f"{type_name}:{schema}:{key}".encode(), None)
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def global_id(type_name: str, key, schema: str | None = None) -> str:
    """The opaque id of the ``type_name`` object with row key ``key``, in this
    request's region (or ``schema``)."""
    return _encode(type_name, schema or current_schema(), str(key), settings.SECRET_KEY)


class NotAnId(ValueError):
    """Not an id this platform issued (malformed, forged, or of another type)."""


class ElsewhereId(ValueError):
    """An id of another region (or of central): nothing here has it."""


def decode(value, type_names: tuple[str, ...] | None = None) -> tuple[str, str, str]:
    """``(type name, schema, key)`` of an id, any schema; NotAnId for anything else,
    or for an id of a type outside ``type_names``."""
    try:
        text = str(value)
        sealed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        plain = _cipher(settings.SECRET_KEY).decrypt(sealed, None).decode()
    except (InvalidTag, ValueError, TypeError):
        raise NotAnId(value) from None
    type_name, schema, key = plain.split(":", 2)
    if type_names is not None and type_name not in type_names:
        raise NotAnId(value)
    return type_name, schema, key


def local_key(value, type_names: tuple[str, ...], schema: str | None = None) -> str:
    """The row key of an id of one of ``type_names`` issued by this region (or
    ``schema``): NotAnId, or ElsewhereId for another region's."""
    _type, where, key = decode(value, type_names)
    if where != (schema or current_schema()):
        raise ElsewhereId(value)
    return key
