"""Issue 4 §2–4, §10: recording hours and the record lifecycle under the 重庆 and
云南 policies, through the real GraphQL endpoint."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from central.policy import preset
from tenants.records.models import ServiceRecord
from tenants.records.workdays import add_working_days
from tests.records_support import RECORD, VOLUNTEER_TOTALS, days_ago, declaration, entry, stage
from tests.registry_support import authority, login, region, register_volunteer
from tests.support import gid, row_key

OBJECT = """mutation($r: ID!, $why: String!) { raiseObjection(recordId: $r, reason: $why)
  { objectionId errors { field code message } } }"""
RESOLVE = """mutation($o: ID!, $u: Boolean!, $why: String!) { resolveObjection(objectionId: $o,
  upheld: $u, reason: $why) { record { state stateReason } errors { field code message } } }"""
CONFIRM = """mutation($r: ID!) { confirmRecord(recordId: $r) { record { state }
  errors { field code message } } }"""
AMEND = """mutation($r: ID!, $c: AmendmentInput!, $why: String!) { amendRecord(recordId: $r,
  changes: $c, reason: $why) { record { hours originalHours state amendments { hours reason
  amendedBy } } errors { field code message } } }"""


def record(gql, s, number, day, start, end, hours, token=None, **extra):
    body = gql.region(
        s.slug,
        RECORD,
        {"p": s.project_id, "n": number, "input": {**entry(day, start, end, hours), **extra}},
        token=token or s.recorder,
    )
    return body


def totals(gql, s, number):
    return gql.region(s.slug, VOLUNTEER_TOTALS, {"n": number}, token=s.admin)["data"]["volunteer"]


def test_chongqing_counts_at_once_and_totals_follow(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, _ = s.volunteers[0]
    first = record(gql, s, volunteer.number, days_ago(3), "09:00", "12:00", "2.5")
    second = record(gql, s, volunteer.number, days_ago(3), "14:00", "17:30", 3)
    for body in (first, second):
        assert body["data"]["recordHours"]["errors"] == []
        assert body["data"]["recordHours"]["record"]["state"] == "COUNTED"
        assert body["data"]["recordHours"]["record"]["publicityEndsOn"] is None
    seen = totals(gql, s, volunteer.number)
    assert seen["totalHours"] == "5.50"
    assert [e["node"]["state"] for e in seen["records"]["edges"]] == ["COUNTED", "COUNTED"]
    # A page of one (the records are sliced per volunteer in SQL) says there is more.
    page = gql.region(
        "chongqing",
        """query($n: String!) { volunteer(number: $n) {
      records(first: 1) { edges { node { hours } } pageInfo { hasNextPage endCursor } } } }""",
        {"n": volunteer.number},
        token=s.admin,
    )["data"]["volunteer"]["records"]
    assert [e["node"]["hours"] for e in page["edges"]] == ["2.50"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = gql.region(
        "chongqing",
        """query($n: String!, $a: String!) { volunteer(number: $n) {
      records(first: 1, after: $a) { edges { node { hours } } pageInfo { hasNextPage } } } }""",
        {"n": volunteer.number, "a": page["pageInfo"]["endCursor"]},
        token=s.admin,
    )["data"]["volunteer"]["records"]
    assert [e["node"]["hours"] for e in rest["edges"]] == ["3.00"]
    assert rest["pageInfo"]["hasNextPage"] is False


# Days as offsets from the day the test runs (not the day pytest collected it: a run
# across midnight once turned "tomorrow" into "today").
# The rule's cases (zero, negative, over the span, over a day, NaN, reversed times, a
# future date) are checked through the service in tests/fast/test_records.py; here one
# case checks that the API answers a refusal with the field and writes nothing.
@pytest.mark.parametrize(
    ("days_back", "start", "end", "hours", "field"),
    [(1, "09:00", "10:00", "1.5", "hours")],  # more than the span: travel excluded
)
def test_invalid_hours_are_refused_and_write_nothing(
    gql, seed_regions, days_back, start, end, hours, field
):
    s = stage(gql, "chongqing")
    volunteer, _ = s.volunteers[0]
    body = record(gql, s, volunteer.number, days_ago(days_back), start, end, hours)
    payload = body["data"]["recordHours"]
    assert payload["record"] is None
    assert field in {e["field"] for e in payload["errors"]}, payload
    with tenant_context(region("chongqing")):
        assert not ServiceRecord.objects.filter(volunteer=volunteer).exists()


def test_overlap_and_the_24_hour_day(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, _ = s.volunteers[0]
    day = days_ago(4)
    assert (
        record(gql, s, volunteer.number, day, "00:00", "12:00", 12)["data"]["recordHours"]["errors"]
        == []
    )
    overlap = record(gql, s, volunteer.number, day, "11:00", "13:00", 1)["data"]["recordHours"]
    assert overlap["errors"][0]["code"] == "CONFLICT"
    assert "overlapping" in overlap["errors"][0]["message"]
    assert (
        record(gql, s, volunteer.number, day, "12:00", "23:59", "11.98")["data"]["recordHours"][
            "errors"
        ]
        == []
    )
    # The day is full: nothing more fits, and the total stays within 24 hours.
    full = record(gql, s, volunteer.number, day, "23:00", "23:30", "0.5")["data"]["recordHours"]
    assert full["errors"][0]["code"] == "CONFLICT"
    assert Decimal(totals(gql, s, volunteer.number)["totalHours"]) <= 24


def test_who_may_record(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    own = login(gql, "chongqing", username)
    denied = record(gql, s, volunteer.number, days_ago(1), "09:00", "10:00", 1, token=own)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    outsider, _ = register_volunteer("chongqing")  # not a member, not accepted
    refused = record(gql, s, outsider.number, days_ago(1), "09:00", "10:00", 1)
    assert refused["data"]["recordHours"]["errors"][0]["code"] == "CONFLICT"
    unknown = record(gql, s, "00000000000000000", days_ago(1), "09:00", "10:00", 1)
    # A number nobody has is answered as one who takes no part (no oracle).
    assert unknown["data"]["recordHours"]["errors"][0]["code"] == "CONFLICT"
    assert unknown["data"]["recordHours"]["errors"][0]["message"] == refused["data"]["recordHours"][
        "errors"
    ][0]["message"].replace(outsider.number, "00000000000000000")


def test_yunnan_recorders_need_a_certificate(gql, seed_regions):
    # 001 §4(4)3: 记录员须持证上岗 — the team admin holds no recorder certificate.
    s = stage(gql, "yunnan")
    volunteer, _ = s.volunteers[0]
    denied = record(gql, s, volunteer.number, days_ago(1), "09:00", "10:00", 1, token=s.admin)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert "001 §4(4)3" in denied["errors"][0]["message"]


def test_yunnan_publicity_objection_and_confirmation(gql, seed_regions):
    """001 §4(4)3: ≥3 working days of publicity, then civil affairs confirms."""
    s = stage(gql, "yunnan", participants=2)
    (alice, _), (bob, _) = s.volunteers
    today = timezone.localdate()
    policy = preset("yunnan")
    first = record(gql, s, alice.number, days_ago(2), "09:00", "11:00", 2)["data"]["recordHours"]
    assert first["record"]["state"] == "IN_PUBLICITY"
    ends = add_working_days(
        today, 3, extra_holidays=policy.extra_holidays, extra_workdays=policy.extra_workdays
    )
    assert first["record"]["publicityEndsOn"] == ends.isoformat()
    second = record(gql, s, bob.number, days_ago(2), "09:00", "11:00", 2)["data"]["recordHours"]
    # Bob's record draws an objection from another volunteer (社会监督).
    objector = login(gql, "yunnan", register_volunteer("yunnan", idNumber=_yn_id())[1])
    raised = gql.region(
        "yunnan", OBJECT, {"r": second["record"]["id"], "why": "当天未见到此人"}, token=objector
    )["data"]["raiseObjection"]
    assert raised["errors"] == []
    # Nothing counts before publicity ends.
    call_command("close_publicity", "--region", "530000", "--today", ends.isoformat())
    assert totals(gql, s, alice.number)["totalHours"] == "0"
    # After it ends: Alice waits for confirmation; Bob's open objection holds his back.
    after = (ends + datetime.timedelta(days=1)).isoformat()
    call_command("close_publicity", "--region", "530000", "--today", after)
    call_command("close_publicity", "--region", "530000", "--today", after)  # idempotent
    states = {
        n["node"]["id"]: n["node"]["state"]
        for n in totals(gql, s, alice.number)["records"]["edges"]
    }
    assert states == {first["record"]["id"]: "AWAITING_CONFIRMATION"}
    bob_states = [n["node"]["state"] for n in totals(gql, s, bob.number)["records"]["edges"]]
    assert bob_states == ["OBJECTED"]
    # Only civil affairs confirms; then it counts.
    denied = gql.region("yunnan", CONFIRM, {"r": first["record"]["id"]}, token=s.admin)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    county = authority(gql, "yunnan", level="county")
    confirmed = gql.region("yunnan", CONFIRM, {"r": first["record"]["id"]}, token=county)
    assert confirmed["data"]["confirmRecord"]["record"]["state"] == "COUNTED"
    assert totals(gql, s, alice.number)["totalHours"] == "2.00"
    twice = gql.region("yunnan", CONFIRM, {"r": first["record"]["id"]}, token=county)
    assert twice["data"]["confirmRecord"]["errors"][0]["code"] == "CONFLICT"
    # The group dismisses the objection with a reason; Bob's record goes on.
    no_reason = gql.region(
        "yunnan", RESOLVE, {"o": raised["objectionId"], "u": False, "why": ""}, token=s.admin
    )
    assert no_reason["data"]["resolveObjection"]["errors"][0]["field"] == "reason"
    dismissed = gql.region(
        "yunnan",
        RESOLVE,
        {"o": raised["objectionId"], "u": False, "why": "签到表可查，确有参加"},
        token=s.admin,
    )
    assert dismissed["data"]["resolveObjection"]["record"]["state"] == "IN_PUBLICITY"
    call_command("close_publicity", "--region", "530000", "--today", after)
    bob_states = [n["node"]["state"] for n in totals(gql, s, bob.number)["records"]["edges"]]
    assert bob_states == ["AWAITING_CONFIRMATION"]


def _yn_id():
    from tests.registry_support import id_number

    return id_number(datetime.date(1990, 5, 17), area="530102")


def test_upheld_objection_voids_the_record_and_frees_the_time(gql, seed_regions):
    s = stage(gql, "yunnan")
    volunteer, _ = s.volunteers[0]
    body = record(gql, s, volunteer.number, days_ago(5), "09:00", "11:00", 2)
    record_id = body["data"]["recordHours"]["record"]["id"]
    raised = gql.region("yunnan", OBJECT, {"r": record_id, "why": "重复记录"}, token=s.admin)[
        "data"
    ]["raiseObjection"]
    upheld = gql.region(
        "yunnan",
        RESOLVE,
        {"o": raised["objectionId"], "u": True, "why": "与另一条记录重复"},
        token=s.admin,
    )
    assert upheld["data"]["resolveObjection"]["record"] == {
        "state": "VOID",
        "stateReason": "与另一条记录重复",
    }
    again = record(gql, s, volunteer.number, days_ago(5), "09:00", "11:00", 2)
    assert again["data"]["recordHours"]["errors"] == []
    late = gql.region("yunnan", OBJECT, {"r": record_id, "why": "再提异议"}, token=s.admin)
    assert late["data"]["raiseObjection"]["errors"][0]["code"] == "CONFLICT"


def test_publicity_periods_follow_the_official_calendar():
    """The lifecycle's publicity end for 云南 (3 working days) around holidays."""
    policy = preset("yunnan")
    # Recorded on 2025-09-30: 国庆 10-01..08 are off; Saturday 10-11 is a 调休 working day.
    assert add_working_days(datetime.date(2025, 9, 30), policy.publicity_working_days) == (
        datetime.date(2025, 10, 11)
    )
    # Recorded on Friday 2025-09-26: Sunday 09-28 is a 调休 working day.
    assert add_working_days(datetime.date(2025, 9, 26), 3) == datetime.date(2025, 9, 30)


