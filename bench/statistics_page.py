"""The full statistics query over HTTP against the same aggregates by hand in SQL.

Starts a throwaway embedded PostgreSQL, sets it up with ``manage.py up
--no-serve``, fills 随州 (421300, its policy has 004 §4.2's registration
targets) with ``manage.py generate_data`` (by default 100,000 volunteers × 10
records = 1,000,000 records), enters a population for every county and a staff
count for 50 units, creates an authority of the whole region, serves it with
gunicorn (gthread, 2 × 4, as ``manage.py up``) and then, in interleaved rounds,
measures

  api       POST /graphql on suizhou.localhost, keep-alive HTTP/1.1: the query
            ``statistics`` with every figure (tests/test_statistics.py STATISTICS)
  baseline  the same aggregates by hand-written SQL over psycopg2 in this process
            (one GROUP BY ... GROUPING SETS statement per figure family, as fast
            as we know how to write them), without JSON

and prints min / median / max of each and of the per-round ratio api / baseline
(target: median ≤ 2×), and the statements one request issues. The baseline's
totals and breakdowns are checked to equal the API's answer first.

    .venv/bin/python bench/statistics.py
    .venv/bin/python bench/statistics.py --reuse /tmp/stats-db   # keep the data

Everything listens on 127.0.0.1 only; without ``--reuse`` the database and its
directory are deleted on exit.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script: the repository on sys.path, for ``bench.*`` and the platform.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import atexit  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from decimal import Decimal  # noqa: E402

from bench.nested_page import log, manage  # noqa: E402

CODE, HOST, SCHEMA = "421300", "suizhou.localhost", "region_suizhou"
REGION = ["--code", CODE, "--name", "随州市", "--level", "city", "--slug", "suizhou"]
REGION += ["--parent", "420000", "--preset", "suizhou"]
DB_NAME = "bench_statistics"
USERNAME, PASSWORD = "bench-stats-authority", "Bench-pass-2026"


# Every figure (as tests/test_statistics.py STATISTICS asks for them).
QUERY = """query($top: Int) { statistics(topGroups: $top) { asOf
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


# --- the baseline: hand-written SQL -----------------------------------------

TODAY = "current_date"
BASELINE = {
    "volunteers": f"""
        SELECT status, verification, gender, band, division, star, count(*)
          FROM (SELECT v.status, v.verification, v.gender, v.division_code AS division,
                       CASE WHEN a < 18 THEN '0-17' WHEN a < 35 THEN '18-34'
                            WHEN a < 60 THEN '35-59' ELSE '60+' END AS band,
                       COALESCE(t.star_level, 0) AS star
                  FROM (SELECT *, date_part('year', age({TODAY}, birth_date)) AS a
                          FROM volunteers_volunteer) v
                  LEFT JOIN records_volunteertotals t ON t.volunteer_id = v.id) s
         GROUP BY GROUPING SETS ((status), (verification), (gender), (band), (division),
                                 (star), ())""",
    "groups": """
        SELECT level, kind, review, count(*) FILTER (WHERE review = 'approved'), count(*)
          FROM groups_volunteergroup
         GROUP BY GROUPING SETS ((level), (kind), (review), ())""",
    "projects": """
        SELECT status, category, count(*) FROM projects_project
         GROUP BY GROUPING SETS ((status), (category), ())""",
    "hours": """
        SELECT month, category, division, grp, sum(h), count(*)
          FROM (SELECT COALESCE(a.hours, r.hours) AS h,
                       to_char(r.service_date, 'YYYY-MM') AS month,
                       COALESCE(p.category, 'imported') AS category,
                       COALESCE(g.division_code, v.division_code) AS division,
                       COALESCE(r.group_id, 0) AS grp
                  FROM records_servicerecord r
                  LEFT JOIN projects_project p ON p.id = r.project_id
                  LEFT JOIN groups_volunteergroup g ON g.id = p.group_id
                  LEFT JOIN volunteers_volunteer v
                         ON r.project_id IS NULL AND v.id = r.volunteer_id
                  LEFT JOIN (SELECT DISTINCT ON (record_id) record_id, hours
                               FROM records_amendment WHERE hours IS NOT NULL
                              ORDER BY record_id, id DESC) a ON a.record_id = r.id
                 WHERE r.state = 'counted') s
         GROUP BY GROUPING SETS ((month), (category), (division), (grp), ())""",
    "populations": "SELECT division_code, population FROM statistics_divisionpopulation",
    "units": """
        SELECT u.sector, count(*), sum(u.staff), sum(LEAST(m.n, u.staff))
          FROM statistics_unitstaff u
          CROSS JOIN LATERAL (
            SELECT count(*) AS n FROM groups_membership m
              JOIN volunteers_volunteer v ON v.id = m.volunteer_id
             WHERE m.group_id = u.group_id AND m.status = 'active'
               AND v.status IN ('active', 'warned')) m
         GROUP BY u.sector""",
}


def baseline(conn) -> dict:
    out = {}
    with conn.cursor() as cur:
        for name, sql in BASELINE.items():
            cur.execute(sql)
            out[name] = cur.fetchall()
    return out


def check(answer: dict, rows: dict) -> None:
    """The baseline's totals and breakdowns are the API's."""
    stats = answer["data"]["statistics"]
    total = next(r for r in rows["volunteers"] if all(x is None for x in r[:6]))
    assert stats["volunteers"]["total"] == total[6], (stats["volunteers"]["total"], total)
    by_status = {r[0].upper(): r[6] for r in rows["volunteers"] if r[0] is not None}
    api_status = {r["key"]: r["count"] for r in stats["volunteers"]["byStatus"] if r["count"]}
    assert api_status == by_status, (api_status, by_status)
    hours = next(r for r in rows["hours"] if all(x is None for x in r[:4]))
    assert Decimal(stats["hours"]["total"]) == hours[4], (stats["hours"]["total"], hours)
    months = {r[0]: r[4] for r in rows["hours"] if r[0] is not None}
    assert {r["key"]: Decimal(r["hours"]) for r in stats["hours"]["byMonth"]} == months
    groups = next(r for r in rows["groups"] if r[:3] == (None, None, None))
    assert stats["groups"]["total"] == groups[3]
    projects = next(r for r in rows["projects"] if r[:2] == (None, None))
    assert stats["projects"]["total"] == projects[2]


# --- the API over HTTP -------------------------------------------------------


class Api:
    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.token = ""

    def post(self, text: str, variables: dict | None = None) -> dict:
        headers = {"Host": HOST, "Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps({"query": text, "variables": variables or {}}).encode()
        try:
            self.conn.request("POST", "/graphql", body, headers)
            response = self.conn.getresponse()
        except (ConnectionError, http.client.HTTPException):
            # The server closes a keep-alive connection idle for a few seconds (while
            # the baseline runs): open another, as a browser would.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            self.conn.request("POST", "/graphql", body, headers)
            response = self.conn.getresponse()
        data = response.read()
        answer = json.loads(data)
        if response.status != 200 or answer.get("errors"):
            raise RuntimeError(f"HTTP {response.status}: {data[:500]!r}")
        return answer

    def login(self) -> None:
        answer = self.post(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) "
            "{ token errors { message } } }",
            {"u": USERNAME, "p": PASSWORD},
        )
        self.token = answer["data"]["login"]["token"]


def count_statements(token: str, text: str) -> list[str]:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=HOST)
    payload = json.dumps({"query": text, "variables": {"top": 20}})
    headers = {"Authorization": f"Bearer {token}"}
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/graphql", payload, content_type="application/json", headers=headers
        )
    assert response.status_code == 200 and b'"errors"' not in response.content
    connection.close()
    return [
        q["sql"] for q in captured.captured_queries if not q["sql"].startswith("SET search_path")
    ]


