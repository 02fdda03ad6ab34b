"""Issue 12 points 4 and 5: statistics for an area's authority and for central
admins, registration-target progress (004 §4.2), and the pages that chart them.

Every figure is checked against a count made here, directly, with the ORM (not
the statistics module's SQL), over a region filled by ``generate_data``.
"""

from __future__ import annotations

import datetime
import json
import re
from collections import Counter, defaultdict
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from central import services
from central.divisions import area_prefix
from central.tenancy import connection
from tenants.audit.models import AuditEntry
from tenants.groups.models import Membership, VolunteerGroup
from tenants.projects.models import Project
from tenants.records.models import ServiceRecord, VolunteerTotals
from tenants.statistics.models import DivisionPopulation, UnitStaff
from tenants.volunteers.models import Volunteer
from tenants.volunteers.services import age_band
from tests.registry_support import (
    authority,
    authority_account,
    first_county,
    login,
    register,
    register_volunteer,
    unique,
)
from tests.support import (
    admin_browser,
    city_name,
    execute_in_process,
    generated_region,
    gid,
    unique_city_code,
)
from tests.world_support import amended

STATISTICS = """query($top: Int) { statistics(topGroups: $top) { asOf
  volunteers { total registered byStatus { key label count } byVerification { key count }
    byGender { key count } byAgeBand { key count } byDivision { key label count }
    byStarLevel { key count } }
  groups { total byLevel { key count } byKind { key count } byReview { key count } }
  projects { total byStatus { key count } byCategory { key count } }
  hours { total records byMonth { key hours records } byCategory { key label hours records }
    byDivision { key hours records } byGroup { key label hours records } }
  registrationTargets { populationShare
    divisions { divisionCode name population registered share target met }
    sectors { sector label units staff registered share target met } } } }"""

FEDERATION = """{ federationStatistics(topGroups: 5) { volunteers { total registered
  byStatus { key count } byDivision { key count } } groups { total } projects { total }
  hours { total records byMonth { key hours records } byGroup { key hours } }
  regions { code volunteers registered groups hours records } } }"""

SET_POPULATION = """mutation($d: String!, $n: Int!) { setDivisionPopulation(divisionCode: $d,
  population: $n) { divisionCode population errors { field code message } } }"""
SET_UNIT = """mutation($g: ID!, $s: UnitSector!, $n: Int!) { setUnitStaff(groupId: $g,
  sector: $s, staff: $n) { group { name } sector staff errors { field code message } } }"""

REGISTERED = ("active", "warned")
# The volunteers table read as the main table of a statement (the token's account
# and the units' members only join it by key).
FULL_SCAN = "FROM volunteers_volunteer"


@pytest.fixture(scope="module")
def region(seed_regions):
    """A 随州-policy city region (004 §4.2 targets) filled with generated data, and
    one counted record amended to other hours."""
    code = unique_city_code("42")
    slug = f"stats{code}"
    region = generated_region(
        code, slug, preset="suizhou", volunteers=160, groups=6, records_per_volunteer=5, seed=12
    )
    with tenant_context(region):
        counted = (
            ServiceRecord.objects.filter(state="counted", project__isnull=False)
            .select_related("project__group")
            .order_by("id")
            .first()
        )
        assert counted is not None and counted.project is not None
        amended(
            counted,
            hours="0.25" if counted.hours != Decimal("0.25") else "0.5",
            reason="时长记错",
            policy=region.get_policy(),
        )
    return region


