"""The transfer package: building it, its canonical bytes, and checking one received.

Format and rules: ``interop/README.md`` and the JSON Schemas in
``interop/schemas/``. Version 2 (issue 11 findings 2, 8, 12) carries the
volunteer's profile and login (username and Django password *hash*, never the
password), every record that holds hours — counted, in publicity or awaiting
confirmation, each in that state, frozen at consent — with its amendments and
full provenance (origin region code and name, origin id, group, recorder, hours
first recorded, when it counted and who confirmed it), and every training, award
and upheld complaint. Version 1 packages (counted records only, no login) are
still read and imported.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema
from django.contrib.auth.hashers import is_password_usable
from django.utils import timezone

from central.models import Region, RemoteRegion
from interop import signing
from tenants.accounts.models import Account
from tenants.recognition.models import Award, Complaint, ComplaintStatus, Training
from tenants.records.models import RecordState, ServiceRecord, VolunteerTotals
from tenants.timebank import services as time_bank
from tenants.volunteers import pii

FORMAT = "volunteer-transfer"
VERSION = 2  # what this platform writes
READS = (1, 2)  # what it imports
SCHEMAS = Path(__file__).resolve().parent / "schemas"
SCHEMA_PATH = SCHEMAS / f"transfer-package.v{VERSION}.json"
# The states in which a record travels: every one that holds hours. A record still
# declared or objected at consent has no decided hours; consent waits for it.
TRAVELLING = (RecordState.COUNTED, RecordState.IN_PUBLICITY, RecordState.AWAITING_CONFIRMATION)
UNDECIDED = (RecordState.DECLARED, RecordState.OBJECTED)


class PackageRejected(Exception):
    """A package that must not be imported; ``code`` is stable, ``reason`` says why."""

    def __init__(self, code: str, reason: str):
        self.code = code
        self.reason = reason
        super().__init__(f"{code}: {reason}")


# The bytes that are signed: one definition for every interop message.
canonical = signing.canonical


def _hours(value) -> str | None:
    return format(value.normalize(), "f") if value is not None else None


def region_name(code: str) -> str:
    """A region's name from the federation directory (its code if unknown): what a
    destination shows instead of 行政区划 500000 (issue 11 finding 12)."""
    local = Region.objects.filter(code=code).values_list("name", flat=True).first()
    if local:
        return local
    remote = RemoteRegion.objects.filter(code=code).values_list("name", flat=True).first()
    return remote or code


def _provenance(item, source, group_name: str, recorder: str) -> dict:
    """Where the item was first recorded; unchanged through every later transfer."""
    if getattr(item, "origin_region_code", ""):
        return {
            "regionCode": item.origin_region_code,
            "regionName": getattr(item, "origin_region_name", "")
            or region_name(item.origin_region_code),
            "recordId": item.origin_record_id,
            "groupName": item.origin_group_name,
            "recorder": item.origin_recorder,
        }
    return {
        "regionCode": source.code,
        "regionName": source.name,
        "recordId": str(item.id),
        "groupName": group_name,
        "recorder": recorder,
    }


def build(
    volunteer, *, transfer_id: str, source, destination_code: str, consented_at, consented_by: str
) -> dict[str, Any]:
    """The package for a consented transfer (inside the source region's schema), built
    from the volunteer's records as they are frozen at consent (the caller holds the
    volunteer's and the records' row locks)."""
    records = (
        ServiceRecord.objects.filter(volunteer=volunteer, state__in=TRAVELLING)
        .select_related("group")
        .prefetch_related("amendments")
        .order_by("id")
    )
    totals = VolunteerTotals.objects.filter(volunteer=volunteer).first()
    account = Account.objects.filter(volunteer=volunteer).first()
    return {
        "format": FORMAT,
        "version": VERSION,
        "packageId": str(uuid.uuid4()),
        "transferId": transfer_id,
        "createdAt": timezone.now().isoformat(),
        "source": {"regionCode": source.code, "regionName": source.name},
        "destination": {"regionCode": destination_code},
        "consent": {"consentedAt": consented_at.isoformat(), "consentedBy": consented_by},
        "starLevel": totals.star_level if totals else 0,
        # Saved hours (时长储蓄, 000 Art.20) travel with the records: left out when
        # there are none, so a package without a time bank reads as before.
        **({"timeBank": bank} if (bank := time_bank.package_section(volunteer)) else {}),
        "volunteer": {
            "number": volunteer.number,
            "name": volunteer.name,
            "gender": volunteer.gender,
            "birthDate": volunteer.birth_date.isoformat(),
            "idType": volunteer.id_type,
            "idNumber": pii.decrypt(volunteer.id_number_encrypted),
            "phone": pii.decrypt(volunteer.phone_encrypted),
            "serviceArea": volunteer.service_area,
            "serviceIntentions": list(volunteer.service_intentions),
            "skills": list(volunteer.skills),
            "verification": volunteer.verification,
            # A rejection keeps its reason (the database requires one): found by
            # bench/transfers.py, where such a volunteer could not be imported.
            "verificationReason": volunteer.verification_reason,
            "guardianName": volunteer.guardian_name,
            "registeredAt": volunteer.registered_at.isoformat(),
            # Finding 8: the same login works at the destination at once. The Django
            # password hash travels beside the package (``credential``), bound to it
            # by this digest, so a revealed package still verifies without it.
            "username": account.username if account is not None else None,
            "passwordHashDigest": _digest(_usable_hash(account)),
        },
        "records": [_record(r, source) for r in records],
        "trainings": [
            {
                "provenance": _provenance(
                    t, source, t.group.name if t.group else "", t.recorded_by
                ),
                "title": t.title,
                "content": t.content,
                "trainedOn": t.trained_on.isoformat(),
                "place": t.place,
                "hours": _hours(t.hours),
                "contact": t.contact,
                "evidence": t.evidence,
            }
            for t in Training.objects.filter(volunteer=volunteer).select_related("group")
        ],
        "awards": [
            {
                "provenance": _provenance(
                    a, source, a.group.name if a.group else "", a.recorded_by
                ),
                "title": a.title,
                "awardingBody": a.awarding_body,
                "level": a.level,
                "awardedOn": a.awarded_on.isoformat(),
            }
            for a in Award.objects.filter(volunteer=volunteer).select_related("group")
        ],
        "complaints": [
            {
                "provenance": _provenance(c, source, c.group.name if c.group else "", c.decided_by),
                "complainant": c.complainant,
                "content": c.content,
                "receivedOn": c.received_on.isoformat(),
                "decisionReason": c.decision_reason,
            }
            for c in Complaint.objects.filter(
                volunteer=volunteer, status=ComplaintStatus.UPHELD
            ).select_related("group")
        ],
    }


def _record(record: ServiceRecord, source) -> dict[str, Any]:
    current = record.current()
    transferred_in = bool(record.origin_region_code)
    counted_at = (record.origin_counted_at if transferred_in else None) or record.counted_at
    return {
        "provenance": _provenance(
            record, source, record.group.name if record.group else "", record.recorder
        ),
        "state": record.state,
        "publicityEndsOn": (
            record.publicity_ends_on.isoformat()
            if record.state == RecordState.IN_PUBLICITY and record.publicity_ends_on
            else None
        ),
        "confirmedBy": (record.origin_confirmed_by if transferred_in else "")
        or record.confirmed_by,
        "projectName": record.project_name,
        "serviceDate": record.service_date.isoformat(),
        "startTime": current.start_time.strftime("%H:%M:%S"),
        "endTime": current.end_time.strftime("%H:%M:%S"),
        "hours": _hours(current.hours),
        "originalHours": _hours(
            record.origin_hours if transferred_in and record.origin_hours else record.hours
        ),
        "place": current.place,
        "serviceTarget": current.service_target,
        "content": current.content,
        "contact": record.contact,
        "evaluation": {
            "punctuality": record.punctuality,
            "attitude": record.attitude,
            "professionalism": record.professionalism,
        },
        "mode": record.mode,
        "countedAt": counted_at.isoformat() if counted_at else None,
        "amendments": [
            {
                "hours": _hours(a.hours),
                "reason": a.reason,
                "amendedBy": a.amended_by,
                "amendedAt": a.amended_at.isoformat(),
            }
            for a in record.amendments.all()
        ],
    }


def _usable_hash(account) -> str | None:
    if account is None or not is_password_usable(account.password):
        return None
    return account.password


def _digest(password_hash: str | None) -> str | None:
    return hashlib.sha256(password_hash.encode()).hexdigest() if password_hash else None


def credential_of(volunteer) -> dict[str, str] | None:
    """The login's Django password hash (never the password) for the envelope's
    ``credential``; None without a usable login."""
    password_hash = _usable_hash(Account.objects.filter(volunteer=volunteer).first())
    return {"passwordHash": password_hash} if password_hash else None


def seal(source, package: dict[str, Any], credential: dict | None = None) -> dict[str, Any]:
    """The signed envelope sent to the destination (with the login's ``credential``,
    bound to the signed package by ``volunteer.passwordHashDigest``)."""
    if credential is not None:
        return {**seal(source, package), "credential": credential}
    return signing.envelope("package", source, package)


@functools.cache
def _validator(version: int = VERSION) -> jsonschema.Draft202012Validator:
    path = SCHEMAS / f"transfer-package.v{version}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def check(envelope: Any) -> dict[str, Any]:
    """Verify an envelope received from anywhere; return the package or raise
    :class:`PackageRejected` with a clear reason. Nothing is written here."""
    if not isinstance(envelope, dict):
        raise PackageRejected("MALFORMED", "the package is not a JSON object")
    package: Any = envelope.get("package")  # checked against the JSON Schema below
    version = package.get("version") if isinstance(package, dict) else VERSION
    if isinstance(package, dict) and (
        package.get("format") != FORMAT or type(version) is not int or version not in READS
    ):
        raise PackageRejected(
            "UNSUPPORTED_VERSION",
            f"this platform reads {FORMAT} versions {', '.join(map(str, READS))}, not "
            f"{package.get('format')!r} version {package.get('version')!r}",
        )
    errors = sorted(_validator(version).iter_errors(envelope), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(top)"
        raise PackageRejected("MALFORMED", f"{where}: {first.message[:300]}")
    sender = signing.lookup(envelope["signature"]["keyId"])
    if sender is None:
        raise PackageRejected(
            "UNKNOWN_SENDER",
            f"region {envelope['signature']['keyId']} is not in the federation directory",
        )
    if sender.code != package["source"]["regionCode"]:
        raise PackageRejected("BAD_SIGNATURE", "signed by a region other than the source")
    if not signing.signature_holds(envelope["signature"], sender.public_key, package):
        raise PackageRejected(
            "BAD_SIGNATURE", f"the signature does not match {sender.name}'s published key"
        )
    credential = envelope.get("credential")
    if credential is not None and _digest(credential["passwordHash"]) != package["volunteer"].get(
        "passwordHashDigest"
    ):
        raise PackageRejected(
            "BAD_SIGNATURE", "the login's credential is not the one the package was signed with"
        )
    return package
