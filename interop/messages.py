"""The messages one deployment sends another's inbox, and whom each is for.

Every message is a JSON envelope, sealed on the wire to the region it is
addressed to (``signing.seal_for``). Four kinds:

- ``{"package": …, "signature": …}``: a volunteer's records (``package.py``);
  addressed to ``package.destination.regionCode``;
- ``{"request": …, "signature": …}``: a transfer asked for on a volunteer's
  behalf; addressed to the source region, ``request.from``;
- ``{"part": …, "signature": …}``: one part of a package too large for one
  message (issue 11 finding 7); addressed to ``part.destination.regionCode``;
- ``{"acknowledgement": {"to": …, "receipt": …}}``: the destination's signed
  receipt for a package that travelled as a file (issue 11 finding 2), sent
  back to the source region ``to``. The receipt inside is what is trusted
  (``receipts.verify``); ``to`` only routes it.
"""

from __future__ import annotations

from typing import Any

KINDS = ("package", "transfer_request", "package_part", "acknowledgement")


def subject(envelope: Any) -> tuple[str, str | None, dict[str, Any]] | None:
    """What an envelope is about: (kind, id, the payload its receipt's digest
    covers), or None if it is none of the kinds above."""
    if not isinstance(envelope, dict):
        return None
    if isinstance(envelope.get("request"), dict):
        return "transfer_request", None, envelope["request"]
    package = envelope.get("package")
    if isinstance(package, dict):
        package_id = package.get("packageId")
        return "package", str(package_id) if package_id is not None else None, package
    part = envelope.get("part")
    if isinstance(part, dict):
        return "package_part", f"{part.get('packageId')}:{part.get('index')}", part
    acknowledgement = envelope.get("acknowledgement")
    if isinstance(acknowledgement, dict):
        receipt = acknowledgement.get("receipt")
        body = receipt.get("receipt") if isinstance(receipt, dict) else None
        package_id = body.get("id") if isinstance(body, dict) else None
        return "acknowledgement", str(package_id), acknowledgement
    return None


def addressee(envelope: Any) -> str | None:
    """The code of the region a message is for (None: it names none)."""
    about = subject(envelope)
    if about is None:
        return None
    kind, _, payload = about
    if kind in ("package", "package_part"):
        destination = payload.get("destination")
        code = destination.get("regionCode") if isinstance(destination, dict) else None
    elif kind == "transfer_request":
        code = payload.get("from")
    else:
        code = payload.get("to")
    return code if isinstance(code, str) else None
