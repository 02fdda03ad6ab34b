"""Issue 5: moving a volunteer's records between regions (转移接续) in one deployment.

重庆 → 云南 through the real GraphQL endpoint: request, consent, one transaction
across both schemas, provenance, counting at the destination; each rejection;
re-delivery; a crash at each step and the re-run that finishes the transfer.
"""

from __future__ import annotations

import copy
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from central.models import HomeRegion
from interop import at_rest
from interop import services as transfers
from interop.models import Transfer
from interop.package import PackageRejected, canonical, check, seal
from tenants.records.models import ServiceRecord
from tenants.volunteers.models import Volunteer
from tests.records_support import RECORD, days_ago, entry, stage
from tests.registry_support import accept_invitations, authority, login, region
from tests.support import gid

pytestmark = pytest.mark.usefixtures("federation_invariant")  # issue 11

REQUEST = """mutation($to: String!) { requestTransfer(toRegion: $to) { transfer { id state
  direction counterpartRegionCode } errors { field code message } } }"""
CONSENT = """mutation($t: ID!, $offline: Boolean!) { consentTransfer(transferId: $t,
  offline: $offline) { transfer { id state delivery } errors { field code message } } }"""
REJECT = """mutation($t: ID!, $why: String!) { rejectTransfer(transferId: $t, reason: $why)
  { transfer { state reason } errors { field code message } } }"""
DESTINATION_VIEW = """query($n: String!) { volunteer(number: $n) { status totalHours starLevel
  records(first: 50) { edges { node { hours state mode originRegionCode originGroupName
  recorder amendments { reason } } } } } }"""


def moving_volunteer(gql, hours=(2, 3)):
    """A 重庆 volunteer with counted records (one amended) and a token."""
    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    ids = []
    for index, value in enumerate(hours):
        body = gql.region(
            "chongqing",
            RECORD,
            {
                "p": s.project_id,
                "n": volunteer.number,
                "input": entry(days_ago(index + 3), "08:00", "12:00", value),
            },
            token=s.recorder,
        )
        ids.append(body["data"]["recordHours"]["record"]["id"])
    amend = """mutation($r: ID!) { amendRecord(recordId: $r, changes: {hours: "1.5"},
      reason: "扣除休息") { errors { message } } }"""
    gql.region("chongqing", amend, {"r": ids[0]}, token=s.recorder)
    return s, volunteer, login(gql, "chongqing", username)


