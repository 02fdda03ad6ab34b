"""Instructions per single lookup in a real gunicorn worker, served over HTTP.

``bench/lookups.py --instructions`` counts a lookup through Django's WSGI
handler in-process: it leaves out what a served request adds — gunicorn's
``gthread`` worker reading the request (a ``POST`` body for GraphQL, none for
the plain view's ``GET``), its main loop, the ``post_request`` collections of
``central/gunicorn_conf.py`` between requests. This serves the app as the
lookups benchmark does (``bench.bench_settings``, ``CONN_MAX_AGE=60``, the
gunicorn configuration of ``manage.py up``) with one worker of 4 threads,
started under ``valgrind --tool=callgrind --trace-children=yes`` with
instrumentation off; after a warm-up of both kinds it switches the worker's
counting on and, each round, sends N ``volunteer(number:)`` GraphQL lookups and
N ``GET /plain/volunteer/<number>`` (the order turning) from one keep-alive
client outside valgrind, dumping the worker's counters after each. The counts
cover the whole worker process, every thread; PostgreSQL is another process.

    .venv/bin/python bench/lookups.py --instructions 50 --reuse /tmp/lookups-db  # makes the DB
    .venv/bin/python bench/lookups_served.py --reuse /tmp/lookups-db --requests 100
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script: the repository on sys.path, for ``bench.*`` and the platform.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

from bench._common import Database, child_env, free_port, get, gunicorn_argv, post  # noqa: E402
from bench.lookups import DB_NAME, HOST, VOLUNTEER_QUERY, login  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reuse", type=Path, required=True, help="bench/lookups.py's DIR")
    parser.add_argument("--requests", type=int, default=100, help="of each kind per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument(
        "--cache-sim",
        action="store_true",
        help="simulate caches and branch prediction too, and print estimated cycles",
    )
    args = parser.parse_args()
    if not (args.reuse / "lookups-ready").exists():
        print("run bench/lookups.py --reuse DIR first (it generates the region)", file=sys.stderr)
        return 2
    out = args.reuse / "served-callgrind"
    out.mkdir(exist_ok=True)
    for old in out.glob("cg.*"):
        old.unlink()
    db = Database(args.reuse, DB_NAME, cleanup="stop")
    proc = None
    try:
        sql = db.connect(DB_NAME)
        with sql.cursor() as cur:
            cur.execute("SELECT number FROM region_chongqing.volunteers_volunteer ORDER BY id")
            numbers = [row[0] for row in cur.fetchall()]
        sql.close()
        port = free_port()
        env = child_env(db, 60, "bench.bench_settings", PYTHONHASHSEED="0")
        argv = gunicorn_argv(port, 1, 4, config="python:central.gunicorn_conf")
        command = [
            *("valgrind", "--tool=callgrind", "--trace-children=yes", "--instr-atstart=no"),
            f"--callgrind-out-file={out}/cg.%p",
            *(("--cache-sim=yes", "--branch-sim=yes") if args.cache_sim else ()),
            *argv,
            "--timeout=0",  # valgrind is slow: no heartbeat timeout
        ]
        log = (out / "server.log").open("wb")
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        headers = {"Host": HOST, "Content-Type": "application/json"}
        for _ in range(600):  # a cold start under valgrind takes minutes
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                post(probe, b'{"query":"{ region { code } }"}', headers)
                probe.close()
                break
            except (OSError, RuntimeError, http.client.HTTPException):
                time.sleep(1)
        headers["Authorization"] = f"Bearer {login(port)}"
        bodies = [
            json.dumps({"query": VOLUNTEER_QUERY, "variables": {"n": n}}).encode() for n in numbers
        ]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

        def graphql(i: int) -> None:
            if numbers[i % len(numbers)].encode() not in post(
                conn, bodies[i % len(numbers)], headers
            ):
                raise RuntimeError("unexpected answer")

        def plain(i: int) -> None:
            number = numbers[i % len(numbers)]
            if number.encode() not in get(conn, f"/plain/volunteer/{number}", headers):
                raise RuntimeError("unexpected answer")

        for i in range(args.warmup):
            graphql(i)
            plain(i)
        children = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
        ).stdout.split()
        (worker,) = children

        def control(*options: str) -> None:
            subprocess.run(["callgrind_control", *options, worker], capture_output=True)

        control("--instr=on")
        control("--zero")
        kinds = {"graphql": graphql, "plain": plain}
        for round_number in range(args.rounds):
            order = list(kinds) if round_number % 2 == 0 else list(reversed(kinds))
            for kind in order:
                for i in range(args.requests):
                    kinds[kind](args.warmup + i)
                control(f"--dump={kind} {round_number}")
        control("--instr=off")
        conn.close()
    finally:
        if proc is not None:
            os.killpg(proc.pid, 15)
            proc.wait()
        db.close()
    each: dict[str, list[float]] = {"graphql": [], "plain": []}
    events: dict[str, list[dict[str, float]]] = {"graphql": [], "plain": []}
    for dump in sorted(out.glob("cg.*.*"), key=lambda p: int(p.suffix[1:])):
        lines = dump.read_text(errors="replace").splitlines()
        trigger = next(line for line in lines if line.startswith("desc: Trigger: dump "))
        names = next(line for line in lines if line.startswith("events:")).split()[1:]
        totals = next(line for line in lines if line.startswith("totals:")).split()[1:]
        counts = {
            name: int(value) / args.requests for name, value in zip(names, totals, strict=False)
        }
        each[trigger.split()[-2]].append(counts["Ir"])
        events[trigger.split()[-2]].append(counts)
    print(
        f"instructions per request in one gunicorn gthread worker (1 × 4 threads), served over "
        f"HTTP, {args.rounds} rounds × {args.requests} of each after {args.warmup} of both:"
    )
    for kind, values in each.items():
        print(f"  {kind:8} " + " / ".join(f"{v:,.0f}" for v in values))
    ratios = [g / p for g, p in zip(each["graphql"], each["plain"], strict=True)]
    print("  GraphQL / plain, per round: " + " / ".join(f"×{r:.3f}" for r in ratios))
    if args.cache_sim:
        print_cache_sim(events)
    return 0


def estimated_cycles(c: dict[str, float]) -> float:
    """callgrind_annotate's and KCachegrind's estimate (CEst): an instruction a
    cycle, 10 for a first-level miss or a mispredicted branch, 100 for a last-level
    miss."""
    first = c.get("I1mr", 0) + c.get("D1mr", 0) + c.get("D1mw", 0)
    last = c.get("ILmr", 0) + c.get("DLmr", 0) + c.get("DLmw", 0)
    branches = c.get("Bcm", 0) + c.get("Bim", 0)
    return c["Ir"] + 10 * first + 100 * last + 10 * branches


def print_cache_sim(events: dict[str, list[dict[str, float]]]) -> None:
    """Per request and round: cache misses, mispredicted branches and estimated
    cycles, GraphQL against plain (a simulated private cache: the machine's sharing
    with other processes is not in it)."""
    shown = ("I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw", "Bcm", "Bim")
    for kind, rounds in events.items():
        for number, c in enumerate(rounds):
            misses = ", ".join(f"{name} {c.get(name, 0):,.0f}" for name in shown)
            print(f"  {kind:8} round {number}: {misses}; est. cycles {estimated_cycles(c):,.0f}")
    ratios = [
        estimated_cycles(g) / estimated_cycles(p)
        for g, p in zip(events["graphql"], events["plain"], strict=True)
    ]
    print("  est. cycles GraphQL / plain, per round: " + " / ".join(f"×{r:.3f}" for r in ratios))


if __name__ == "__main__":
    sys.exit(main())
