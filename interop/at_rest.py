"""Transfer packages at rest: personal fields encrypted like the registry's.

A signed envelope (``package.seal``) carries the volunteer's ID number and
phone in clear, because the signature covers the clear content. Stored —
``Transfer.package`` and ``OutboxMessage.body``, in the source's and the
destination's schemas — those two values are Fernet tokens (``pii.encrypt``,
rotated by ``manage.py rotate_pii_keys``) behind the prefix ``pii:fernet:``
(issue 10 finding 5; 000 Art.3, Art.15). The clear envelope is rebuilt only
where it is needed: to send it to a peer, to write it to a file, and for a
logged ``revealTransferPackage``. Received packages are checked (signature,
schema) before they are stored, and the schema caps ``idNumber`` at 32 and
``phone`` at 20 characters, so a stored value with the prefix (far longer) can
only be one written here. Rows written before this in clear are read as they
are (and encrypted by migration ``interop.0002``).

The API shows a stored package :func:`masked`: ID number and phone masked as
the registry masks them, no birth date (``birthDate`` null, ``ageBand``
instead).
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from typing import Any, TypeGuard

from tenants.volunteers import pii

PREFIX = "pii:fernet:"
# passwordHash: the login's Django hash in a version 2 envelope's ``credential``
# (issue 11 finding 8), beside the signed package.
SEALED = ("idNumber", "phone", "passwordHash")


def _volunteer(envelope: Any) -> dict | None:
    """The ``package.volunteer`` object of an envelope, if it has one."""
    if not isinstance(envelope, dict):
        return None
    package = envelope.get("package")
    if not isinstance(package, dict):
        return None
    volunteer = package.get("volunteer")
    return volunteer if isinstance(volunteer, dict) else None


def _map(envelope: Any, change: Callable[[dict], None]) -> Any:
    if _volunteer(envelope) is None:
        return envelope  # a transfer request, or nothing: no personal fields
    copied = copy.deepcopy(envelope)
    volunteer = _volunteer(copied)
    assert volunteer is not None  # a copy of one that has it
    change(volunteer)
    if isinstance(copied.get("credential"), dict):
        change(copied["credential"])
    return copied


def is_sealed(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith(PREFIX)


def _clear_value(value: Any) -> Any:
    return pii.decrypt(value[len(PREFIX) :]) if is_sealed(value) else value


def stored(envelope: Any) -> Any:
    """What is written to the database: the envelope with its personal fields encrypted."""

    def change(volunteer: dict) -> None:
        for key in SEALED:
            value = volunteer.get(key)
            if isinstance(value, str) and value and not is_sealed(value):
                volunteer[key] = PREFIX + pii.encrypt(value)

    return _map(envelope, change)


def clear(envelope: Any) -> Any:
    """The envelope as signed (to send, export or reveal); accepts clear rows too."""

    def change(volunteer: dict) -> None:
        for key in SEALED:
            if key in volunteer:
                volunteer[key] = _clear_value(volunteer[key])

    return _map(envelope, change)


def rotated(envelope: Any) -> Any:
    """The stored envelope re-encrypted under the first key (``rotate_pii_keys``);
    a row still in clear is encrypted."""

    def change(volunteer: dict) -> None:
        for key in SEALED:
            value = volunteer.get(key)
            if is_sealed(value):
                volunteer[key] = PREFIX + pii.rotate(value[len(PREFIX) :])
            elif isinstance(value, str) and value:
                volunteer[key] = PREFIX + pii.encrypt(value)

    return _map(envelope, change)


def without_credential(envelope: Any) -> Any:
    """The envelope without the login's password hash: what the API shows or reveals
    (the package's signature does not cover it and still verifies)."""
    if isinstance(envelope, dict) and "credential" in envelope:
        return {key: value for key, value in envelope.items() if key != "credential"}
    return envelope


def masked(envelope: Any) -> Any:
    """The envelope as the API shows it by default: ID number and phone masked,
    the birth date replaced by an age band. Its signature no longer verifies
    (``revealTransferPackage`` gives the signed content)."""
    from tenants.volunteers.services import age_band

    def change(volunteer: dict) -> None:
        if "passwordHash" in volunteer:  # the credential: dropped below
            return
        for key, mask in (("idNumber", pii.mask_id_number), ("phone", pii.mask_phone)):
            if isinstance(volunteer.get(key), str):
                volunteer[key] = mask(_clear_value(volunteer[key]))
        if "birthDate" in volunteer:
            born = volunteer["birthDate"]
            volunteer["birthDate"] = None
            try:
                volunteer["ageBand"] = age_band(datetime.date.fromisoformat(born))
            except (TypeError, ValueError):
                volunteer["ageBand"] = None

    return without_credential(_map(envelope, change))