def test_transfer_within_one_deployment(gql, seed_regions):
    s, volunteer, token = moving_volunteer(gql)
    requested = gql.region("chongqing", REQUEST, {"to": "530000"}, token=token)["data"][
        "requestTransfer"
    ]
    assert requested["errors"] == []
    assert requested["transfer"]["state"] == "REQUESTED"
    transfer_id = requested["transfer"]["id"]
    # Nobody but the volunteer consents (000 Art.15).
    denied = gql.region("chongqing", CONSENT, {"t": transfer_id, "offline": False}, token=s.admin)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    consented = gql.region("chongqing", CONSENT, {"t": transfer_id, "offline": False}, token=token)[
        "data"
    ]["consentTransfer"]
    assert consented["transfer"] == {"id": transfer_id, "state": "COMPLETED", "delivery": "direct"}
    # The destination counts every hour, with provenance.
    yunnan = authority(gql, "yunnan", "province")
    seen = gql.region("yunnan", DESTINATION_VIEW, {"n": volunteer.number}, token=yunnan)["data"][
        "volunteer"
    ]
    assert seen["status"] == "ACTIVE"
    assert seen["totalHours"] == "4.50"
    nodes = [e["node"] for e in seen["records"]["edges"]]
    assert {n["hours"] for n in nodes} == {"1.50", "3.00"}
    assert all(n["mode"] == "IMPORTED" and n["state"] == "COUNTED" for n in nodes)
    assert all(
        n["originRegionCode"] == "500000" and n["originGroupName"] == s.h.team.name for n in nodes
    )
    assert any("扣除休息" in a["reason"] for n in nodes for a in n["amendments"])
    # An imported record has no group here: only the destination's authority amends it —
    # not any logged-in account (a volunteer once could raise anyone's imported hours).
    with tenant_context(region("yunnan")):
        imported = (
            ServiceRecord.objects.filter(volunteer__number=volunteer.number)
            .values_list("id", flat=True)
            .first()
        )
    assert imported is not None
    amend = """mutation($r: ID!, $h: Decimal!) { amendRecord(recordId: $r, changes: {hours: $h},
      reason: "核对") { errors { code } } }"""
    outsider = login(gql, "yunnan", _yn_volunteer())
    refused = gql.region(
        "yunnan", amend, {"r": gid("yunnan", imported, "ServiceRecord"), "h": "9"}, token=outsider
    )
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    amended = gql.region(
        "yunnan", amend, {"r": gid("yunnan", imported, "ServiceRecord"), "h": "1"}, token=yunnan
    )
    assert amended["data"]["amendRecord"]["errors"] == []
    # Imported records have no project: a project filter passes over them (it once failed).
    by_project = """query($n: String!, $p: ID!) { volunteer(number: $n) { records(first: 5,
      filter: {projectId: $p, dateFrom: "2000-01-01"}) { edges { node { id } } } } }"""
    project = gid("yunnan", 1, "Project")
    filtered = gql.region("yunnan", by_project, {"n": volunteer.number, "p": project}, yunnan)
    assert "errors" not in filtered and filtered["data"]["volunteer"]["records"]["edges"] == []
    # The source keeps its records, read-only, and the volunteer is transferred.
    chongqing = authority(gql, "chongqing", "province")
    source = gql.region("chongqing", DESTINATION_VIEW, {"n": volunteer.number}, token=chongqing)[
        "data"
    ]["volunteer"]
    assert source["status"] == "TRANSFERRED" and source["totalHours"] == "4.50"
    more = gql.region(
        "chongqing",
        RECORD,
        {
            "p": s.project_id,
            "n": volunteer.number,
            "input": entry(days_ago(1), "08:00", "09:00", 1),
        },
        token=s.recorder,
    )["data"]["recordHours"]
    assert more["errors"][0]["code"] == "CONFLICT"
    assert HomeRegion.objects.get(volunteer_number=volunteer.number).region_code == "530000"
    # Both sides see the transfer.
    listing = "{ transfers { direction state counterpartRegionCode } }"
    assert gql.region("chongqing", listing, token=token)["data"]["transfers"][0] == {
        "direction": "OUTGOING",
        "state": "COMPLETED",
        "counterpartRegionCode": "530000",
    }
    incoming = gql.region("yunnan", listing, token=yunnan)["data"]["transfers"]
    assert {
        "direction": "INCOMING",
        "state": "COMPLETED",
        "counterpartRegionCode": "500000",
    } in incoming


def test_refusal_and_bad_requests(gql, seed_regions):
    _, volunteer, token = moving_volunteer(gql, hours=(1,))
    unknown = gql.region("chongqing", REQUEST, {"to": "990000"}, token=token)
    assert unknown["data"]["requestTransfer"]["errors"][0]["code"] == "NOT_FOUND"
    itself = gql.region("chongqing", REQUEST, {"to": "500000"}, token=token)
    assert itself["data"]["requestTransfer"]["errors"][0]["field"] == "toRegion"
    requested = gql.region("chongqing", REQUEST, {"to": "210900"}, token=token)["data"][
        "requestTransfer"
    ]["transfer"]
    twice = gql.region("chongqing", REQUEST, {"to": "530000"}, token=token)
    assert twice["data"]["requestTransfer"]["errors"][0]["code"] == "CONFLICT"
    no_reason = gql.region("chongqing", REJECT, {"t": requested["id"], "why": ""}, token=token)
    assert no_reason["data"]["rejectTransfer"]["errors"][0]["field"] == "reason"
    refused = gql.region(
        "chongqing", REJECT, {"t": requested["id"], "why": "暂不迁移"}, token=token
    )["data"]["rejectTransfer"]
    assert refused["transfer"] == {"state": "REFUSED", "reason": "暂不迁移"}
    late = gql.region("chongqing", CONSENT, {"t": requested["id"], "offline": False}, token=token)[
        "data"
    ]["consentTransfer"]
    assert late["errors"][0]["code"] == "CONFLICT"
    with tenant_context(region("fuxin")):
        assert not Volunteer.objects.filter(number=volunteer.number).exists()


