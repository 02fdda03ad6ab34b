"""Issue 13 point 6: ``/readyz`` checks the database, every schema's migrations and
the working-day calendar for the years publicity periods reach; ``manage.py
check`` warns ahead of time when the calendar lacks a year a region needs."""

from __future__ import annotations

import datetime
import subprocess
import sys

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from central import services
from central.policy import RegionPolicy
from central.readiness import calendar_gaps
from tenants.records.workdays import year_known
from tests.support import (
    REPO,
    PlatformServer,
    child_env,
    city_name,
    platform_database_url,
    unique_city_code,
)
from tests.test_up import fresh_database  # noqa: F401  (a fixture)

D = datetime.date
TODAY = timezone.localdate()
# The first year from this one on that the installed chinesecalendar does not know.
UNKNOWN = next(year for year in range(TODAY.year, TODAY.year + 50) if not year_known(year))
# Days from today to well inside that year: a horizon that reaches it.
REACHING = (D(UNKNOWN, 1, 10) - TODAY).days


def test_calendar_gaps_are_the_unknown_years_a_region_counts_in_without_its_own_list():
    eve = D(UNKNOWN - 1, 12, 1)
    three = RegionPolicy(publicity_working_days=3)
    # A 3-working-day period put up on 1 December ends that month: nothing needed yet…
    assert calendar_gaps([("甲", three)], eve, 0) == {}
    # …but looking 61 days ahead (the system check) reaches the unknown year.
    assert calendar_gaps([("甲", three)], eve, 61) == {UNKNOWN: ["甲"]}
    # Put up on 30 December, the period itself runs into January.
    assert calendar_gaps([("甲", three)], D(UNKNOWN - 1, 12, 30), 0) == {UNKNOWN: ["甲"]}
    # A region that lists days of that year has taken charge of it.
    listed = RegionPolicy(publicity_working_days=3, extra_holidays=[D(UNKNOWN, 1, 1)])
    assert calendar_gaps([("甲", three), ("乙", listed)], eve, 61) == {UNKNOWN: ["甲"]}
    # A region without publicity never counts working days.
    assert calendar_gaps([("丙", RegionPolicy(publicity_working_days=0))], eve, 400) == {}


def _region_with_publicity(slug_prefix: str):
    code = unique_city_code("14")
    spec = services.RegionSpec(
        code,
        city_name(code),
        "city",
        f"{slug_prefix}{code}",
        policy_overrides={"publicityWorkingDays": 3},
    )
    region = services.provision_region(spec, actor="test")
    return region, f"{region.name} ({region.code})"


def _list_unknown_year(region) -> None:
    services.update_region_policy(
        region.code, {"extraHolidays": [f"{UNKNOWN}-01-01"]}, actor="test"
    )


@pytest.fixture(scope="module")
def calendar_server(seed_regions):
    """Readiness that looks far enough ahead to reach the unknown year, uncached."""
    env = {"PLATFORM_READYZ_CACHE_SECONDS": "0", "PLATFORM_CALENDAR_READY_DAYS": str(REACHING)}
    with PlatformServer(platform_database_url(), env=env) as running:
        yield running


@pytest.fixture(scope="module")
def plain_server(seed_regions):
    """Readiness without the calendar (a negative horizon), uncached."""
    env = {"PLATFORM_READYZ_CACHE_SECONDS": "0", "PLATFORM_CALENDAR_READY_DAYS": "-1"}
    with PlatformServer(platform_database_url(), env=env) as running:
        yield running


def test_readyz_fails_naming_a_region_without_the_calendar_until_it_lists_the_year(
    calendar_server,
):
    region, label = _region_with_publicity("rdy")
    answer = httpx.get(f"{calendar_server.base_url}/readyz", headers={"Host": "localhost"})
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["ready"] is False
    assert body["checks"]["database"] == "ok"
    assert label in body["checks"]["calendar"] and str(UNKNOWN) in body["checks"]["calendar"]
    assert {"code": "CALENDAR_INCOMPLETE", "check": "calendar"} in [
        error["extensions"] for error in body["errors"]
    ]
    # Any host answers, a region's too, before host routing.
    on_region = httpx.get(
        f"{calendar_server.base_url}/readyz", headers={"Host": f"{region.slug}.localhost"}
    )
    assert on_region.status_code == 503 and label in on_region.json()["checks"]["calendar"]

    _list_unknown_year(region)
    after = httpx.get(f"{calendar_server.base_url}/readyz").json()
    assert label not in after["checks"]["calendar"]


def test_readyz_is_ready_then_fails_on_a_schema_missing_a_migration(plain_server):
    region, _ = _region_with_publicity("mig")
    url = f"{plain_server.base_url}/readyz"
    ready = httpx.get(url)
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"ready": True, "checks": {"database": "ok", "migrations": "ok"}}

    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {region.schema_name}.django_migrations WHERE app = 'sessions' "
            "RETURNING app, name, applied"
        )
        removed = cursor.fetchall()
    try:
        answer = httpx.get(url)
        assert answer.status_code == 503
        body = answer.json()
        assert region.schema_name in body["checks"]["migrations"]
        assert body["checks"]["database"] == "ok"
        assert [error["extensions"]["code"] for error in body["errors"]] == ["MIGRATIONS_PENDING"]
    finally:
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {region.schema_name}.django_migrations (app, name, applied) "
                "VALUES (%s, %s, %s)",
                removed,
            )
    assert httpx.get(url).status_code == 200


def test_system_check_warns_when_the_calendar_lacks_a_year_a_region_needs(seed_regions):
    region, label = _region_with_publicity("chk")

    def check() -> subprocess.CompletedProcess:
        env = child_env(platform_database_url(), PLATFORM_CALENDAR_WARN_DAYS=str(REACHING))
        return subprocess.run(
            [sys.executable, "manage.py", "check", "--database", "default"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    warned = check()
    assert warned.returncode == 0, warned.stderr  # a warning, not an error
    assert "central.W001" in warned.stderr and label in warned.stderr, warned.stderr

    _list_unknown_year(region)
    listed = check()
    assert listed.returncode == 0, listed.stderr
    assert label not in listed.stderr


def test_up_runs_the_system_checks_once_it_has_provisioned(fresh_database):  # noqa: F811
    """On an empty database the regions exist only after up's own provisioning:
    the warning names a seed region that counts working days (云南, 3)."""
    url, _name = fresh_database
    env = child_env(url, PLATFORM_CALENDAR_WARN_DAYS=str(REACHING))
    result = subprocess.run(
        [sys.executable, "manage.py", "up", "--no-serve"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "central.W001" in result.stderr and "(530000)" in result.stderr, result.stderr
