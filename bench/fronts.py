"""One front or two? And what does a client meet while a front is killed?

Starts a throwaway embedded PostgreSQL, then in turn ``manage.py up --fronts 1``
and ``--fronts 2`` (``--no-seed --no-deliver --no-schedule``, 2 gunicorn
workers × 4 threads), a fresh ``up`` each round, the setups interleaved over
``--rounds`` rounds so that a stretch of noise on the shared machine does not
land on one setup only. In each round:

1. throughput: ``--clients`` threads, each on one HTTP/1.1 keep-alive
   connection, POST ``{ __typename }`` to ``/graphql`` for ``--seconds``
   seconds; requests/s and the fronts' CPU time per request;
2. kills: 4 threads, each request on a new connection, while a front is killed
   with ``kill -9`` ``--kills`` times, 12 s apart (``up`` restarts a front at
   once when it ran over 10 s); for each kill, how requests
   ended (200, a JSON error, reset, refused), the slowest request started in
   the second after the kill (the wait in the backlog for a restarted front)
   and how long connections were refused (the first refusal to the last).

``--old`` runs only ``up`` without ``--fronts`` (for a checkout before it).

    .venv/bin/python bench/fronts.py [--rounds 3] [--seconds 8] [--kills 2]

Everything listens on 127.0.0.1 only; the database and its directory are
deleted on exit.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
from _common import ROOT, Database, child_env, free_port, load_average

BODY = b'{"query": "{ __typename }"}'
HEADERS = {"Host": "localhost", "Content-Type": "application/json"}


def start_up(db: Database, fronts: int | None, log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    argv = [sys.executable, "manage.py", "up", "--no-seed", "--no-deliver", "--no-schedule"]
    argv += ["--port", str(port), "--workers", "2", "--threads", "4"]
    if fronts is not None:
        argv += ["--fronts", str(fronts)]
    up = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=child_env(db, PLATFORM_LANGUAGE="en", PLATFORM_CALENDAR_READY_DAYS="-1"),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if up.poll() is not None:
            raise SystemExit(f"up exited with {up.returncode}; see {log}")
        try:
            if request(port, keep=None) == 200:
                return up, port
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"up did not answer; see {log}")


def stop_up(up: subprocess.Popen) -> None:
    up.send_signal(signal.SIGTERM)
    try:
        up.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(up.pid, signal.SIGKILL)  # its own session: only what we started
        up.wait(10)


def fronts_of(up: subprocess.Popen) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(up.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "central.front" in child.cmdline():
                found.append(child)
        except psutil.Error:
            continue
    return found


def request(port: int, keep: http.client.HTTPConnection | None) -> int:
    conn = keep or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/graphql", body=BODY, headers=HEADERS)
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        if keep is None:
            conn.close()


def throughput(up: subprocess.Popen, port: int, clients: int, seconds: float):
    fronts = fronts_of(up)
    cpu_before = sum(sum(f.cpu_times()[:2]) for f in fronts)
    done, errors = [0] * clients, [0] * clients
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < deadline:
            try:
                if request(port, conn) == 200:
                    done[index] += 1
                else:
                    errors[index] += 1
            except (OSError, http.client.HTTPException):
                errors[index] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    cpu = sum(sum(f.cpu_times()[:2]) for f in fronts) - cpu_before
    return sum(done) / elapsed, sum(errors), cpu / max(sum(done), 1) * 1000


def kills(up: subprocess.Popen, port: int, count: int):
    """For each kill: (Counter of outcomes, slowest ms of the requests started in
    the second after it, median ms of those)."""
    stop = threading.Event()
    results: list[tuple[float, float, str]] = []  # started, seconds, outcome

    def client() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                status = request(port, None)
                outcome = "200" if status == 200 else f"HTTP {status}"
            except ConnectionRefusedError:
                outcome = "refused"
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                outcome = "reset"
            except (OSError, http.client.HTTPException) as error:
                outcome = type(error).__name__
            results.append((started, time.monotonic() - started, outcome))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    marks = []
    try:
        for _ in range(count):
            time.sleep(12)
            victim = fronts_of(up)[0]
            marks.append(time.monotonic())
            os.kill(victim.pid, signal.SIGKILL)
        time.sleep(3)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    found = []
    for index, mark in enumerate(marks):
        end = marks[index + 1] if index + 1 < len(marks) else float("inf")
        window = [r for r in results if mark - 1 <= r[0] < min(end, mark + 2.5)]
        after = [seconds * 1000 for started, seconds, _ in window if mark <= started < mark + 1]
        refused = [started for started, _, outcome in window if outcome == "refused"]
        found.append(
            (
                Counter(outcome for _, _, outcome in window),
                max(after, default=0),
                statistics.median(after) if after else 0,
                max(refused) - min(refused) if refused else 0,
            )
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--old", action="store_true", help="up without --fronts")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="w28-front-bench-"))
    db = Database(work, "bench_fronts")
    log = work / "up.log"
    setups = [None] if args.old else [1, 2]
    rates: dict[object, list[float]] = {s: [] for s in setups}
    cpus: dict[object, list[float]] = {s: [] for s in setups}
    print(f"load average at start: {load_average()}")
    try:
        for number in range(1, args.rounds + 1):
            for fronts in setups:
                up, port = start_up(db, fronts, log)
                try:
                    time.sleep(1)
                    rate, errors, cpu = throughput(up, port, args.clients, args.seconds)
                    rates[fronts].append(rate)
                    cpus[fronts].append(cpu)
                    print(
                        f"round {number} fronts={fronts}: {rate:.0f} req/s ({errors} errors), "
                        f"fronts' CPU {cpu:.2f} ms/request; load {load_average()}"
                    )
                    for outcomes, slowest, median, refusing in kills(up, port, args.kills):
                        print(
                            f"  kill: {dict(outcomes)}; started in the second after: "
                            f"median {median:.0f} ms, slowest {slowest:.0f} ms"
                            + (f"; refused for {refusing:.2f} s" if refusing else "")
                        )
                finally:
                    stop_up(up)
        for fronts in setups:
            r = rates[fronts]
            print(
                f"fronts={fronts}: {min(r):.0f} / {statistics.median(r):.0f} / {max(r):.0f} req/s "
                f"(min / median / max), CPU {statistics.median(cpus[fronts]):.2f} ms/request"
                + (
                    f", ratio to 1 front {statistics.median(r) / statistics.median(rates[1]):.2f}"
                    if fronts != 1 and 1 in rates
                    else ""
                )
            )
        if 1 in rates and 2 in rates:
            ratios = [b / a for a, b in zip(rates[1], rates[2], strict=True)]
            print(
                "per-round ratio 2 fronts / 1: "
                f"{min(ratios):.2f} / {statistics.median(ratios):.2f} / {max(ratios):.2f}"
            )
        print(f"load average at end: {load_average()}")
    finally:
        db.close()


if __name__ == "__main__":
    main()
