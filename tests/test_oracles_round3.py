"""Audit round 3: the oracles rounds 1 and 2 left open, tried over real HTTP as an
attacker would.

- ``registerVolunteer`` must refuse a person already registered (issue 10: one home
  region per ID number), which tells the caller the person exists. Each such
  refusal is audited (masked number, client address) and they are throttled per
  client address (``THROTTLED``), each alias and each operation of a batch counted;
  registering a new person costs one read more and nothing else;
- a group's or an authority's VOLUNTEERS import logs each row whose ID number was
  already registered (``import.id_number_lookup``), as a members import does;
- a membership id (``decideMembership``, ``respondToInvitation``) is refused alike
  whether or not a row is behind it, to a caller who may not see the row.

A server of its own trusts ``X-Test-Client`` as the client's address and locks an
address after 3 refused registrations. Each test fails on the code before audit
round 3.
"""

from __future__ import annotations

import datetime
import itertools
import json

import httpx
import pytest
from django_tenants.utils import tenant_context

from tenants.accounts.models import LoginThrottle
from tenants.audit.models import AuditEntry
from tenants.volunteers.models import PersonalInfoAccess
from tests.registry_support import (
    REGISTER_VOLUNTEER,
    hierarchy,
    id_number,
    login,
    region,
    register_volunteer,
    unique,
    volunteer_input,
)
from tests.support import PlatformServer, gid, platform_database_url
from tests.test_bulk_import import csv_file

SLUG = "chongqing"
LIMIT = 3  # PLATFORM_REGISTRATION_REFUSAL_LIMIT on this file's server
_addresses = itertools.count(1)
REGISTER = """mutation($input: RegisterVolunteerInput!) { registerVolunteer(input: $input) {
  volunteer { number } errors { field code message retryAfter } } }"""


@pytest.fixture(scope="module")
def oracle_server(seed_regions):
    env = {
        "PLATFORM_CLIENT_ADDRESS_HEADER": "X-Test-Client",
        "PLATFORM_REGISTRATION_REFUSAL_LIMIT": str(LIMIT),
    }
    with PlatformServer(platform_database_url(), env=env) as running:
        yield running


