"""Exports in bounded memory (issue 12 point 6): 1M records as CSV and XLSX over HTTP.

Starts a throwaway embedded PostgreSQL, sets it up with ``manage.py up
--no-serve``, provisions 昆明市 (530100, 云南's lifecycle) and fills it with
``manage.py generate_data`` (by default 100,000 volunteers × 10 records =
1,000,000 records in every lifecycle state), creates a region-wide authority,
serves it with gunicorn (gthread, **one worker** × 4 threads, so the serving
process is one process) and then, for each export:

  api       ``exportLink(input: {kind, format})`` and GET of the signed link,
            read in 1 MiB blocks, while a thread samples the worker's RSS every
            0.1 s (psutil)
  baseline  ``COPY (SELECT … the same rows …) TO STDOUT WITH CSV`` by psycopg2
            into a sink, in this process (PostgreSQL's own fastest way out)

and prints rows, bytes, seconds, rows/s, the ratio to the baseline, and the
worker's RSS before, at its peak and after, with the growth over the export.

    .venv/bin/python bench/exports.py                     # 100,000 × 10
    .venv/bin/python bench/exports.py --reuse /tmp/bench-exports-db
    .venv/bin/python bench/exports.py --formats CSV       # skip XLSX

Everything listens on 127.0.0.1 only; without ``--reuse`` the database and its
directory are deleted on exit.
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REGION = ["--code", "530100", "--name", "昆明市", "--level", "city", "--slug", "kunming"]
REGION += ["--parent", "530000", "--preset", "yunnan"]
CODE, HOST, SCHEMA = "530100", "kunming.localhost", "region_kunming"
DB_NAME = "bench_exports"
USERNAME, PASSWORD = "bench-authority", "Bench-pass-2026"
MEMBERSHIPS_PER_VOLUNTEER = 1.15

# The rows of a RECORDS export (tenants/reports/selectors.py record_rows), by hand.
BASELINE = """COPY (
SELECT r.id, v.number, v.name, coalesce(g.name, '转入记录（无本地区团体）'), r.project_name,
       r.service_date, r.start_time, r.end_time,
       coalesce((SELECT a.hours FROM records_amendment a WHERE a.record_id = r.id
                 AND a.hours IS NOT NULL ORDER BY a.id DESC LIMIT 1), r.hours),
       r.state, r.mode, r.place, r.content, r.origin_region_name
FROM records_servicerecord r
JOIN volunteers_volunteer v ON v.id = r.volunteer_id
LEFT JOIN groups_volunteergroup g ON g.id = r.group_id
ORDER BY r.id
) TO STDOUT WITH CSV HEADER"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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


