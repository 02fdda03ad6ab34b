"""Issue 11 findings 2, 3, 8, 12: transfers that never lose or double a record, and a
volunteer who arrives whole (seeds 000 Art.15–16).

Through the real API (gunicorn, the ``gql`` fixture): a record in publicity at
consent counts once, at the destination; nothing changes at the source after
consent (services and the database); a refused or cancelled transfer's package is
refused at the destination; the volunteer logs in at the destination with the same
password, sees their records and their provenance, and can move on; a version 1
package in flight is still imported. ``manage.py interop audit`` runs after each.
"""

from __future__ import annotations

import copy
import datetime
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from interop import at_rest
from interop import package as packages
from interop.invariant import audit
from interop.models import Transfer
from tenants.accounts.models import Account
from tenants.records.models import Amendment, RecordState, ServiceRecord
from tenants.records.services import close_publicity
from tenants.volunteers.models import Volunteer
from tests.interop_support import assert_audit_clean
from tests.records_support import RECORD, days_ago, entry, stage
from tests.registry_support import authority, hierarchy, login, region
from tests.support import row_key
from tests.test_interop import CONSENT, REJECT, REQUEST, moving_volunteer

pytestmark = pytest.mark.usefixtures("federation_invariant")  # issue 11

RECORDS = """query($n: String!) { volunteer(number: $n) { status totalHours
  records(first: 50) { edges { node { id hours originalHours state publicityEndsOn
  originRegionCode originRegionName originRecordId originHours originCountedAt
  originConfirmedBy } } } } }"""
ME = """{ me { username volunteer { number totalHours records(first: 50) { edges { node {
  hours state originRegionCode originRegionName originRecordId originHours originCountedAt
  originConfirmedBy } } } } } }"""
AMEND = """mutation($r: ID!) { amendRecord(recordId: $r, changes: {hours: "1"}, reason: "核对")
  { errors { code message } } }"""
CONFIRM = """mutation($r: ID!) { confirmRecord(recordId: $r) { record { state }
  errors { code message } } }"""
IMPORT = """mutation($f: Upload!) { importTransferPackage(file: $f) { alreadyImported
  transfer { state volunteerNumber } errors { field code message } } }"""


