"""Issue 4 §1, §2(a), §5, §7: projects, QR check-in/out, corrections, stars."""

from __future__ import annotations

import base64
import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from central import services as central_services
from central.divisions import division_level, divisions_within
from central.errors import Conflict, InvalidInput
from tenants.accounts import services as accounts
from tenants.audit.models import AuditEntry
from tenants.projects.models import Project, ProjectStatus
from tenants.records import cards
from tenants.records.models import CheckIn, ServiceRecord
from tenants.volunteers.models import Volunteer
from tests.records_support import (
    CREATE_PROJECT,
    RECORD,
    SUBMIT,
    VOLUNTEER_TOTALS,
    days_ago,
    entry,
    stage,
)
from tests.registry_support import authority, login, region, unique
from tests.support import city_name, execute_in_process, gid, row_key, unique_city_code

CARD = "{ myCard { code expiresAt qrPngDataUrl } }"
CHECK_IN = """mutation($p: ID!, $c: String!) { checkIn(projectId: $p, cardCode: $c)
  { errors { field code message } } }"""
CHECK_OUT = """mutation($p: ID!, $c: String!, $h: Decimal) { checkOut(projectId: $p,
  cardCode: $c, content: "帮老人打扫卫生", hours: $h) { record { id hours mode state startTime
  endTime } records { id hours mode state startTime endTime } errors { field code message } } }"""


def test_projects_publish_directly_or_after_review(gql, seed_regions):
    s = stage(gql, "chongqing", participants=0)  # the team (基本团体组) needed a review
    base = {
        "name": unique("项目"),
        "category": "ENVIRONMENT",
        "serviceTargets": "社区居民",
        "place": "江边",
        "startsOn": days_ago(1).isoformat(),
        "endsOn": days_ago(0).isoformat(),
        "quota": 5,
        "riskNotice": "注意水边安全",
        "contact": "赵",
    }
    # 003 Art.18: a major event insures its volunteers; 003 Art.9: risks are stated.
    for bad, field in (
        ({"category": "MAJOR_EVENTS"}, "insured"),
        ({"riskNotice": ""}, "riskNotice"),
        ({"quota": 0}, "quota"),
        ({"endsOn": days_ago(5).isoformat()}, "endsOn"),
    ):
        body = gql.region(
            "chongqing",
            CREATE_PROJECT,
            {"g": gid(s.slug, s.h.team), "input": {**base, **bad}},
            token=s.admin,
        )
        assert field in {e["field"] for e in body["data"]["createProject"]["errors"]}
    # The district hub (高级团体组（快审）) publishes without review (002 annex).
    district_admin = login(gql, "chongqing", s.h.admins["district"])
    created = gql.region(
        "chongqing",
        CREATE_PROJECT,
        {"g": gid(s.slug, s.h.district), "input": base},
        token=district_admin,
    )["data"]["createProject"]["project"]
    assert created["status"] == "DRAFT"
    published = gql.region("chongqing", SUBMIT, {"p": created["id"]}, token=district_admin)
    assert published["data"]["submitProject"]["project"]["status"] == "ONGOING"
    # The team's own project waits for review by its liaison group.
    team_project = gql.region(
        "chongqing", CREATE_PROJECT, {"g": gid(s.slug, s.h.team), "input": base}, token=s.admin
    )["data"]["createProject"]["project"]
    pending = gql.region("chongqing", SUBMIT, {"p": team_project["id"]}, token=s.admin)
    assert pending["data"]["submitProject"]["project"]["status"] == "PENDING_REVIEW"
    # Under review it is seen by the team's staff and its reviewers (the liaison group's
    # admins), by id and in the team's list alike; not by anyone else.
    seen = """query($g: ID!, $p: ID!) { project(id: $p) { id }
      group(id: $g) { projects { id } } }"""
    variables = {"g": gid(s.slug, s.h.team), "p": team_project["id"]}
    for token in (s.admin, district_admin):
        both = gql.region("chongqing", seen, variables, token=token)["data"]
        assert both["project"] == {"id": team_project["id"]}
        assert {"id": team_project["id"]} in both["group"]["projects"]
    anyone = gql.region("chongqing", seen, variables)["data"]
    assert anyone["project"] is None
    assert {"id": team_project["id"]} not in anyone["group"]["projects"]