class RssSampler(threading.Thread):
    """The RSS of one process every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.1):
        import psutil

        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.interval = interval
        self.samples: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append(self.process.memory_info().rss)
            self.stop.wait(self.interval)

    def finish(self) -> list[int]:
        self.stop.set()
        self.join()
        return self.samples


class Sink:
    """Counts what COPY writes (psycopg2's copy_expert wants a file)."""

    def __init__(self):
        self.bytes = 0
        self.lines = 0

    def write(self, data) -> int:
        data = data.encode() if isinstance(data, str) else data
        self.bytes += len(data)
        self.lines += data.count(b"\n")
        return len(data)


def graphql(port: int, query: str, variables: dict, token: str = "") -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Host": HOST, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request("POST", "/graphql", json.dumps({"query": query, "variables": variables}), headers)
    data = json.loads(conn.getresponse().read())
    conn.close()
    return data


def export(port: int, token: str, worker: int, kind: str, fmt: str) -> dict:
    body = graphql(
        port,
        "mutation($i: ExportInput!) { exportLink(input: $i) { url fileName errors { message } } }",
        {"i": {"kind": kind, "format": fmt}},
        token,
    )
    payload = body["data"]["exportLink"]
    if payload["errors"]:
        raise RuntimeError(payload["errors"])
    parts = urlsplit(payload["url"])
    sampler = RssSampler(worker)
    sampler.start()
    time.sleep(0.3)  # a few samples before the request
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    t0 = time.perf_counter()
    conn.request("GET", f"{parts.path}?{parts.query}", headers={"Host": HOST})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {response.read(500)!r}")
    size = lines = 0
    first = None
    while block := response.read(1 << 20):
        if first is None:
            first = time.perf_counter() - t0
        size += len(block)
        lines += block.count(b"\n")
    seconds = time.perf_counter() - t0
    conn.close()
    time.sleep(0.5)
    samples = sampler.finish()
    return {
        "kind": kind,
        "format": fmt,
        "file": payload["fileName"],
        "bytes": size,
        "lines": lines,
        "seconds": seconds,
        "first_byte": first or seconds,
        "rss_before": samples[0],
        "rss_peak": max(samples),
        "rss_after": samples[-1],
        "samples": len(samples),
        "content_type": response.getheader("Content-Type"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volunteers", type=int, default=100_000)
    parser.add_argument("--records-per-volunteer", type=int, default=10)
    parser.add_argument("--members-per-group", type=int, default=20)
    parser.add_argument("--formats", default="CSV,XLSX")
    parser.add_argument("--reuse", type=Path, help="keep the database here for the next run")
    args = parser.parse_args()

    from central.database import (
        database_url,
        ensure_database,
        parse_database_url,
        start_embedded_server,
    )
    from tests.support import PlatformServer

    workdir = args.reuse or Path(tempfile.mkdtemp(prefix="bench-exports-"))
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
            groups = round(args.volunteers * MEMBERSHIPS_PER_VOLUNTEER / args.members_per_group)
            step = time.monotonic()
            command = ["generate_data", "--region", CODE, "--volunteers", str(args.volunteers)]
            command += ["--groups", str(groups), "--seed", "20261206"]
            command += ["--records-per-volunteer", str(args.records_per_volunteer)]
            log("manage.py " + " ".join(command))
            subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                check=True,
            )
            log(f"generated in {time.monotonic() - step:.0f} s")
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

        import psutil
        import psycopg2

        sql = psycopg2.connect(url)
        sql.autocommit = True
        with sql.cursor() as cur:
            cur.execute(f"SET search_path = {SCHEMA}, public")
            cur.execute("SELECT count(*) FROM records_servicerecord")
            row = cur.fetchone()
            assert row is not None  # count(*) answers one row
            records = row[0]
        log(f"region {CODE}: {records:,} records")

        server = PlatformServer(database_url=url, workers=1, threads=4)
        server.__enter__()
        assert server.process is not None  # started by __enter__
        master = psutil.Process(server.process.pid)
        for _ in range(300):  # the port opens before the worker has forked
            if master.children():
                break
            time.sleep(0.1)
        worker = master.children()[0].pid
        token = graphql(
            server.port,
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
            {"u": USERNAME, "p": PASSWORD},
        )["data"]["login"]["token"]

        sink = Sink()
        t0 = time.perf_counter()
        with sql.cursor() as cur:
            cur.copy_expert(BASELINE, sink)
        baseline = time.perf_counter() - t0
        print(f"\nregion {CODE}: {records:,} records; load average {os.getloadavg()[0]:.2f}")
        print(
            f"baseline COPY … TO STDOUT WITH CSV: {sink.lines - 1:,} rows, "
            f"{sink.bytes / 2**20:.1f} MiB in {baseline:.1f} s "
            f"({(sink.lines - 1) / baseline:,.0f} rows/s)"
        )
        mib = 2**20
        for fmt in [f.strip().upper() for f in args.formats.split(",") if f.strip()]:
            result = export(server.port, token, worker, "RECORDS", fmt)
            rows = records
            growth = result["rss_peak"] - result["rss_before"]
            print(
                f"RECORDS {fmt}: {result['bytes'] / mib:.1f} MiB ({result['content_type']}) "
                f"in {result['seconds']:.1f} s, first byte after {result['first_byte']:.1f} s; "
                f"{rows / result['seconds']:,.0f} rows/s = "
                f"{result['seconds'] / baseline:.1f}× the COPY baseline's time"
            )
            if fmt == "CSV":
                print(f"  lines: {result['lines']:,} (header + {result['lines'] - 1:,} rows)")
            print(
                f"  worker RSS: before {result['rss_before'] / mib:.1f} MiB, peak "
                f"{result['rss_peak'] / mib:.1f} MiB, after {result['rss_after'] / mib:.1f} MiB; "
                f"growth {growth / mib:+.1f} MiB over {result['samples']} samples"
            )
            print(f"  file name: {result['file']}")
        sql.close()
    finally:
        if server is not None:
            server.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