def upload(gql, slug: str, token: str, envelope) -> dict:
    operations = {"query": IMPORT, "variables": {"f": None}}
    data = json.dumps(envelope, ensure_ascii=False).encode()
    response = gql.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})},
        files={"0": ("package.json", io.BytesIO(data), "application/json")},
        headers={"Host": f"{slug}.localhost", "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["importTransferPackage"]


def record(gql, s, volunteer, day: int, hours) -> dict:
    body = gql.region(
        s.slug,
        RECORD,
        {
            "p": s.project_id,
            "n": volunteer.number,
            "input": entry(days_ago(day), "08:00", "12:00", hours),
        },
        token=s.recorder,
    )["data"]["recordHours"]
    return body


def transfer(gql, slug: str, token: str, to: str, *, offline: bool = False) -> dict:
    requested = gql.region(slug, REQUEST, {"to": to}, token=token)["data"]["requestTransfer"]
    assert requested["errors"] == [], requested
    consented = gql.region(
        slug, CONSENT, {"t": requested["transfer"]["id"], "offline": offline}, token=token
    )["data"]["consentTransfer"]
    assert consented["errors"] == [], consented
    return consented["transfer"]


def end_publicity(slug: str, today: datetime.date | None = None) -> None:
    target = region(slug)
    with tenant_context(target):
        close_publicity(
            target.get_policy(), today=today or timezone.localdate() + datetime.timedelta(60)
        )


def records_of(gql, slug: str, token: str, number: str) -> list[dict]:
    seen = gql.region(slug, RECORDS, {"n": number}, token=token)["data"]["volunteer"]
    return [e["node"] for e in seen["records"]["edges"]]


def test_a_record_in_publicity_at_consent_counts_once_at_the_destination(gql, seed_regions):
    s = stage(gql, "yunnan")
    volunteer, username = s.volunteers[0]
    recorded = record(gql, s, volunteer, 2, 3)
    assert recorded["record"]["state"] == "IN_PUBLICITY", recorded
    source_id = recorded["record"]["id"]
    token = login(gql, "yunnan", username)
    moved = transfer(gql, "yunnan", token, "500000")
    assert moved["state"] == "COMPLETED"
    # The source's publicity ends: the record, frozen at consent, does not count there.
    end_publicity("yunnan")
    with tenant_context(region("yunnan")):
        left = ServiceRecord.objects.get(id=row_key(source_id))
        assert left.state == RecordState.IN_PUBLICITY and left.counted_at is None
    chongqing = authority(gql, "chongqing", "province")
    arrived = records_of(gql, "chongqing", chongqing, volunteer.number)
    assert [(r["state"], r["originRecordId"], r["hours"]) for r in arrived] == [
        ("IN_PUBLICITY", str(row_key(source_id)), "3.00")
    ]
    assert arrived[0]["publicityEndsOn"] == recorded["record"]["publicityEndsOn"]
    assert_audit_clean()  # pending at the destination, held once
    # It finishes its publicity at the destination, and counts there — only there.
    ends = datetime.date.fromisoformat(arrived[0]["publicityEndsOn"])
    end_publicity("chongqing", ends + datetime.timedelta(days=1))
    seen = gql.region("chongqing", RECORDS, {"n": volunteer.number}, token=chongqing)["data"][
        "volunteer"
    ]
    assert seen["totalHours"] == "3.00"
    assert [e["node"]["state"] for e in seen["records"]["edges"]] == ["COUNTED"]
    with tenant_context(region("yunnan")):
        assert not ServiceRecord.objects.filter(
            volunteer__number=volunteer.number, state=RecordState.COUNTED
        ).exists()
    assert_audit_clean()


def test_nothing_changes_at_the_source_after_consent(gql, seed_regions):
    s = stage(gql, "yunnan")
    volunteer, username = s.volunteers[0]
    waiting = record(gql, s, volunteer, 5, 2)["record"]["id"]
    end_publicity("yunnan")  # 云南: publicity, then county civil affairs confirms
    in_publicity = record(gql, s, volunteer, 3, 3)["record"]["id"]
    with tenant_context(region("yunnan")):
        assert (
            ServiceRecord.objects.get(id=row_key(waiting)).state
            == RecordState.AWAITING_CONFIRMATION
        )
    token = login(gql, "yunnan", username)
    moving = transfer(gql, "yunnan", token, "500000", offline=True)
    assert moving["state"] == "EXPORTED"  # on its way as a file: frozen at the source
    # Recording, amending, confirming: refused with a typed error, nothing written.
    more = record(gql, s, volunteer, 1, 1)
    assert more["errors"][0]["code"] == "CONFLICT", more
    amended = gql.region("yunnan", AMEND, {"r": in_publicity}, token=s.recorder)
    assert amended["data"]["amendRecord"]["errors"][0]["code"] == "CONFLICT", amended
    yunnan = authority(gql, "yunnan", "province")
    confirmed = gql.region("yunnan", CONFIRM, {"r": waiting}, token=yunnan)
    assert confirmed["data"]["confirmRecord"]["errors"][0]["code"] == "CONFLICT", confirmed
    end_publicity("yunnan")
    with tenant_context(region("yunnan")):
        assert ServiceRecord.objects.get(id=row_key(in_publicity)).state == RecordState.IN_PUBLICITY
        # The database refuses what a path around the services would do.
        with pytest.raises(IntegrityError), transaction.atomic():
            ServiceRecord.objects.filter(id=row_key(waiting)).update(
                state=RecordState.COUNTED, counted_at=timezone.now()
            )
        with pytest.raises(IntegrityError), transaction.atomic():
            Amendment.objects.create(record_id=row_key(in_publicity), reason="x", amended_by="sql")
        assert (
            Amendment.objects.filter(
                record_id__in=[row_key(waiting), row_key(in_publicity)]
            ).count()
            == 0
        )
        envelope = at_rest.clear(Transfer.objects.get(public_id=moving["id"]).package)
    assert_audit_clean()  # in transit
    # The destination imports the file: both records arrive in their state, the
    # source completes in the same transaction, and the confirmation happens there.
    chongqing = authority(gql, "chongqing", "province")
    # The login's hash travels beside the signed package, bound by its digest, and is
    # encrypted at rest like the ID number.
    with tenant_context(region("yunnan")):
        stored = Transfer.objects.get(public_id=moving["id"]).package
        assert stored is not None
        assert at_rest.is_sealed(stored["credential"]["passwordHash"])
        assert (
            envelope["credential"]["passwordHash"]
            == Account.objects.get(volunteer__number=volunteer.number).password
        )
    swapped = copy.deepcopy(envelope)
    swapped["credential"]["passwordHash"] = "pbkdf2_sha256$1$salt$forged"
    answer = upload(gql, "chongqing", chongqing, swapped)
    assert answer["errors"][0]["message"].startswith("BAD_SIGNATURE"), answer
    imported = upload(gql, "chongqing", chongqing, envelope)
    assert imported["errors"] == [] and imported["alreadyImported"] is False
    with tenant_context(region("yunnan")):
        assert Transfer.objects.get(public_id=moving["id"]).state == "completed"
        assert Volunteer.objects.get(number=volunteer.number).status == "transferred"
    with tenant_context(region("chongqing")):
        kept = Transfer.objects.get(package_id=envelope["package"]["packageId"]).package
        assert kept is not None
        assert "credential" not in kept
    arrived = {
        r["originRecordId"]: r for r in records_of(gql, "chongqing", chongqing, volunteer.number)
    }
    assert arrived[str(row_key(waiting))]["state"] == "AWAITING_CONFIRMATION"
    assert arrived[str(row_key(in_publicity))]["state"] == "IN_PUBLICITY"
    done = gql.region(
        "chongqing", CONFIRM, {"r": arrived[str(row_key(waiting))]["id"]}, token=chongqing
    )
    assert done["data"]["confirmRecord"]["record"]["state"] == "COUNTED", done
    assert_audit_clean()


def test_a_refused_or_cancelled_transfers_package_is_refused_at_the_destination(
    gql, seed_regions, tmp_path
):
    _, volunteer, token = moving_volunteer(gql, hours=(2,))
    yunnan = authority(gql, "yunnan", "province")
    # 1. Consented offline, written to a file, then cancelled by the volunteer.
    moving = transfer(gql, "chongqing", token, "530000", offline=True)
    out = tmp_path / "package.json"
    call_command(
        "interop", "export", "--region", "500000", "--transfer", moving["id"], "--out", str(out)
    )
    cancelled = gql.region("chongqing", REJECT, {"t": moving["id"], "why": "改变主意"}, token=token)
    assert cancelled["data"]["rejectTransfer"]["transfer"]["state"] == "REFUSED", cancelled
    with pytest.raises(CommandError, match="refused"):
        call_command(
            "interop", "export", "--region", "500000", "--transfer", moving["id"], "--out", str(out)
        )
    envelope = json.loads(out.read_text(encoding="utf-8"))
    refused = upload(gql, "yunnan", yunnan, envelope)
    assert refused["transfer"] is None
    assert refused["errors"][0]["message"].startswith("TRANSFER_REFUSED"), refused
    with pytest.raises(CommandError, match="TRANSFER_REFUSED"):
        call_command("interop", "import", str(out))
    with tenant_context(region("yunnan")):
        assert not Volunteer.objects.filter(number=volunteer.number).exists()
    # The records are the volunteer's at the source again: they can be added to.
    with tenant_context(region("chongqing")):
        assert Volunteer.objects.get(number=volunteer.number).status == "active"
    assert_audit_clean()
    # 2. A package forged from the stored rows (signed with the source's own key) for
    # a transfer the volunteer refused, and for one never consented.
    refused_id = gql.region("chongqing", REQUEST, {"to": "530000"}, token=token)["data"][
        "requestTransfer"
    ]["transfer"]["id"]
    gql.region("chongqing", REJECT, {"t": refused_id, "why": "不去了"}, token=token)
    pending_id = gql.region("chongqing", REQUEST, {"to": "530000"}, token=token)["data"][
        "requestTransfer"
    ]["transfer"]["id"]
    source = region("chongqing")
    for transfer_id, code in (
        (refused_id, "TRANSFER_REFUSED"),
        (pending_id, "TRANSFER_NOT_CONSENTED"),
    ):
        with tenant_context(source):
            forged = packages.seal(
                source,
                packages.build(
                    Volunteer.objects.get(number=volunteer.number),
                    transfer_id=transfer_id,
                    source=source,
                    destination_code="530000",
                    consented_at=timezone.now(),
                    consented_by="forged",
                ),
            )
        answer = upload(gql, "yunnan", yunnan, forged)
        assert answer["errors"][0]["message"].startswith(code), answer
    with tenant_context(region("yunnan")):
        assert not Volunteer.objects.filter(number=volunteer.number).exists()
    assert_audit_clean()


def test_the_volunteer_arrives_whole_and_can_move_on(gql, seed_regions):
    from tenants.certificates.services import service_rows

    s = stage(gql, "yunnan")
    volunteer, username = s.volunteers[0]
    first = record(gql, s, volunteer, 4, 2)["record"]["id"]
    end_publicity("yunnan")
    yunnan = authority(gql, "yunnan", "province")
    confirmed = gql.region("yunnan", CONFIRM, {"r": first}, token=yunnan)
    assert confirmed["data"]["confirmRecord"]["record"]["state"] == "COUNTED", confirmed
    amend = """mutation($r: ID!) { amendRecord(recordId: $r, changes: {hours: "1.5"},
      reason: "扣除休息") { errors { message } } }"""
    assert (
        gql.region("yunnan", amend, {"r": first}, token=s.recorder)["data"]["amendRecord"]["errors"]
        == []
    )
    with tenant_context(region("yunnan")):
        original = ServiceRecord.objects.get(id=row_key(first))
    token = login(gql, "yunnan", username)
    assert transfer(gql, "yunnan", token, "500000")["state"] == "COMPLETED"
    # Same username, same password, the same day: no re-registration.
    there = login(gql, "chongqing", username)
    me = gql.region("chongqing", ME, token=there)["data"]["me"]
    assert me["username"] == username and me["volunteer"]["number"] == volunteer.number
    assert me["volunteer"]["totalHours"] == "1.50"
    [node] = [e["node"] for e in me["volunteer"]["records"]["edges"]]
    assert node["hours"] == "1.50" and node["state"] == "COUNTED"
    assert node["originRegionCode"] == "530000" and node["originRegionName"] == "云南省"
    assert node["originRecordId"] == str(row_key(first)) and node["originHours"] == "2.00"
    assert node["originConfirmedBy"] == original.confirmed_by != ""
    assert datetime.datetime.fromisoformat(node["originCountedAt"]) == original.counted_at
    # An imported record has no project here: deciding it as a declaration is refused
    # with a typed error (it crashed on the missing project before), whoever asks.
    decide = """mutation($r: ID!) { decideDeclaration(recordId: $r, accept: true, reason: "")
      { record { state } errors { code } } }"""
    chongqing = authority(gql, "chongqing", "province")
    [imported] = records_of(gql, "chongqing", chongqing, volunteer.number)
    refused = gql.region("chongqing", decide, {"r": imported["id"]}, token=there)
    assert refused["data"] is None, refused
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    decided = gql.region("chongqing", decide, {"r": imported["id"]}, token=chongqing)
    assert decided["data"]["decideDeclaration"] == {
        "record": None,
        "errors": [{"code": "CONFLICT"}],
    }, decided
    # The certificate names the origin region and keeps each record's provenance.
    with tenant_context(region("chongqing")):
        team = hierarchy("chongqing").team
        [row] = service_rows(Volunteer.objects.get(number=volunteer.number), team)
    assert row.origin_region == "云南省"
    assert row.origin_records == (
        {
            "originRecordId": str(row_key(first)),
            "originalHours": "2.00",
            "countedAt": original.counted_at.isoformat(),
            "confirmedBy": original.confirmed_by,
        },
    )
    assert_audit_clean()
    # And they move on from there, provenance unchanged.
    assert transfer(gql, "chongqing", there, "210900")["state"] == "COMPLETED"
    fuxin = authority(gql, "fuxin", "city")
    [later] = records_of(gql, "fuxin", fuxin, volunteer.number)
    assert (later["originRegionName"], later["originRecordId"], later["originHours"]) == (
        "云南省",
        str(row_key(first)),
        "2.00",
    )
    assert login(gql, "fuxin", username)
    assert_audit_clean()
    # The audit is no rubber stamp: the volunteer held in two regions is reported.
    with tenant_context(region("chongqing")):
        Volunteer.objects.filter(number=volunteer.number).update(status="active")
    try:
        codes = {p.code for p in audit().problems}
        assert {"HELD_TWICE", "COUNTED_TWICE"} <= codes, codes
        with pytest.raises(CommandError, match="problems"):
            call_command("interop", "audit", stdout=io.StringIO())
    finally:
        with tenant_context(region("chongqing")):
            Volunteer.objects.filter(number=volunteer.number).update(status="transferred")
    assert_audit_clean()


def _as_version_1(envelope: dict, source) -> dict:
    """The package as a platform before issue 11 wrote it, signed by the source."""
    package = copy.deepcopy(envelope["package"])
    package["version"] = 1
    del package["volunteer"]["username"], package["volunteer"]["passwordHashDigest"]
    del package["volunteer"]["verificationReason"]  # v2 only
    for item in package["records"]:
        assert item.pop("state") == "counted"
        del item["publicityEndsOn"], item["confirmedBy"]
        del item["provenance"]["regionName"]
    for key in ("trainings", "awards", "complaints"):
        for item in package[key]:
            del item["provenance"]["regionName"]
    package.pop("timeBank", None)  # issue 12: no time bank then
    return packages.seal(source, package)


def _without_time_bank(gql, hours):
    """A 重庆 volunteer as before issue 12: their counted hours saved nowhere (a
    version 1 package was written by a platform without a time bank)."""
    from central.services import update_region_policy

    update_region_policy("500000", {"timeBankEnabled": False}, actor="test")
    try:
        return moving_volunteer(gql, hours=hours)
    finally:
        update_region_policy("500000", {"timeBankEnabled": True}, actor="test")


def test_a_version_1_package_in_flight_is_still_imported(gql, seed_regions):
    _, volunteer, token = _without_time_bank(gql, hours=(2, 3))
    source = region("chongqing")
    moving = transfer(gql, "chongqing", token, "530000", offline=True)
    with tenant_context(source):
        v1 = _as_version_1(
            at_rest.clear(Transfer.objects.get(public_id=moving["id"]).package), source
        )
    yunnan = authority(gql, "yunnan", "province")
    newer = copy.deepcopy(v1)
    newer["package"]["version"] = 3
    unknown = upload(gql, "yunnan", yunnan, newer)
    assert unknown["errors"][0]["message"].startswith("UNSUPPORTED_VERSION: this platform reads")
    imported = upload(gql, "yunnan", yunnan, v1)
    assert imported["errors"] == [] and imported["transfer"]["state"] == "COMPLETED", imported
    arrived = records_of(gql, "yunnan", yunnan, volunteer.number)
    assert sorted(r["hours"] for r in arrived) == ["1.50", "3.00"]
    assert {(r["state"], r["originRegionName"]) for r in arrived} == {("COUNTED", "重庆市")}
    with tenant_context(region("yunnan")):
        assert not Account.objects.filter(volunteer__number=volunteer.number).exists()
    with tenant_context(source):
        assert Transfer.objects.get(public_id=moving["id"]).state == "completed"
    assert upload(gql, "yunnan", yunnan, v1)["alreadyImported"] is True
    assert_audit_clean()
    # A version 1 package is bound to its transfer as well.
    _, other, other_token = _without_time_bank(gql, hours=(1,))
    refused = gql.region("chongqing", REQUEST, {"to": "530000"}, token=other_token)["data"][
        "requestTransfer"
    ]["transfer"]["id"]
    gql.region("chongqing", REJECT, {"t": refused, "why": "不去了"}, token=other_token)
    with tenant_context(source):
        forged = packages.build(
            Volunteer.objects.get(number=other.number),
            transfer_id=refused,
            source=source,
            destination_code="530000",
            consented_at=timezone.now(),
            consented_by="forged",
        )
    answer = upload(gql, "yunnan", yunnan, _as_version_1({"package": forged}, source))
    assert answer["errors"][0]["message"].startswith("TRANSFER_REFUSED"), answer
    assert_audit_clean()


def test_a_volunteer_coming_back_brings_what_counted_elsewhere(gql, seed_regions):
    """A record left 云南 in publicity, counted in 重庆, and comes home counted: the
    frozen row in 云南 counts now (with 重庆's amendment), once."""
    s = stage(gql, "yunnan")
    volunteer, username = s.volunteers[0]
    left = record(gql, s, volunteer, 2, 3)["record"]["id"]
    token = login(gql, "yunnan", username)
    assert transfer(gql, "yunnan", token, "500000")["state"] == "COMPLETED"
    chongqing = authority(gql, "chongqing", "province")
    [there] = records_of(gql, "chongqing", chongqing, volunteer.number)
    end_publicity(
        "chongqing",
        datetime.date.fromisoformat(there["publicityEndsOn"]) + datetime.timedelta(days=1),
    )
    amended = gql.region("chongqing", AMEND, {"r": there["id"]}, token=chongqing)
    assert amended["data"]["amendRecord"]["errors"] == [], amended
    back = transfer(gql, "chongqing", login(gql, "chongqing", username), "530000")
    assert back["state"] == "COMPLETED"
    yunnan = authority(gql, "yunnan", "province")
    seen = gql.region("yunnan", RECORDS, {"n": volunteer.number}, token=yunnan)["data"]["volunteer"]
    assert seen["status"] == "ACTIVE" and seen["totalHours"] == "1.00"
    assert [
        (e["node"]["id"], e["node"]["state"], e["node"]["hours"]) for e in seen["records"]["edges"]
    ] == [(left, "COUNTED", "1.00")]
    assert_audit_clean()
