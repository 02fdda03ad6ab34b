"""Single lookups with and without the parser/validation cache, in one run.

Starts a throwaway embedded PostgreSQL, runs ``manage.py up --no-serve`` (the
seed regions), fills 重庆 (500000) with ``generate_data`` (300 volunteers) and
creates an authority account, then serves the app with gunicorn as ``manage.py
up`` does (gthread, 2 workers × 4 threads, ``CONN_MAX_AGE=60``, with
``bench.bench_settings`` for the plain view) in two setups:

  cached    the defaults: parsed documents and validation results cached
            process-wide (``schema/hardening.py``)
  uncached  ``PLATFORM_GRAPHQL_CACHE_SIZE=0``: every request parses and
            validates, as before the cache

and in each measures, taking turns, 8 keep-alive clients sending

  graphql   ``volunteer(number:)`` (10 fields) through ``POST /graphql``
  plain     ``GET /plain/volunteer/<number>``: the bench-only plain Django view
            doing the same authentication, query and permission check
            (``bench/bench_urls.py``; same JSON, checked)

The setups take turns over the rounds, with a fresh server each time. Prints
req/s, median and p95 latency, CPU ms per request in the server and in
PostgreSQL, and the ratios GraphQL / plain and cached / uncached.

    .venv/bin/python bench/lookups.py            # about 3 minutes on 2 cores

``--instructions N`` measures instead what the load of the machine cannot
change: machine instructions per request in the app's process, counted by
``valgrind --tool=callgrind``. One child process (the workers' GC settings,
the cached setup) serves both kinds in-process through Django's WSGI handler,
as a worker does less gunicorn's HTTP parsing: a warm-up of both
uninstrumented, then each round N GraphQL lookups and N plain ones (the order
turning), the counters dumped after each (``callgrind_control``). PostgreSQL's
own work is in another process and not counted. ``--reuse DIR`` keeps the
database in DIR for the next run.

    .venv/bin/python bench/lookups.py --instructions 200 --reuse /tmp/lookups-db

Everything listens on 127.0.0.1 only; the database is deleted on exit.
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
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

from bench._common import (  # noqa: E402
    ChildServer,
    Database,
    child_env,
    context_switches,
    cpu_seconds,
    get,
    gunicorn_argv,
    load,
    load_average,
    ms,
    post,
    quantile,
    system_and_faults,
)

DB_NAME = "bench_lookups"
HOST = "chongqing.localhost"
USERNAME, PASSWORD = "bench-authority", "Bench-pass-2026"
VOLUNTEER_QUERY = (
    "query($n: String!) { volunteer(number: $n) { number name gender birthDate status "
    "verification serviceArea skills idNumberMasked phoneMasked } }"
)
SETUPS = {"cached": {}, "uncached": {"PLATFORM_GRAPHQL_CACHE_SIZE": "0"}}


@dataclass
class Figures:
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: int = 0
    cpu_app: float = 0.0
    cpu_db: float = 0.0
    switches: tuple[int, int] = (0, 0)  # the app's threads: voluntary, involuntary
    system: float = 0.0  # the app's system CPU seconds
    faults: int = 0  # the app's minor page faults
    by_round: list[float] = field(default_factory=list)  # req/s of each round
    gc_ms: float = 0.0  # with --gc-log: the workers' collection pauses in its phases
    gc_runs: int = 0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def cpu(self) -> tuple[float, float]:
        n = max(len(self.latencies), 1)
        return self.cpu_app / n, self.cpu_db / n


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def requests_for(numbers: list[str], token: str):
    headers = {"Host": HOST, "Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    bodies = [
        json.dumps({"query": VOLUNTEER_QUERY, "variables": {"n": n}}).encode() for n in numbers
    ]

    def graphql(conn: http.client.HTTPConnection, index: int) -> None:
        i = index % len(numbers)
        if numbers[i].encode() not in post(conn, bodies[i], headers):
            raise RuntimeError("unexpected answer")

    def plain(conn: http.client.HTTPConnection, index: int) -> None:
        number = numbers[index % len(numbers)]
        if number.encode() not in get(conn, f"/plain/volunteer/{number}", headers):
            raise RuntimeError("unexpected answer")

    def same_answers(port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for i, number in enumerate(numbers[:5]):
                graphql_answer = json.loads(post(conn, bodies[i], headers))
                plain_answer = json.loads(get(conn, f"/plain/volunteer/{number}", headers))
                if graphql_answer != plain_answer or not graphql_answer["data"]["volunteer"]:
                    raise RuntimeError(f"answers differ:\n{graphql_answer}\n{plain_answer}")
        finally:
            conn.close()

    return {"graphql": graphql, "plain": plain}, same_answers


# An authority's token, by the login mutation through this process's Django.
LOGIN_IN_PROCESS = f"""
import json
from django.test import Client
query = "mutation($u: String!, $p: String!) {{ login(username: $u, password: $p) {{ token }} }}"
body = {{"query": query, "variables": {{"u": {USERNAME!r}, "p": {PASSWORD!r}}}}}
answer = Client(HTTP_HOST={HOST!r}).post("/graphql", body, content_type="application/json")
print(answer.json()["data"]["login"]["token"])
"""


def login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps(
        {
            "query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p) "
            "{ token errors { message } } }",
            "variables": {"u": USERNAME, "p": PASSWORD},
        }
    ).encode()
    try:
        answer = json.loads(post(conn, body, {"Host": HOST, "Content-Type": "application/json"}))
    finally:
        conn.close()
    return answer["data"]["login"]["token"]


def serve(
    db: Database,
    workdir: Path,
    setup: str,
    number: int,
    gc_log: Path | None = None,
    threads: int = 4,
) -> ChildServer:
    extra = dict(SETUPS[setup])
    if gc_log is not None:
        gc_log.mkdir(parents=True, exist_ok=True)
        extra["PLATFORM_GC_LOG"] = str(gc_log)
    server = ChildServer(
        lambda port: gunicorn_argv(port, 2, threads, config="python:central.gunicorn_conf"),
        child_env(db, 60, "bench.bench_settings", **extra),
        workdir / f"server-{setup}-{number}.log",
    )
    probe = b'{"query":"{ region { code } }"}'
    headers = {"Host": HOST, "Content-Type": "application/json"}
    try:
        # Generous: on the shared machine a cold start can take more than 30 s.
        server.wait_ready(lambda conn: post(conn, probe, headers), timeout=180)
    except BaseException:
        server.stop()
        raise
    return server


def add_gc_pauses(
    directory: Path, phases: list[tuple[str, float, float]], figures: dict[str, Figures]
) -> None:
    """Add to each mode's figures the collections its measured phases saw (every
    worker's ``gc-<pid>.jsonl``, by the wall time a collection started)."""
    for path in directory.glob("gc-*.jsonl"):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            for mode, began, ended in phases:
                if began <= entry["t"] < ended:
                    figures[mode].gc_ms += entry["ms"]
                    figures[mode].gc_runs += 1