class Client:
    """Posts GraphQL to one region from one client address (a batch: a JSON list)."""

    def __init__(self, server, slug: str = SLUG):
        self.http = httpx.Client(base_url=server.base_url, timeout=120)
        self.host = f"{slug}.localhost"
        self.address = f"203.0.113.{next(_addresses)}"

    def post(self, body, token: str | None = None):
        headers = {"Host": self.host, "X-Test-Client": self.address, "Accept-Language": "en"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.http.post("/graphql", json=body, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    def register(self, data: dict, token: str | None = None) -> dict:
        body = self.post({"query": REGISTER, "variables": {"input": data}}, token)
        return body["data"]["registerVolunteer"]


def refused_entries(address: str) -> list[AuditEntry]:
    with tenant_context(region(SLUG)):
        return list(
            AuditEntry.objects.filter(
                action="volunteer.registration_refused", detail__address=address
            ).order_by("id")
        )


def known_person() -> str:
    """A volunteer registered here; their ID number (volunteer_input's birth date)."""
    number = id_number(datetime.date(1990, 5, 17))
    register_volunteer(SLUG, idNumber=number)
    return number


def code_of(payload: dict) -> str | None:
    return payload["errors"][0]["code"] if payload["errors"] else None


def test_refused_registrations_are_audited_and_throttled_per_address(oracle_server):
    """The refusal itself stays (one volunteer per ID number, and a real person must
    learn to log in or ask for a transfer); its rate is bounded and every one is
    logged. While an address is locked even a new person is refused, before any
    lookup: otherwise the lock would answer the question instead."""
    known_id = known_person()
    attacker, neighbour = Client(oracle_server), Client(oracle_server)

    def again(client: Client) -> dict:
        person = volunteer_input(idNumber=known_id, username=unique("probe"))
        return client.register(person)

    for _ in range(LIMIT):
        payload = again(attacker)
        (error,) = payload["errors"]
        assert (error["code"], error["field"]) == ("CONFLICT", "idNumber"), payload
    # Every refusal is logged: the masked number and the address, never the number.
    logged = refused_entries(attacker.address)
    assert [e.detail["reason"] for e in logged] == ["already_registered"] * LIMIT
    assert all(e.detail["idNumber"] == known_id[:4] + "*" * 10 + known_id[-4:] for e in logged)
    assert known_id not in json.dumps([e.detail for e in logged])

    # The address is locked: the known person and a new one get the same THROTTLED,
    # with when to retry, and nothing is registered.
    locked_known = again(attacker)
    new_person = volunteer_input()
    locked_new = attacker.register(new_person)
    for payload in (locked_known, locked_new):
        (error,) = payload["errors"]
        assert error["code"] == "THROTTLED" and error["retryAfter"] > 0, payload
        assert payload["volunteer"] is None
    assert locked_known["errors"][0]["message"] == locked_new["errors"][0]["message"]
    assert [e.detail["reason"] for e in refused_entries(attacker.address)][LIMIT:] == [
        "address_locked",
        "address_locked",
    ]

    # Another address registers the new person at once, and is answered as before.
    assert neighbour.register(new_person)["errors"] == []
    assert code_of(again(neighbour)) == "CONFLICT"


def test_each_alias_and_each_batched_operation_counts(oracle_server):
    """A thousand aliased registerVolunteer in one document (or a JSON batch) is a
    thousand tries: after LIMIT refusals the rest are THROTTLED."""
    known_id = known_person()
    person = volunteer_input(idNumber=known_id)
    aliases = " ".join(
        f"r{n}: registerVolunteer(input: $i) {{ errors {{ code }} }}" for n in range(10)
    )
    document = f"mutation($i: RegisterVolunteerInput!) {{ {aliases} }}"
    client = Client(oracle_server)
    answer = client.post({"query": document, "variables": {"i": person}})
    codes = [answer["data"][f"r{n}"]["errors"][0]["code"] for n in range(10)]
    assert codes == ["CONFLICT"] * LIMIT + ["THROTTLED"] * (10 - LIMIT), codes

    batch_client = Client(oracle_server)
    batch = [
        {"query": REGISTER_VOLUNTEER, "variables": {"input": {**person, "username": unique("b")}}}
        for _ in range(6)
    ]
    answers = batch_client.post(batch)
    codes = [a["data"]["registerVolunteer"]["errors"][0]["code"] for a in answers]
    assert codes == ["CONFLICT"] * LIMIT + ["THROTTLED"] * (6 - LIMIT), codes
    assert len(refused_entries(batch_client.address)) == 6


def test_a_taken_username_counts_as_a_refusal(oracle_server):
    """ "username … is taken" tells that an account exists (a username may be a phone
    number): counted and audited like a person already registered."""
    _, taken = register_volunteer(SLUG)
    client = Client(oracle_server)
    for _ in range(LIMIT):
        payload = client.register(volunteer_input(username=taken))
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("CONFLICT", "username")], (
            payload
        )
    assert code_of(client.register(volunteer_input(username=taken))) == "THROTTLED"
    assert [e.detail["reason"] for e in refused_entries(client.address)] == [
        "username_taken"
    ] * LIMIT + ["address_locked"]


def test_registering_a_new_person_reads_the_throttle_once(seed_regions):
    """The throttle costs a new registration one indexed read (no row lock, no
    write): only refusals are counted."""
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    from central.tenancy import connection

    client = DjangoClient(
        HTTP_HOST=f"{SLUG}.localhost", HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR="192.0.2.77"
    )
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/graphql",
            {"query": REGISTER_VOLUNTEER, "variables": {"input": volunteer_input()}},
            content_type="application/json",
        )
    connection.set_schema_to_public()
    assert response.json()["data"]["registerVolunteer"]["errors"] == [], response.json()
    touching = [q["sql"] for q in captured.captured_queries if "loginthrottle" in q["sql"]]
    assert len(touching) == 1, touching
    assert touching[0].startswith("SELECT") and "FOR UPDATE" not in touching[0], touching


