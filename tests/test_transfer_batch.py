"""Issue 11: a batch transfer — the members of one group moving together.

Through the real API (gunicorn, the ``gql`` fixture): the authority of the area
holding the group asks for its members to move to 云南 in one call; another
county's authority and the group's own admin are refused; a member who cannot move
is reported, not fatal; each member consents on their own (000 Art.15) and arrives
with all their hours, once; the authority follows the batch and cancels what is not
consented. ``manage.py interop audit`` is clean after. Building and importing one
package takes as many statements for 30 records as for 3.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from interop import services as transfers
from interop.models import Transfer
from tests.interop_support import assert_audit_clean
from tests.records_support import RECORD, days_ago, entry, stage
from tests.registry_support import (
    authority,
    first_county,
    login,
    principal_of_account,
    region,
)
from tests.support import gid
from tests.test_interop import CONSENT, REQUEST

pytestmark = pytest.mark.usefixtures("federation_invariant")  # issue 11

BATCH_FIELDS = """batch { id state groupName counterpartRegionCode
  counts { requested exported completed refused expired }
  refused { number reason } transfers(first: 100) { id state volunteerNumber batchId } }"""
REQUEST_GROUP = (
    """mutation($g: ID!, $to: String!, $why: String!, $n: [String!]) {
  requestGroupTransfer(groupId: $g, toRegion: $to, reason: $why, volunteerNumbers: $n) { """
    + BATCH_FIELDS
    + " errors { field code message } } }"
)
CANCEL = (
    """mutation($b: ID!, $why: String!) { cancelTransferBatch(batchId: $b, reason: $why) { """
    + BATCH_FIELDS
    + " errors { field code message } } }"
)
BATCH = """query($b: ID!) { transferBatch(id: $b) { id state
  counts { requested exported completed refused expired } } }"""
MINE = """{ transfers(direction: OUTGOING) { id state batchId batchReason } }"""
HOURS = """query($n: String!) { volunteer(number: $n) { status totalHours
  records(first: 100) { edges { node { hours originRecordId } } } } }"""


def _group_with_hours(gql, members: int):
    """A 重庆 team of ``members`` volunteers, each with counted hours; tokens."""
    s = stage(gql, "chongqing", participants=members)
    tokens = {}
    for index, (volunteer, username) in enumerate(s.volunteers):
        for day in range(index % 3 + 1):
            body = gql.region(
                "chongqing",
                RECORD,
                {
                    "p": s.project_id,
                    "n": volunteer.number,
                    "input": entry(days_ago(day + 2), "08:00", "10:00", 2),
                },
                token=s.recorder,
            )["data"]["recordHours"]
            assert body["errors"] == [], body
        tokens[volunteer.number] = login(gql, "chongqing", username)
    return s, tokens


def _other_county() -> str:
    first = first_county("500000")
    return "500106" if first != "500106" else "500103"


def _ask(gql, token, group_id, numbers=None, to="530000"):
    variables = {
        "g": gid("chongqing", group_id, "VolunteerGroup"),
        "to": to,
        "why": "区划调整，整建制转移",
        "n": numbers,
    }
    return gql.region("chongqing", REQUEST_GROUP, variables, token=token)


def test_a_group_moves_together(gql, seed_regions):
    s, tokens = _group_with_hours(gql, 5)
    numbers = [v.number for v, _ in s.volunteers]
    # One member is moving on their own already: reported, not fatal.
    busy = numbers[0]
    asked = gql.region("chongqing", REQUEST, {"to": "420000"}, token=tokens[busy])
    assert asked["data"]["requestTransfer"]["errors"] == [], asked

    # Another county's authority and the group's own admin may not ask.
    elsewhere = authority(gql, "chongqing", "county", division=_other_county())
    refused = _ask(gql, elsewhere, s.h.team.id)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED", refused
    refused = _ask(gql, s.admin, s.h.team.id)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED", refused
    # Nothing was written for them.
    with tenant_context(region("chongqing")):
        assert not Transfer.objects.filter(volunteer_number__in=numbers[1:]).exists()

    county = authority(gql, "chongqing", "county")  # the team's area
    body = _ask(gql, county, s.h.team.id)["data"]["requestGroupTransfer"]
    assert body["errors"] == [], body
    batch = body["batch"]
    assert batch["state"] == "OPEN" and batch["counterpartRegionCode"] == "530000"
    assert batch["counts"]["requested"] == 4, batch
    assert [r["number"] for r in batch["refused"]] == [busy]
    assert "under way" in batch["refused"][0]["reason"]
    assert {t["volunteerNumber"] for t in batch["transfers"]} == set(numbers[1:])

    # A bad destination or group is a typed error, nothing half-written.
    wrong = _ask(gql, county, s.h.team.id, to="999999")["data"]["requestGroupTransfer"]
    assert wrong["errors"][0]["code"] == "NOT_FOUND" and wrong["batch"] is None
    missing = _ask(gql, county, 10**9)["data"]["requestGroupTransfer"]
    assert missing["errors"][0]["code"] == "NOT_FOUND"

    hours_before = {}
    for number in numbers[1:]:
        seen = gql.region("chongqing", HOURS, {"n": number}, token=county)["data"]["volunteer"]
        hours_before[number] = seen["totalHours"]
    # Each member sees the batch's request among their transfers, and consents.
    for number in numbers[1:]:
        mine = gql.region("chongqing", MINE, token=tokens[number])["data"]["transfers"]
        own = [t for t in mine if t["batchId"] == batch["id"]]
        assert len(own) == 1 and own[0]["batchReason"] == "区划调整，整建制转移"
        # Not someone else's: a member cannot consent for another.
        if number == numbers[1]:
            other = next(t for t in batch["transfers"] if t["volunteerNumber"] == numbers[2])
            denied = gql.region(
                "chongqing", CONSENT, {"t": other["id"], "offline": False}, token=tokens[number]
            )
            assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
        done = gql.region(
            "chongqing", CONSENT, {"t": own[0]["id"], "offline": False}, token=tokens[number]
        )["data"]["consentTransfer"]
        assert done["errors"] == [] and done["transfer"]["state"] == "COMPLETED", done

    progress = gql.region("chongqing", BATCH, {"b": batch["id"]}, token=county)["data"]
    assert progress["transferBatch"]["state"] == "DONE"
    assert progress["transferBatch"]["counts"]["completed"] == 4
    # Another county's authority does not see the batch.
    hidden = gql.region("chongqing", BATCH, {"b": batch["id"]}, token=elsewhere)["data"]
    assert hidden["transferBatch"] is None

    # All arrived in 云南 with all their hours, once.
    yunnan = authority(gql, "yunnan", "province", division="530000")
    for number in numbers[1:]:
        there = gql.region("yunnan", HOURS, {"n": number}, token=yunnan)["data"]["volunteer"]
        assert there["status"] == "ACTIVE", there
        assert there["totalHours"] == hours_before[number], (number, there)
        origins = [e["node"]["originRecordId"] for e in there["records"]["edges"]]
        assert len(origins) == len(set(origins)) > 0
    assert_audit_clean()


def test_the_authority_cancels_what_is_not_consented(gql, seed_regions):
    s, tokens = _group_with_hours(gql, 3)
    numbers = [v.number for v, _ in s.volunteers]
    county = authority(gql, "chongqing", "county")
    # Only the listed members (and a stranger's number, reported).
    body = _ask(gql, county, s.h.team.id, numbers=[*numbers, "NOBODY-1"])
    batch = body["data"]["requestGroupTransfer"]["batch"]
    assert batch["counts"]["requested"] == 3
    assert batch["refused"] == [{"number": "NOBODY-1", "reason": "no such volunteer"}]
    first = next(t for t in batch["transfers"] if t["volunteerNumber"] == numbers[0])
    consented = gql.region(
        "chongqing", CONSENT, {"t": first["id"], "offline": False}, token=tokens[numbers[0]]
    )["data"]["consentTransfer"]
    assert consented["transfer"]["state"] == "COMPLETED", consented

    elsewhere = authority(gql, "chongqing", "county", division=_other_county())
    denied = gql.region("chongqing", CANCEL, {"b": batch["id"], "why": "撤回"}, token=elsewhere)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    cancelled = gql.region("chongqing", CANCEL, {"b": batch["id"], "why": "撤回"}, token=county)
    cancelled = cancelled["data"]["cancelTransferBatch"]
    assert cancelled["errors"] == [], cancelled
    assert cancelled["batch"]["state"] == "CANCELLED"
    assert cancelled["batch"]["counts"] == {
        "requested": 0,
        "exported": 0,
        "completed": 1,
        "refused": 2,
        "expired": 0,
    }
    again = gql.region("chongqing", CANCEL, {"b": batch["id"], "why": "撤回"}, token=county)
    assert again["data"]["cancelTransferBatch"]["errors"][0]["code"] == "CONFLICT"
    # A cancelled member's consent comes too late.
    second = next(t for t in batch["transfers"] if t["volunteerNumber"] == numbers[1])
    late = gql.region(
        "chongqing", CONSENT, {"t": second["id"], "offline": False}, token=tokens[numbers[1]]
    )["data"]["consentTransfer"]
    assert late["errors"][0]["code"] == "CONFLICT"
    # They can be asked again (the batch's request no longer holds them); the one who
    # moved is reported as transferred.
    body = _ask(gql, county, s.h.team.id)["data"]["requestGroupTransfer"]
    assert body["batch"]["counts"]["requested"] == 2
    assert [r["number"] for r in body["batch"]["refused"]] == [numbers[0]]
    assert "transferred" in body["batch"]["refused"][0]["reason"]
    assert_audit_clean()


def _statements_to_move(gql, records: int) -> int:
    """Statements of consenting (building, signing, importing and completing one
    package, within one deployment) for a volunteer with ``records`` records."""
    s = stage(gql, "chongqing", participants=1)
    volunteer, username = s.volunteers[0]
    for day in range(records):
        body = gql.region(
            "chongqing",
            RECORD,
            {
                "p": s.project_id,
                "n": volunteer.number,
                "input": entry(days_ago(day + 1), "08:00", "09:00", 1),
            },
            token=s.recorder,
        )["data"]["recordHours"]
        assert body["errors"] == [], body
    with tenant_context(region("chongqing")):
        principal = principal_of_account(username)
        requested = transfers.request_transfer(to_region="530000", principal=principal)
        with CaptureQueriesContext(connection) as captured:
            done = transfers.consent_transfer(
                transfer_id=str(requested.public_id), principal=principal
            )
        assert done.state == "completed"
    with tenant_context(region("yunnan")):
        moved = Transfer.objects.get(package_id=done.package_id)
        assert moved.volunteer is not None
        assert moved.volunteer.records.count() == records
    return len(captured.captured_queries)


def test_moving_one_package_takes_the_same_statements_for_3_or_30_records(gql, seed_regions):
    _statements_to_move(gql, 1)  # the regions' signing keys exist from here on
    few, many = _statements_to_move(gql, 3), _statements_to_move(gql, 30)
    assert many == few, (few, many)
    assert_audit_clean()