def wsgi_requests(token: str, numbers: list[str]):
    """The two kinds of request as WSGI calls into this process's Django, as a
    gunicorn worker makes them; each checks its answer."""
    import io

    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    common = {
        "SERVER_NAME": HOST,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": HOST,
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
    }
    bodies = [
        json.dumps({"query": VOLUNTEER_QUERY, "variables": {"n": n}}).encode() for n in numbers
    ]

    def call(environ: dict, number: str) -> None:
        status: list[str] = []

        def start_response(status_line, headers, exc_info=None):
            status.append(status_line)
            return lambda data: None  # the WSGI write callable, unused

        chunks = application(environ, start_response)
        body = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        if not status[0].startswith("200") or number.encode() not in body:
            raise RuntimeError(f"unexpected answer {status} {body[:200]!r}")

    def graphql(index: int) -> None:
        i = index % len(numbers)
        body = bodies[i]
        environ = {
            **common,
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/graphql",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        call(environ, numbers[i])

    def plain(index: int) -> None:
        number = numbers[index % len(numbers)]
        environ = {
            **common,
            "REQUEST_METHOD": "GET",
            "PATH_INFO": f"/plain/volunteer/{number}",
            "wsgi.input": io.BytesIO(b""),
        }
        call(environ, number)

    return {"graphql": graphql, "plain": plain}


def instructions_child(count: int, warmup: int, rounds: int) -> int:
    """Under callgrind, instrumentation off: warm up both kinds; then, for each
    round, ``count`` requests of one kind between two dumps of the counters
    (``callgrind_control``), the order turning each round."""
    import gc

    import django

    django.setup()
    from django.db import connection

    from central.gunicorn_conf import GC_THRESHOLD

    def control(*options: str) -> None:
        # Valgrind takes the command while this process runs, not while it waits
        # blocked in a system call: poll, don't wait.
        child = subprocess.Popen(["callgrind_control", *options, str(os.getpid())])
        while child.poll() is None:
            pass

    modes = wsgi_requests(os.environ["LOOKUPS_TOKEN"], os.environ["LOOKUPS_NUMBERS"].split(","))
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    for i in range(warmup):
        modes["graphql"](i)
        modes["plain"](i)
    control("--instr=on")
    control("--zero")
    for round_number in range(rounds):
        order = ["graphql", "plain"] if round_number % 2 == 0 else ["plain", "graphql"]
        for kind in order:
            for i in range(count):
                modes[kind](warmup + i)
            control(f"--dump={kind} {round_number}")
    control("--instr=off")
    connection.close()
    return 0


def count_instructions(db: Database, workdir: Path, token: str, numbers: list[str], args) -> None:
    """Instructions per request of each kind (see the module's docstring)."""
    env = child_env(
        db,
        60,
        "bench.bench_settings",
        LOOKUPS_TOKEN=token,
        LOOKUPS_NUMBERS=",".join(numbers),
        PYTHONHASHSEED="0",
    )
    out = workdir / "callgrind.out"
    for old in workdir.glob("callgrind.out*"):
        old.unlink()
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        sys.executable,
        str(Path(__file__).resolve()),
        *("--child", "--instructions", str(args.instructions)),
        *("--warmup", str(args.warmup), "--rounds", str(args.rounds)),
    ]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the child under callgrind failed:\n{result.stderr[-3000:]}")
    each: dict[str, list[float]] = {"graphql": [], "plain": []}
    for dump in sorted(workdir.glob("callgrind.out.*")):
        lines = dump.read_text().splitlines()
        trigger = next(line for line in lines if line.startswith("desc: Trigger: dump "))
        kind = trigger.split()[-2]
        total = next(int(line.split()[1]) for line in lines if line.startswith("totals:"))
        each[kind].append(total / args.instructions)
    print(
        f"\ninstructions per request in the app's process ({args.rounds} rounds × "
        f"{args.instructions} of each after a warm-up of {args.warmup} of both; valgrind "
        f"--tool=callgrind, WSGI in-process; {time.monotonic() - started:.0f} s):"
    )
    for kind, values in each.items():
        print(f"  {kind:8} " + " / ".join(f"{v:,.0f}" for v in values))
    ratios = [g / p for g, p in zip(each["graphql"], each["plain"], strict=True)]
    print("  GraphQL / plain, per round: " + " / ".join(f"×{r:.3f}" for r in ratios))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volunteers", type=int, default=300)
    parser.add_argument("--requests", type=int, default=600, help="per mode, setup and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--time-limit", type=float, default=30.0, help="cap per load phase, s")
    parser.add_argument(
        "--instructions",
        type=int,
        default=0,
        metavar="N",
        help="count instructions per request under callgrind (N of each) instead of req/s",
    )
    parser.add_argument("--reuse", type=Path, help="keep the database in this directory")
    parser.add_argument(
        "--threads", type=int, default=4, help="per gunicorn worker (2 workers; up's: 4)"
    )
    parser.add_argument(
        "--gc-log",
        action="store_true",
        help="log the workers' collections (PLATFORM_GC_LOG) and sum their pauses per mode",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return instructions_child(args.instructions, args.warmup, args.rounds)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    began = time.monotonic()
    if args.reuse:
        workdir = args.reuse.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="vrp-bench-lookups-"))
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)  # after the DB's clean-up
    print(f"{os.cpu_count()} CPUs, load average {load_average()}", flush=True)
    db = Database(workdir, DB_NAME, cleanup="stop" if args.reuse else "delete")
    env = child_env(db, 0)
    figures = {(s, m): Figures() for s in SETUPS for m in ("graphql", "plain")}
    server: ChildServer | None = None
    ready = workdir / "lookups-ready"
    try:
        if not ready.exists():
            manage(env, "up", "--no-serve")
            manage(
                env,
                *("generate_data", "--region", "500000", "--volunteers", str(args.volunteers)),
                *("--groups", str(max(1, args.volunteers // 20)), "--records-per-volunteer", "1"),
                *("--seed", "20261123"),
            )
            manage(
                env,
                *("registry", "--region", "500000", "create-authority", "--username", USERNAME),
                *("--password", PASSWORD, "--name", "基准测试", "--level", "province"),
                *("--authority-name", "重庆市民政局"),
            )
            if args.reuse:
                ready.touch()
        sql = db.connect(DB_NAME)
        with sql.cursor() as cur:
            cur.execute("SELECT number FROM region_chongqing.volunteers_volunteer ORDER BY id")
            numbers = [row[0] for row in cur.fetchall()]
        sql.close()
        print(
            f"{len(numbers)} volunteers in 重庆市; setting up took {time.monotonic() - began:.0f} s"
        )
        token: str | None = None
        if args.instructions:
            token = manage(
                child_env(db, 0, "bench.bench_settings"), *("shell", "-c", LOGIN_IN_PROCESS)
            ).split()[-1]  # (the shell first says what it imported)
            count_instructions(db, workdir, token, numbers, args)
            return 0
        for round_number in range(args.rounds):
            setups = list(SETUPS) if round_number % 2 == 0 else list(reversed(SETUPS))
            for setup in setups:
                gc_log = workdir / f"gc-{setup}-{round_number}" if args.gc_log else None
                if gc_log is not None:
                    shutil.rmtree(gc_log, ignore_errors=True)
                server = serve(db, workdir, setup, round_number, gc_log, args.threads)
                phases: list[tuple[str, float, float]] = []
                token = token or login(server.port)
                modes, same_answers = requests_for(numbers, token)
                same_answers(server.port)
                order = list(modes) if round_number % 2 == 0 else list(reversed(modes))
                for mode in order:
                    load(server.port, args.warmup, args.concurrency, args.time_limit, modes[mode])
                for mode in order:
                    cpu_app = cpu_seconds(server.proc.pid)
                    cpu_db = cpu_seconds(db.postmaster_pid)
                    switches = context_switches(server.proc.pid)
                    kernel = system_and_faults(server.proc.pid)
                    started = time.perf_counter()
                    began_at = time.time()
                    latencies, errors = load(
                        server.port, args.requests, args.concurrency, args.time_limit, modes[mode]
                    )
                    result = figures[setup, mode]
                    wall = time.perf_counter() - started
                    result.wall += wall
                    result.by_round.append(len(latencies) / wall if wall else 0.0)
                    result.cpu_app += cpu_seconds(server.proc.pid) - cpu_app
                    result.cpu_db += cpu_seconds(db.postmaster_pid) - cpu_db
                    kernel_now = system_and_faults(server.proc.pid)
                    result.system += kernel_now[0] - kernel[0]
                    result.faults += kernel_now[1] - kernel[1]
                    now = context_switches(server.proc.pid)
                    result.switches = (
                        result.switches[0] + now[0] - switches[0],
                        result.switches[1] + now[1] - switches[1],
                    )
                    result.latencies += latencies
                    result.errors += errors
                    phases.append((mode, began_at, time.time()))
                server.stop()
                server = None
                if gc_log is not None:
                    add_gc_pauses(gc_log, phases, {m: figures[setup, m] for m in modes})
                print(f"round {round_number + 1}/{args.rounds}: {setup} done", flush=True)
    except KeyboardInterrupt:
        return 130
    except RuntimeError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        db.close()

    print(f"\nvolunteer(number:) over {len(numbers)} volunteers, as an authority, {HOST}")
    print(f"{args.rounds} rounds × {args.requests} requests per setup and mode,")
    print(f"{args.concurrency} keep-alive clients; gunicorn gthread 2 × {args.threads}\n")
    print(
        "| setup | mode | req/s | median ms | p95 ms | errors | CPU ms/req app / PG "
        "| app system CPU ms/req | app page faults/req | app switches/req vol. / invol. |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (setup, mode), f in figures.items():
        app, pg = f.cpu()
        count = len(f.latencies) or 1
        print(
            f"| {setup} | {mode} | {f.rps:.0f} | {ms(statistics.median(f.latencies))} "
            f"| {ms(quantile(f.latencies, 0.95))} | {f.errors} "
            f"| {app * 1000:.1f} / {pg * 1000:.1f} | {f.system * 1000 / count:.2f} "
            f"| {f.faults / count:.1f} "
            f"| {f.switches[0] / count:.1f} / {f.switches[1] / count:.1f} |"
        )
    print()
    for setup in SETUPS:
        g, p = figures[setup, "graphql"], figures[setup, "plain"]
        print(
            f"- {setup}: GraphQL / plain req/s ×{g.rps / p.rps:.2f}, "
            f"app CPU per request ×{g.cpu()[0] / p.cpu()[0]:.2f}"
        )
        # Each round's GraphQL req/s over the same round's plain view.
        each = [a / b for a, b in zip(g.by_round, p.by_round, strict=True) if b]
        print(
            f"  per round (min / median / max): {min(each):.2f} / "
            f"{statistics.median(each):.2f} / {max(each):.2f}"
        )
    if args.gc_log:
        print("- the workers' collections (PLATFORM_GC_LOG) during the measured phases:")
        for (setup, mode), f in figures.items():
            count = len(f.latencies) or 1
            print(
                f"  {setup} {mode}: {f.gc_runs / count:.3f} collections and "
                f"{f.gc_ms / count:.3f} ms of pauses a request"
            )
    on, off = figures["cached", "graphql"], figures["uncached", "graphql"]
    print(
        f"- GraphQL cached / uncached: req/s ×{on.rps / off.rps:.2f}, "
        f"app CPU per request {off.cpu()[0] * 1000:.2f} → {on.cpu()[0] * 1000:.2f} ms "
        f"(×{on.cpu()[0] / off.cpu()[0]:.2f})"
    )
    print(f"\ntotal {time.monotonic() - began:.0f} s; load average now {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
