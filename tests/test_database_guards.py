"""Issue 10 findings 9 and 10: dates within bounds, and a database that keeps
protected rows as they are even against plain SQL.

The SQL tests run each statement in a transaction that is always rolled back, so a
statement the database wrongly lets through (the old code) changes nothing for the
other tests sharing the region.
"""

from __future__ import annotations

import datetime

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from central.errors import InvalidInput
from tenants.projects.models import Project
from tenants.records import cards
from tenants.records.models import CheckIn, ServiceRecord
from tenants.volunteers.models import PersonalInfoAccess
from tests.records_support import (
    CREATE_PROJECT,
    REVIEW_PROJECT,
    SUBMIT,
    days_ago,
    declaration,
    entry,
    stage,
)
from tests.registry_support import login, region, unique
from tests.support import gid, row_key
from tests.test_records import DECIDE_DECLARATION, DECLARE, OBJECT, RESOLVE, record
from tests.test_time_recording import CARD, CHECK_IN, _at, _scanner


class _RolledBack(Exception):
    pass


def attempt(sql: str) -> str | None:
    """Run ``sql`` and roll it back whatever happens: the database's refusal, or None."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
            raise _RolledBack
    except _RolledBack:
        return None
    except DatabaseError as error:
        return str(error)


# --- finding 10: append-only tables refuse TRUNCATE -----------------------------------


@pytest.mark.parametrize(
    "table",
    [
        "audit_auditentry",
        "records_servicerecord",
        "records_amendment",
        "volunteers_personalinfoaccess",
        "recognition_training",
        "recognition_award",
        "recognition_complaint",
    ],
)
def test_truncate_of_a_protected_table_is_refused(seed_regions, table):
    schema = region("chongqing").schema_name
    refused = attempt(f"TRUNCATE {schema}.{table} CASCADE")
    assert refused is not None, f"TRUNCATE {table} went through"
    assert f"TRUNCATE of {table} refused" in refused


def test_the_personal_info_access_log_is_append_only(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, _ = s.volunteers[0]
    target = region("chongqing")
    with tenant_context(target):
        reveal = PersonalInfoAccess.objects.create(
            volunteer=volunteer, accessor="test:guards", fields=["phone"], reason="核实身份"
        )
    table = f"{target.schema_name}.volunteers_personalinfoaccess"
    for sql in (
        f"UPDATE {table} SET accessor = 'nobody' WHERE id = {reveal.id}",
        f"DELETE FROM {table} WHERE id = {reveal.id}",
    ):
        refused = attempt(sql)
        assert refused is not None and "append-only" in refused, sql


# --- finding 10: a record changes only along its lifecycle ----------------------------


def test_a_rejected_record_never_becomes_counted(gql, seed_regions):
    s = stage(gql, "chongqing")
    _, username = s.volunteers[0]
    own = login(gql, "chongqing", username)
    declared = gql.region(
        "chongqing",
        DECLARE,
        {"p": s.project_id, "input": declaration(days_ago(3), "09:00", "10:00", 1)},
        token=own,
    )["data"]["declareHours"]
    record_id = declared["record"]["id"]
    rejected = gql.region(
        "chongqing",
        DECIDE_DECLARATION,
        {"r": record_id, "a": False, "why": "当天无此活动"},
        token=s.recorder,
    )["data"]["decideDeclaration"]
    assert rejected["record"]["state"] == "REJECTED"
    table = f"{region('chongqing').schema_name}.records_servicerecord"
    for sql in (
        f"UPDATE {table} SET state = 'counted', hours = 23.5, counted_at = now() "
        f"WHERE id = {row_key(record_id)}",
        f"UPDATE {table} SET state = 'declared' WHERE id = {row_key(record_id)}",
        f"UPDATE {table} SET state_reason = '' WHERE id = {row_key(record_id)}",
    ):
        refused = attempt(sql)
        assert refused is not None and "is rejected: that is final" in refused, sql


def test_a_record_in_publicity_keeps_its_facts_and_its_lifecycle(gql, seed_regions):
    s = stage(gql, "yunnan")  # 云南: 3 working days of publicity (001 §4(4)3)
    volunteer, _ = s.volunteers[0]
    body = record(gql, s, volunteer.number, days_ago(2), "09:00", "11:00", 2)
    assert body["data"]["recordHours"]["record"]["state"] == "IN_PUBLICITY", body
    record_id = body["data"]["recordHours"]["record"]["id"]
    table = f"{region('yunnan').schema_name}.records_servicerecord"
    for sql, message in (
        (f"UPDATE {table} SET hours = 1.5", "are never changed: add an amendment"),
        (f"UPDATE {table} SET service_date = service_date - 1", "are never changed"),
        (f"UPDATE {table} SET start_time = '08:00', hours = 3", "are never changed"),
        (f"UPDATE {table} SET state = 'counted'", "counts: say when"),
        (f"UPDATE {table} SET state = 'declared'", "cannot go from in_publicity to declared"),
        (f"UPDATE {table} SET state = 'void'", "cannot go from in_publicity to void"),
        (f"UPDATE {table} SET publicity_ends_on = '2999-01-01'", "is set once"),
        (f"UPDATE {table} SET recorder = 'someone else'", "recorder of record"),
    ):
        refused = attempt(f"{sql} WHERE id = {row_key(record_id)}")
        assert refused is not None and message in refused, sql
    with tenant_context(region("yunnan")):
        kept = ServiceRecord.objects.get(id=row_key(record_id))
    assert (kept.hours, kept.state, kept.service_date) == (2, "in_publicity", days_ago(2))


# --- finding 9: dates within bounds, over the API --------------------------------------


def test_a_record_dated_year_one_is_refused_and_written_nowhere(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, _ = s.volunteers[0]
    with tenant_context(region("chongqing")):
        count = ServiceRecord.objects.filter(volunteer=volunteer).count()
    for day in (datetime.date(1, 1, 1), datetime.date(1900, 1, 1)):
        payload = record(gql, s, volunteer.number, day, "09:00", "10:00", 1)["data"]["recordHours"]
        assert payload["record"] is None
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [
            ("serviceDate", "INVALID")
        ], payload
    with tenant_context(region("chongqing")):
        assert ServiceRecord.objects.filter(volunteer=volunteer).count() == count


def test_the_date_floor_holds_in_the_database(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, _ = s.volunteers[0]
    body = record(gql, s, volunteer.number, days_ago(2), "09:00", "10:00", 1)
    record_id = body["data"]["recordHours"]["record"]["id"]
    schema = region("chongqing").schema_name
    # A copy of the record, dated year one, straight into the table.
    refused = attempt(
        f"INSERT INTO {schema}.records_servicerecord (volunteer_id, group_id, project_id, "
        "project_name, service_date, start_time, end_time, hours, place, service_target, "
        "content, contact, mode, recorder, state, state_reason, confirmed_by, created_at, "
        "origin_region_code, origin_record_id, origin_group_name, origin_recorder, "
        "origin_region_name, origin_confirmed_by) "
        "SELECT volunteer_id, NULL, NULL, project_name, '0001-01-01', start_time, end_time, "
        "hours, place, service_target, content, contact, 'imported', recorder, 'in_publicity', "
        "'', '', now(), '', '', '', '', '', '' "
        f"FROM {schema}.records_servicerecord WHERE id = {row_key(record_id)}"
    )
    assert refused is not None and "record_service_date_plausible" in refused


def test_a_date_outside_the_project_or_in_the_future_is_refused(gql, seed_regions):
    s = stage(gql, "chongqing")  # the project runs from 30 days ago to 30 days ahead
    volunteer, _ = s.volunteers[0]
    today = timezone.localdate()  # at run time, not collection time
    for day in (days_ago(31), days_ago(200), today + datetime.timedelta(days=2)):
        payload = record(gql, s, volunteer.number, day, "09:00", "10:00", 1)["data"]["recordHours"]
        assert payload["record"] is None
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [
            ("serviceDate", "INVALID")
        ], (day, payload)
    outside = record(gql, s, volunteer.number, days_ago(31), "09:00", "10:00", 1)
    assert "outside the project's dates" in outside["data"]["recordHours"]["errors"][0]["message"]
    with tenant_context(region("chongqing")):
        assert not ServiceRecord.objects.filter(volunteer=volunteer).exists()
    # The project's first day is fine.
    first = record(gql, s, volunteer.number, days_ago(30), "09:00", "10:00", 1)
    assert first["data"]["recordHours"]["errors"] == []


def _ended_project(gql, s) -> str:
    """A project of the stage's team that ran from 10 to 2 days ago."""
    created = gql.region(
        s.slug,
        CREATE_PROJECT,
        {
            "g": gid(s.slug, s.h.team),
            "input": {
                "name": unique("已结束的项目"),
                "category": "COMMUNITY_SERVICE",
                "serviceTargets": "社区居民",
                "place": "社区服务中心",
                "startsOn": days_ago(10).isoformat(),
                "endsOn": days_ago(2).isoformat(),
                "quota": 10,
                "riskNotice": "注意交通安全",
                "contact": "钱联系",
            },
        },
        token=s.admin,
    )["data"]["createProject"]
    assert created["errors"] == [], created
    project_id = created["project"]["id"]
    submitted = gql.region(s.slug, SUBMIT, {"p": project_id}, token=s.admin)["data"]
    if submitted["submitProject"]["project"]["status"] == "PENDING_REVIEW":
        district = login(gql, s.slug, s.h.admins["district"])
        reviewed = gql.region(
            s.slug, REVIEW_PROJECT, {"p": project_id, "a": True, "r": ""}, token=district
        )["data"]["reviewProject"]
        assert reviewed["project"]["status"] == "ENDED", reviewed
    return project_id