def inputs(env: dict, url: str) -> None:
    """A population for every county where volunteers live and 50 units' staff, as the
    authority would enter them (through the services, audited)."""
    import subprocess

    script = f"""
import django; django.setup()
from django_tenants.utils import tenant_context
from central.models import Region
from tenants.accounts.services import OperatorPrincipal
from tenants.groups.models import VolunteerGroup
from tenants.statistics import services
from tenants.volunteers.models import Volunteer
region = Region.objects.get(code="{CODE}")
with tenant_context(region):
    who = OperatorPrincipal("bench")
    lived = set(Volunteer.objects.values_list("division_code", flat=True))
    for i, code in enumerate(sorted(lived)):
        services.set_division_population(division_code=code, population=50_000 + 1_000 * i,
                                         principal=who, region_code=region.code)
    sectors = ["national", "provincial", "municipal", "other"]
    for i, group in enumerate(VolunteerGroup.objects.filter(kind="non_hub").order_by("id")[:50]):
        services.set_unit_staff(group_id=group.id, sector=sectors[i % 4], staff=40, principal=who)
"""
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True)


def spread(values: list[float]) -> str:
    return f"{min(values):8.1f} {statistics.median(values):8.1f} {max(values):8.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volunteers", type=int, default=100_000)
    parser.add_argument("--records-per-volunteer", type=int, default=10)
    parser.add_argument("--groups", type=int, default=5_750)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reuse", type=Path, help="keep the database in this directory")
    args = parser.parse_args()
    started = time.monotonic()

    from central.database import (
        database_url,
        ensure_database,
        parse_database_url,
        start_embedded_server,
    )
    from tests.support import PlatformServer

    workdir = args.reuse or Path(tempfile.mkdtemp(prefix="bench-statistics-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if not args.reuse:
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    server = None
    try:
        admin_uri = start_embedded_server(
            workdir / "pg", cleanup="stop" if args.reuse else "delete"
        )
        ensure_database(admin_uri, DB_NAME)
        url = database_url({**parse_database_url(admin_uri), "NAME": DB_NAME})
        os.environ.update(
            DATABASE_URL=url, DJANGO_SETTINGS_MODULE="central.settings", DJANGO_DEBUG="0"
        )
        env = {**os.environ, "PLATFORM_LOG_LEVEL": "WARNING"}
        manage(env, "up", "--no-serve")
        if manage(env, "region", "show", CODE, check=False).returncode != 0:
            manage(env, "region", "create", *REGION)
        import psycopg2

        sql = psycopg2.connect(url)
        sql.autocommit = True
        with sql.cursor() as cur:
            cur.execute(f"SET search_path = {SCHEMA}, public")
            cur.execute("SELECT count(*) FROM records_servicerecord")
            row = cur.fetchone()
            assert row is not None  # count(*) answers one row
            have = row[0]
        if have == 0:
            step = time.monotonic()
            manage(
                env,
                "generate_data",
                *("--region", CODE, "--volunteers", str(args.volunteers)),
                *("--groups", str(args.groups)),
                *("--records-per-volunteer", str(args.records_per_volunteer)),
                *("--seed", "20261206"),
            )
            log(f"generate_data: {time.monotonic() - step:.0f} s")
            inputs(env, url)
            manage(
                env,
                *("registry", "--region", CODE, "create-authority", "--username", USERNAME),
                *("--password", PASSWORD, "--name", "基准测试", "--level", "city"),
                *("--authority-name", "随州市民政局"),
            )
            with sql.cursor() as cur:
                cur.execute("ANALYZE")
        with sql.cursor() as cur:
            cur.execute(
                "SELECT (SELECT count(*) FROM volunteers_volunteer), "
                "(SELECT count(*) FROM records_servicerecord), "
                "(SELECT count(*) FROM records_servicerecord WHERE state = 'counted'), "
                "(SELECT count(*) FROM groups_volunteergroup)"
            )
            row = cur.fetchone()
            assert row is not None  # counts answer one row
            volunteers, records, counted, groups = row
        log(f"{volunteers} volunteers, {records} records ({counted} counted), {groups} groups")

        server = PlatformServer(database_url=url, workers=2, threads=4)
        server.__enter__()
        api = Api(server.port)
        api.login()
        text = QUERY
        check(api.post(text, {"top": 20}), baseline(sql))

        api.post(text, {"top": 20})  # warm-up
        baseline(sql)
        timings: dict[str, list[float]] = {"api": [], "baseline": []}
        for _round in range(args.rounds):
            for name, call in (
                ("api", lambda: api.post(text, {"top": 20})),
                ("baseline", lambda: baseline(sql)),
            ):
                t0 = time.perf_counter()
                call()
                timings[name].append((time.perf_counter() - t0) * 1000)
        ratios = [a / b for a, b in zip(timings["api"], timings["baseline"], strict=True)]
        statements = count_statements(api.token, text)
        sql.close()

        print(
            f"region {CODE}: {volunteers:,} volunteers, {records:,} records "
            f"({counted:,} counted), {groups:,} groups"
        )
        print(f"{args.rounds} interleaved rounds, after one warm-up;  min / median / max")
        print(f"api (HTTP, full statistics)  {spread(timings['api'])} ms")
        print(f"baseline (hand SQL)          {spread(timings['baseline'])} ms")
        print(
            f"ratio api / baseline: {min(ratios):.2f} / {statistics.median(ratios):.2f} / "
            f"{max(ratios):.2f}×"
        )
        print(f"SQL statements per request (without SET search_path): {len(statements)}")
        for line in statements:
            print(f"  {' '.join(line.split())[:140]}")
        print(f"total run time {time.monotonic() - started:.0f} s")
        return 0
    finally:
        if server is not None:
            server.__exit__(None, None, None)


if __name__ == "__main__":
    sys.exit(main())