def test_a_volunteers_import_logs_each_row_already_registered(oracle_server, seed_regions):
    """A group's file of people tells it which ID numbers are registered (the rows
    refused "already registered", its own members "present"): each such row is an
    ``import.id_number_lookup``, the file rolled back or not, with the masked
    number; a match here is in the volunteer's reveal log too."""
    from tests.test_bulk_import import upload

    h = hierarchy(SLUG)
    admin = login(_gql(oracle_server), SLUG, h.admins["team"])
    birth = datetime.date(1988, 8, 8)
    known_id, new_id = id_number(birth), id_number(birth)
    person, username = register_volunteer(
        SLUG, name="钱八", idNumber=known_id, birthDate=birth.isoformat()
    )
    header = ["姓名", "性别", "出生日期", "证件号码", "手机号码"]
    content = csv_file(
        header,
        [
            ["钱八", "男", birth.isoformat(), known_id, "13900008888"],
            ["孙九", "男", birth.isoformat(), new_id, "13900009999"],
        ],
    )
    gql = _gql(oracle_server)
    body = upload(gql, SLUG, "VOLUNTEERS", content, token=admin, group=gid(SLUG, h.team))
    report = body["data"]["importRows"]["report"]
    assert (report["committed"], report["failed"]) == (False, 1), report

    with tenant_context(region(SLUG)):
        logged = list(
            AuditEntry.objects.filter(
                action="import.id_number_lookup", detail__kind="volunteers", detail__line=2
            )
            .filter(target=person.number)
            .order_by("id")
        )
        revealed = list(
            PersonalInfoAccess.objects.filter(volunteer__number=person.number).values_list(
                "fields", "reason"
            )
        )
        unlogged = AuditEntry.objects.filter(
            action="import.id_number_lookup", detail__idNumber=new_id[:4] + "*" * 10 + new_id[-4:]
        ).exists()
    (entry,) = logged
    assert entry.detail["group"] == h.team.id and entry.detail["matched"] is True
    assert entry.detail["committed"] is False
    assert entry.detail["idNumber"] == known_id[:4] + "*" * 10 + known_id[-4:]
    assert known_id not in json.dumps(entry.detail)
    assert not unlogged  # a new person is a registration, not a lookup
    ((fields, reason),) = revealed
    assert fields == ["idNumberLookup"] and h.team.name in reason, reason
    # The volunteer sees who looked them up.
    mine = _gql(oracle_server).region(
        SLUG,
        "query { myPersonalInfoAccesses { fields reason } }",
        token=login(_gql(oracle_server), SLUG, username),
    )
    assert mine["data"]["myPersonalInfoAccesses"][0]["fields"] == ["idNumberLookup"]


def _gql(server):
    from tests.support import GraphQLClient

    return GraphQLClient(server.base_url)


def test_the_throttle_state_is_per_address(oracle_server):
    """What the lock keys on: one row per address in the region's throttle table."""
    client = Client(oracle_server)
    known_id = known_person()
    client.register(volunteer_input(idNumber=known_id))
    with tenant_context(region(SLUG)):
        row = LoginThrottle.objects.get(scope="refusal", key=client.address)
    assert row.failures == 1 and row.locked_until is None


# --- ids of rows the caller may not see (audit round 3 point 4) --------------------

DECIDE = """mutation($m: ID!) { decideMembership(membershipId: $m, approve: true) {
  membership { status } errors { field code message } } }"""
APPLY = """mutation($g: ID!) { applyToGroup(groupId: $g) { membership { id }
  errors { field code message } } }"""


def answer_of(body: dict, name: str) -> tuple:
    """A refusal, top-level or in the payload: (code, field, message)."""
    if body.get("errors"):
        error = body["errors"][0]
        return error["extensions"]["code"], None, error["message"]
    (error,) = body["data"][name]["errors"]
    return error["code"], error["field"], error["message"]


def test_a_membership_id_is_refused_alike_whether_or_not_a_row_is_behind_it(gql, seed_regions):
    """Another group's admin deciding an application: the same refusal, naming no
    group, for a real application's id and for an id with no membership."""
    h = hierarchy(SLUG)
    _, username = register_volunteer(SLUG)
    applied = gql.region(SLUG, APPLY, {"g": gid(SLUG, h.team)}, token=login(gql, SLUG, username))
    membership_id = applied["data"]["applyToGroup"]["membership"]["id"]
    nobody = gid(SLUG, 10**9, "Membership")
    other_admin = login(gql, SLUG, h.admins["community"])

    seen = answer_of(
        gql.region(SLUG, DECIDE, {"m": membership_id}, token=other_admin), "decideMembership"
    )
    unseen = answer_of(
        gql.region(SLUG, DECIDE, {"m": nobody}, token=other_admin), "decideMembership"
    )
    assert seen == unseen, (seen, unseen)
    assert seen[0] == "PERMISSION_DENIED" and h.team.name not in seen[2]
    # The group's own admin decides.
    team_admin = login(gql, SLUG, h.admins["team"])
    decided = gql.region(SLUG, DECIDE, {"m": membership_id}, token=team_admin)
    assert decided["data"]["decideMembership"]["membership"]["status"] == "ACTIVE", decided


RECORD_ACTIONS = {
    "amendRecord": """mutation($r: ID!) { amendRecord(recordId: $r, changes: {hours: "1"},
      reason: "更正") { record { hours } errors { field code message } } }""",
    "decideDeclaration": """mutation($r: ID!) { decideDeclaration(recordId: $r, accept: true,
      reason: "") { record { state } errors { field code message } } }""",
    "confirmRecord": """mutation($r: ID!) { confirmRecord(recordId: $r) { record { state }
      errors { field code message } } }""",
    "raiseObjection": """mutation($r: ID!) { raiseObjection(recordId: $r, reason: "时长不实") {
      errors { field code message } } }""",
}


