"""Pinning peers' keys (issue 11 finding 10).

``manage.py interop peer fetch URL`` reads a peer's directory and applies each
entry with :func:`apply_entry`:

- the entry must be signed by the key it lists (its ``signature`` over
  ``code, name, publicKey, exchangeKey, inboxUrl``), and its inbox URL must be
  HTTPS (or loopback HTTP in development);
- a region not known yet is added (trust on first use, as an admin running the
  command decides) — ``peer.added``;
- the same pinned key: name, inbox URL and exchange key may change, since the
  pinned key signed them — ``peer.updated``;
- another key: accepted only along the entry's ``rotations``, each statement
  signed by the key it replaces, starting from the pinned key —
  ``peer.key_rotated``; otherwise refused, nothing changed but ``pending`` (the
  refused entry), and audited — ``peer.key_change_refused``. A central admin
  who has checked the new key's fingerprint with the peer's operator accepts it
  with ``manage.py interop peer trust --code C --fingerprint F`` (or the Django
  admin action) — ``peer.key_trusted``.

Every change and every refusal is a ``central.CentralAuditEntry``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from central.errors import Conflict, InvalidInput, NotFound, locked_row
from central.models import CentralAuditEntry, Region, RemoteRegion
from interop import signing


def _audit(actor: str, action: str, code: str, **detail) -> None:
    CentralAuditEntry.objects.create(actor=actor, action=action, region_code=code, detail=detail)


def _check_shape(item: Any) -> dict[str, str]:
    if not isinstance(item, dict):
        raise InvalidInput(_("a directory entry is a JSON object"), field="regions")
    fields = {}
    for name in ("code", "name", "publicKey", "inboxUrl"):
        value = item.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidInput(
                _("the directory entry has no %(name)s") % {"name": name}, field=name
            )
        fields[name] = value
    exchange = item.get("exchangeKey")
    fields["exchangeKey"] = exchange if isinstance(exchange, str) else ""
    if not signing.fingerprint(fields["publicKey"]):
        raise InvalidInput(_("publicKey is not base64"), field="publicKey")
    return fields


def apply_entry(item: Any, actor: str) -> str:
    """Apply one fetched directory entry; returns what happened (``added``,
    ``updated``, ``unchanged``, ``key_rotated``). Raises :class:`Conflict` (code
    ``KEY_CHANGED``) for a key change nobody signed, :class:`InvalidInput` for an
    entry that is malformed, unsigned or has an insecure URL — each audited."""
    fields = _check_shape(item)
    code = fields["code"]
    if Region.objects.filter(code=code).exists():
        raise Conflict(_("%(code)s is served by this deployment") % {"code": code}, field="code")
    try:
        signing.check_peer_url(fields["inboxUrl"])
    except InvalidInput as error:
        _audit(actor, "peer.refused", code, reason=str(error), inboxUrl=fields["inboxUrl"])
        raise
    body = signing.entry_body(fields)
    if not signing.verify(fields["publicKey"], signing.canonical(body), str(item.get("signature"))):
        _audit(actor, "peer.refused", code, reason="the entry is not signed by its key")
        raise InvalidInput(
            _("the directory entry of %(code)s is not signed by the key it lists") % {"code": code},
            field="signature",
            code="BAD_SIGNATURE",
        )
    new = {
        "name": fields["name"],
        "public_key": fields["publicKey"],
        "exchange_key": fields["exchangeKey"],
        "inbox_url": fields["inboxUrl"],
    }
    with transaction.atomic():
        current = locked_row(RemoteRegion.objects, missing=None, code=code)
        if current is None:
            RemoteRegion.objects.create(code=code, **new)
            _audit(actor, "peer.added", code, fingerprint=signing.fingerprint(new["public_key"]))
            return "added"
        if current.public_key != new["public_key"] and not signing.follows_rotations(
            current.public_key, new["public_key"], item.get("rotations"), code
        ):
            # Kept (and audited) for an admin to trust; the pinned entry is unchanged.
            current.pending = {**fields, "signature": item.get("signature")}
            current.save(update_fields=["pending", "updated_at"])
            _audit(
                actor,
                "peer.key_change_refused",
                code,
                pinned=signing.fingerprint(current.public_key),
                offered=signing.fingerprint(new["public_key"]),
                inboxUrl=new["inbox_url"],
            )
            refused = (signing.fingerprint(current.public_key), new["public_key"])
        else:
            refused = None
            outcome = _update(current, new, actor)
    if refused is not None:
        raise Conflict(
            _(
                "%(code)s now lists another key (fingerprint %(fingerprint)s)"
                " without a rotation signed by the pinned key (%(refused)s): "
                "nothing changed. Check the fingerprint with the peer's "
                "operator, then `manage.py interop peer trust --code … "
                "--fingerprint …`"
            )
            % {"code": code, "fingerprint": signing.fingerprint(refused[1]), "refused": refused[0]},
            field="publicKey",
            code="KEY_CHANGED",
        )
    return outcome


def _update(current: RemoteRegion, new: dict, actor: str) -> str:
    """Apply an entry signed by the pinned key (or reached by its rotations)."""
    old = {name: getattr(current, name) for name in new}
    if old == new and current.pending is None:
        return "unchanged"
    outcome = "key_rotated" if old["public_key"] != new["public_key"] else "updated"
    for name, value in new.items():
        setattr(current, name, value)
    current.pending = None
    current.save()
    _audit(actor, f"peer.{outcome}", current.code, **_changes(old, new))
    return outcome


def _changes(old: dict, new: dict) -> dict:
    detail = {}
    for name in new:
        if old[name] != new[name]:
            before, after = old[name], new[name]
            if name in ("public_key", "exchange_key"):
                before, after = signing.fingerprint(before), signing.fingerprint(after)
            detail[name] = {"from": before, "to": after}
    return detail


def add_manually(fields: dict[str, str], actor: str) -> str:
    """``peer add``: a central admin types a peer's entry. A new peer is added; for a
    known one the key must be the pinned one (a key change goes through ``trust``)."""
    code = fields["code"]
    if Region.objects.filter(code=code).exists():
        raise Conflict(_("%(code)s is served by this deployment") % {"code": code}, field="code")
    signing.check_peer_url(fields["inboxUrl"])
    if not signing.fingerprint(fields["publicKey"]):
        raise InvalidInput(_("publicKey is not base64"), field="publicKey")
    new = {
        "name": fields["name"],
        "public_key": fields["publicKey"],
        "exchange_key": fields.get("exchangeKey") or "",
        "inbox_url": fields["inboxUrl"],
    }
    with transaction.atomic():
        current = locked_row(RemoteRegion.objects, missing=None, code=code)
        if current is None:
            RemoteRegion.objects.create(code=code, **new)
            _audit(actor, "peer.added", code, fingerprint=signing.fingerprint(new["public_key"]))
            return "added"
        if current.public_key != new["public_key"]:
            raise Conflict(
                _("%(code)s is pinned to another key: use `interop peer trust` to change it")
                % {"code": code},
                field="publicKey",
                code="KEY_CHANGED",
            )
        if not new["exchange_key"]:
            new["exchange_key"] = current.exchange_key
        old = {name: getattr(current, name) for name in new}
        for name, value in new.items():
            setattr(current, name, value)
        current.save()
        _audit(actor, "peer.updated", code, **_changes(old, new))
        return "updated"


def trust(code: str, given_fingerprint: str, actor: str) -> RemoteRegion:
    """A central admin accepts a peer's refused key change (``pending``) after
    checking its fingerprint out of band."""
    with transaction.atomic():
        current = locked_row(
            RemoteRegion.objects,
            missing=NotFound(_("no peer region %(code)s") % {"code": code}, field="code"),
            code=code,
        )
        pending = current.pending
        if not pending:
            raise Conflict(
                _("%(code)s has no refused key change to trust") % {"code": code}, field="code"
            )
        if not signing.same_fingerprint(given_fingerprint, pending["publicKey"]):
            raise InvalidInput(
                _("the fingerprint is not the one of the refused key (%(fingerprint)s)")
                % {"fingerprint": signing.fingerprint(pending["publicKey"])},
                field="fingerprint",
                code="FINGERPRINT_MISMATCH",
            )
        old = {
            "name": current.name,
            "public_key": current.public_key,
            "exchange_key": current.exchange_key,
            "inbox_url": current.inbox_url,
        }
        new = {
            "name": pending["name"],
            "public_key": pending["publicKey"],
            "exchange_key": pending.get("exchangeKey") or "",
            "inbox_url": pending["inboxUrl"],
        }
        for name, value in new.items():
            setattr(current, name, value)
        current.pending = None
        current.save()
        _audit(actor, "peer.key_trusted", code, **_changes(old, new))
    return current