def test_qr_check_in_and_out_records_the_hours_between(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    own = login(gql, "chongqing", username)
    card = gql.region("chongqing", CARD, token=own)["data"]["myCard"]
    png = base64.b64decode(card["qrPngDataUrl"].split(",", 1)[1])
    assert png.startswith(b"\x89PNG")
    import io

    import zxingcpp
    from PIL import Image

    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert decoded and decoded[0].text == card["code"]
    checked_in = gql.region(
        "chongqing", CHECK_IN, {"p": s.project_id, "c": card["code"]}, token=s.recorder
    )["data"]["checkIn"]
    assert checked_in["errors"] == []
    twice = gql.region(
        "chongqing", CHECK_IN, {"p": s.project_id, "c": card["code"]}, token=s.recorder
    )["data"]["checkIn"]
    assert twice["errors"][0]["code"] == "CONFLICT"
    # Two hours pass (the check-in is moved back). Run between 00:00 and 02:00 this is a
    # night shift: test_a_night_shift_* pins that case to fixed times.
    now = timezone.localtime()
    earlier = now - datetime.timedelta(hours=2)
    with tenant_context(region("chongqing")):
        CheckIn.objects.filter(volunteer=volunteer, checked_out_at__isnull=True).update(
            checked_in_at=earlier
        )
    too_many = gql.region(
        "chongqing",
        CHECK_OUT,
        {"p": s.project_id, "c": card["code"], "h": "2.25"},
        token=s.recorder,
    )
    assert too_many["data"]["checkOut"]["errors"][0]["field"] == "hours"
    for bad in ("NaN", "0", "-1", "1.255"):
        refused = gql.region(
            "chongqing",
            CHECK_OUT,
            {"p": s.project_id, "c": card["code"], "h": bad},
            token=s.recorder,
        )["data"]["checkOut"]
        assert [(e["field"], e["code"]) for e in refused["errors"]] == [("hours", "INVALID")], bad
    out = gql.region(
        "chongqing", CHECK_OUT, {"p": s.project_id, "c": card["code"]}, token=s.recorder
    )["data"]["checkOut"]
    assert out["errors"] == []
    assert out["record"] == out["records"][-1]
    for record in out["records"]:
        assert (record["mode"], record["state"]) == ("QR", "COUNTED")
    hours = [float(record["hours"]) for record in out["records"]]
    if earlier.date() == now.date():
        assert hours == [2.0]
        assert out["record"]["startTime"] == earlier.time().replace(microsecond=0).isoformat()
    else:  # each day's part rounded down alone: a quarter hour may be lost at midnight
        assert sum(hours) in (1.75, 2.0)  # a part under a quarter hour gives no record
        for record in out["records"]:
            assert record["endTime"] == "23:59:59" or record["startTime"] == "00:00:00"
    with tenant_context(region("chongqing")):
        closed = CheckIn.objects.get(volunteer=volunteer)
        assert closed.checked_out_at is not None
        assert gid("chongqing", closed.record_id, "ServiceRecord") == out["record"]["id"]
    # Scanned by mistake: the recorder cancels the check-in; nothing is recorded.
    variables = {"p": s.project_id, "c": card["code"]}
    again = gql.region("chongqing", CHECK_IN, variables, token=s.recorder)["data"]["checkIn"]
    assert again["errors"] == []
    cancel = """mutation($p: ID!, $c: String!) { cancelCheckIn(projectId: $p, cardCode: $c)
      { errors { field code } } }"""
    cancelled = gql.region("chongqing", cancel, variables, token=s.recorder)["data"]
    assert cancelled["cancelCheckIn"]["errors"] == []
    twice = gql.region("chongqing", cancel, variables, token=s.recorder)["data"]["cancelCheckIn"]
    assert twice["errors"] == [{"field": "cardCode", "code": "CONFLICT"}]
    stranger = gql.region("chongqing", cancel, variables, token=own)
    assert stranger["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    with tenant_context(region("chongqing")):
        assert CheckIn.objects.filter(volunteer=volunteer, record__isnull=True).count() == 1


def _at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(
        day, datetime.time(hour, minute), tzinfo=timezone.get_current_timezone()
    )


def _scanner(gql, s):
    """What check_in/check_out need, for calling them at chosen times (``now=``)."""
    target = region("chongqing")
    code = gql.region("chongqing", CARD, token=login(gql, "chongqing", s.volunteers[0][1]))
    with tenant_context(target):
        recorder = accounts.authenticate(s.recorder, target.code)
    return {
        "project_id": row_key(s.project_id),
        "code": code["data"]["myCard"]["code"],
        "principal": recorder,
        "policy": target.get_policy(),
        "region_code": target.code,
    }


def _shape(records):
    return [(r.service_date, r.start_time, r.end_time, r.hours) for r in records]


def test_a_night_shift_checks_out_as_one_record_per_day(gql, seed_regions):
    """A record lies within one day, so 22:00 → 01:40 is two: until midnight and from it."""
    s = stage(gql, "chongqing")
    scan = _scanner(gql, s)
    day = {n: days_ago(n) for n in range(2, 9)}  # once: the test may run across midnight
    night, morning = day[8], day[7]
    with tenant_context(region("chongqing")):
        cards.check_in(**scan, now=_at(night, 22))
        with pytest.raises(InvalidInput, match=r"at most 3\.50 hours"):
            cards.check_out(
                **scan, content="夜间值守", hours=Decimal("3.75"), now=_at(morning, 1, 40)
            )
        assert not ServiceRecord.objects.filter(volunteer=s.volunteers[0][0]).exists()
        created = cards.check_out(**scan, content="夜间值守", now=_at(morning, 1, 40))
        assert _shape(created) == [
            (night, datetime.time(22), datetime.time(23, 59, 59), Decimal("2.00")),
            (morning, datetime.time(0), datetime.time(1, 40), Decimal("1.50")),
        ]
        # Fewer hours, counted from the check-in onward: the first night's 2, then 0.25.
        cards.check_in(**scan, now=_at(day[6], 22))
        fewer = cards.check_out(**scan, content="", hours=Decimal("2.25"), now=_at(day[5], 1))
        assert [r.hours for r in fewer] == [Decimal("2.00"), Decimal("0.25")]
        # A day whose part is under a quarter hour gets no record.
        cards.check_in(**scan, now=_at(day[4], 23, 50))
        short = cards.check_out(**scan, content="", now=_at(day[3], 1))
        assert _shape(short) == [(day[3], datetime.time(0), datetime.time(1), Decimal("1.00"))]
        # 23:46 → 00:14: 28 minutes, but under a quarter hour on each day: nothing to record,
        # and the recorder closes the check-in without a record instead.
        stuck = cards.check_in(**scan, now=_at(day[3], 23, 46))
        with pytest.raises(InvalidInput, match="on each day"):
            cards.check_out(**scan, content="", now=_at(day[2], 0, 14))
        cards.cancel_check_in(**scan, now=_at(day[2], 0, 15))
        stuck.refresh_from_db()
        assert stuck.checked_out_at == _at(day[2], 0, 15) and stuck.record is None
        assert AuditEntry.objects.filter(action="card.check_in_cancelled", target=str(stuck.id))
        with pytest.raises(Conflict, match="not checked in"):
            cards.cancel_check_in(**scan)
        check = CheckIn.objects.filter(volunteer=s.volunteers[0][0]).order_by("id").first()
        assert check is not None
        assert check.record == created[-1]
        detail = AuditEntry.objects.filter(action="card.checked_out", target=str(check.id)).get()
        assert detail.detail["records"] == [r.id for r in created]
    # The day before midnight shows in the API as ending at its last instant.
    listed = gql.region(
        "chongqing",
        """query($n: String!) { volunteer(number: $n) { records(first: 10) { edges { node {
          serviceDate endTime hours } } } } }""",
        {"n": s.volunteers[0][0].number},
        token=s.admin,
    )["data"]["volunteer"]["records"]["edges"]
    assert {"serviceDate": night.isoformat(), "endTime": "23:59:59", "hours": "2.00"} in [
        edge["node"] for edge in listed
    ]


def test_a_forgotten_check_in_is_closed_by_the_next_one(gql, seed_regions):
    s = stage(gql, "chongqing")
    scan = _scanner(gql, s)
    volunteer = s.volunteers[0][0]
    with tenant_context(region("chongqing")):
        forgotten = cards.check_in(**scan, now=_at(days_ago(3), 9))
        # Checked out 25 hours later: nobody knows what happened; nothing is recorded.
        with pytest.raises(Conflict, match="more than 24 hours ago"):
            cards.check_out(**scan, content="", now=_at(days_ago(2), 10))
        forgotten.refresh_from_db()
        assert forgotten.checked_out_at is None
        # Within 24 hours the open check-in still stands in the way.
        with pytest.raises(Conflict, match="already checked in"):
            cards.check_in(**scan, now=_at(days_ago(2), 8))
        fresh = cards.check_in(**scan, now=_at(days_ago(2), 10))
        forgotten.refresh_from_db()
        assert forgotten.checked_out_at == _at(days_ago(2), 10) and forgotten.record is None
        assert AuditEntry.objects.filter(
            action="card.check_in_abandoned", target=str(forgotten.id)
        ).exists()
        created = cards.check_out(**scan, content="", now=_at(days_ago(2), 12))
        assert _shape(created) == [
            (days_ago(2), datetime.time(10), datetime.time(12), Decimal("2.00"))
        ]
        assert list(CheckIn.objects.filter(volunteer=volunteer, record__isnull=False)) == [fresh]
        # A project cancelled while someone is checked in (cancelProject refuses that
        # since issue 12; a row changed by hand still can be): nothing more is recorded
        # there, but the check-in can still be closed.
        open_again = cards.check_in(**scan, now=_at(days_ago(2), 13))
        Project.objects.filter(id=scan["project_id"]).update(
            status=ProjectStatus.CANCELLED,
            cancellation_reason="暴雨停办",
            cancelled_at=_at(days_ago(2), 14),
        )
        with pytest.raises(Conflict, match="cancelled"):
            cards.check_out(**scan, content="", now=_at(days_ago(2), 15))
        cards.cancel_check_in(**scan, now=_at(days_ago(2), 15))
        open_again.refresh_from_db()
        assert open_again.checked_out_at is not None and open_again.record is None


def test_card_codes_are_signed_and_rotate(gql, seed_regions):
    s = stage(gql, "chongqing")
    _, username = s.volunteers[0]
    own = login(gql, "chongqing", username)
    old = gql.region("chongqing", CARD, token=own)["data"]["myCard"]["code"]
    forged = old[:-3] + ("AAA" if not old.endswith("AAA") else "BBB")
    bad = gql.region("chongqing", CHECK_IN, {"p": s.project_id, "c": forged}, token=s.recorder)[
        "data"
    ]["checkIn"]
    assert bad["errors"][0]["field"] == "cardCode"
    rotated = gql.region(
        "chongqing", "mutation { rotateCard { card { code } errors { code } } }", token=own
    )["data"]["rotateCard"]["card"]["code"]
    stale = gql.region("chongqing", CHECK_IN, {"p": s.project_id, "c": old}, token=s.recorder)[
        "data"
    ]["checkIn"]
    assert "replaced" in stale["errors"][0]["message"]
    # A code from 重庆 is refused in 云南 even though both share the signing key.
    from tenants.records.cards import read_code

    with tenant_context(region("yunnan")), pytest.raises(InvalidInput, match="another region"):
        read_code(rotated, "530000")


CORRECTION = """mutation($g: ID!, $d: String!, $r: ID) { requestCorrection(groupId: $g,
  description: $d, recordId: $r) { request { id status dueOn overdue } errors { field code } } }"""


def test_correction_requests_amend_or_decline(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    own = login(gql, "chongqing", username)
    created = gql.region(
        "chongqing",
        RECORD,
        {
            "p": s.project_id,
            "n": volunteer.number,
            "input": entry(days_ago(2), "09:00", "10:00", 1),
        },
        token=s.recorder,
    )["data"]["recordHours"]["record"]
    asked = gql.region(
        "chongqing",
        CORRECTION,
        {"g": gid(s.slug, s.h.team), "d": "实际服务到11点", "r": created["id"]},
        token=own,
    )["data"]["requestCorrection"]["request"]
    policy = region("chongqing").get_policy()
    due = timezone.localdate() + datetime.timedelta(days=policy.correction_deadline_days)
    assert (asked["status"], asked["dueOn"], asked["overdue"]) == ("OPEN", due.isoformat(), False)
    amend = """mutation($q: ID!) { amendForCorrection(requestId: $q,
      changes: {endTime: "11:00", hours: "2"}, reason: "核对签到表属实") {
      request { status } errors { field code message } } }"""
    answered = gql.region("chongqing", amend, {"q": asked["id"]}, token=s.recorder)
    assert answered["data"]["amendForCorrection"]["request"]["status"] == "AMENDED"
    seen = gql.region("chongqing", VOLUNTEER_TOTALS, {"n": volunteer.number}, token=s.admin)
    assert seen["data"]["volunteer"]["totalHours"] == "2.00"
    again = gql.region("chongqing", amend, {"q": asked["id"]}, token=s.recorder)
    assert again["data"]["amendForCorrection"]["errors"][0]["code"] == "CONFLICT"
    missing = gql.region(
        "chongqing",
        CORRECTION,
        {"g": gid(s.slug, s.h.team), "d": "上周六的活动没有记录"},
        token=own,
    )["data"]["requestCorrection"]["request"]
    decline = """mutation($q: ID!, $why: String!) { declineCorrection(requestId: $q, reason: $why)
      { request { status decisionReason } errors { field code } } }"""
    no_reason = gql.region("chongqing", decline, {"q": missing["id"], "why": ""}, token=s.admin)[
        "data"
    ]["declineCorrection"]
    assert no_reason["errors"] == [{"field": "reason", "code": "INVALID"}]
    declined = gql.region(
        "chongqing", decline, {"q": missing["id"], "why": "当天未签到"}, token=s.admin
    )["data"]["declineCorrection"]
    assert declined["request"] == {"status": "DECLINED", "decisionReason": "当天未签到"}


STAR_APPLY = """mutation($l: Int!) { applyForStar(level: $l) { application { id level granter
  status } errors { field code message } } }"""
STAR_DECIDE = """mutation($a: ID!) { decideStarApplication(applicationId: $a, grant: true)
  { application { status } errors { code message } } }"""


def test_stars_are_granted_by_the_body_the_policy_names(gql, seed_regions):
    """001 §6 (云南 preset): 1–2★ by the county, 3–4★ by the city, 5★ by the province.
    Thresholds are lowered in a test region so a few records reach them."""
    code = unique_city_code("53")
    test_region = central_services.provision_region(
        central_services.RegionSpec(
            code,
            city_name(code),
            "city",
            f"stars{code}",
            parent_code="530000",
            preset="yunnan",
            policy_overrides={
                "starThresholds": [1, 2, 3, 4, 5],
                "publicityWorkingDays": 0,
                "recordConfirmation": "none",
            },
        ),
        actor="test",
    )
    s = stage(gql, test_region.slug)
    volunteer, username = s.volunteers[0]
    own = login(gql, test_region.slug, username)
    too_early = gql.region(test_region.slug, STAR_APPLY, {"l": 1}, token=own)["data"]
    assert too_early["applyForStar"]["errors"][0]["field"] == "level"
    gql.region(
        test_region.slug,
        RECORD,
        {
            "p": s.project_id,
            "n": volunteer.number,
            "input": entry(days_ago(2), "08:00", "11:00", 3),
        },
        token=s.recorder,
    )
    assert (
        gql.region(test_region.slug, VOLUNTEER_TOTALS, {"n": volunteer.number}, token=s.admin)[
            "data"
        ]["volunteer"]["eligibleStarLevel"]
        == 3
    )
    first = gql.region(test_region.slug, STAR_APPLY, {"l": 1}, token=own)["data"]["applyForStar"]
    assert first["application"]["granter"] == "COUNTY"
    third = gql.region(test_region.slug, STAR_APPLY, {"l": 3}, token=own)["data"]["applyForStar"]
    assert third["application"]["granter"] == "CITY"
    city = authority(gql, test_region.slug, "city")
    # 001 §6: the authority of the volunteer's own county (所在县（区）) grants 1–2★;
    # the volunteer lives in the region's first county, another county's office may not.
    counties = sorted(
        c for c in divisions_within(test_region.code) if division_level(c) == "county"
    )
    with tenant_context(test_region):
        Volunteer.objects.filter(id=volunteer.id).update(division_code=counties[0])
    county = authority(gql, test_region.slug, "county", division=counties[0])
    elsewhere = authority(gql, test_region.slug, "county", division=counties[1])
    wrong = gql.region(test_region.slug, STAR_DECIDE, {"a": first["application"]["id"]}, token=city)
    assert wrong["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    other_county = gql.region(
        test_region.slug, STAR_DECIDE, {"a": first["application"]["id"]}, token=elsewhere
    )
    assert other_county["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    granted = gql.region(
        test_region.slug, STAR_DECIDE, {"a": first["application"]["id"]}, token=county
    )["data"]["decideStarApplication"]
    assert granted["application"]["status"] == "GRANTED"
    gql.region(test_region.slug, STAR_DECIDE, {"a": third["application"]["id"]}, token=city)
    seen = gql.region(test_region.slug, VOLUNTEER_TOTALS, {"n": volunteer.number}, token=s.admin)[
        "data"
    ]["volunteer"]
    assert seen["starLevel"] == 3
    four = gql.region(test_region.slug, STAR_APPLY, {"l": 4}, token=own)["data"]["applyForStar"]
    assert four["errors"][0]["field"] == "level"  # 3 hours < 4


NESTED = """query($g: ID!) { volunteers(filter: {groupId: $g}, first: 50) { edges { node {
  number totalHours starLevel records(first: 10) { edges { node { hours state
  amendments { reason } } } } } } } }"""


def test_nested_records_are_n_plus_one_free(gql, seed_regions):
    s = stage(gql, "hubei", participants=4)
    authority_token = authority(gql, "hubei", "province")
    for index, (volunteer, _) in enumerate(s.volunteers):
        for day in range(index + 1):
            gql.region(
                "hubei",
                RECORD,
                {
                    "p": s.project_id,
                    "n": volunteer.number,
                    "input": entry(days_ago(day + 1), "09:00", "10:00", 1),
                },
                token=s.recorder,
            )

    def count_for(group_id) -> tuple[int, dict]:
        answer, statements = execute_in_process("hubei", NESTED, {"g": group_id}, authority_token)
        return len(statements), answer

    big_count, big = count_for(gid(s.slug, s.h.team))
    small = stage(gql, "hubei", participants=1)
    gql.region(
        "hubei",
        RECORD,
        {
            "p": small.project_id,
            "n": small.volunteers[0][0].number,
            "input": entry(days_ago(1), "09:00", "10:00", 1),
        },
        token=small.recorder,
    )
    small_count, small_body = count_for(gid(small.slug, small.h.team))
    assert len(big["data"]["volunteers"]["edges"]) == 4
    assert (
        sum(len(e["node"]["records"]["edges"]) for e in big["data"]["volunteers"]["edges"])
        == 1 + 2 + 3 + 4
    )
    assert len(small_body["data"]["volunteers"]["edges"]) == 1
    assert big_count == small_count, (big_count, small_count)
    assert big_count <= 10