def direct(prefix: str = "") -> dict:
    """Every figure counted here with the ORM, inside the area of ``prefix``."""
    today = timezone.localdate()
    people = list(Volunteer.objects.filter(division_code__startswith=prefix))
    stars = dict(VolunteerTotals.objects.values_list("volunteer_id", "star_level"))
    groups = list(VolunteerGroup.objects.filter(division_code__startswith=prefix))
    approved = [g for g in groups if g.review == "approved"]
    projects = list(Project.objects.filter(group__division_code__startswith=prefix))
    hours, records = Decimal(0), 0
    month: defaultdict[str, Decimal] = defaultdict(Decimal)
    category: defaultdict[str, Decimal] = defaultdict(Decimal)
    division: defaultdict[str, Decimal] = defaultdict(Decimal)
    by_group: defaultdict[str, Decimal] = defaultdict(Decimal)
    counted = ServiceRecord.objects.filter(state="counted").select_related(
        "project__group", "volunteer"
    )
    for r in counted:
        where = r.project.group.division_code if r.project else r.volunteer.division_code
        if not where.startswith(prefix):
            continue
        h = r.current().hours
        hours += h
        records += 1
        month[r.service_date.strftime("%Y-%m")] += h
        category[(r.project.category if r.project else "imported").upper()] += h
        division[where] += h
        by_group[str(r.group_id or 0)] += h
    return {
        "total": len(people),
        "registered": sum(v.status in REGISTERED for v in people),
        "status": Counter(v.status.upper() for v in people),
        "verification": Counter(v.verification.upper() for v in people),
        "gender": Counter(v.gender.upper() for v in people),
        "age": Counter(age_band(v.birth_date, today) for v in people),
        "division": Counter(v.division_code for v in people),
        "star": Counter(str(stars.get(v.id, 0)) for v in people),
        "groups": len(approved),
        "level": Counter(g.level.upper() for g in approved),
        "kind": Counter(g.kind.upper() for g in approved),
        "review": Counter(g.review.upper() for g in groups),
        "projects": len(projects),
        "project_status": Counter(p.status.upper() for p in projects),
        "project_category": Counter(p.category.upper() for p in projects),
        "hours": hours,
        "records": records,
        # Without zeros, as ``nonzero`` reads the answers (a Counter compared so).
        **{
            name: {key: value for key, value in sums.items() if value}
            for name, sums in (
                ("month", month),
                ("category", category),
                ("hours_division", division),
                ("by_group", by_group),
            )
        },
    }


def nonzero(rows, value="count") -> Counter:
    return Counter({r["key"]: _num(r[value]) for r in rows if _num(r[value])})


def _num(value):
    return Decimal(value) if isinstance(value, str) else value


def assert_equal_to_direct(answer: dict, expected: dict) -> None:
    v, g, p, h = answer["volunteers"], answer["groups"], answer["projects"], answer["hours"]
    assert v["total"] == expected["total"] and v["registered"] == expected["registered"]
    assert nonzero(v["byStatus"]) == expected["status"]
    assert nonzero(v["byVerification"]) == expected["verification"]
    assert nonzero(v["byGender"]) == expected["gender"]
    assert nonzero(v["byAgeBand"]) == expected["age"]
    assert nonzero(v["byDivision"]) == expected["division"]
    assert nonzero(v["byStarLevel"]) == expected["star"]
    assert g["total"] == expected["groups"]
    assert nonzero(g["byLevel"]) == expected["level"]
    assert nonzero(g["byKind"]) == expected["kind"]
    assert nonzero(g["byReview"]) == expected["review"]
    assert p["total"] == expected["projects"]
    assert nonzero(p["byStatus"]) == expected["project_status"]
    assert nonzero(p["byCategory"]) == expected["project_category"]
    assert Decimal(h["total"]) == expected["hours"] and h["records"] == expected["records"]
    assert nonzero(h["byMonth"], "hours") == expected["month"]
    assert nonzero(h["byCategory"], "hours") == expected["category"]
    assert nonzero(h["byDivision"], "hours") == expected["hours_division"]
    # Asked for up to 100 groups: every group with counted hours ("0": none, transferred in).
    assert nonzero(h["byGroup"], "hours") == expected["by_group"]


def test_region_wide_authority_sees_every_figure_of_the_region(region, gql):
    token = authority(gql, region.slug)  # the city's own authority: the whole region
    answer = gql.region(region.slug, STATISTICS, {"top": 100}, token=token)
    assert "errors" not in answer, answer
    stats = answer["data"]["statistics"]
    with tenant_context(region):
        expected = direct()
        as_first_recorded = sum(
            ServiceRecord.objects.filter(state="counted").values_list("hours", flat=True),
            Decimal(0),
        )
    assert stats["hours"]["records"] > 0 and stats["volunteers"]["total"] == 160
    assert_equal_to_direct(stats, expected)
    # The amendment's hours count, not the record's own (ServiceRecord.current).
    assert expected["hours"] != as_first_recorded
    assert stats["asOf"] == timezone.localdate().isoformat()
    # Enum keys are the API's enums, every value listed (zero included), in Chinese.
    assert [r["key"] for r in stats["volunteers"]["byStatus"]] == [
        "ACTIVE",
        "WARNED",
        "CANCELLED",
        "TRANSFERRED",
    ]
    assert stats["volunteers"]["byStatus"][0]["label"] == "正常"
    assert stats["hours"]["byGroup"] == sorted(
        stats["hours"]["byGroup"], key=lambda r: -Decimal(r["hours"])
    )


