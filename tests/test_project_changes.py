"""Issue 12 point 9 (projects edited before publication, cancelled after;
applications withdrawn) and three of its "Also seen" fixes: hours more precise
than kept are refused, the group evaluates a self-declared record (000 Art.10),
and a record's recorder is a name. Through the real GraphQL endpoint."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import tenant_context

from tenants.records.models import ServiceRecord
from tests.records_support import RECORD, days_ago, declaration, entry, stage
from tests.registry_support import login, region
from tests.support import execute_in_process, row_key
from tests.test_records import AMEND, DECLARE

DECIDE = """mutation($r: ID!, $a: Boolean!, $why: String!, $p: Int, $t: Int, $q: Int) {
  decideDeclaration(recordId: $r, accept: $a, reason: $why, punctuality: $p, attitude: $t,
  professionalism: $q) { record { state punctuality attitude professionalism recorder }
  errors { field code message } } }"""
RECORDS_OF = """query($n: String!) { volunteer(number: $n) { records(first: 20) {
  edges { node { hours recorder punctuality } } } } }"""


def _records_of(number: str, slug: str = "chongqing") -> list[ServiceRecord]:
    """The volunteer's records as stored, with their current values resolved."""
    with tenant_context(region(slug)):
        rows = list(ServiceRecord.objects.filter(volunteer__number=number))
        for row in rows:
            row.current()
        return rows


def _refused_in_sql(statement: str, *params, slug: str = "chongqing") -> None:
    with (
        tenant_context(region(slug)),
        connection.cursor() as cursor,
        pytest.raises(DatabaseError),
        transaction.atomic(),
    ):
        cursor.execute(statement, params)


# --- Also seen: hours are refused beyond the precision kept -----------------------------


@pytest.mark.parametrize("hours", ["0.333", "1.005", "2.5000001"])
def test_hours_more_precise_than_kept_are_refused_everywhere_they_enter(gql, seed_regions, hours):
    """0.333 was stored as 0.33: now every way hours enter refuses it, naming the precision."""
    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    recorded = gql.region(
        "chongqing",
        RECORD,
        {
            "p": s.project_id,
            "n": volunteer.number,
            "input": entry(days_ago(2), "09:00", "12:00", hours),
        },
        token=s.recorder,
    )["data"]["recordHours"]
    assert recorded["record"] is None
    assert recorded["errors"][0]["field"] == "hours"
    assert recorded["errors"][0]["code"] == "INVALID"
    assert "two decimal places" in recorded["errors"][0]["message"]
    declared = gql.region(
        "chongqing",
        DECLARE,
        {"p": s.project_id, "input": declaration(days_ago(3), "09:00", "12:00", hours)},
        token=login(gql, "chongqing", username),
    )["data"]["declareHours"]
    assert declared["errors"][0]["field"] == "hours", declared
    assert _records_of(volunteer.number) == []  # nothing was stored
    kept = gql.region(
        "chongqing",
        RECORD,
        {
            "p": s.project_id,
            "n": volunteer.number,
            "input": entry(days_ago(2), "09:00", "12:00", "0.33"),
        },
        token=s.recorder,
    )["data"]["recordHours"]
    assert kept["errors"] == [] and kept["record"]["hours"] == "0.33"
    amended = gql.region(
        "chongqing",
        AMEND,
        {"r": kept["record"]["id"], "c": {"hours": hours}, "why": "核对签到表"},
        token=s.recorder,
    )["data"]["amendRecord"]
    assert amended["errors"][0]["field"] == "hours"
    assert amended["errors"][0]["code"] == "INVALID"
    assert [r.current().hours for r in _records_of(volunteer.number)] == [Decimal("0.33")]


# --- Also seen: the group evaluates a self-declared record (000 Art.10) -----------------


