"""How should the platform be served? Measure it.

Starts a throwaway embedded PostgreSQL, sets it up with ``manage.py up
--no-serve`` (seed regions included), then serves the same Django app in turn as

  a. gunicorn gthread WSGI, persistent connections (CONN_MAX_AGE=60, the default)
  b. uvicorn ASGI, CONN_MAX_AGE=0 (psycopg2 leaks connections under ASGI with > 0)
  c. gunicorn gthread WSGI, CONN_MAX_AGE=0 (isolates the cost of a connection)
  d. (only with --setups …d) uvicorn ASGI, CONN_MAX_AGE=60, to see it leak

each as a child process on a free loopback port with 2 workers, and loads it with
a bounded threaded HTTP/1.1 keep-alive client: POST /graphql on the host
``chongqing.localhost`` asking ``{ region { code name } }``. The setups take
turns over several rounds (a fresh server each round) so that a stretch of
noise on a shared machine does not land on one setup only. For every setup it
prints requests/s (overall and by round), median and p95 latency, the ratio to
(a), the PostgreSQL sessions opened (``pg_stat_database.sessions``), the peak
number of backends, and the CPU time per request spent in the app server, in
PostgreSQL and in this client (all three share the machine).

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python bench/serving.py

Everything listens on 127.0.0.1 only; the database and its directory are
deleted on exit. See bench/README.md for the figures.
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    ROOT,
    BackendSampler,
    ChildServer,
    Database,
    child_env,
    cpu_seconds,
    gunicorn_argv,
    load_average,
    machine_ticks,
    ms,
    post,
    quantile,
)
from _common import load as load_requests

HOST_HEADER = "chongqing.localhost"
BODY = b'{"query":"{ region { code name } }"}'
EXPECTED = '"500000"'  # 重庆's division code in the answer
HEADERS = {"Host": HOST_HEADER, "Content-Type": "application/json"}
DB_NAME = "bench_serving"
WORKERS = 2  # the machine this was written for has 2 cores
THREADS = 4  # gunicorn threads per worker, as ``manage.py up`` defaults


@dataclass(frozen=True)
class Setup:
    key: str
    label: str
    conn_max_age: int
    server: str  # "gunicorn" or "uvicorn"

    def argv(self, port: int) -> list[str]:
        if self.server == "gunicorn":
            return gunicorn_argv(port, WORKERS, THREADS)
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "central.asgi:application",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--workers={WORKERS}",
            "--lifespan=off",
            "--no-access-log",
            "--log-level=warning",
        ]


SETUPS = {
    "a": Setup("a", "gunicorn gthread WSGI, CONN_MAX_AGE=60", 60, "gunicorn"),
    "b": Setup("b", "uvicorn ASGI, CONN_MAX_AGE=0", 0, "uvicorn"),
    "c": Setup("c", "gunicorn gthread WSGI, CONN_MAX_AGE=0", 0, "gunicorn"),
    # Not run by default: shows why (b) uses CONN_MAX_AGE=0.
    "d": Setup("d", "uvicorn ASGI, CONN_MAX_AGE=60", 60, "uvicorn"),
}


@dataclass
class Result:
    setup: Setup
    requests: int = 0
    errors: int = 0
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    sessions: int = 0  # opened during the measured requests
    sessions_total: int = 0  # opened over the server's whole life
    peak_backends: int = 0
    cpu_app: float = 0.0
    cpu_db: float = 0.0
    cpu_client: float = 0.0
    round_rps: list[float] = field(default_factory=list)
    # Share of the machine's CPU used by other processes during each round, 0..1.
    round_others: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.wall if self.wall else 0.0

    def quantile(self, q: float) -> float:
        return quantile(self.latencies, q)


# --- the server and the load -------------------------------------------------


def probe(conn: http.client.HTTPConnection) -> bytes:
    return post(conn, BODY, HEADERS)


def check(conn: http.client.HTTPConnection, index: int) -> None:
    data = post(conn, BODY, HEADERS)
    if EXPECTED.encode() not in data:
        raise RuntimeError(f"unexpected answer {data[:200]!r}")


def start_server(setup: Setup, db: Database, workdir: Path) -> ChildServer:
    return ChildServer(
        setup.argv, child_env(db, setup.conn_max_age), workdir / f"server-{setup.key}.log"
    )


def load(
    port: int, total: int, concurrency: int, time_limit: float, keepalive: bool = True
) -> tuple[list[float], int]:
    """``total`` checked requests from ``concurrency`` client threads (see _common.load)."""
    return load_requests(port, total, concurrency, time_limit, check, keepalive)


def measure(
    result: Result,
    db: Database,
    workdir: Path,
    args: argparse.Namespace,
    requests: int,
    time_limit: float,
) -> None:
    """One round: start the server, warm it up, load it, stop it; add to ``result``."""
    sessions_before_start = db.counters()
    server = start_server(result.setup, db, workdir)
    try:
        server.wait_ready(probe)
        load(server.port, args.warmup, args.concurrency, time_limit / 4, args.keepalive)
        time.sleep(0.3)
        sessions_before = db.counters()
        sampler = BackendSampler(db)
        sampler.start()
        cpu_app, cpu_db = cpu_seconds(server.proc.pid), cpu_seconds(db.postmaster_pid)
        cpu_client = time.process_time()
        ticks = machine_ticks()
        started = time.perf_counter()
        latencies, errors = load(
            server.port, requests, args.concurrency, time_limit, args.keepalive
        )
        wall = time.perf_counter() - started
        ticks_after = machine_ticks()
        used_client = time.process_time() - cpu_client
        used_app = cpu_seconds(server.proc.pid) - cpu_app
        used_db = cpu_seconds(db.postmaster_pid) - cpu_db
        result.cpu_client += used_client
        result.cpu_app += used_app
        result.cpu_db += used_db
        if ticks and ticks_after and ticks_after[1] > ticks[1]:
            idle = (ticks_after[0] - ticks[0]) / (ticks_after[1] - ticks[1])
            ours = (used_client + used_app + used_db) / (wall * (os.cpu_count() or 1))
            result.round_others.append(max(0.0, 1.0 - idle - ours))
        result.peak_backends = max(result.peak_backends, sampler.finish())
        result.wall += wall
        result.latencies += latencies
        result.requests += len(latencies)
        result.errors += errors
        result.round_rps.append(len(latencies) / wall)
        if len(latencies) + errors < requests:
            result.note = f"round {len(result.round_rps)} stopped after {time_limit:.0f}s"
        time.sleep(0.5)  # let backends report their statistics
        result.sessions += db.counters() - sessions_before
    finally:
        server.stop()
    time.sleep(0.5)  # exiting backends flush their statistics
    result.sessions_total += db.counters() - sessions_before_start


# --- reporting ---------------------------------------------------------------


def report(results: list[Result]) -> None:
    base = results[0]
    print()
    print(
        "| setup | req/s | × (a) | req/s by round (others' CPU) | median ms | p95 ms | errors "
        "| DB sessions opened (per req) | peak backends | CPU ms/req app / PG / client |"
    )
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        per_req = r.sessions / r.requests if r.requests else 0.0
        n = max(r.requests, 1)
        cpu = f"{ms(r.cpu_app / n)} / {ms(r.cpu_db / n)} / {ms(r.cpu_client / n)}"
        rounds = " ".join(
            f"{rps:.0f}" + (f" ({r.round_others[i]:.0%})" if i < len(r.round_others) else "")
            for i, rps in enumerate(r.round_rps)
        )
        print(
            f"| ({r.setup.key}) {r.setup.label} | {r.rps:.0f} | {r.rps / base.rps:.2f} "
            f"| {rounds} | {ms(r.quantile(0.5))} | {ms(r.quantile(0.95))} | {r.errors} "
            f"| {r.sessions} ({per_req:.2f}) | {r.peak_backends} | {cpu} |"
            + (f" {r.note}" if r.note else "")
        )
    print()
    for r in results:
        print(
            f"({r.setup.key}) over the servers' whole lives (start-up, warm-up, measurement): "
            f"{r.sessions_total} sessions opened"
        )
    print()
    summary = ", ".join(
        f"{r.setup.label}: {r.rps:.0f} req/s" + ("" if r is base else f" (×{r.rps / base.rps:.2f})")
        for r in results
    )
    print(f"summary: {summary}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, default=3000, help="measured requests per setup, over all rounds"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="run the setups in turn this many times (a fresh server each time), so that a "
        "machine that is busier for a while does not favour one setup",
    )
    parser.add_argument("--warmup", type=int, default=100, help="warm-up requests per round")
    parser.add_argument("--concurrency", type=int, default=8, help="client connections")
    parser.add_argument(
        "--time-limit", type=float, default=40.0, help="cap in seconds for each load phase"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=170.0,
        help="seconds for the whole run; load phases are cut short to stay within it",
    )
    parser.add_argument(
        "--setups", default="abc", help="which setups to run, in order; the first is the baseline"
    )
    parser.add_argument(
        "--no-keepalive",
        dest="keepalive",
        action="store_false",
        help="open a new HTTP connection per request instead of keeping one per client thread",
    )
    args = parser.parse_args()
    if not args.setups or any(key not in SETUPS for key in args.setups):
        parser.error(f"--setups takes letters from {''.join(SETUPS)}")
    if args.rounds < 1 or args.requests < args.rounds:
        parser.error("--rounds must be at least 1 and at most --requests")
    if "uvicorn" in {SETUPS[key].server for key in args.setups}:
        try:
            import uvicorn
        except ImportError:
            parser.error("uvicorn is missing: .venv/bin/pip install -e '.[bench]'")
        from importlib.util import find_spec

        http_impl = "httptools" if find_spec("httptools") else "h11"
        loop = "uvloop" if find_spec("uvloop") else "asyncio"
        print(f"uvicorn {uvicorn.__version__} (HTTP: {http_impl}, loop: {loop})")

    # On SIGTERM unwind like on Ctrl-C: stop the child server, then the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="vrp-bench-serving-"))
    # Registered first so that it runs last, after the embedded server has
    # stopped and deleted its data directory (atexit runs in reverse order).
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)

    print(
        f"{os.cpu_count()} CPUs, load average {load_average()}; "
        f"starting a throwaway PostgreSQL in {workdir} …",
        flush=True,
    )
    db = Database(workdir, DB_NAME)
    setup_run = subprocess.run(
        [sys.executable, "manage.py", "up", "--no-serve"],
        cwd=ROOT,
        env=child_env(db, 0),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if setup_run.returncode != 0:
        print(setup_run.stdout, setup_run.stderr, sep="\n", file=sys.stderr)
        return 1
    ready = [line for line in setup_run.stdout.splitlines() if line.startswith("ready in")]
    print(f"manage.py up --no-serve: {ready[0] if ready else 'done'}", flush=True)

    results = [Result(SETUPS[key]) for key in args.setups]
    per_round = [
        args.requests // args.rounds + (1 if i < args.requests % args.rounds else 0)
        for i in range(args.rounds)
    ]
    keepalive = "keep-alive" if args.keepalive else "a new connection per request"
    phases_left = len(per_round) * len(results)
    try:
        for number, requests in enumerate(per_round, start=1):
            for result in results:
                # About 4 s per round go to starting, warming and stopping a server.
                remaining = began + args.budget - time.monotonic() - 4 * phases_left
                time_limit = max(2.0, min(args.time_limit, remaining / phases_left))
                phases_left -= 1
                print(
                    f"round {number}/{args.rounds} ({result.setup.key}) {result.setup.label}: "
                    f"{args.warmup} warm-up + {requests} requests, {args.concurrency} clients, "
                    f"{keepalive} …",
                    flush=True,
                )
                measure(result, db, workdir, args, requests, time_limit)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    report(results)
    print(f"\ntotal {time.monotonic() - began:.0f}s; load average now {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
