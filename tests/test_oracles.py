"""Audit round 2: nothing tells a caller more about a volunteer than the caller may
see — over real HTTP, as an attacker with an ordinary token would try it.

- the time bank is read as the volunteer's records are (``may_view``, the rule
  ``may_see_record`` falls back on); another group's staff see a balance only
  with the volunteer's card shown, as a withdrawal needs (000 第二十条, 001 §6);
- an unknown volunteer number or id is answered exactly as one the caller may not
  see (``volunteer``, ``node``, ``timeBank``, ``recordTimeBankWithdrawal``,
  ``leaveGroup``), and a refusal by id names nobody;
- ``addMember`` does not tell a group that a non-member is cancelled or moved away;
- a members import's lookups by ID number and name are logged, even when the file
  is rolled back (000 Art.15: the volunteer sees who looked them up).

Each test fails on the code before audit round 2.
"""

from __future__ import annotations

import datetime
import json

from django_tenants.utils import tenant_context

from tenants.audit.models import AuditEntry
from tenants.volunteers.models import PersonalInfoAccess, Volunteer
from tests.records_support import card_of, days_ago, stage
from tests.registry_support import (
    authority,
    hierarchy,
    id_number,
    join_group,
    login,
    region,
    register_volunteer,
)
from tests.support import gid
from tests.test_bulk_import import csv_file, upload
from tests.test_time_bank import recorded

SLUG = "chongqing"
NOBODY = "50000026999999999"  # a well-formed volunteer number nobody has

BANK = """query($n: String, $c: String) { timeBank(number: $n, cardCode: $c) {
  balance wholeLedger entries { edges { node { kind } } } } }"""
VOLUNTEER = """query($n: String!) { volunteer(number: $n) { number } }"""
NODE = """query($id: ID!) { node(id: $id) { id } }"""
ADD_MEMBER = """mutation($g: ID!, $n: String!) { addMember(groupId: $g, number: $n) {
  membership { status } errors { field code message } } }"""
REMOVE_MEMBER = """mutation($g: ID!, $n: String!) { leaveGroup(groupId: $g, number: $n) {
  membership { status } errors { field code message } } }"""
MY_REVEALS = """query { myPersonalInfoAccesses { accessor fields reason } }"""


def refusal(body: dict, number: str | None = None) -> tuple[str, str]:
    """A query's top-level refusal: (code, message with ``number`` made anonymous)."""
    assert body["data"] is None or not any(body["data"].values()), body
    error = body["errors"][0]
    message = error["message"] if number is None else error["message"].replace(number, "N")
    return error["extensions"]["code"], message


def payload_error(body: dict, name: str, number: str) -> tuple[str, str, str]:
    (error,) = body["data"][name]["errors"]
    return error["field"], error["code"], error["message"].replace(number, "N")


def test_a_time_bank_is_read_as_the_volunteers_records(gql, seed_regions):
    s = stage(gql, SLUG, participants=2)
    (volunteer, username), (peer, peer_username) = s.volunteers
    recorded(gql, s, volunteer.number, days_ago(3), 3)

    # Their group's staff see the volunteer's records, so they see the balance.
    view = gql.region(SLUG, BANK, {"n": volunteer.number}, token=s.recorder)
    assert view["data"]["timeBank"]["balance"] == "3.00", view
    assert view["data"]["timeBank"]["wholeLedger"] is False

    # Another approved group's admin, knowing only the number, is refused — and an
    # unknown number gets the very same answer.
    stranger = login(gql, SLUG, hierarchy(SLUG).admins["team"])
    hidden = gql.region(SLUG, BANK, {"n": volunteer.number}, token=stranger)
    unknown = gql.region(SLUG, BANK, {"n": NOBODY}, token=stranger)
    assert refusal(hidden)[0] == "PERMISSION_DENIED"
    assert refusal(hidden) == refusal(unknown)
    # With the volunteer present, their card shown, the serving group sees the balance
    # (and none of the ledger: it has served them nothing).
    card = card_of(SLUG, volunteer.number)
    shown = gql.region(SLUG, BANK, {"n": volunteer.number, "c": card}, token=stranger)
    assert shown["data"]["timeBank"] == {
        "balance": "3.00",
        "wholeLedger": False,
        "entries": {"edges": []},
    }, shown
    # Someone else's card, or a card shown by a volunteer without a group: refused.
    other_card = card_of(SLUG, peer.number)
    wrong = gql.region(SLUG, BANK, {"n": volunteer.number, "c": other_card}, token=stranger)
    assert refusal(wrong) == refusal(hidden)
    peer_token = login(gql, SLUG, peer_username)
    by_peer = gql.region(SLUG, BANK, {"n": volunteer.number, "c": card}, token=peer_token)
    assert refusal(by_peer) == refusal(hidden)
    # The volunteer sees it all.
    own = gql.region(SLUG, BANK, {}, token=login(gql, SLUG, username))
    assert own["data"]["timeBank"]["wholeLedger"] is True


