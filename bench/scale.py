"""A region ten times larger: 10 million records against 1 million, in one run.

Issue 14 point 5. Starts a throwaway embedded PostgreSQL, sets it up with
``manage.py up --no-serve`` and provisions two regions of the same province and
lifecycle (云南): 昆明 (530100) gets ``--volunteers`` volunteers (default
100,000) and 曲靖 (530300) ``--factor`` times as many (default 10: 1,000,000),
both with ``--records-per-volunteer`` records each (default 10) and the same
number of groups (``--groups``, default 5,750: the nested page's groups then
have ~20 members in the small region and ~200 in the large one; the page shows
the first 20 either way). Each region is filled by ``manage.py generate_data``,
whose wall time and peak memory (the summary's "peak memory") are printed. One
gunicorn (gthread, 2 × 4, as ``manage.py up``) serves both; an authority of each
region logs in, and then, in interleaved rounds (the regions' order alternating),
measures on each region

  nested      the nested page: groups(first: 50) { volunteers(first: 20) {
              records(first: 10) } } (bench/nested_page.py QUERY)
  lookup      volunteer(number:) for volunteers drawn at random (bench/lookups.py
              VOLUNTEER_QUERY), one keep-alive client
  statistics  the statistics page's query, every figure (bench/statistics_page.py QUERY)

and prints, per page, the large region's median over the small one's per round:
min / median / max over the rounds (target ≤ 1.3×), the absolute medians, and the
plans (EXPLAIN ANALYZE, buffers) of the nested page's records statement and of a
lookup in both regions: an index range scan reads as many pages at 10M as at 1M.

    .venv/bin/python bench/scale.py                        # ~25 min on 2 cores
    .venv/bin/python bench/scale.py --reuse /tmp/scale-db  # keep the regions
    .venv/bin/python bench/scale.py --volunteers 2000      # a quick try

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
import random  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from bench.nested_page import MEMBERS, PAGE, RECORDS_SQL, log, manage  # noqa: E402
from bench.nested_page import QUERY as NESTED_QUERY  # noqa: E402
from bench.statistics_page import QUERY as STATISTICS_QUERY  # noqa: E402

# As bench/lookups.py (which imports bench/_common.py as a top-level module).
VOLUNTEER_QUERY = (
    "query($n: String!) { volunteer(number: $n) { number name gender birthDate status "
    "verification serviceArea skills idNumberMasked phoneMasked } }"
)
DB_NAME = "bench_scale"
PASSWORD = "Bench-pass-2026"
# (role, code, name, slug): the same province, preset and lifecycle.
REGIONS = [("small", "530100", "昆明市", "kunming"), ("large", "530300", "曲靖市", "qujing")]
PAGES = ("nested", "lookup", "statistics")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Api:
    """One keep-alive client of one region's host, logged in as its authority."""

    def __init__(self, port: int, host: str):
        self.port, self.host = port, host
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.token = ""

    def post(self, text: str, variables: dict | None = None) -> dict:
        headers = {"Host": self.host, "Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps({"query": text, "variables": variables or {}}).encode()
        try:
            self.conn.request("POST", "/graphql", body, headers)
            response = self.conn.getresponse()
        except (ConnectionError, http.client.HTTPException):
            self.conn.close()  # closed while idle: open another, as a browser would
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            self.conn.request("POST", "/graphql", body, headers)
            response = self.conn.getresponse()
        answer = json.loads(response.read())
        if response.status != 200 or answer.get("errors"):
            raise RuntimeError(f"{self.host}: HTTP {response.status}: {str(answer)[:500]}")
        return answer

    def login(self, username: str) -> None:
        answer = self.post(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) "
            "{ token errors { message } } }",
            {"u": username, "p": PASSWORD},
        )
        self.token = answer["data"]["login"]["token"]


def generate(env: dict, code: str, volunteers: int, groups: int, records: int) -> tuple:
    command = [
        *("generate_data", "--region", code, "--volunteers", str(volunteers)),
        *("--groups", str(groups), "--records-per-volunteer", str(records)),
        *("--seed", "20261207"),
    ]
    log("manage.py " + " ".join(command))
    started = time.monotonic()
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
    log(process.stdout.strip())
    return time.monotonic() - started, process.stdout.strip()


def explain(cur, schema: str, volunteer_ids: list[int], number: str) -> list[str]:
    """Plans of the nested page's records statement and of a lookup's main statement."""
    cur.execute(f"SET search_path = {schema}, public")
    lines = []
    for label, text, params in (
        ("records of 20 volunteers", RECORDS_SQL, [volunteer_ids, 10]),
        ("volunteer by number", "SELECT * FROM volunteers_volunteer WHERE number = %s", [number]),
    ):
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY OFF) " + text, params)
        lines.append(f"  {label}:")
        lines += [f"    {row[0]}" for row in cur.fetchall()]
    return lines