def test_a_county_authority_sees_its_county_only(region, gql):
    county = first_county(region.code)
    with tenant_context(region):
        if not Volunteer.objects.filter(division_code=county).exists():
            county = Volunteer.objects.order_by("division_code").values_list(
                "division_code", flat=True
            )[0]
    token = authority(gql, region.slug, "county", division=county)
    stats = gql.region(region.slug, STATISTICS, {"top": 100}, token=token)["data"]["statistics"]
    with tenant_context(region):
        expected = direct(area_prefix(county))
        everyone = Volunteer.objects.count()
    assert 0 < stats["volunteers"]["total"] < everyone
    assert_equal_to_direct(stats, expected)
    assert {r["key"] for r in stats["volunteers"]["byDivision"]} == {county}


def test_statistics_are_refused_to_everyone_but_an_authority(region, gql, seed_regions):
    assert gql.region(region.slug, STATISTICS)["errors"][0]["extensions"]["code"] == (
        "UNAUTHENTICATED"
    )
    _volunteer, username = register_volunteer(region.slug)
    volunteer = login(gql, region.slug, username)
    denied = gql.region(region.slug, STATISTICS, token=volunteer)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert denied["data"] is None
    with tenant_context(region):
        hub = VolunteerGroup.objects.filter(kind="hub", level="district").first()
    _group, admin = register(
        region.slug, unique("测统计单位") + "志愿服务队", "non_hub", "district", liaison=hub
    )
    staff = gql.region(region.slug, STATISTICS, token=login(gql, region.slug, admin))
    assert staff["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    # Another region's authority token is no one here.
    other = authority(gql, "chongqing")
    foreign = gql.region(region.slug, STATISTICS, token=other)
    assert foreign["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_the_statistics_cost_a_fixed_number_of_statements(region, gql):
    """One statement per figure family, whatever the number of divisions or groups."""
    token = authority(gql, region.slug)
    small, small_sql = execute_in_process(region.slug, STATISTICS, {"top": 1}, token)
    large, large_sql = execute_in_process(region.slug, STATISTICS, {"top": 100}, token)
    assert "errors" not in small and "errors" not in large
    assert len(small_sql) == len(large_sql) == 11, large_sql
    # host, token, roles; volunteer cells, birthdays on an age band's edge, groups,
    # projects, hours, group names, populations, units: nothing per division or per
    # group, and neither records nor volunteers read row by row (issue 14 point 5:
    # the cells, tests/test_statistics_cells.py).
    family = [s for s in large_sql if "GROUPING SETS" in s]
    assert len(family) == 2
    assert not [s for s in large_sql if "records_servicerecord" in s or FULL_SCAN in s]


def _counties() -> list[str]:
    """The counties (not the region's own code) where generated volunteers live."""
    lived = set(Volunteer.objects.values_list("division_code", flat=True))
    return sorted(c for c in lived if not c.endswith("00"))


def test_population_target_progress(region, gql):
    """004 §4.2: 注册志愿者人数占常住人口比例 13 %, per division the authority entered."""
    city = authority(gql, region.slug)
    with tenant_context(region):
        counties = _counties()
    county = counties[0]
    answer = gql.region(region.slug, SET_POPULATION, {"d": county, "n": 200}, token=city)
    assert answer["data"]["setDivisionPopulation"] == {
        "divisionCode": county,
        "population": 200,
        "errors": [],
    }
    # Changing it is one more audited change of the same row.
    gql.region(region.slug, SET_POPULATION, {"d": county, "n": 300}, token=city)
    gql.region(region.slug, SET_POPULATION, {"d": region.code, "n": 5000}, token=city)
    stats = gql.region(region.slug, STATISTICS, token=city)["data"]["statistics"]
    targets = stats["registrationTargets"]
    assert targets["populationShare"] == 0.13
    with tenant_context(region):
        in_county = Volunteer.objects.filter(division_code=county, status__in=REGISTERED).count()
        everyone = Volunteer.objects.filter(status__in=REGISTERED).count()
        audit = list(
            AuditEntry.objects.filter(action="statistics.population", target=county).order_by("id")
        )
        assert DivisionPopulation.objects.get(division_code=county).population == 300
    rows = {d["divisionCode"]: d for d in targets["divisions"]}
    assert rows[county]["registered"] == in_county
    assert rows[county]["share"] == pytest.approx(in_county / 300)
    assert rows[county]["met"] == (in_county / 300 >= 0.13)
    assert rows[region.code]["registered"] == everyone
    assert rows[region.code]["population"] == 5000
    assert [(a.detail["previous"], a.detail["now"]) for a in audit] == [(None, 200), (200, 300)]


@pytest.mark.parametrize(
    ("division", "population", "code", "field"),
    [
        ("COUNTY", 0, "INVALID", "population"),
        ("COUNTY", -5, "INVALID", "population"),
        ("12345", 100, "INVALID", "divisionCode"),
        ("500103", 100, "INVALID", "divisionCode"),  # 重庆's: not in this region
    ],
)
def test_bad_population_input_is_refused_and_writes_nothing(
    region, gql, division, population, code, field
):
    city = authority(gql, region.slug)
    division = first_county(region.code) if division == "COUNTY" else division
    with tenant_context(region):
        before = list(DivisionPopulation.objects.values_list("division_code", "population"))
        entries = AuditEntry.objects.count()
    answer = gql.region(region.slug, SET_POPULATION, {"d": division, "n": population}, token=city)
    errors = answer["data"]["setDivisionPopulation"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [(code, field)], errors
    with tenant_context(region):
        assert list(DivisionPopulation.objects.values_list("division_code", "population")) == before
        assert AuditEntry.objects.count() == entries


def test_population_outside_the_area_and_for_non_authorities_is_refused(region, gql):
    with tenant_context(region):
        counties = _counties()
    mine, theirs = counties[0], counties[-1]
    assert mine != theirs
    county = authority(gql, region.slug, "county", division=mine)
    refused = gql.region(region.slug, SET_POPULATION, {"d": theirs, "n": 10}, token=county)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    _volunteer, username = register_volunteer(region.slug)
    volunteer = login(gql, region.slug, username)
    refused = gql.region(region.slug, SET_POPULATION, {"d": mine, "n": 10}, token=volunteer)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    anonymous = gql.region(region.slug, SET_POPULATION, {"d": mine, "n": 10})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    with tenant_context(region):
        assert not DivisionPopulation.objects.filter(division_code=theirs).exists()


def test_sector_target_progress(region, gql):
    """004 §4.2: 全国/省级/市级文明单位 95/90/85 %, 其他单位 80 % of their staff."""
    city = authority(gql, region.slug)
    with tenant_context(region):
        teams = list(
            VolunteerGroup.objects.filter(review="approved", kind="non_hub").order_by("id")[:2]
        )
        members = [
            Membership.objects.filter(
                group=t, status="active", volunteer__status__in=REGISTERED
            ).count()
            for t in teams
        ]
    assert len(teams) == 2 and members[0] > 1
    first = gql.region(
        region.slug,
        SET_UNIT,
        {"g": gid(region.slug, teams[0]), "s": "NATIONAL", "n": 1000},
        token=city,
    )["data"]["setUnitStaff"]
    assert first["errors"] == [] and first["sector"] == "NATIONAL" and first["staff"] == 1000
    # A unit's team counts up to its staff: more members than staff is 100 %.
    gql.region(
        region.slug,
        SET_UNIT,
        {"g": gid(region.slug, teams[1]), "s": "NATIONAL", "n": 1},
        token=city,
    )
    stats = gql.region(region.slug, STATISTICS, token=city)["data"]["statistics"]
    sectors = {s["sector"]: s for s in stats["registrationTargets"]["sectors"]}
    assert list(sectors) == ["NATIONAL", "PROVINCIAL", "MUNICIPAL", "OTHER"]
    national = sectors["NATIONAL"]
    assert (national["units"], national["staff"]) == (2, 1001)
    assert national["registered"] == members[0] + min(members[1], 1)
    assert national["target"] == 0.95 and national["met"] is False
    assert national["label"] == "全国文明单位"
    assert sectors["OTHER"]["target"] == 0.80 and sectors["OTHER"]["share"] is None
    with tenant_context(region):
        assert UnitStaff.objects.get(group=teams[0]).staff == 1000
        entry = AuditEntry.objects.filter(action="statistics.unit_staff").order_by("-id")[1]
        assert entry.target == str(teams[0].id) and entry.detail["staff"] == 1000


def test_bad_unit_staff_input_is_refused(region, gql):
    city = authority(gql, region.slug)
    with tenant_context(region):
        team = VolunteerGroup.objects.filter(review="approved").order_by("id").first()
        assert team is not None
    for variables, code, field in [
        ({"g": gid(region.slug, team), "s": "OTHER", "n": 0}, "INVALID", "staff"),
        ({"g": "not-an-id", "s": "OTHER", "n": 10}, "INVALID", "groupId"),
        ({"g": gid("chongqing", team), "s": "OTHER", "n": 10}, "NOT_FOUND", "groupId"),
    ]:
        answer = gql.region(region.slug, SET_UNIT, variables, token=city)
        errors = answer["data"]["setUnitStaff"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [(code, field)], answer
    bad_enum = gql.post(
        f"{region.slug}.localhost",
        SET_UNIT,
        {"g": gid(region.slug, team), "s": "GALACTIC", "n": 10},
        token=city,
    )
    assert bad_enum.status_code == 200 and bad_enum.json()["errors"]
    # A county authority, for a group registered at the city (generated groups are).
    assert len(team.division_code) == 6 and team.division_code.endswith("00")
    county = authority(gql, region.slug, "county", division=first_county(region.code))
    refused = gql.region(
        region.slug, SET_UNIT, {"g": gid(region.slug, team), "s": "OTHER", "n": 10}, token=county
    )
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    with tenant_context(region):
        assert not UnitStaff.objects.filter(group=team, sector="other", staff=10).exists()


def test_federation_statistics_sum_the_regions(region, gql, central_admin):
    answer = gql.central(FEDERATION, token=central_admin["token"])
    assert "errors" not in answer, answer
    stats = answer["data"]["federationStatistics"]
    total, hours, records, registered = 0, Decimal(0), 0, 0
    months: Counter = Counter()
    per_region = {r["code"]: r for r in stats["regions"]}
    for each in services.regions("active"):
        with tenant_context(each):
            expected = direct()
        assert per_region[each.code]["volunteers"] == expected["total"], each.code
        assert Decimal(per_region[each.code]["hours"]) == expected["hours"], each.code
        total += expected["total"]
        registered += expected["registered"]
        hours += expected["hours"]
        records += expected["records"]
        months.update(expected["month"])
    assert stats["volunteers"]["total"] == total
    assert stats["volunteers"]["registered"] == registered
    assert Decimal(stats["hours"]["total"]) == hours and stats["hours"]["records"] == records
    assert nonzero(stats["hours"]["byMonth"], "hours") == months
    assert all(":" in g["key"] for g in stats["hours"]["byGroup"])


def test_federation_statistics_never_join_two_regions(region, seed_regions):
    """Each statement runs under one region's search_path and names no schema
    (the guard of tests/test_one_region_per_statement.py, issue 14 point 4)."""
    from django.test.utils import CaptureQueriesContext

    from central.region_guard import one_region_per_statement
    from tenants.statistics.selectors import federation_statistics

    regions = list(services.regions("active"))
    with CaptureQueriesContext(connection) as captured, one_region_per_statement():
        federation_statistics(regions)
    connection.set_schema_to_public()
    sql = [q["sql"] for q in captured.captured_queries]
    switches = [s for s in sql if s.startswith("SET search_path")]
    assert len(switches) >= len(regions)
    assert not any("region_" in s for s in sql if not s.startswith("SET search_path"))


def test_federation_statistics_are_for_central_admins_only(region, gql):
    anonymous = gql.central(FEDERATION)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    forged = gql.central(FEDERATION, token="not-a-token")
    assert forged["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    # A region's authority token means nothing on central.
    regional = gql.central(FEDERATION, token=authority(gql, region.slug))
    assert regional["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert regional["data"] is None


def test_an_empty_region_has_zero_figures(seed_regions, gql):
    code = unique_city_code("42")
    slug = f"empty{code}"
    services.provision_region(services.RegionSpec(code, city_name(code), "city", slug), actor="t")
    stats = gql.region(slug, STATISTICS, token=authority(gql, slug))["data"]["statistics"]
    assert stats["volunteers"]["total"] == 0 and stats["hours"]["total"] in ("0", "0.00")
    assert all(r["count"] == 0 for r in stats["volunteers"]["byStatus"])
    assert stats["registrationTargets"]["populationShare"] is None
    assert stats["hours"]["byMonth"] == [] and stats["volunteers"]["byDivision"] == []
    assert datetime.date.fromisoformat(stats["asOf"]) == timezone.localdate()


# -- the pages (point 5) ---------------------------------------------------------------


def embedded(page, name: str = "statistics-figures"):
    """What a page's ``json_script`` carries."""
    pattern = rf'<script id="{name}" type="application/json">(.*?)</script>'
    found = re.search(pattern, page.text, re.S)
    assert found, page.text[:500]
    return json.loads(found.group(1))  # json_script escapes <, > and & as \uXXXX


def assert_shows(api, page, path: str = "") -> None:
    """Every field the API answered is on the page with the same value."""
    if isinstance(api, dict):
        for key, value in api.items():
            assert key in page, f"{path}.{key}"
            assert_shows(value, page[key], f"{path}.{key}")
    elif isinstance(api, list):
        assert len(api) == len(page), path
        for i, (a, p) in enumerate(zip(api, page, strict=True)):
            assert_shows(a, p, f"{path}[{i}]")
    else:
        assert api == page, (path, api, page)


def test_the_region_page_charts_the_apis_figures_for_an_authority(region, gql, server):
    from tests.test_region_admin import AdminSession

    session = AdminSession(server, region.slug)
    anonymous = session.get("/admin/statistics/")
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous.headers["location"]
    username = authority_account(region.slug)
    assert session.login(username).status_code == 302
    page = session.http.get("/admin/statistics/", headers={"Accept-Language": "zh-Hans"})
    assert page.status_code == 200
    api = gql.region(region.slug, STATISTICS, {"top": 20}, token=login(gql, region.slug, username))
    figures = embedded(page)
    assert_shows(api["data"]["statistics"], figures)
    # The headline figures are the same numbers, and the page is Chinese first.
    for name, value in [
        ("volunteers", figures["volunteers"]["total"]),
        ("hours", figures["hours"]["total"]),
    ]:
        assert f'id="figure-{name}">{value}</span>' in page.text
    assert 'lang="zh-hans"' in page.text and "志愿服务统计" in page.text
    assert "按状态统计志愿者" in page.text  # a chart's title, in the charts' JSON
    assert "/static/echarts/echarts.min.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    english = session.http.get("/admin/statistics/")
    assert "volunteer-service statistics" in english.text


def test_a_county_authoritys_page_shows_its_county(region, gql, server):
    from tests.test_region_admin import AdminSession

    with tenant_context(region):
        county = _counties()[0]
    username = authority_account(region.slug, "county", division=county)
    session = AdminSession(server, region.slug)
    session.login(username)
    figures = embedded(session.get("/admin/statistics/"))
    api = gql.region(region.slug, STATISTICS, {"top": 20}, token=login(gql, region.slug, username))
    assert_shows(api["data"]["statistics"], figures)
    assert {r["key"] for r in figures["volunteers"]["byDivision"]} == {county}


def test_the_region_page_is_refused_to_others(region, server):
    from tests.test_region_admin import AdminSession

    session = AdminSession(server, region.slug)
    _volunteer, username = register_volunteer(region.slug)
    session.login(username)  # refused: not authority staff
    assert session.get("/admin/statistics/").status_code == 302
    # Another region's authority session is nothing here.
    other = AdminSession(server, "chongqing")
    assert other.login(authority_account("chongqing")).status_code == 302
    cookies = dict(other.http.cookies)
    stranger = AdminSession(server, region.slug)
    stranger.http.cookies.update(cookies)
    refused = stranger.get("/admin/statistics/")
    assert refused.status_code == 302 and "figure-volunteers" not in refused.text


def test_the_central_page_charts_the_federation(region, gql, server, central_admin):
    anonymous = httpx.get(f"{server.base_url}/admin/statistics/", headers={"Host": "localhost"})
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous.headers["location"]
    browser = admin_browser(server.base_url)
    page = browser.get("/admin/statistics/")
    assert page.status_code == 200
    figures = embedded(page)
    query = FEDERATION.replace("topGroups: 5", "topGroups: 20")
    api = gql.central(query, token=central_admin["token"])["data"]["federationStatistics"]
    assert_shows(api, figures)
    assert region.code in {r["code"] for r in figures["regions"]}
    charts = embedded(page, "statistics-charts")
    assert [c["path"] for c in charts[:2]] == ["regions", "regions"]