def test_an_unknown_volunteer_is_answered_as_a_hidden_one(gql, seed_regions):
    hidden, _ = register_volunteer(SLUG)
    _, caller_name = register_volunteer(SLUG)
    caller = login(gql, SLUG, caller_name)

    seen = gql.region(SLUG, VOLUNTEER, {"n": hidden.number}, token=caller)
    unseen = gql.region(SLUG, VOLUNTEER, {"n": NOBODY}, token=caller)
    assert refusal(seen, hidden.number) == refusal(unseen, NOBODY)
    assert refusal(seen)[0] == "PERMISSION_DENIED"

    # By id: the refusal names nobody (the id was all the caller gave), and an id
    # with no row is refused alike.
    by_id = gql.region(SLUG, NODE, {"id": gid(SLUG, hidden)}, token=caller)
    assert hidden.number not in json.dumps(by_id), by_id
    no_row = gql.region(SLUG, NODE, {"id": gid(SLUG, 10**9, "Volunteer")}, token=caller)
    assert refusal(by_id) == refusal(no_row) and refusal(by_id)[0] == "PERMISSION_DENIED"

    # The authority of the whole region sees everyone: "no such volunteer" tells it
    # nothing, so it still gets null.
    city = authority(gql, SLUG)
    assert gql.region(SLUG, VOLUNTEER, {"n": NOBODY}, token=city) == {"data": {"volunteer": None}}
    assert gql.region(SLUG, NODE, {"id": gid(SLUG, 10**9, "Volunteer")}, token=city) == {
        "data": {"node": None}
    }


def test_a_group_learns_nothing_of_a_non_members_status(gql, seed_regions):
    h = hierarchy(SLUG)
    admin = login(gql, SLUG, h.admins["team"])
    team = gid(SLUG, h.team)
    cancelled, _ = register_volunteer(SLUG)
    moved, _ = register_volunteer(SLUG)
    member, _ = register_volunteer(SLUG)
    join_group(SLUG, h.team, member.number, h.admins["team"])
    with tenant_context(region(SLUG)):
        Volunteer.objects.filter(number__in=[cancelled.number, member.number]).update(
            status="cancelled"
        )
        Volunteer.objects.filter(number=moved.number).update(status="transferred")

    def invite(number):
        body = gql.region(SLUG, ADD_MEMBER, {"g": team, "n": number}, token=admin)
        return payload_error(body, "addMember", number)

    assert invite(cancelled.number) == invite(moved.number) == invite(NOBODY)
    assert invite(NOBODY)[:2] == ("number", "NOT_FOUND")
    # Its own member's status the group may see, and is told.
    assert invite(member.number)[1] == "CONFLICT"

    # Removing someone who is not a member: the same answer whether or not anyone has
    # the number.
    def remove(number):
        body = gql.region(SLUG, REMOVE_MEMBER, {"g": team, "n": number}, token=admin)
        return payload_error(body, "leaveGroup", number)

    assert remove(moved.number) == remove(NOBODY)


def test_a_members_import_logs_every_lookup_by_id_number(gql, seed_regions):
    """A file of ID numbers and names tells a group whether each row matched (it needs
    to know whom it invited); each lookup is logged, the file rolled back or not."""
    h = hierarchy(SLUG)
    admin = login(gql, SLUG, h.admins["team"])
    birth = datetime.date(1983, 4, 4)
    known_id, unknown_id = id_number(birth), id_number(birth)
    person, username = register_volunteer(
        SLUG, name="郑七", idNumber=known_id, birthDate=birth.isoformat()
    )
    content = csv_file(
        ["志愿者编号", "证件号码", "姓名"],
        [["", known_id, "郑七"], ["", unknown_id, "某某"], [NOBODY, "", ""]],
    )
    body = upload(gql, SLUG, "MEMBERS", content, token=admin, group=gid(SLUG, h.team))
    report = body["data"]["importRows"]["report"]
    assert (report["committed"], report["failed"]) == (False, 2), report  # rolled back

    with tenant_context(region(SLUG)):
        logged = list(
            AuditEntry.objects.filter(
                action="import.id_number_lookup", detail__group=h.team.id
            ).order_by("id")
        )
        revealed = list(
            PersonalInfoAccess.objects.filter(volunteer__number=person.number).values_list(
                "fields", flat=True
            )
        )
    assert [(e.target, e.detail["line"], e.detail["matched"]) for e in logged] == [
        (person.number, 2, True),
        ("", 3, False),
    ]
    assert all(e.detail["committed"] is False for e in logged)
    # The log holds the masked number, never the whole one.
    assert known_id not in json.dumps([e.detail for e in logged])
    assert logged[1].detail["idNumber"] == unknown_id[:4] + "*" * 10 + unknown_id[-4:]
    assert revealed == [["idNumberLookup"]]
    # The volunteer sees who looked them up.
    mine = gql.region(SLUG, MY_REVEALS, token=login(gql, SLUG, username))
    (entry,) = mine["data"]["myPersonalInfoAccesses"]
    assert entry["fields"] == ["idNumberLookup"] and h.team.name in entry["reason"], entry