def _consented_offline(gql):
    _, volunteer, token = moving_volunteer(gql, hours=(2,))
    requested = gql.region("chongqing", REQUEST, {"to": "530000"}, token=token)["data"][
        "requestTransfer"
    ]["transfer"]
    consented = gql.region(
        "chongqing", CONSENT, {"t": requested["id"], "offline": True}, token=token
    )["data"]["consentTransfer"]["transfer"]
    # Within one deployment an offline package stays exported (the records frozen at
    # the source) until the destination imports it (issue 11 finding 2).
    assert consented["state"] == "EXPORTED" and consented["delivery"] == "offline"
    with tenant_context(region("chongqing")):
        # Stored with its personal fields encrypted; as signed, decrypted.
        envelope = at_rest.clear(Transfer.objects.get(public_id=requested["id"]).package)
    return volunteer, envelope


def _upload(gql, token, envelope) -> dict:
    mutation = """mutation($f: Upload!) { importTransferPackage(file: $f) { alreadyImported
      transfer { state volunteerNumber } errors { field code message } } }"""
    operations = {"query": mutation, "variables": {"f": None}}
    data = json.dumps(envelope, ensure_ascii=False).encode()
    response = gql.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})},
        files={"0": ("package.json", io.BytesIO(data), "application/json")},
        headers={"Host": "yunnan.localhost", "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body["data"]["importTransferPackage"] if body.get("data") else body


def _tampered(envelope, change):
    bad = copy.deepcopy(envelope)
    change(bad)
    return bad


def test_offline_package_rejections_and_exactly_once(gql, seed_regions, tmp_path):
    volunteer, envelope = _consented_offline(gql)
    yunnan = authority(gql, "yunnan", "province")

    def count():
        with tenant_context(region("yunnan")):
            return (
                Volunteer.objects.filter(number=volunteer.number).count(),
                ServiceRecord.objects.filter(volunteer__number=volunteer.number).count(),
            )

    before = count()
    cases = {
        "BAD_SIGNATURE": _tampered(
            envelope, lambda e: e["package"]["records"][0].update(hours="9")
        ),
        "UNKNOWN_SENDER": _tampered(envelope, lambda e: e["signature"].update(keyId="990000")),
        "UNSUPPORTED_VERSION": _tampered(envelope, lambda e: e["package"].update(version=3)),
        "MALFORMED": _tampered(envelope, lambda e: e["package"]["records"][0].update(hours="many")),
        # Genuinely signed by 重庆, but addressed to 阜新.
        "WRONG_DESTINATION": seal(
            region("chongqing"),
            _tampered(envelope, lambda e: e["package"]["destination"].update(regionCode="210900"))[
                "package"
            ],
        ),
    }
    for code, bad in cases.items():
        payload = _upload(gql, yunnan, bad)
        assert payload["transfer"] is None
        assert payload["errors"][0]["message"].startswith(code), (code, payload)
        assert count() == before
    not_authority = _upload(gql, login(gql, "yunnan", _yn_volunteer()), envelope)
    assert not_authority["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert count() == before
    first = _upload(gql, yunnan, envelope)
    assert first["errors"] == [] and first["alreadyImported"] is False
    assert first["transfer"] == {"state": "COMPLETED", "volunteerNumber": volunteer.number}
    again = _upload(gql, yunnan, envelope)
    assert again["alreadyImported"] is True
    assert count() == (1, 1)
    # The same file through the command line: already imported, nothing changes.
    path = tmp_path / "package.json"
    path.write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
    call_command("interop", "import", str(path))
    assert count() == (1, 1)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("interop", "import", str(path))


def _yn_volunteer() -> str:
    import datetime

    from tests.registry_support import id_number, register_volunteer

    return register_volunteer("yunnan", idNumber=id_number(datetime.date(1990, 5, 17), "530102"))[1]


def test_canonical_bytes_and_signature_check(gql, seed_regions):
    _, envelope = _consented_offline(gql)
    package = envelope["package"]
    assert canonical(package) == canonical(json.loads(json.dumps(package, indent=3)))
    assert check(envelope) == package
    with pytest.raises(PackageRejected) as caught:
        check(
            {
                "package": package,
                "signature": {
                    **envelope["signature"],
                    "value": envelope["signature"]["value"][::-1],
                },
            }
        )
    assert caught.value.code in {"BAD_SIGNATURE", "MALFORMED"}


def test_a_crash_before_commit_leaves_the_transfer_to_be_run_again(gql, seed_regions, monkeypatch):
    _, volunteer, token = moving_volunteer(gql, hours=(2,))
    requested = gql.region("chongqing", REQUEST, {"to": "530000"}, token=token)["data"][
        "requestTransfer"
    ]["transfer"]
    principal = _principal("chongqing", volunteer)

    def crash(transfer):
        raise RuntimeError("power cut before the source is marked")

    monkeypatch.setattr(transfers, "complete_outgoing", crash)
    with tenant_context(region("chongqing")), pytest.raises(RuntimeError):
        transfers.consent_transfer(transfer_id=requested["id"], principal=principal)
    with tenant_context(region("yunnan")):
        assert not Volunteer.objects.filter(number=volunteer.number).exists()
    with tenant_context(region("chongqing")):
        assert Transfer.objects.get(public_id=requested["id"]).state == "requested"
        assert Volunteer.objects.get(number=volunteer.number).status == "active"
    monkeypatch.undo()
    done = gql.region("chongqing", CONSENT, {"t": requested["id"], "offline": False}, token=token)[
        "data"
    ]["consentTransfer"]["transfer"]
    assert done["state"] == "COMPLETED"
    with tenant_context(region("yunnan")):
        assert ServiceRecord.objects.filter(volunteer__number=volunteer.number).count() == 1


def _principal(slug, volunteer):
    from tenants.accounts.models import Account
    from tenants.accounts.services import AccountPrincipal

    with tenant_context(region(slug)):
        account = Account.objects.select_related("volunteer").get(volunteer=volunteer)
        return AccountPrincipal(account=account, roles=[])


def test_directory_lists_regions_and_keys(gql, seed_regions):
    body = gql.central("{ federationDirectory { code name publicKey local } }")
    entries = {e["code"]: e for e in body["data"]["federationDirectory"]}
    assert {"500000", "530000", "421300"} <= set(entries)
    assert all(e["local"] and len(e["publicKey"]) == 44 for e in entries.values())
    http = gql.http.get("/interop/directory", headers={"Host": "localhost"}).json()
    assert {r["code"] for r in http["regions"]} >= {"500000", "530000"}


def test_trainings_awards_and_upheld_complaints_move_with_their_provenance(gql, seed_regions):
    s, volunteer, token = moving_volunteer(gql, hours=(1,))
    number = volunteer.number
    admin = s.admin
    training = """mutation($n: String!, $g: ID!) { recordTraining(input: {number: $n, groupId: $g,
      title: "急救培训", content: "心肺复苏", trainedOn: "2026-01-10", place: "红十字会",
      hours: "3"}) { errors { field message } } }"""
    award = """mutation($n: String!, $g: ID!) { recordAward(input: {number: $n, groupId: $g,
      title: "优秀志愿者", awardingBody: "重庆市文明办", level: MUNICIPAL,
      awardedOn: "2026-02-01"}) { errors { field message } } }"""
    complaint = """mutation($n: String!, $g: ID!, $c: String!) { fileComplaint(input: {number: $n,
      groupId: $g, complainant: "服务对象", content: $c, receivedOn: "2026-03-01"})
      { complaint { id } errors { field message } } }"""
    variables = {"n": number, "g": gid(s.slug, s.h.team)}
    assert (
        gql.region("chongqing", training, variables, token=admin)["data"]["recordTraining"][
            "errors"
        ]
        == []
    )
    assert (
        gql.region("chongqing", award, variables, token=admin)["data"]["recordAward"]["errors"]
        == []
    )
    ids = []
    for content in ("迟到一小时", "态度问题"):
        body = gql.region("chongqing", complaint, {**variables, "c": content}, token=admin)
        ids.append(body["data"]["fileComplaint"]["complaint"]["id"])
    investigate = """mutation($c: ID!) { startComplaintInvestigation(complaintId: $c)
      { errors { message } } }"""
    decide = """mutation($c: ID!, $u: Boolean!) { decideComplaint(complaintId: $c, upheld: $u,
      reason: "核查结论") { errors { message } } }"""
    for complaint_id, upheld in zip(ids, (True, False), strict=True):
        gql.region("chongqing", investigate, {"c": complaint_id}, token=admin)
        gql.region("chongqing", decide, {"c": complaint_id, "u": upheld}, token=admin)
    requested = gql.region("chongqing", REQUEST, {"to": "530000"}, token=token)["data"][
        "requestTransfer"
    ]["transfer"]
    gql.region("chongqing", CONSENT, {"t": requested["id"], "offline": False}, token=token)
    yunnan = authority(gql, "yunnan", "province")
    seen = gql.region(
        "yunnan",
        """query($n: String!) { volunteer(number: $n) {
      trainings { title hours originRegionCode originGroupName group { name } }
      awards { title originRegionCode } complaints { content status originRegionCode } } }""",
        {"n": number},
        token=yunnan,
    )["data"]["volunteer"]
    assert seen["trainings"] == [
        {
            "title": "急救培训",
            "hours": "3.00",
            "originRegionCode": "500000",
            "originGroupName": s.h.team.name,
            "group": None,
        }
    ]
    assert seen["awards"] == [{"title": "优秀志愿者", "originRegionCode": "500000"}]
    # Only the upheld complaint travels (kept on file, 003 Art.22).
    assert [(c["content"], c["originRegionCode"]) for c in seen["complaints"]] == [
        ("迟到一小时", "500000")
    ]


def test_imported_hours_show_their_origin_on_certificates(gql, seed_regions):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tenants.certificates import services as certificates
    from tenants.certificates.pdf import render_seal_placeholder_png
    from tenants.groups import services as groups
    from tests.registry_support import hierarchy

    _, volunteer, token = moving_volunteer(gql, hours=(2,))
    requested = gql.region("chongqing", REQUEST, {"to": "530000"}, token=token)["data"][
        "requestTransfer"
    ]["transfer"]
    gql.region("chongqing", CONSENT, {"t": requested["id"], "offline": False}, token=token)
    h = hierarchy("yunnan")
    target = region("yunnan")
    with tenant_context(target):
        policy = target.get_policy()
        groups.add_member(
            group_id=h.team.id, number=volunteer.number, principal=_admin_of(h.team), policy=policy
        )
        accept_invitations(target.slug, volunteer.number)
        certificates.upload_seal(
            group_id=h.team.id,
            upload=SimpleUploadedFile("seal.png", render_seal_placeholder_png(h.team.name)),
            principal=_admin_of(h.team),
        )
        issued = certificates.issue_certificate(
            number=volunteer.number, group_id=h.team.id, principal=_admin_of(h.team), region=target
        )
    rows = issued.snapshot["rows"]
    assert [(row["hours"], row["originRegion"]) for row in rows] == [("1.50", "重庆市")], rows


def _admin_of(group):
    from tenants.accounts.models import Role
    from tenants.accounts.services import AccountPrincipal

    role = (
        Role.objects.select_related("account__volunteer", "group")
        .filter(group=group, kind="group_admin")
        .first()
    )
    assert role is not None, f"{group} has no admin"
    return AccountPrincipal(account=role.account, roles=[role])


def test_export_command_writes_the_package_file(gql, seed_regions, tmp_path):
    volunteer, envelope = _consented_offline(gql)
    with tenant_context(region("chongqing")):
        transfer = Transfer.objects.get(package_id=envelope["package"]["packageId"])
    out = tmp_path / "transfer.json"
    call_command(
        "interop",
        "export",
        "--region",
        "500000",
        "--transfer",
        str(transfer.public_id),
        "--out",
        str(out),
    )
    assert json.loads(out.read_text(encoding="utf-8")) == envelope
    call_command("interop", "import", str(out))
    with tenant_context(region("yunnan")):
        assert Volunteer.objects.filter(number=volunteer.number).count() == 1
    with pytest.raises(CommandError, match="no exported transfer"):
        call_command(
            "interop", "export", "--region", "500000", "--transfer", "nope", "--out", str(out)
        )


def test_destination_asks_on_the_volunteers_behalf(gql, seed_regions):
    _, volunteer, token = moving_volunteer(gql, hours=(1,))
    yunnan = authority(gql, "yunnan", "province")
    ask = """mutation($from: String!, $n: String!) { requestIncomingTransfer(fromRegion: $from,
      volunteerNumber: $n) { transfer { id state direction } errors { field code message } } }"""
    plain = gql.region(
        "yunnan",
        ask,
        {"from": "500000", "n": volunteer.number},
        token=login(gql, "yunnan", _yn_volunteer()),
    )
    assert plain["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    # A number nobody has at the source is answered as a volunteer who may consent:
    # the asking region learns nothing before the volunteer does (audit round 3).
    missing = gql.region("yunnan", ask, {"from": "500000", "n": "50000099999999999"}, token=yunnan)[
        "data"
    ]["requestIncomingTransfer"]
    assert missing["errors"] == [] and missing["transfer"]["state"] == "REQUESTED", missing
    asked = gql.region("yunnan", ask, {"from": "500000", "n": volunteer.number}, token=yunnan)[
        "data"
    ]["requestIncomingTransfer"]["transfer"]
    assert (asked["state"], asked["direction"]) == ("REQUESTED", "INCOMING")
    # The volunteer sees the request at the source and consents there.
    mine = gql.region("chongqing", "{ transfers(direction: OUTGOING) { id state } }", token=token)[
        "data"
    ]["transfers"]
    assert mine[0]["state"] == "REQUESTED"
    gql.region("chongqing", CONSENT, {"t": mine[0]["id"], "offline": False}, token=token)
    view = gql.region(
        "yunnan",
        """query($id: ID!) { transfer(id: $id) { state records
      { hours originRegionCode } } }""",
        {"id": asked["id"]},
        token=yunnan,
    )
    assert view["data"]["transfer"]["state"] == "COMPLETED"
    assert view["data"]["transfer"]["records"] == [{"hours": "1.50", "originRegionCode": "500000"}]


TRANSFERS = """query($first: Int!, $after: ID) { transfers(first: $first, after: $after) { id } }"""


def test_transfers_come_newest_first_a_page_at_a_time(gql, seed_regions):
    """The authority's list grows with every transfer: it is paged (keyset on the
    last transfer seen), never cut off at a fixed count."""
    for _ in range(3):
        _, _, token = moving_volunteer(gql, hours=(1,))
        asked = gql.region("chongqing", REQUEST, {"to": "530000"}, token=token)
        assert "errors" not in asked, asked
    boss = authority(gql, "chongqing", "province")
    everything = gql.region("chongqing", TRANSFERS, {"first": 100}, token=boss)["data"]
    everything = [t["id"] for t in everything["transfers"]]
    with tenant_context(region("chongqing")):
        newest = Transfer.objects.order_by("-id").values_list("public_id", flat=True)[:100]
        assert everything == [str(public_id) for public_id in newest]
    assert len(everything) >= 3
    seen, after = [], None
    for _ in range(3):
        page = gql.region("chongqing", TRANSFERS, {"first": 1, "after": after}, token=boss)
        seen += [t["id"] for t in page["data"]["transfers"]]
        after = seen[-1]
    assert seen == everything[:3]
    for bad in ("not-a-transfer", "00000000-0000-4000-8000-000000000000"):
        body = gql.region("chongqing", TRANSFERS, {"first": 1, "after": bad}, token=boss)
        assert body["errors"][0]["extensions"] == {"code": "INVALID", "field": "after"}, bad
    too_many = gql.region("chongqing", TRANSFERS, {"first": 101}, token=boss)
    assert too_many["errors"][0]["extensions"]["field"] == "first"
    # Paging a state: the last one seen may leave that state before the next page.
    by_state = """query($after: ID) { transfers(state: REQUESTED, first: 1, after: $after)
      { id } }"""
    (first,) = gql.region("chongqing", by_state, {}, token=boss)["data"]["transfers"]
    with tenant_context(region("chongqing")):
        moved = Transfer.objects.get(public_id=first["id"])
        Transfer.objects.filter(id=moved.id).update(state="rejected")
        older = Transfer.objects.filter(state="requested", id__lt=moved.id).order_by("-id")
        expected = [{"id": str(t.public_id)} for t in older[:1]]
    try:
        following = gql.region("chongqing", by_state, {"after": first["id"]}, token=boss)
        assert following["data"]["transfers"] == expected
    finally:
        with tenant_context(region("chongqing")):
            Transfer.objects.filter(id=moved.id).update(state=moved.state)


def test_a_volunteer_whose_verification_was_rejected_transfers_with_the_reason(gql, seed_regions):
    """Found by bench/transfers.py: the reason did not travel, and the destination's
    rule that a rejection has one refused the import."""
    from tenants.volunteers.models import Volunteer

    _, volunteer, token = moving_volunteer(gql, hours=(2,))
    with tenant_context(region("chongqing")):
        Volunteer.objects.filter(id=volunteer.id).update(
            verification="rejected", verification_reason="证件照片不清晰"
        )
    requested = gql.region("chongqing", REQUEST, {"to": "530000"}, token=token)["data"][
        "requestTransfer"
    ]["transfer"]
    consented = gql.region(
        "chongqing", CONSENT, {"t": requested["id"], "offline": False}, token=token
    )["data"]["consentTransfer"]
    assert consented["errors"] == [] and consented["transfer"]["state"] == "COMPLETED"
    with tenant_context(region("yunnan")):
        arrived = Volunteer.objects.get(number=volunteer.number)
    assert (arrived.verification, arrived.verification_reason) == ("rejected", "证件照片不清晰")