def test_a_record_id_is_refused_alike_whether_or_not_a_row_is_behind_it(gql, seed_regions):
    """Another group's admin, a stranger volunteer and another county's authority
    acting on a record by id: for a real record they may not see and for an id with
    no record, the same answer — no state, no group, no existence told."""
    from tests.records_support import days_ago, stage
    from tests.registry_support import authority
    from tests.test_time_bank import recorded

    s = stage(gql, SLUG, participants=1)
    ((volunteer, _),) = s.volunteers
    record_id = recorded(gql, s, volunteer.number, days_ago(3), 3)["id"]
    with tenant_context(region(SLUG)):
        from tenants.records.models import ServiceRecord

        # Out of publicity, so that a stranger may not object to it either.
        ServiceRecord.objects.filter(volunteer__number=volunteer.number).exclude(
            state="counted"
        ).update(state="counted")
    nobody = gid(SLUG, 10**9, "ServiceRecord")
    callers = {
        "other group's admin": login(gql, SLUG, hierarchy(SLUG).admins["team"]),
        "volunteer": login(gql, SLUG, register_volunteer(SLUG)[1]),
        "other county": authority(
            gql, SLUG, "county", division="500106", name="重庆市沙坪坝区民政局"
        ),
    }
    for who, token in callers.items():
        for name, doc in RECORD_ACTIONS.items():
            seen = answer_of(gql.region(SLUG, doc, {"r": record_id}, token=token), name)
            unseen = answer_of(gql.region(SLUG, doc, {"r": nobody}, token=token), name)
            assert seen == unseen, (who, name, seen, unseen)
            assert "counted" not in seen[2].lower() and s.h.team.name not in seen[2], seen


ASK = """mutation($from: String!, $n: String!) { requestIncomingTransfer(fromRegion: $from,
  volunteerNumber: $n) { transfer { state direction } errors { field code message } } }"""


def test_another_regions_authority_learns_nothing_before_the_volunteer_consents(gql, seed_regions):
    """requestIncomingTransfer is addressed to the volunteer, who consents at the
    source: a number nobody has, a cancelled volunteer, one transferred away and one
    who may consent get the same answer; only the last sees a request to consent to.
    The source logs the requests it could not pass on."""
    from tenants.volunteers.models import Volunteer
    from tests.registry_support import authority

    may_consent, _ = register_volunteer(SLUG)
    cancelled, _ = register_volunteer(SLUG)
    moved, _ = register_volunteer(SLUG)
    with tenant_context(region(SLUG)):
        Volunteer.objects.filter(number=cancelled.number).update(status="cancelled")
        Volunteer.objects.filter(number=moved.number).update(status="transferred")
    nobody = "50000026999999999"
    yunnan = authority(gql, "yunnan", "province")

    def ask(number: str) -> dict:
        body = gql.region("yunnan", ASK, {"from": "500000", "n": number}, token=yunnan)
        return body["data"]["requestIncomingTransfer"]

    answers = {n: ask(n) for n in (may_consent.number, cancelled.number, moved.number, nobody)}
    assert all(
        a == {"transfer": {"state": "REQUESTED", "direction": "INCOMING"}, "errors": []}
        for a in answers.values()
    ), answers
    # Asking again answers the open request, for everyone alike.
    assert ask(nobody) == answers[nobody] and ask(may_consent.number) == answers[may_consent.number]
    with tenant_context(region(SLUG)):
        from interop.models import Transfer

        outgoing = set(
            Transfer.objects.filter(
                direction="outgoing",
                volunteer_number__in=list(answers),
                counterpart_region_code="530000",
            ).values_list("volunteer_number", flat=True)
        )
        unanswerable = dict(
            AuditEntry.objects.filter(
                action="transfer.request_unanswerable", target__in=list(answers)
            ).values_list("target", "detail__reason")
        )
    assert outgoing == {may_consent.number}
    assert unanswerable == {
        nobody: "unknown_number",
        cancelled.number: "not_requestable",
        moved.number: "not_requestable",
    }