def test_the_group_not_the_volunteer_evaluates_a_declaration(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    own = login(gql, "chongqing", username)
    self_rated = gql.region(
        "chongqing",
        DECLARE,
        {"p": s.project_id, "input": entry(days_ago(4), "09:00", "11:00", 2)},
        token=own,
    )["data"]["declareHours"]
    assert self_rated["record"] is None
    assert {e["field"] for e in self_rated["errors"]} == {
        "punctuality",
        "attitude",
        "professionalism",
    }
    assert {e["code"] for e in self_rated["errors"]} == {"INVALID"}
    assert _records_of(volunteer.number) == []
    declared = gql.region(
        "chongqing",
        DECLARE,
        {"p": s.project_id, "input": declaration(days_ago(4), "09:00", "11:00", 2)},
        token=own,
    )["data"]["declareHours"]
    record_id = declared["record"]["id"]
    # The database holds it too: a declaration waiting for the group has no evaluation.
    _refused_in_sql(
        "UPDATE records_servicerecord SET punctuality = 5 WHERE id = %s", row_key(record_id)
    )
    decide = {"r": record_id, "a": True, "why": "", "p": 4, "t": 5, "q": 3}
    for bad in ({"p": 6}, {"t": 0}):
        refused = gql.region("chongqing", DECIDE, {**decide, **bad}, token=s.recorder)
        assert refused["data"]["decideDeclaration"]["errors"][0]["code"] == "INVALID"
    # The volunteer still cannot decide (and so rate) their own declaration.
    own_try = gql.region("chongqing", DECIDE, decide, token=own)
    assert own_try["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert _records_of(volunteer.number)[0].punctuality is None
    accepted = gql.region("chongqing", DECIDE, decide, token=s.recorder)["data"]
    record = accepted["decideDeclaration"]["record"]
    assert record["state"] == "COUNTED"
    assert (record["punctuality"], record["attitude"], record["professionalism"]) == (4, 5, 3)
    # Once decided the evaluation never changes (000 Art.23), as before.
    _refused_in_sql(
        "UPDATE records_servicerecord SET punctuality = 1 WHERE id = %s", row_key(record_id)
    )
    # A rejection gives no evaluation.
    second = gql.region(
        "chongqing",
        DECLARE,
        {"p": s.project_id, "input": declaration(days_ago(5), "09:00", "11:00", 2)},
        token=own,
    )["data"]["declareHours"]
    rejected = gql.region(
        "chongqing",
        DECIDE,
        {"r": second["record"]["id"], "a": False, "why": "当天无此活动", "p": 3},
        token=s.recorder,
    )["data"]["decideDeclaration"]
    assert rejected["errors"][0]["field"] == "punctuality"
    states = sorted(r.state for r in _records_of(volunteer.number))
    assert states == ["counted", "declared"]


# --- Also seen: the recorder is a name, never the internal actor key ---------------------


def test_a_records_recorder_is_a_name_and_costs_no_statement_per_record(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    recorded = gql.region(
        "chongqing",
        RECORD,
        {
            "p": s.project_id,
            "n": volunteer.number,
            "input": entry(days_ago(2), "09:00", "10:00", 1),
        },
        token=s.recorder,
    )["data"]["recordHours"]["record"]
    assert recorded["recorder"] == "记录员"  # the staff account's display name
    declared = gql.region(
        "chongqing",
        DECLARE,
        {"p": s.project_id, "input": declaration(days_ago(3), "09:00", "10:00", 1)},
        token=login(gql, "chongqing", username),
    )["data"]["declareHours"]["record"]
    answer, one = execute_in_process("chongqing", RECORDS_OF, {"n": volunteer.number}, s.admin)
    names = [e["node"]["recorder"] for e in answer["data"]["volunteer"]["records"]["edges"]]
    assert sorted(names) == sorted(["记录员", "the volunteer (self-declared, 本人申报)"])
    assert not any("account:" in name for name in names)
    decided = gql.region(
        "chongqing", DECIDE, {"r": declared["id"], "a": True, "why": ""}, token=s.recorder
    )["data"]["decideDeclaration"]
    assert decided["record"]["recorder"] == "记录员"
    for day in (4, 5, 6):
        gql.region(
            "chongqing",
            RECORD,
            {
                "p": s.project_id,
                "n": volunteer.number,
                "input": entry(days_ago(day), "09:00", "10:00", 1),
            },
            token=s.recorder,
        )
    answer, five = execute_in_process("chongqing", RECORDS_OF, {"n": volunteer.number}, s.admin)
    names = [e["node"]["recorder"] for e in answer["data"]["volunteer"]["records"]["edges"]]
    assert names == ["记录员"] * 5
    assert len(five) == len(one)
    # In Chinese, the self-declared label too.
    assert "account:" not in str(answer)