def test_publicity_running_into_a_year_the_calendar_does_not_know():
    import chinese_calendar

    last_known = max(chinese_calendar.constants.holidays).year
    eve = datetime.date(last_known, 12, 30)
    unknown_new_year = datetime.date(last_known + 1, 1, 1)
    plain = add_working_days(eve, 3)  # no error; weekdays only past the library's data
    assert plain > eve and plain.year == last_known + 1
    with_list = add_working_days(eve, 3, extra_holidays=[unknown_new_year])
    if unknown_new_year.weekday() < 5 and unknown_new_year <= plain:
        # The region's own holiday list is honoured in the unknown year.
        assert with_list > plain
    else:
        assert with_list == plain


def test_amendments_not_edits_and_the_database_refuses_rewrites(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, _ = s.volunteers[0]
    body = record(gql, s, volunteer.number, days_ago(6), "08:00", "12:00", 4)
    record_id = body["data"]["recordHours"]["record"]["id"]
    no_reason = gql.region(
        "chongqing", AMEND, {"r": record_id, "c": {"hours": "3"}, "why": " "}, token=s.recorder
    )["data"]["amendRecord"]
    assert no_reason["errors"][0]["field"] == "reason"
    too_much = gql.region(
        "chongqing", AMEND, {"r": record_id, "c": {"hours": "5"}, "why": "多记"}, token=s.recorder
    )
    assert too_much["data"]["amendRecord"]["errors"][0]["field"] == "hours"
    amended = gql.region(
        "chongqing",
        AMEND,
        {"r": record_id, "c": {"hours": "3.5"}, "why": "扣除午休半小时"},
        token=s.recorder,
    )
    payload = amended["data"]["amendRecord"]
    assert payload["errors"] == []
    assert (payload["record"]["hours"], payload["record"]["originalHours"]) == ("3.50", "4.00")
    assert payload["record"]["amendments"][0]["reason"] == "扣除午休半小时"
    assert totals(gql, s, volunteer.number)["totalHours"] == "3.50"
    schema = region("chongqing").schema_name
    key = row_key(record_id)
    with connection.cursor() as cursor:
        for statement in (
            f"UPDATE {schema}.records_servicerecord SET hours = 9 WHERE id = {key}",
            f"DELETE FROM {schema}.records_servicerecord WHERE id = {key}",
            f"UPDATE {schema}.records_amendment SET hours = 1 WHERE record_id = {key}",
            f"DELETE FROM {schema}.records_amendment WHERE record_id = {key}",
        ):
            with pytest.raises(DatabaseError), transaction.atomic():
                cursor.execute(statement)
    assert totals(gql, s, volunteer.number)["records"]["edges"][0]["node"]["hours"] == "3.50"


DECLARE = """mutation($p: ID!, $input: RecordInput!) { declareHours(projectId: $p, input: $input)
  { record { id state mode } errors { field code message } } }"""
DECIDE_DECLARATION = """mutation($r: ID!, $a: Boolean!, $why: String!) { decideDeclaration(
  recordId: $r, accept: $a, reason: $why) { record { state stateReason }
  errors { field code message } } }"""


def test_self_declaration_counts_only_after_the_group_confirms(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    own = login(gql, "chongqing", username)
    declared = gql.region(
        "chongqing",
        DECLARE,
        {"p": s.project_id, "input": declaration(days_ago(7), "09:00", "11:00", 2)},
        token=own,
    )["data"]["declareHours"]
    assert declared["record"]["state"] == "DECLARED"
    assert declared["record"]["mode"] == "SELF_DECLARED"
    assert totals(gql, s, volunteer.number)["totalHours"] == "0"
    not_own = gql.region(
        "chongqing",
        DECIDE_DECLARATION,
        {"r": declared["record"]["id"], "a": True, "why": ""},
        token=own,
    )
    assert not_own["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    accepted = gql.region(
        "chongqing",
        DECIDE_DECLARATION,
        {"r": declared["record"]["id"], "a": True, "why": ""},
        token=s.recorder,
    )["data"]["decideDeclaration"]
    assert accepted["record"]["state"] == "COUNTED"
    assert totals(gql, s, volunteer.number)["totalHours"] == "2.00"
    second = gql.region(
        "chongqing",
        DECLARE,
        {"p": s.project_id, "input": declaration(days_ago(8), "09:00", "11:00", 2)},
        token=own,
    )["data"]["declareHours"]
    rejected = gql.region(
        "chongqing",
        DECIDE_DECLARATION,
        {"r": second["record"]["id"], "a": False, "why": "当天无此活动"},
        token=s.recorder,
    )["data"]["decideDeclaration"]
    assert rejected["record"] == {"state": "REJECTED", "stateReason": "当天无此活动"}
    assert totals(gql, s, volunteer.number)["totalHours"] == "2.00"


def test_who_may_object_follows_the_policy(gql, seed_regions):
    from central import services as central_services
    from tests.support import city_name, unique_city_code

    code = unique_city_code("53")
    strict = central_services.provision_region(
        central_services.RegionSpec(
            code,
            city_name(code),
            "city",
            f"objection{code}",
            parent_code="530000",
            preset="yunnan",
            policy_overrides={"objectionRaisers": "group_members"},
        ),
        actor="test",
    )
    s = stage(gql, strict.slug, participants=2)
    (volunteer, _), (_, member_user) = s.volunteers
    body = record(gql, s, volunteer.number, days_ago(2), "09:00", "10:00", 1)
    record_id = body["data"]["recordHours"]["record"]["id"]
    outsider = login(gql, strict.slug, register_volunteer(strict.slug, idNumber=_yn_id())[1])
    refused = gql.region(strict.slug, OBJECT, {"r": record_id, "why": "不认识此人"}, token=outsider)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    # An id with no record behind it gets the very same refusal (audit round 3).
    no_row = gql.region(
        strict.slug,
        OBJECT,
        {"r": gid(strict.slug, 10**9, "ServiceRecord"), "why": "不认识此人"},
        token=outsider,
    )
    assert no_row["errors"] == refused["errors"], (no_row, refused)
    allowed = gql.region(
        strict.slug,
        OBJECT,
        {"r": record_id, "why": "当天不在场"},
        token=login(gql, strict.slug, member_user),
    )
    assert allowed["data"]["raiseObjection"]["errors"] == []


def test_a_record_until_midnight_ends_at_the_days_last_second(gql, seed_regions):
    """22:00–23:59:59 holds 2 hours (a night shift's first day, tenants/records/cards.py):
    the last second is read as 24:00, so the record can be amended, and it travels in a
    transfer package as it is ("23:59:59", interop/package.py)."""
    s = stage(gql, "chongqing")
    volunteer, _ = s.volunteers[0]
    created = record(gql, s, volunteer.number, days_ago(2), "22:00", "23:59:59", 2)
    created = created["data"]["recordHours"]
    assert created["errors"] == [] and created["record"]["hours"] == "2.00"
    too_many = record(gql, s, volunteer.number, days_ago(3), "22:00", "23:59:58", 2)
    assert too_many["data"]["recordHours"]["errors"][0]["field"] == "hours"
    amended = gql.region(
        "chongqing",
        AMEND,
        {"r": created["record"]["id"], "c": {"content": "夜间值守"}, "why": "补充说明"},
        token=s.recorder,
    )["data"]["amendRecord"]
    assert amended["errors"] == []
    # The last second is the midnight record's: nothing else starts in it, times are whole
    # seconds, and a stretch under a minute is worth nothing — so no day tops 24 hours.
    full_day = record(gql, s, volunteer.number, days_ago(4), "00:00", "23:59:59", 24)
    assert full_day["data"]["recordHours"]["errors"] == []
    for start, end, hours, field in (
        ("23:59:59", "23:59:59.5", "0.01", "endTime"),
        ("23:59:59.1", "23:59:59.2", "0.01", "startTime"),
        ("09:00:59", "09:01:00", "0.01", "hours"),
    ):
        body = record(gql, s, volunteer.number, days_ago(5), start, end, hours)
        assert body["data"]["recordHours"]["errors"][0]["field"] == field, (start, end)
    assert totals(gql, s, volunteer.number)["totalHours"] == "26.00"