def test_a_pending_group_is_no_group_to_whoever_may_not_see_it(gql, seed_regions):
    """group(id:) answers null for a pending group a caller may not see; applying to
    it or leaving it by id is answered as for an id with no group — neither its name
    nor its review is told."""
    from tests.registry_support import register

    h = hierarchy(SLUG)
    pending, _ = register(
        SLUG, f"测{unique('')}区图书馆志愿服务队", "non_hub", "district", h.district
    )
    token = login(gql, SLUG, register_volunteer(SLUG)[1])
    leave = """mutation($g: ID!) { leaveGroup(groupId: $g) { membership { status }
      errors { field code message } } }"""
    for name, doc in (("applyToGroup", APPLY), ("leaveGroup", leave)):
        hidden = answer_of(gql.region(SLUG, doc, {"g": gid(SLUG, pending)}, token=token), name)
        nothing = answer_of(
            gql.region(SLUG, doc, {"g": gid(SLUG, 10**9, "VolunteerGroup")}, token=token), name
        )
        assert hidden == nothing, (name, hidden, nothing)
        assert pending.name not in hidden[2]


def test_registering_a_group_counts_a_taken_admin_username(oracle_server):
    """registerGroup opens an admin account: "username … is taken" is counted and
    audited as on registerVolunteer, and a locked address registers no group."""
    from tests.test_groups import REGISTER_GROUP, group_input

    h = hierarchy(SLUG)
    _, taken = register_volunteer(SLUG)
    client = Client(oracle_server)

    def register_group(**extra) -> dict:
        data = group_input(f"测{unique('')}区图书馆志愿服务队", liaison=h.district, **extra)
        body = client.post({"query": REGISTER_GROUP, "variables": {"input": data}})
        return body["data"]["registerGroup"]

    for _ in range(LIMIT):
        payload = register_group(adminUsername=taken)
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("CONFLICT", "admin.username")
        ], payload
    locked = register_group()
    assert code_of(locked) == "THROTTLED" and locked["group"] is None, locked
    with tenant_context(region(SLUG)):
        reasons = list(
            AuditEntry.objects.filter(
                action="group.registration_refused", detail__address=client.address
            )
            .order_by("id")
            .values_list("detail__reason", flat=True)
        )
    assert reasons == ["username_taken"] * LIMIT + ["address_locked"]


def test_a_complaint_id_is_refused_alike_whether_or_not_a_row_is_behind_it(gql, seed_regions):
    """Another group's admin starting an investigation: the same refusal, naming no
    group, for a real complaint and for an id with no complaint."""
    from tests.records_support import days_ago, stage
    from tests.test_recognition import FILE_COMPLAINT, START

    s = stage(gql, SLUG, participants=1)
    ((volunteer, _),) = s.volunteers
    filed = gql.region(
        SLUG,
        FILE_COMPLAINT,
        {
            "input": {
                "number": volunteer.number,
                "groupId": gid(SLUG, s.h.team),
                "complainant": "服务对象家属",
                "content": "服务时迟到一小时",
                "receivedOn": days_ago(1).isoformat(),
            }
        },
        token=s.recorder,
    )["data"]["fileComplaint"]
    assert filed["errors"] == [], filed
    stranger = login(gql, SLUG, hierarchy(SLUG).admins["team"])
    seen = answer_of(
        gql.region(SLUG, START, {"c": filed["complaint"]["id"]}, token=stranger),
        "startComplaintInvestigation",
    )
    unseen = answer_of(
        gql.region(SLUG, START, {"c": gid(SLUG, 10**9, "Complaint")}, token=stranger),
        "startComplaintInvestigation",
    )
    assert seen == unseen and seen[0] == "PERMISSION_DENIED", (seen, unseen)
    assert s.h.team.name not in seen[2]


def test_a_correction_request_id_is_refused_alike_whether_or_not_a_row_is_behind_it(
    gql, seed_regions
):
    """Another group's admin declining a volunteer's correction request (记录更正): the
    same refusal, naming no group, for a real request and for an id with none."""
    from tests.records_support import stage
    from tests.test_time_recording import CORRECTION

    s = stage(gql, SLUG, participants=1)
    ((_, username),) = s.volunteers
    asked = gql.region(
        SLUG,
        CORRECTION,
        {"g": gid(SLUG, s.h.team), "d": "上周六的活动没有记录"},
        token=login(gql, SLUG, username),
    )["data"]["requestCorrection"]["request"]
    decline = """mutation($q: ID!) { declineCorrection(requestId: $q, reason: "当天未签到") {
      request { status } errors { field code message } } }"""
    stranger = login(gql, SLUG, hierarchy(SLUG).admins["team"])
    seen = answer_of(
        gql.region(SLUG, decline, {"q": asked["id"]}, token=stranger), "declineCorrection"
    )
    unseen = answer_of(
        gql.region(SLUG, decline, {"q": gid(SLUG, 10**9, "CorrectionRequest")}, token=stranger),
        "declineCorrection",
    )
    assert seen == unseen and seen[0] == "PERMISSION_DENIED", (seen, unseen)
    assert s.h.team.name not in seen[2]
