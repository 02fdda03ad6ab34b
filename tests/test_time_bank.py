"""Issue 12 point 8: the time bank (时长储蓄, 000 Art.20, 001 §6), over real HTTP.

Counted hours deposit where the policy enables it (重庆 counts at once; 云南 after
publicity and civil-affairs confirmation, 001 §4(4)3); the serving group's staff
record withdrawals; the balance never goes negative (a CHECK constraint and a row
lock, two withdrawals at once); the ledger is append-only in the database;
amendments compensate; 湖北 (no time bank) refuses every time-bank mutation; a
transfer carries the balance, closed at the source and opened at the destination.
"""

from __future__ import annotations

import datetime
import functools

import pytest
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import tenant_context

from tenants.audit.models import AuditEntry
from tenants.records.models import ServiceRecord
from tenants.timebank.models import TimeBankEntry
from tests.records_support import RECORD, card_of, days_ago, entry, stage
from tests.registry_support import authority, id_number, login, region, register_volunteer
from tests.support import GraphQLClient, execute_in_process, gid, row_key
from tests.test_records_concurrency import together

BANK = """query($n: String, $first: Int, $after: String, $last: Int, $before: String,
  $c: String) {
  timeBank(number: $n, cardCode: $c) { number balance enabled familyMembersAllowed wholeLedger
  entries(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { kind hours balanceAfter recordId groupId groupName beneficiary
      familyMemberName familyRelation serviceDate content counterpartRegionCode note
      recordedBy } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""
WITHDRAW = """mutation($g: ID!, $n: String!, $input: TimeBankWithdrawalInput!) {
  recordTimeBankWithdrawal(groupId: $g, number: $n, input: $input) {
    entry { kind hours balanceAfter groupName beneficiary familyMemberName }
    balance errors { field code message } } }"""
AMEND = """mutation($r: ID!, $h: Decimal!, $why: String!) { amendRecord(recordId: $r,
  changes: {hours: $h}, reason: $why) { record { hours } errors { field code message } } }"""
UPDATE_POLICY = """mutation($code: String!, $policy: JSON!) {
  updateRegionPolicy(code: $code, policy: $policy) { errors { field code message } } }"""


def spend(hours, content="上门陪护半天", day=None, **extra) -> dict:
    return {
        "hours": str(hours),
        "serviceDate": (day or days_ago(1)).isoformat(),
        "content": content,
        **extra,
    }


def bank(gql, slug, token, number=None, **page) -> dict:
    body = gql.region(slug, BANK, {"n": number, **page}, token=token)
    assert "errors" not in body, body
    return body["data"]["timeBank"]


def kinds(view) -> list[tuple[str, str, str]]:
    return [
        (e["node"]["kind"], e["node"]["hours"], e["node"]["balanceAfter"])
        for e in view["entries"]["edges"]
    ]


def recorded(gql, s, number, day, hours, start="08:00", end="12:00") -> dict:
    body = gql.region(
        s.slug,
        RECORD,
        {"p": s.project_id, "n": number, "input": entry(day, start, end, hours)},
        token=s.recorder,
    )["data"]["recordHours"]
    assert body["errors"] == [], body
    return body["record"]


def withdraw(gql, slug, group_id, number, item, token) -> dict:
    """The withdrawal with the volunteer's card shown, unless ``item`` names a card."""
    item = {"cardCode": card_of(slug, number), **item}
    return gql.region(slug, WITHDRAW, {"g": group_id, "n": number, "input": item}, token=token)


