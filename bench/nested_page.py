"""The nested page: 50 groups × 20 volunteers × 10 records, through the real API.

Starts a throwaway embedded PostgreSQL, sets it up with ``manage.py up
--no-serve``, provisions a region (昆明市 530100, 云南's lifecycle) and fills it
with ``manage.py generate_data`` (by default 100,000 volunteers × 10 records
= 1,000,000 records, in groups of ~20 active members each),
creates an authority account, serves it with gunicorn (gthread, 2 × 4, as
``manage.py up``) on a free loopback port, logs in with the ``login``
mutation and then, taking turns, measures

  api       POST /graphql on kunming.localhost, over keep-alive HTTP/1.1:
            groups(first: 50) { edges { node { name volunteers(first: 20) {
            edges { node { number name records(first: 10) { edges { node {
            hours serviceDate } } } } } } } } } }
  served    the served baseline: GET /plain/nested on kunming.localhost over the
            same keep-alive HTTP to the same gunicorn, with the same Host routing,
            token authentication and role lookup, then the same rows by three
            hand-written SQL statements, encoded with orjson as the API encodes
            (bench/bench_urls.py; the servers run bench.bench_settings)
  baseline  the same three statements (psycopg2) encoded to the same JSON
            (orjson if installed, else json) in this process: no HTTP, no
            per-request lookups (the figure before issue 16, kept for continuity)
  floor     POST /graphql ``{ region { code } }`` (HTTP + Django + tenant
            routing, no data) for scale

and prints median and p95 of each; the ratios API / served baseline and API /
in-process baseline as min / median / max over the interleaved rounds (each
round's API time over the same round's baseline time); and the SQL statements
one request issues (the same query run in-process under
``CaptureQueriesContext``, ``SET search_path`` left out). Both baselines' JSON
is checked to equal the API's answer.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python bench/nested_page.py
    # keep the generated database for the next run (generation is skipped then):
    .venv/bin/python bench/nested_page.py --reuse /tmp/nested-page-db

Everything listens on 127.0.0.1 only; without ``--reuse`` the database and its
directory are deleted on exit. See bench/README.md for the figures.
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
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

REGION = ["--code", "530100", "--name", "昆明市", "--level", "city", "--slug", "kunming"]
REGION += ["--parent", "530000", "--preset", "yunnan"]
CODE, HOST, SCHEMA = "530100", "kunming.localhost", "region_kunming"
DB_NAME = "bench_nested_page"
USERNAME, PASSWORD = "bench-authority", "Bench-pass-2026"
PAGE = 50
RECORDS = 10
# Active memberships per volunteer the generator makes (1 + 15 % in a second group).
MEMBERSHIPS_PER_VOLUNTEER = 1.15

MEMBERS = 20
# The page: groups(first: 50) { volunteers(first: 20) { records(first: 10) } }
QUERY = f"""{{ groups(first: {PAGE}) {{ edges {{ node {{ name volunteers(first: {MEMBERS}) {{
  edges {{ node {{ number name records(first: {RECORDS}) {{ edges {{ node {{ hours serviceDate
}} }} }} }} }} }} }} }} }} }}"""
FLOOR_QUERY = "{ region { code } }"

try:
    import orjson

    def dumps(value) -> bytes:
        return orjson.dumps(value)

    ENCODER = "orjson"
except ImportError:  # pragma: no cover - the bench extra installs it

    def dumps(value) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

    ENCODER = "json"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def ratios(measured: list[float], base: list[float]) -> tuple[float, float, float]:
    """min / median / max of each round's ``measured`` over the same round's ``base``."""
    each = [m / b for m, b in zip(measured, base, strict=True)]
    return min(each), statistics.median(each), max(each)


def manage(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result


# --- the API over HTTP -------------------------------------------------------


class Api:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.token = ""

    def post(self, query: str, variables: dict | None = None) -> bytes:
        headers = {"Host": HOST, "Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        self.conn.request("POST", "/graphql", body, headers)
        response = self.conn.getresponse()
        data = response.read()
        # A GraphQL error object starts with its message; payload errors here are empty.
        if response.status != 200 or b'{"message"' in data:
            raise RuntimeError(f"HTTP {response.status}: {data[:500]!r}")
        return data

    def get(self, path: str) -> bytes:
        headers = {"Host": HOST, "Authorization": f"Bearer {self.token}"}
        self.conn.request("GET", path, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {data[:500]!r}")
        return data

    def login(self) -> None:
        data = json.loads(
            self.post(
                "mutation($u: String!, $p: String!) { login(username: $u, password: $p) "
                "{ token errors { message } } }",
                {"u": USERNAME, "p": PASSWORD},
            )
        )
        self.token = data["data"]["login"]["token"]
        if not self.token:
            raise RuntimeError(f"login failed: {data}")


# --- the baseline: hand-written SQL -----------------------------------------

GROUPS_SQL = "SELECT id, name FROM groups_volunteergroup ORDER BY id LIMIT %s"
# Each group's first active members by volunteer id.
MEMBERS_SQL = """
SELECT m.group_id, v.id, v.number, v.name
FROM unnest(%s::bigint[]) AS g(id)
CROSS JOIN LATERAL (
    SELECT group_id, volunteer_id FROM groups_membership
    WHERE group_id = g.id AND status = 'active' ORDER BY volunteer_id LIMIT %s
) m
JOIN volunteers_volunteer v ON v.id = m.volunteer_id
ORDER BY m.group_id, m.volunteer_id
"""
# A volunteer's first records by id, with the hours of the latest amendment that set them.
RECORDS_SQL = """
SELECT r.volunteer_id, coalesce(a.hours, r.hours), r.service_date
FROM unnest(%s::bigint[]) AS v(id)
CROSS JOIN LATERAL (
    SELECT id, volunteer_id, hours, service_date FROM records_servicerecord
    WHERE volunteer_id = v.id ORDER BY id LIMIT %s
) r
LEFT JOIN LATERAL (
    SELECT hours FROM records_amendment
    WHERE record_id = r.id AND hours IS NOT NULL ORDER BY id DESC LIMIT 1
) a ON true
ORDER BY r.volunteer_id, r.id
"""


def baseline(conn) -> bytes:
    """The page's rows by three SQL statements, shaped like the API's answer."""
    with conn.cursor() as cur:
        cur.execute(GROUPS_SQL, [PAGE])
        groups = cur.fetchall()
        cur.execute(MEMBERS_SQL, [[g[0] for g in groups], MEMBERS])
        members = cur.fetchall()
        cur.execute(RECORDS_SQL, [sorted({m[1] for m in members}), RECORDS])
        rows = cur.fetchall()
    records: dict[int, list] = {}
    for volunteer_id, hours, day in rows:
        records.setdefault(volunteer_id, []).append(
            {"node": {"hours": str(hours), "serviceDate": day.isoformat()}}
        )
    by_group: dict[int, list] = {}
    for group_id, volunteer_id, number, name in members:
        by_group.setdefault(group_id, []).append(
            {
                "node": {
                    "number": number,
                    "name": name,
                    "records": {"edges": records.get(volunteer_id, [])},
                }
            }
        )
    edges = [
        {"node": {"name": name, "volunteers": {"edges": by_group.get(group_id, [])}}}
        for group_id, name in groups
    ]
    return dumps({"data": {"groups": {"edges": edges}}})


# --- statements per request, in-process --------------------------------------


def count_statements(token: str) -> tuple[int, list[str]]:
    """Run the same request in this process and capture its SQL."""
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=HOST)
    payload = json.dumps({"query": QUERY})
    headers = {"Authorization": f"Bearer {token}"}
    client.post("/graphql", payload, content_type="application/json", headers=headers)
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/graphql", payload, content_type="application/json", headers=headers
        )
    assert response.status_code == 200 and b'"errors"' not in response.content
    statements = [
        q["sql"] for q in captured.captured_queries if not q["sql"].startswith("SET search_path")
    ]
    connection.close()
    return len(statements), statements


# --- where one request's time goes, in-process --------------------------------

# What each part of the split adds up: (label, functions whose cumulative time it is).
# SQL: psycopg2 executing and fetching; loading: the root resolver, which loads
# every row of the page (joins, prefetches, FirstRows), less its SQL; GraphQL: the
# compiled execution of the loaded page (resolvers, wrappers, completion), less
# the root resolver; JSON: the response's encoding; the rest is HTTP handling,
# middleware, host, token and roles, parsing and validation.
SQL_FUNCTIONS = (
    "<method 'execute' of 'psycopg2.extensions.cursor' objects>",
    "<method 'fetchall' of 'psycopg2.extensions.cursor' objects>",
    "<method 'fetchmany' of 'psycopg2.extensions.cursor' objects>",
)


def profile_split(token: str, requests: int, top: int = 25) -> None:
    """Serve ``requests`` nested pages in this process (Django's test client, the
    workers' GC settings) under cProfile and print where the time went: SQL,
    loading the rows, GraphQL execution, JSON, the rest; then the top functions."""
    import cProfile
    import gc
    import io
    import pstats

    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    client = Client(HTTP_HOST=HOST)
    payload = json.dumps({"query": QUERY})
    headers = {"Authorization": f"Bearer {token}"}

    def page():
        response = client.post(
            "/graphql", payload, content_type="application/json", headers=headers
        )
        assert response.status_code == 200 and b'"errors"' not in response.content

    page()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        page()
    profiler.disable()
    connection.close()
    if os.environ.get("NESTED_PAGE_PROFILE"):  # for pstats / snakeviz
        profiler.dump_stats(os.environ["NESTED_PAGE_PROFILE"])
    stats = pstats.Stats(profiler)
    cumulative: dict[str, float] = {}
    rows = stats.stats.items()  # type: ignore[attr-defined]  # pstats keeps them untyped
    for (filename, _line, name), (_cc, _nc, _tt, ct, _callers) in rows:
        label = name if filename == "~" else f"{Path(filename).name}:{name}"
        # (one label for a function's wrappers of the same name: the outermost counts)
        cumulative[label] = max(cumulative.get(label, 0.0), ct)

    def cum(*labels: str) -> float:
        return sum(cumulative.get(label, 0.0) for label in labels)

    total = cum("client.py:post")  # the requests, end to end
    sql = cum(*SQL_FUNCTIONS)
    root = cum("queries.py:groups")
    graphql = cum("compiled.py:run") - root
    encoding = cum("views.py:encode_json")
    parts = [
        ("SQL, all 6 statements (psycopg2 execute + fetch)", sql),
        ("loading: the root resolver (its 3 statements included)", root),
        ("GraphQL execution (compiled, less the root resolver)", graphql),
        ("JSON encoding", encoding),
        ("the rest (HTTP, middleware, auth, parse, validate)", total - root - graphql - encoding),
    ]
    print(
        f"in-process profile, {requests} requests, {total / requests * 1000:.1f} ms each "
        "under cProfile:"
    )
    for label, seconds in parts:
        print(f"  {label:58} {seconds / total * 100:5.1f} %")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    print("\n".join(out.getvalue().splitlines()[6:]))


# --- the run -----------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volunteers", type=int, default=100_000)
    parser.add_argument("--records-per-volunteer", type=int, default=RECORDS)
    parser.add_argument("--members-per-group", type=int, default=20)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--reuse",
        type=Path,
        help="keep the database in this directory and reuse it next time (skips generation "
        "when the region is there)",
    )
    parser.add_argument("--time-limit", type=float, default=840, help="seconds (default 840)")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also serve N pages in-process under cProfile and print where the time goes",
    )
    args = parser.parse_args()
    deadline = time.monotonic() + args.time_limit
    started = time.monotonic()

    from central.database import (
        database_url,
        ensure_database,
        parse_database_url,
        start_embedded_server,
    )
    from tests.support import PlatformServer

    workdir = args.reuse or Path(tempfile.mkdtemp(prefix="bench-nested-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if not args.reuse:
        # Registered before the server starts, so it runs after the server has
        # stopped and deleted its data directory (atexit runs in reverse order).
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    server = None
    try:
        log(f"PostgreSQL in {workdir / 'pg'}")
        admin_uri = start_embedded_server(
            workdir / "pg", cleanup="stop" if args.reuse else "delete"
        )
        ensure_database(admin_uri, DB_NAME)
        url = database_url({**parse_database_url(admin_uri), "NAME": DB_NAME})
        os.environ.update(
            DATABASE_URL=url, DJANGO_SETTINGS_MODULE="central.settings", DJANGO_DEBUG="0"
        )
        env = {**os.environ, "PLATFORM_LOG_LEVEL": "WARNING"}

        step = time.monotonic()
        manage(env, "up", "--no-serve")
        log(f"set up in {time.monotonic() - step:.1f} s")
        generated = None
        if manage(env, "region", "show", CODE, check=False).returncode != 0:
            manage(env, "region", "create", *REGION)
            groups = round(args.volunteers * MEMBERSHIPS_PER_VOLUNTEER / args.members_per_group)
            step = time.monotonic()
            command = [
                "generate_data",
                "--region",
                CODE,
                "--volunteers",
                str(args.volunteers),
                "--groups",
                str(groups),
                "--records-per-volunteer",
                str(args.records_per_volunteer),
                "--seed",
                "20261123",
            ]
            log("manage.py " + " ".join(command))
            process = subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                text=True,
            )  # progress goes straight to our stderr
            if process.returncode != 0:
                raise RuntimeError("generate_data failed")
            generated = (time.monotonic() - step, process.stdout.strip())
            log(process.stdout.strip())
            manage(
                env,
                "registry",
                "--region",
                CODE,
                "create-authority",
                "--username",
                USERNAME,
                "--password",
                PASSWORD,
                "--name",
                "基准测试",
                "--level",
                "province",
                "--authority-name",
                "云南省民政厅",
            )
        else:
            log(f"reusing region {CODE} in {workdir}")

        import psycopg2

        sql = psycopg2.connect(url)
        sql.autocommit = True
        with sql.cursor() as cur:
            cur.execute(f"SET search_path = {SCHEMA}, public")
            cur.execute(
                "SELECT (SELECT count(*) FROM volunteers_volunteer), "
                "(SELECT count(*) FROM records_servicerecord), "
                "(SELECT count(*) FROM groups_volunteergroup)"
            )
            row = cur.fetchone()
            assert row is not None  # counts answer one row
            volunteers, records, groups_total = row
        log(f"region {CODE}: {volunteers} volunteers, {records} records, {groups_total} groups")

        # bench.bench_settings: the platform's settings plus /plain/nested (bench_urls.py).
        server = PlatformServer(
            database_url=url,
            workers=2,
            threads=4,
            env={"DJANGO_SETTINGS_MODULE": "bench.bench_settings"},
        )
        server.__enter__()
        api = Api(server.port)
        api.login()

        # Both baselines must produce exactly the API's answer.
        served_path = f"/plain/nested?groups={PAGE}&members={MEMBERS}&records={RECORDS}"
        answer = json.loads(api.post(QUERY))
        if json.loads(baseline(sql)) != answer:
            raise RuntimeError("the baseline's JSON differs from the API's answer")
        if json.loads(api.get(served_path)) != answer:
            raise RuntimeError("the served baseline's JSON differs from the API's answer")
        edges = answer["data"]["groups"]["edges"]
        members = [len(e["node"]["volunteers"]["edges"]) for e in edges]
        page_records = sum(
            len(m["node"]["records"]["edges"])
            for e in edges
            for m in e["node"]["volunteers"]["edges"]
        )
        size = len(api.post(QUERY))

        for _ in range(args.warmup):
            api.post(QUERY)
            api.get(served_path)
            baseline(sql)
            api.post(FLOOR_QUERY)
        timings: dict[str, list[float]] = {"api": [], "served": [], "baseline": [], "floor": []}
        calls = [
            ("api", lambda: api.post(QUERY)),
            ("served", lambda: api.get(served_path)),
            ("baseline", lambda: baseline(sql)),
            ("floor", lambda: api.post(FLOOR_QUERY)),
        ]
        for run in range(args.runs):
            if time.monotonic() > deadline:
                log(f"time limit: stopped after {run} runs")
                break
            # Interleaved, the order turning each round so no one side always goes first.
            shift = run % len(calls)
            for name, call in calls[shift:] + calls[:shift]:
                t0 = time.perf_counter()
                call()
                timings[name].append(time.perf_counter() - t0)

        statements, sqls = count_statements(api.token)
        sql.close()
        if args.profile:
            profile_split(api.token, args.profile)

        print()
        if generated:
            print(f"generate_data: {generated[0]:.1f} s wall (including start-up)")
            for line in generated[1].splitlines():
                print(f"  {line}")
        print(
            f"region {CODE}: {volunteers:,} volunteers, {records:,} records, "
            f"{groups_total:,} groups"
        )
        print(
            f"page: {len(edges)} groups, members per group {min(members)}–{max(members)} "
            f"(mean {statistics.mean(members):.1f}), {sum(members)} volunteers, "
            f"{page_records} records, {size:,} bytes of JSON"
        )
        print(f"{len(timings['api'])} runs each, after {args.warmup} warm-up runs")
        print(f"{'':10} {'median':>10} {'p95':>10}")
        for name, label in (
            ("api", "api"),
            ("served", "served"),
            ("baseline", f"SQL+{ENCODER}"),
            ("floor", "floor"),
        ):
            values = timings[name]
            print(
                f"{label:10} {statistics.median(values) * 1000:8.1f} ms "
                f"{quantile(values, 0.95) * 1000:7.1f} ms"
            )
        for name, label in (("served", "served baseline"), ("baseline", "in-process baseline")):
            low, middle, high = ratios(timings["api"], timings[name])
            print(
                f"api / {label} (per round, min / median / max): "
                f"{low:.2f} / {middle:.2f} / {high:.2f}"
            )
        print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        print(f"SQL statements per API request (without SET search_path): {statements}")
        for text in sqls:
            print(f"  {' '.join(text.split())[:150]}")
        print(f"total run time {time.monotonic() - started:.0f} s")
        return 0
    finally:
        if server is not None:
            server.__exit__(None, None, None)


if __name__ == "__main__":
    sys.exit(main())