def test_check_in_at_an_ended_project_is_refused(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    ended = _ended_project(gql, s)
    code = gql.region("chongqing", CARD, token=login(gql, "chongqing", username))["data"]
    refused = gql.region(
        "chongqing", CHECK_IN, {"p": ended, "c": code["myCard"]["code"]}, token=s.recorder
    )["data"]["checkIn"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("projectId", "INVALID")]
    assert "ended on" in refused["errors"][0]["message"]
    with tenant_context(region("chongqing")):
        assert not CheckIn.objects.filter(volunteer=volunteer).exists()
    # Hours within its dates are still recorded by hand.
    by_hand = gql.region(
        "chongqing",
        """mutation($p: ID!, $n: String!, $input: RecordInput!) { recordHours(projectId: $p,
          number: $n, input: $input) { record { id } errors { field code message } } }""",
        {"p": ended, "n": volunteer.number, "input": entry(days_ago(3), "09:00", "10:00", 1)},
        token=s.recorder,
    )["data"]["recordHours"]
    assert by_hand["errors"] == [], by_hand


def test_check_in_before_the_start_and_check_out_past_the_end_are_refused(gql, seed_regions):
    """Dates pinned (``now=``) around the project's own first and last day."""
    s = stage(gql, "chongqing")
    scan = _scanner(gql, s)
    volunteer = s.volunteers[0][0]
    with tenant_context(region("chongqing")):
        project = Project.objects.get(id=scan["project_id"])
        before = project.starts_on - datetime.timedelta(days=1)
        with pytest.raises(InvalidInput, match="starts on") as caught:
            cards.check_in(**scan, now=_at(before, 9))
        assert caught.value.problems[0].field == "projectId"
        last = project.ends_on
        cards.check_in(**scan, now=_at(last, 22))
        with pytest.raises(InvalidInput, match="outside the project's dates") as caught:
            cards.check_out(**scan, content="夜间值守", now=_at(last + datetime.timedelta(1), 1))
        assert caught.value.problems[0].field == "projectId"
        assert not ServiceRecord.objects.filter(volunteer=volunteer).exists()
        assert CheckIn.objects.get(volunteer=volunteer).checked_out_at is None
        # Within the last day it records as usual.
        created = cards.check_out(**scan, content="夜间值守", now=_at(last, 23))
        assert [(r.service_date, r.hours) for r in created] == [(last, 1)]


def test_an_objection_answered_after_the_record_was_voided_leaves_it_void(gql, seed_regions):
    """Two objections; the first upheld voids the record. Answering the second must not
    bring it back to publicity (void is final; the trigger would refuse it anyway)."""
    s = stage(gql, "yunnan")
    volunteer, _ = s.volunteers[0]
    body = record(gql, s, volunteer.number, days_ago(4), "09:00", "11:00", 2)
    record_id = body["data"]["recordHours"]["record"]["id"]
    raised = [
        gql.region("yunnan", OBJECT, {"r": record_id, "why": why}, token=s.admin)["data"][
            "raiseObjection"
        ]["objectionId"]
        for why in ("重复记录", "时长有误")
    ]
    upheld = gql.region(
        "yunnan", RESOLVE, {"o": raised[0], "u": True, "why": "与另一条记录重复"}, token=s.admin
    )["data"]["resolveObjection"]
    assert upheld["record"]["state"] == "VOID"
    dismissed = gql.region(
        "yunnan", RESOLVE, {"o": raised[1], "u": False, "why": "已作废，无需处理"}, token=s.admin
    )["data"]["resolveObjection"]
    assert dismissed["errors"] == [] and dismissed["record"] == {
        "state": "VOID",
        "stateReason": "与另一条记录重复",
    }