def spread(values: list[float], unit: str = "×", digits: int = 2) -> str:
    return (
        f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f} / "
        f"{max(values):.{digits}f}{unit}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volunteers", type=int, default=100_000, help="small region")
    parser.add_argument("--factor", type=int, default=10, help="large / small volunteers")
    parser.add_argument("--records-per-volunteer", type=int, default=10)
    parser.add_argument("--groups", type=int, default=5_750, help="in each region")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--nested", type=int, default=5, help="nested pages per region and round")
    parser.add_argument("--lookups", type=int, default=100, help="lookups per region and round")
    parser.add_argument("--statistics", type=int, default=5, help="pages per region and round")
    parser.add_argument("--reuse", type=Path, help="keep the database in this directory")
    args = parser.parse_args()
    started = time.monotonic()
    log(f"load average {load_average()}")

    from central.database import (
        database_url,
        ensure_database,
        parse_database_url,
        start_embedded_server,
    )
    from tests.support import PlatformServer

    workdir = args.reuse or Path(tempfile.mkdtemp(prefix="bench-scale-"))
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
        generated = {}
        for role, code, name, slug in REGIONS:
            if manage(env, "region", "show", code, check=False).returncode == 0:
                log(f"reusing region {code} in {workdir}")
                continue
            manage(
                env,
                *("region", "create", "--code", code, "--name", name, "--level", "city"),
                *("--slug", slug, "--parent", "530000", "--preset", "yunnan"),
            )
            volunteers = args.volunteers * (args.factor if role == "large" else 1)
            generated[role] = generate(
                env, code, volunteers, args.groups, args.records_per_volunteer
            )
            manage(
                env,
                *("registry", "--region", code, "create-authority"),
                *("--username", f"bench-{slug}", "--password", PASSWORD),
                *("--name", "基准测试", "--level", "city", "--authority-name", f"{name}民政局"),
            )

        import psycopg2

        sql = psycopg2.connect(url)
        sql.autocommit = True
        sizes, numbers, plans = {}, {}, {}
        rng = random.Random(7)
        with sql.cursor() as cur:
            for role, _code, _name, slug in REGIONS:
                schema = f"region_{slug}"
                cur.execute(f"SET search_path = {schema}, public")
                cur.execute(
                    "SELECT (SELECT count(*) FROM volunteers_volunteer), "
                    "(SELECT count(*) FROM records_servicerecord), "
                    "(SELECT count(*) FROM groups_volunteergroup), "
                    "(SELECT max(id) FROM volunteers_volunteer)"
                )
                row = cur.fetchone()
                assert row is not None  # counts answer one row
                volunteers, records, groups, top = row
                sizes[role] = (volunteers, records, groups)
                ids = [rng.randint(1, top) for _ in range(args.lookups * 3)]
                cur.execute("SELECT number FROM volunteers_volunteer WHERE id = ANY(%s)", [ids])
                numbers[role] = [row[0] for row in cur.fetchall()]
                rng.shuffle(numbers[role])
                cur.execute("SELECT id FROM volunteers_volunteer ORDER BY id LIMIT %s", [MEMBERS])
                first = [row[0] for row in cur.fetchall()]
                plans[role] = explain(cur, schema, first, numbers[role][0])

        server = PlatformServer(database_url=url, workers=2, threads=4)
        server.__enter__()
        apis = {}
        for role, _code, _name, slug in REGIONS:
            apis[role] = Api(server.port, f"{slug}.localhost")
            apis[role].login(f"bench-{slug}")

        def nested(api: Api, _i: int) -> None:
            api.post(NESTED_QUERY)

        def lookup(api: Api, i: int) -> None:
            role = "small" if api is apis["small"] else "large"
            pool = numbers[role]
            if not api.post(VOLUNTEER_QUERY, {"n": pool[i % len(pool)]})["data"]["volunteer"]:
                raise RuntimeError("a volunteer drawn is not found")

        def stats(api: Api, _i: int) -> None:
            api.post(STATISTICS_QUERY, {"top": 20})

        pages = {
            "nested": (nested, args.nested),
            "lookup": (lookup, args.lookups),
            "statistics": (stats, args.statistics),
        }
        answer = apis["small"].post(NESTED_QUERY)["data"]["groups"]["edges"]
        assert len(answer) == PAGE, len(answer)
        for role in apis:  # warm-up: caches, connections, plans
            for call, n in pages.values():
                for i in range(max(2, n // 5)):
                    call(apis[role], i)
        medians: dict[tuple[str, str], list[float]] = {
            (role, page): [] for role in apis for page in PAGES
        }
        for round_number in range(args.rounds):
            order = ["small", "large"] if round_number % 2 == 0 else ["large", "small"]
            for page, (call, n) in pages.items():
                for role in order:
                    times = []
                    for i in range(n):
                        t0 = time.perf_counter()
                        call(apis[role], round_number * n + i)
                        times.append((time.perf_counter() - t0) * 1000)
                    medians[role, page].append(statistics.median(times))
            log(f"round {round_number + 1}/{args.rounds} done, load {load_average()}")
        sql.close()

        print()
        for role, (took, summary) in generated.items():
            print(f"generate_data ({role}): {took:.0f} s wall")
            for line in summary.splitlines():
                print(f"  {line}")
        for role, (volunteers, records, groups) in sizes.items():
            print(f"{role}: {volunteers:,} volunteers, {records:,} records, {groups:,} groups")
        print(
            f"{args.rounds} interleaved rounds; per round the median of {args.nested} nested "
            f"pages, {args.lookups} lookups, {args.statistics} statistics pages per region"
        )
        print("page          small ms (min/median/max)   large ms      large / small")
        for page in PAGES:
            small, large = medians["small", page], medians["large", page]
            ratios = [b / a for a, b in zip(small, large, strict=True)]
            print(
                f"{page:12}  {spread(small, ' ms', 1):>24}  {spread(large, ' ms', 1):>24}  "
                f"{spread(ratios)}"
            )
        for role in apis:
            print(f"plans, {role} region:")
            print("\n".join(plans[role]))
        print(f"load average {load_average()}; total {time.monotonic() - started:.0f} s")
        return 0
    finally:
        if server is not None:
            server.__exit__(None, None, None)


if __name__ == "__main__":
    sys.exit(main())