def test_counting_deposits_and_the_serving_group_withdraws(gql, seed_regions):
    """重庆 (000 Art.20): a record counts at once and its hours are saved; the group
    that serves records what it spends; everyone else is refused, by a typed error."""
    s = stage(gql, "chongqing", participants=2)
    (volunteer, username), (_other, other_username) = s.volunteers
    me = login(gql, "chongqing", username)
    team = gid("chongqing", s.h.team)
    record = recorded(gql, s, volunteer.number, days_ago(3), 3)
    assert record["state"] == "COUNTED"
    view = bank(gql, "chongqing", me)
    assert (view["number"], view["balance"], view["enabled"]) == (volunteer.number, "3.00", True)
    assert view["wholeLedger"] and not view["familyMembersAllowed"]
    assert kinds(view) == [("DEPOSIT", "3.00", "3.00")]
    assert view["entries"]["edges"][0]["node"]["recordId"] == record["id"]

    # The serving group's recorder spends two hours on a service to the volunteer.
    spent = withdraw(gql, "chongqing", team, volunteer.number, spend(2), s.recorder)
    payload = spent["data"]["recordTimeBankWithdrawal"]
    assert payload["errors"] == [], payload
    assert payload["balance"] == "1.00"
    assert payload["entry"] == {
        "kind": "WITHDRAWAL",
        "hours": "-2.00",
        "balanceAfter": "1.00",
        "groupName": s.h.team.name,
        "beneficiary": "SELF",
        "familyMemberName": "",
    }

    # Refused, each with its code, and nothing written: anonymous, the volunteer,
    # another volunteer, the staff of a group that is not the one serving.
    anonymous = withdraw(gql, "chongqing", team, volunteer.number, spend(1), None)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for token in (me, login(gql, "chongqing", other_username)):
        denied = withdraw(gql, "chongqing", team, volunteer.number, spend(1), token)
        assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    district_admin = login(gql, "chongqing", s.h.admins["district"])
    denied = withdraw(gql, "chongqing", team, volunteer.number, spend(1), district_admin)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    # The serving group knowing the number is not the volunteer's consent: their
    # hours are spent only with their own card shown (000 第二十条), as at check-in.
    other_card = {**spend(1), "cardCode": card_of("chongqing", _other.number)}
    foreign = withdraw(gql, "chongqing", team, volunteer.number, other_card, s.recorder)
    assert foreign["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED", foreign
    assert "cardCode" in foreign["errors"][0]["message"]
    for card in ("", "not-a-card"):
        bad = withdraw(
            gql, "chongqing", team, volunteer.number, {**spend(1), "cardCode": card}, s.recorder
        )
        errors = bad["data"]["recordTimeBankWithdrawal"]["errors"]
        assert [(e["field"], e["code"]) for e in errors] == [("cardCode", "INVALID")], bad
    assert bank(gql, "chongqing", me)["balance"] == "1.00"  # nothing was spent

    # Bad input: more than the balance, more precision than kept, a future date, no
    # content, a family member where the policy allows none, unknown ids.
    def error_of(item, group=team, number=volunteer.number):
        answer = withdraw(gql, "chongqing", group, number, item, s.recorder)
        errors = answer["data"]["recordTimeBankWithdrawal"]["errors"]
        return [(e["field"], e["code"]) for e in errors]

    assert error_of(spend("1.5")) == [("hours", "CONFLICT")]  # the balance is 1.00
    assert error_of(spend("0.333")) == [("hours", "INVALID")]
    assert error_of(spend(-1)) == [("hours", "INVALID")]
    tomorrow = datetime.date.today() + datetime.timedelta(days=2)
    assert error_of(spend(1, day=tomorrow)) == [("serviceDate", "INVALID")]
    assert error_of(spend(1, content="  ")) == [("content", "INVALID")]
    family = spend(1, beneficiary="FAMILY_MEMBER", familyMemberName="王秀英", familyRelation="母亲")
    assert error_of(family) == [("beneficiary", "CONFLICT")]
    # An unknown number is refused as another volunteer's is (no oracle): by the card.
    mine = {**spend(1), "cardCode": card_of("chongqing", volunteer.number)}
    unknown = withdraw(gql, "chongqing", team, "99999999999", mine, s.recorder)
    assert unknown["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED", unknown
    assert unknown["errors"][0]["message"] == foreign["errors"][0]["message"].replace(
        volunteer.number, "99999999999"
    )
    assert error_of(spend(1), group=gid("chongqing", 10**9, "VolunteerGroup")) == [
        ("groupId", "NOT_FOUND")
    ]
    assert bank(gql, "chongqing", me)["balance"] == "1.00"

    # Who sees it: the volunteer and the authority of their area all of it; whoever
    # may see the volunteer (their groups' staff, the hub of their group's area) the
    # balance and their own groups' withdrawals; nobody else.
    province = authority(gql, "chongqing", "province")
    assert kinds(bank(gql, "chongqing", province, volunteer.number)) == [
        ("DEPOSIT", "3.00", "3.00"),
        ("WITHDRAWAL", "-2.00", "1.00"),
    ]
    staff_view = bank(gql, "chongqing", district_admin, volunteer.number)
    assert (staff_view["balance"], staff_view["wholeLedger"]) == ("1.00", False)
    assert kinds(staff_view) == []  # the district hub has served nobody
    assert kinds(bank(gql, "chongqing", s.recorder, volunteer.number)) == [
        ("WITHDRAWAL", "-2.00", "1.00")
    ]
    peer = gql.region(
        "chongqing", BANK, {"n": volunteer.number}, token=login(gql, "chongqing", other_username)
    )
    assert peer["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert gql.region("chongqing", BANK, {"n": volunteer.number})["errors"][0]["extensions"][
        "code"
    ] == ("UNAUTHENTICATED")
    # The ledger pages by keyset cursors, both ways.
    first = bank(gql, "chongqing", me, first=1)
    assert kinds(first) == [("DEPOSIT", "3.00", "3.00")]
    assert first["entries"]["pageInfo"]["hasNextPage"]
    cursor = first["entries"]["pageInfo"]["endCursor"]
    second = bank(gql, "chongqing", me, first=1, after=cursor)
    assert kinds(second) == [("WITHDRAWAL", "-2.00", "1.00")]
    assert not second["entries"]["pageInfo"]["hasNextPage"]
    back = bank(gql, "chongqing", me, last=1, before=second["entries"]["pageInfo"]["endCursor"])
    assert kinds(back) == [("DEPOSIT", "3.00", "3.00")]
    too_many = gql.region("chongqing", BANK, {"first": 1000}, token=me)
    assert too_many["errors"][0]["extensions"]["code"] == "INVALID"
    with tenant_context(region("chongqing")):
        audited = set(
            AuditEntry.objects.filter(action__startswith="timebank.").values_list(
                "action", flat=True
            )
        )
    assert {"timebank.deposit", "timebank.withdrawal"} <= audited


def test_family_members_where_the_policy_allows(gql, seed_regions, central_admin):
    """001 §6 names the volunteer; a region may let saved hours pay for a service to
    a family member (``timeBankFamilyMembers``), who is then named with the relation."""
    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    team = gid("chongqing", s.h.team)
    recorded(gql, s, volunteer.number, days_ago(2), 4)
    token = central_admin["token"]
    on = gql.central(
        UPDATE_POLICY, {"code": "500000", "policy": {"timeBankFamilyMembers": True}}, token
    )
    assert on["data"]["updateRegionPolicy"]["errors"] == []
    try:
        unnamed = withdraw(
            gql, "chongqing", team, volunteer.number, spend(1, beneficiary="FAMILY_MEMBER"), s.admin
        )["data"]["recordTimeBankWithdrawal"]["errors"]
        assert {(e["field"], e["code"]) for e in unnamed} == {
            ("familyMemberName", "INVALID"),
            ("familyRelation", "INVALID"),
        }
        item = spend(
            "1.5", beneficiary="FAMILY_MEMBER", familyMemberName="王秀英", familyRelation="母亲"
        )
        done = withdraw(gql, "chongqing", team, volunteer.number, item, s.admin)
        payload = done["data"]["recordTimeBankWithdrawal"]
        assert payload["errors"] == [], payload
        assert payload["entry"]["beneficiary"] == "FAMILY_MEMBER"
        assert payload["entry"]["familyMemberName"] == "王秀英"
        view = bank(gql, "chongqing", login(gql, "chongqing", username))
        assert view["familyMembersAllowed"] and view["balance"] == "2.50"
        assert view["entries"]["edges"][-1]["node"]["familyRelation"] == "母亲"
    finally:
        off = {"code": "500000", "policy": {"timeBankFamilyMembers": False}}
        assert gql.central(UPDATE_POLICY, off, token)["data"]["updateRegionPolicy"]["errors"] == []


def test_publicity_and_confirmation_deposit_only_when_counted(gql, seed_regions):
    """云南 (001 §4(4)3): nothing is saved in publicity or awaiting confirmation; the
    hours deposit when civil affairs confirms, and a voided record saves nothing."""
    from django.core.management import call_command

    s = stage(gql, "yunnan", participants=2)
    (alice, alice_name), (bob, _) = s.volunteers
    first = recorded(gql, s, alice.number, days_ago(2), 2, "09:00", "11:00")
    second = recorded(gql, s, bob.number, days_ago(2), 2, "09:00", "11:00")
    assert first["state"] == "IN_PUBLICITY"
    alice_token = login(gql, "yunnan", alice_name)
    assert bank(gql, "yunnan", alice_token)["balance"] == "0.00"
    objector = login(
        gql,
        "yunnan",
        register_volunteer("yunnan", idNumber=id_number(datetime.date(1990, 5, 17), "530102"))[1],
    )
    objection = gql.region(
        "yunnan",
        'mutation($r: ID!) { raiseObjection(recordId: $r, reason: "当天未见到此人") '
        "{ objectionId errors { code } } }",
        {"r": second["id"]},
        token=objector,
    )["data"]["raiseObjection"]
    upheld = gql.region(
        "yunnan",
        'mutation($o: ID!) { resolveObjection(objectionId: $o, upheld: true, reason: "核实未到岗")'
        " { record { state } errors { code } } }",
        {"o": objection["objectionId"]},
        token=s.admin,
    )["data"]["resolveObjection"]
    assert upheld["record"]["state"] == "VOID"
    with tenant_context(region("yunnan")):
        ends = ServiceRecord.objects.get(id=row_key(first["id"])).publicity_ends_on
    assert ends is not None
    call_command(
        "close_publicity",
        "--region",
        "530000",
        "--today",
        (ends + datetime.timedelta(1)).isoformat(),
    )
    assert bank(gql, "yunnan", alice_token)["balance"] == "0.00"  # awaiting confirmation
    county = authority(gql, "yunnan", level="county")
    confirmed = gql.region(
        "yunnan",
        "mutation($r: ID!) { confirmRecord(recordId: $r) { record { state } } }",
        {"r": first["id"]},
        token=county,
    )
    assert confirmed["data"]["confirmRecord"]["record"]["state"] == "COUNTED"
    assert kinds(bank(gql, "yunnan", alice_token)) == [("DEPOSIT", "2.00", "2.00")]
    # Bob's voided record saved nothing and no entry names it.
    with tenant_context(region("yunnan")):
        assert not TimeBankEntry.objects.filter(record_id=row_key(second["id"])).exists()
        assert not TimeBankEntry.objects.filter(volunteer=bob).exists()
    # Yunnan's group staff spend without a recorder's certificate (a withdrawal
    # records a service received, not hours served).
    spent = withdraw(gql, "yunnan", gid("yunnan", s.h.team), alice.number, spend(1), s.admin)
    assert spent["data"]["recordTimeBankWithdrawal"]["balance"] == "1.00"


def test_amendments_compensate_and_what_was_spent_stays_spent(gql, seed_regions):
    """000 Art.23: a counted record is corrected by an amendment, and its saved hours
    follow by a compensating entry; hours already spent cannot be taken back."""
    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    me = login(gql, "chongqing", username)
    team = gid("chongqing", s.h.team)
    record = recorded(gql, s, volunteer.number, days_ago(4), 4)

    def amend(hours):
        body = gql.region(
            "chongqing", AMEND, {"r": record["id"], "h": hours, "why": "核对签到表"}, s.recorder
        )
        assert body["data"]["amendRecord"]["errors"] == [], body

    amend("3")
    amend("3.5")
    assert kinds(bank(gql, "chongqing", me)) == [
        ("DEPOSIT", "4.00", "4.00"),
        ("ADJUSTMENT", "-1.00", "3.00"),
        ("ADJUSTMENT", "0.50", "3.50"),
    ]
    spent = withdraw(gql, "chongqing", team, volunteer.number, spend(3), s.recorder)
    assert spent["data"]["recordTimeBankWithdrawal"]["balance"] == "0.50"
    amend("1")  # takes 2.5 back: only 0.5 is left to take
    view = bank(gql, "chongqing", me)
    assert view["balance"] == "0.00"
    last = view["entries"]["edges"][-1]["node"]
    assert (last["kind"], last["hours"], last["balanceAfter"]) == ("ADJUSTMENT", "-0.50", "0.00")
    assert "2.00" in last["note"] and "核对签到表" in last["note"]
    amend("0.5")  # nothing left: no entry (a zero entry is refused), the shortfall audited
    assert len(bank(gql, "chongqing", me)["entries"]["edges"]) == 5
    # A page of the ledger costs the same statements whatever its size: host, token,
    # roles, the volunteer, the balance, the page joined with the serving groups.
    small = execute_in_process("chongqing", BANK, {"first": 1}, me)
    large = execute_in_process("chongqing", BANK, {"first": 5}, me)
    assert len(large[0]["data"]["timeBank"]["entries"]["edges"]) == 5
    assert len(small[1]) == len(large[1]) <= 6, large[1]
    with tenant_context(region("chongqing")):
        assert AuditEntry.objects.filter(
            action="timebank.unrecoverable", target=str(row_key(record["id"]))
        ).exists()


def test_the_ledger_is_append_only_and_never_negative_in_the_database(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, _ = s.volunteers[0]
    recorded(gql, s, volunteer.number, days_ago(2), 2)
    schema = region("chongqing").schema_name
    with tenant_context(region("chongqing")):
        entry_id = TimeBankEntry.objects.get(volunteer=volunteer).id
    with connection.cursor() as cursor:
        for statement, refusal in (
            (
                f"UPDATE {schema}.timebank_timebankentry SET hours = 9 WHERE id = {entry_id}",
                "append-only",
            ),
            (f"DELETE FROM {schema}.timebank_timebankentry WHERE id = {entry_id}", "append-only"),
            (f"TRUNCATE {schema}.timebank_timebankentry CASCADE", "append-only"),
            (
                f"UPDATE {schema}.timebank_timebankaccount SET balance = -1 "
                f"WHERE volunteer_id = {volunteer.id}",
                "timebank_balance_nonnegative",
            ),
            (
                f"INSERT INTO {schema}.timebank_timebankentry (volunteer_id, kind, hours, "
                "balance_after, beneficiary, family_member_name, family_relation, content, "
                "counterpart_region_code, transfer_reference, note, recorded_by, recorded_at) "
                f"VALUES ({volunteer.id}, 'transfer_out', -5, -3, '', '', '', '', '', '', '', "
                "'psql', now())",
                "timebank_entry_balance_nonnegative",
            ),
            (
                f"INSERT INTO {schema}.timebank_timebankentry (volunteer_id, kind, hours, "
                "balance_after, beneficiary, family_member_name, family_relation, content, "
                "counterpart_region_code, transfer_reference, note, recorded_by, recorded_at) "
                f"VALUES ({volunteer.id}, 'withdrawal', 1, 3, 'self', '', '', 'x', '', '', '', "
                "'psql', now())",
                "timebank_entry_out_negative",
            ),
        ):
            with pytest.raises(DatabaseError, match=refusal), transaction.atomic():
                cursor.execute(statement)
    with tenant_context(region("chongqing")):
        assert TimeBankEntry.objects.get(id=entry_id).hours == 2


def test_two_withdrawals_at_once_never_overdraw(gql, seed_regions):
    """Two staff spend 2 of 3 saved hours at the same moment: the account's row lock
    lets one through; the other sees 1 hour left and is refused (CONFLICT)."""
    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    recorded(gql, s, volunteer.number, days_ago(2), 3)
    team = gid("chongqing", s.h.team)
    for round_ in range(3):
        if round_:  # top up to 3 again
            recorded(gql, s, volunteer.number, days_ago(2 + round_), 2)
        clients = [GraphQLClient(gql.base_url), GraphQLClient(gql.base_url)]
        shown = {**spend(2), "cardCode": card_of("chongqing", volunteer.number)}
        results = together(
            [
                functools.partial(withdraw, c, "chongqing", team, volunteer.number, shown, t)
                for c, t in zip(clients, (s.recorder, s.admin), strict=True)
            ]
        )
        payloads = [r["data"]["recordTimeBankWithdrawal"] for r in results]
        assert sorted(bool(p["errors"]) for p in payloads) == [False, True], payloads
        assert [p["errors"][0]["code"] for p in payloads if p["errors"]] == ["CONFLICT"]
        assert bank(gql, "chongqing", login(gql, "chongqing", username))["balance"] == "1.00"


def test_no_time_bank_refuses_every_mutation(gql, seed_regions):
    """湖北 has no time bank: counting saves nothing and a withdrawal is refused
    (DISABLED_BY_POLICY) before anything is written, whoever asks."""
    s = stage(gql, "hubei")
    volunteer, username = s.volunteers[0]
    recorded(gql, s, volunteer.number, days_ago(2), 3)
    view = bank(gql, "hubei", login(gql, "hubei", username))
    assert (view["balance"], view["enabled"], kinds(view)) == ("0.00", False, [])
    for token in (s.recorder, s.admin):
        refused = withdraw(gql, "hubei", gid("hubei", s.h.team), volunteer.number, spend(1), token)
        errors = refused["data"]["recordTimeBankWithdrawal"]["errors"]
        assert [e["code"] for e in errors] == ["DISABLED_BY_POLICY"], refused
    with tenant_context(region("hubei")):
        assert not TimeBankEntry.objects.filter(volunteer=volunteer).exists()


REQUEST = """mutation($to: String!) { requestTransfer(toRegion: $to) { transfer { id }
  errors { code } } }"""
CONSENT = """mutation($t: ID!, $offline: Boolean!) { consentTransfer(transferId: $t,
  offline: $offline) { transfer { state } errors { field code message } } }"""


def _move(gql, slug: str, token: str, to: str, offline: bool = False) -> str:
    requested = gql.region(slug, REQUEST, {"to": to}, token=token)["data"]["requestTransfer"]
    assert requested["errors"] == [], requested
    transfer_id = requested["transfer"]["id"]
    consented = gql.region(slug, CONSENT, {"t": transfer_id, "offline": offline}, token=token)
    assert consented["data"]["consentTransfer"]["errors"] == [], consented
    return transfer_id


@pytest.mark.usefixtures("federation_invariant")
def test_a_transfer_carries_the_balance(gql, seed_regions, tmp_path):
    """重庆 → 云南 → 湖北 (000 Art.15–16): the balance moves with the records, never
    doubled or lost: the source closes it (TRANSFER_OUT), the destination opens it
    (TRANSFER_IN) and the records counted at the source deposit nothing again; 湖北,
    with no time bank, keeps and shows it and lets nothing be spent."""
    import json

    from django.core.management import call_command

    from interop import at_rest
    from interop.models import Transfer

    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    recorded(gql, s, volunteer.number, days_ago(3), 3)
    spent = withdraw(
        gql, "chongqing", gid("chongqing", s.h.team), volunteer.number, spend(1), s.admin
    )
    assert spent["data"]["recordTimeBankWithdrawal"]["balance"] == "2.00"
    token = login(gql, "chongqing", username)
    # Consented as a file: frozen at the source until the destination imports it;
    # nothing is spent meanwhile (it would be spent twice).
    transfer_id = _move(gql, "chongqing", token, "530000", offline=True)
    frozen = withdraw(
        gql, "chongqing", gid("chongqing", s.h.team), volunteer.number, spend(1), s.admin
    )
    assert [e["code"] for e in frozen["data"]["recordTimeBankWithdrawal"]["errors"]] == ["CONFLICT"]
    with tenant_context(region("chongqing")):
        envelope = at_rest.clear(Transfer.objects.get(public_id=transfer_id).package)
    assert envelope["package"]["timeBank"] == {"balance": "2.00"}
    path = tmp_path / "package.json"
    path.write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
    call_command("interop", "import", str(path))
    call_command("interop", "import", str(path))  # exactly once: nothing doubles

    chongqing = authority(gql, "chongqing", "province")
    source = bank(gql, "chongqing", chongqing, volunteer.number)
    assert source["balance"] == "0.00"
    assert kinds(source)[-1] == ("TRANSFER_OUT", "-2.00", "0.00")
    assert source["entries"]["edges"][-1]["node"]["counterpartRegionCode"] == "530000"
    in_yunnan = login(gql, "yunnan", username)
    arrived = bank(gql, "yunnan", in_yunnan)
    assert (arrived["balance"], arrived["enabled"]) == ("2.00", True)
    assert kinds(arrived) == [("TRANSFER_IN", "2.00", "2.00")]  # the imported record: no deposit
    assert arrived["entries"]["edges"][0]["node"]["counterpartRegionCode"] == "500000"

    # Onward to 湖北, which has no time bank: kept as an opening entry, shown, not spent.
    _move(gql, "yunnan", in_yunnan, "420000")
    assert kinds(bank(gql, "yunnan", authority(gql, "yunnan", "province"), volunteer.number))[
        -1
    ] == ("TRANSFER_OUT", "-2.00", "0.00")
    hubei = stage(gql, "hubei", participants=0)
    kept = bank(gql, "hubei", login(gql, "hubei", username))
    assert (kept["balance"], kept["enabled"]) == ("2.00", False)
    assert kinds(kept) == [("TRANSFER_IN", "2.00", "2.00")]
    assert "not spendable" in kept["entries"]["edges"][0]["node"]["note"]
    refused = withdraw(
        gql, "hubei", gid("hubei", hubei.h.team), volunteer.number, spend(1), hubei.admin
    )
    errors = refused["data"]["recordTimeBankWithdrawal"]["errors"]
    assert [e["code"] for e in errors] == ["DISABLED_BY_POLICY"]
    # A group about to serve them sees it with the volunteer's card shown.
    card = card_of("hubei", volunteer.number)
    assert bank(gql, "hubei", hubei.admin, volunteer.number, c=card)["balance"] == "2.00"

    # `interop audit` checks saved hours too: a balance left where the volunteer was
    # transferred from (counted twice), or one that is not its ledger, is reported.
    from interop.invariant import audit
    from tenants.timebank.models import TimeBankAccount

    with tenant_context(region("yunnan")):
        TimeBankAccount.objects.filter(volunteer__number=volunteer.number).update(balance=1)
    try:
        codes = {(p.code, p.volunteer) for p in audit().problems}
        assert {
            ("TIME_BANK_TWICE", volunteer.number),
            ("TIME_BANK_MISMATCH", volunteer.number),
        } <= codes
    finally:
        with tenant_context(region("yunnan")):
            TimeBankAccount.objects.filter(volunteer__number=volunteer.number).update(balance=0)