ACTIONS = {
    "revealPersonalInfo": """mutation($n: String!) { revealPersonalInfo(number: $n,
      reason: "核对保险") { idNumber errors { field code message } } }""",
    "setVolunteerStatus": """mutation($n: String!) { setVolunteerStatus(number: $n,
      status: WARNED, reason: "测试") { volunteer { status } errors { field code message } } }""",
    "reviewVolunteerVerification": """mutation($n: String!) { reviewVolunteerVerification(
      number: $n, approve: true) { volunteer { verification } errors { field code message } } }""",
    "setVolunteerDivision": """mutation($n: String!) { setVolunteerDivision(number: $n,
      divisionCode: "500103") { volunteer { number } errors { field code message } } }""",
}


def answer(body: dict, name: str, number: str) -> tuple:
    """A refusal, top-level or in the payload: (code, field, message without the number)."""
    if body.get("errors"):
        error = body["errors"][0]
        return error["extensions"]["code"], None, error["message"].replace(number, "N")
    (error,) = body["data"][name]["errors"]
    return error["code"], error["field"], error["message"].replace(number, "N")


def test_acting_on_an_unknown_volunteer_is_refused_as_on_a_hidden_one(gql, seed_regions):
    """Reveal, warn, verify, move: a number nobody has is refused with the words a
    volunteer the caller may not act on gets — to a group's admin, a volunteer, and
    a county authority (the other county's resident is hidden from it)."""
    h = hierarchy(SLUG)
    hidden, _ = register_volunteer(SLUG, divisionCode="500106")
    _, caller_name = register_volunteer(SLUG)
    callers = {
        "group admin": login(gql, SLUG, h.admins["team"]),
        "volunteer": login(gql, SLUG, caller_name),
        "county": authority(gql, SLUG, "county", division="500103", name="重庆市渝中区民政局"),
    }
    for who, token in callers.items():
        for name, doc in ACTIONS.items():
            seen = answer(
                gql.region(SLUG, doc, {"n": hidden.number}, token=token), name, hidden.number
            )
            unseen = answer(gql.region(SLUG, doc, {"n": NOBODY}, token=token), name, NOBODY)
            assert seen == unseen, (who, name, seen, unseen)
            assert seen[0] == "PERMISSION_DENIED", (who, name, seen)


def test_a_recorder_learns_nothing_of_a_non_participants_status(gql, seed_regions):
    """recordHours and recordTraining ask whether the volunteer takes part first: a
    cancelled outsider, a transferred one and a number nobody has answer alike."""
    s = stage(gql, SLUG, participants=0)
    cancelled, _ = register_volunteer(SLUG)
    moved, _ = register_volunteer(SLUG)
    with tenant_context(region(SLUG)):
        Volunteer.objects.filter(number=cancelled.number).update(status="cancelled")
        Volunteer.objects.filter(number=moved.number).update(status="transferred")
    record = """mutation($p: ID!, $n: String!, $input: RecordInput!) { recordHours(
      projectId: $p, number: $n, input: $input) { record { id } errors { field code message } } }"""
    hours = {
        "serviceDate": days_ago(1).isoformat(),
        "startTime": "09:00",
        "endTime": "10:00",
        "hours": "1",
        "content": "陪伴老人",
        "punctuality": 5,
        "attitude": 5,
        "professionalism": 5,
    }

    def recorded(number):
        body = gql.region(
            SLUG, record, {"p": s.project_id, "n": number, "input": hours}, token=s.recorder
        )
        return answer(body, "recordHours", number)

    assert recorded(cancelled.number) == recorded(moved.number) == recorded(NOBODY)
    assert recorded(NOBODY)[:2] == ("CONFLICT", "number")
