"""An operator's load test of ``manage.py up`` (issue 20): N minutes of mixed
traffic while faults happen on a schedule, then a ledger check.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python bench/load.py --minutes 60

It starts ``manage.py up`` (its defaults: embedded PostgreSQL, 2 workers × 4
threads, the front) in a throwaway directory and drives it over HTTP with
``--clients`` threads, each one keep-alive connection, mixing

- ``lookup``: ``{ region { code name } }`` on a region's host (the smallest read);
- ``policy``: ``{ region { policy { … } } }`` (a larger read);
- ``register``: ``registerVolunteer`` (a write, with PBKDF2 hashing: CPU-heavy);
- ``login``: a volunteer's login (PBKDF2 again);
- ``me``: the volunteer's own page with their token.

Faults, on a schedule spread over the run: a gunicorn worker ``kill -9`` every
``--kill-every`` minutes, PostgreSQL killed (``-9``) at one third and stopped
(``-INT``) at two thirds of the run, and a burst of ``--slow`` connections
trickling headers for 45 s at the half. A *fault window* runs from a fault
until its first success after it.

At the end: every acknowledged registration is in the database exactly once,
those whose answer never came at most once; per operation the count, p50,
p99 and p99/p50; 5xx outside fault windows; each fault's recovery time; the
workers' memory (RSS, summed) over time; and a plot (``load.png``, matplotlib)
of p99 per operation per minute and worker RSS. It prints a summary and
exits 1 if a target of issue 20 is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import free_port, quantile  # noqa: E402

HOST = "chongqing.localhost"
REGISTER_VOLUNTEER = """mutation($input: RegisterVolunteerInput!) {
  registerVolunteer(input: $input) { volunteer { number } errors { code message } } }"""
_serial = itertools.count(1)
_RUN = f"{random.randrange(16**4):04x}"


def volunteer_input(name: str) -> dict:
    """A self-registration with a valid, unique resident ID number (GB 11643)."""
    from stdnum.cn import ric

    serial = next(_serial)
    birth = datetime.date(1960, 1, 1) + datetime.timedelta(days=serial // 1000)
    body = f"500101{birth:%Y%m%d}{serial % 1000:03d}"
    return {
        "name": name,
        "gender": "MALE",
        "birthDate": birth.isoformat(),
        "idType": "RESIDENT_ID",
        "idNumber": body + ric.calc_check_digit(body + "0"),
        "phone": f"139{serial:08d}",
        "username": f"load{_RUN}{serial}",
        "password": "Strong-pass-2026",
    }


LOOKUP = "{ region { code name } }"
POLICY = """{ region { code name policy { publicityWorkingDays starThresholds }
  divisions { code name } } }"""
LOGIN = """mutation($u: String!, $p: String!) { login(username: $u, password: $p)
  { token errors { message } } }"""
ME = """{ me { username volunteer { number name status totalHours } } }"""


@dataclass
class Sample:
    op: str
    at: float
    seconds: float
    status: int  # HTTP status; 0: no answer


@dataclass
class Ledger:
    acknowledged: dict[str, str] = field(default_factory=dict)  # name -> number
    unknown: set[str] = field(default_factory=set)
    accounts: list[tuple[str, str]] = field(default_factory=list)  # username, password


class Run:
    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="vrp-load-"))
        self.pgdata = self.work / "pg"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.samples: list[Sample] = []
        self.lock = threading.Lock()
        self.ledger = Ledger()
        self.faults: list[tuple[str, float]] = []
        # (seconds since start, worker pid, RSS MiB): per worker, because a killed
        # worker's replacement starts small and a sum would show that as a sawtooth.
        self.memory: list[tuple[float, int, float]] = []
        self.stop = threading.Event()
        self.started = 0.0
        self.tag = f"{random.randrange(16**6):06x}"
        self.refusals: dict[str, int] = defaultdict(int)

    # --- the server ---------------------------------------------------------------

    def start(self) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_URL", "PLATFORM_PG_", "DJANGO_SETTINGS_MODULE"))
        }
        # Ready means the database answers; the working-day calendar's part of
        # /readyz depends on the date (central/readiness.py).
        env.update(
            PLATFORM_PG_DATA=str(self.pgdata),
            PLATFORM_PG_CLEANUP="stop",
            PLATFORM_CALENDAR_READY_DAYS="-1",
        )
        self.log = (self.work / "up.log").open("w")
        self.up = subprocess.Popen(
            [sys.executable, "manage.py", "up", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit("up did not become ready; see " + str(self.work / "up.log"))

    def workers(self) -> list[psutil.Process]:
        found = []
        for child in psutil.Process(self.up.pid).children():
            try:
                if child.status() != psutil.STATUS_ZOMBIE and "manage.py up" in " ".join(
                    child.cmdline()
                ):
                    found.append(child)
            except psutil.Error:
                continue
        return found

    def postmaster(self) -> int:
        return int((self.pgdata / "postmaster.pid").read_text().split()[0])

    def finish(self) -> None:
        self.up.send_signal(signal.SIGTERM)
        try:
            self.up.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.up.pid, signal.SIGKILL)
        self.log.close()

    # --- traffic -----------------------------------------------------------------

    def record(self, op: str, began: float, status: int) -> Sample:
        sample = Sample(op, began - self.started, time.monotonic() - began, status)
        with self.lock:
            self.samples.append(sample)
        return sample

    def post(self, client, op: str, query: str, variables=None, token=None):
        headers = {"Host": HOST}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        began = time.monotonic()
        try:
            response = client.post(
                f"{self.base}/graphql",
                json={"query": query, "variables": variables or {}},
                headers=headers,
            )
        except httpx.HTTPError:
            self.record(op, began, 0)
            return None
        response.sample = self.record(op, began, response.status_code)
        return response

    def client(self, number: int) -> None:
        rng = random.Random(number)
        serial, token = 0, None
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                roll = rng.random()
                if roll < 0.55:
                    self.post(client, "lookup", LOOKUP)
                elif roll < 0.75:
                    self.post(client, "policy", POLICY)
                elif roll < 0.85 and token:
                    self.post(client, "me", ME, token=token)
                elif roll < 0.93:
                    serial += 1
                    name = f"负载{self.tag}c{number}n{serial}"
                    data = volunteer_input(name=name)
                    response = self.post(client, "register", REGISTER_VOLUNTEER, {"input": data})
                    body = (
                        response.json()
                        if response is not None and response.status_code == 200
                        else None
                    )
                    made = ((body or {}).get("data") or {}).get("registerVolunteer") or {}
                    with self.lock:
                        if made.get("volunteer"):
                            self.ledger.acknowledged[name] = made["volunteer"]["number"]
                            self.ledger.accounts.append((data["username"], data["password"]))
                        elif response is None or response.status_code >= 500:
                            self.ledger.unknown.add(name)
                        else:  # refused with a reason: counted apart, not as a write
                            response.sample.op = "register-refused"
                            errors = made.get("errors") or (body or {}).get("errors") or [{}]
                            code = errors[0].get("code") or (errors[0].get("extensions") or {}).get(
                                "code"
                            )
                            self.refusals[str(code)] += 1
                else:
                    with self.lock:
                        account = rng.choice(self.ledger.accounts) if self.ledger.accounts else None
                    if account:
                        response = self.post(
                            client, "login", LOGIN, {"u": account[0], "p": account[1]}
                        )
                        if response is not None and response.status_code == 200:
                            token = ((response.json().get("data") or {}).get("login") or {}).get(
                                "token"
                            ) or token

    def slow_clients(self, count: int, seconds: float) -> None:
        import socket

        sockets = []
        for _ in range(count):
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                sock.sendall(f"POST /graphql HTTP/1.1\r\nHost: {HOST}\r\n".encode())
                sockets.append(sock)
            except OSError:
                continue
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.stop.is_set():
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-Slow: 1\r\n")
            time.sleep(5)
        for sock in sockets:
            sock.close()

    def sample_memory(self) -> None:
        while not self.stop.wait(5):
            at = time.monotonic() - self.started
            for worker in self.workers():
                try:
                    rss = worker.memory_info().rss / 1048576
                except psutil.Error:
                    continue
                self.memory.append((at, worker.pid, rss))

    # --- the schedule ------------------------------------------------------------

    def fault(self, name: str, action) -> None:
        self.faults.append((name, time.monotonic() - self.started))
        print(f"  {self.elapsed()} fault: {name}", flush=True)
        action()

    def elapsed(self) -> str:
        seconds = int(time.monotonic() - self.started)
        return f"[{seconds // 60:02d}:{seconds % 60:02d}]"

    def schedule(self) -> list[tuple[float, str, object]]:
        total = self.args.minutes * 60
        events = []
        kill = self.args.kill_every * 60
        at = kill
        while at < total - 30:
            events.append((at, "worker kill -9", self.kill_worker))
            at += kill
        events.append(
            (total / 3, "postgresql kill -9", lambda: os.kill(self.postmaster(), signal.SIGKILL))
        )
        events.append(
            (
                2 * total / 3,
                "postgresql kill -INT",
                lambda: os.kill(self.postmaster(), signal.SIGINT),
            )
        )
        events.append(
            (
                total / 2,
                f"{self.args.slow} slow clients for 45 s",
                lambda: threading.Thread(
                    target=self.slow_clients, args=(self.args.slow, 45), daemon=True
                ).start(),
            )
        )
        return sorted(events, key=lambda e: e[0])

    def kill_worker(self) -> None:
        workers = self.workers()
        if workers:
            os.kill(random.choice(workers).pid, signal.SIGKILL)

    def go(self) -> int:
        print(
            f"load test: {self.args.minutes} min, {self.args.clients} clients, work dir {self.work}"
        )
        self.start()
        print(f"  up is ready on port {self.port}", flush=True)
        self.started = time.monotonic()
        threads = [
            threading.Thread(target=self.client, args=(n,), daemon=True)
            for n in range(self.args.clients)
        ]
        threads.append(threading.Thread(target=self.sample_memory, daemon=True))
        for thread in threads:
            thread.start()
        total = self.args.minutes * 60
        events = self.schedule()
        next_report = 60
        while (now := time.monotonic() - self.started) < total:
            while events and events[0][0] <= now:
                _, name, action = events.pop(0)
                self.fault(name, action)
            if now >= next_report:
                with self.lock:
                    done = len(self.samples)
                print(
                    f"  {self.elapsed()} {done} requests, "
                    f"{len(self.ledger.acknowledged)} registrations acknowledged",
                    flush=True,
                )
                next_report += 60
            time.sleep(0.2)
        self.stop.set()
        for thread in threads:
            thread.join(60)
        failures = self.report()
        self.finish()
        return 1 if failures else 0

    # --- the verdict ---------------------------------------------------------------

    def windows(self) -> list[tuple[str, float, float]]:
        """(fault, start, end): from the fault to the first success after it."""
        found = []
        ordered = sorted(self.samples, key=lambda s: s.at)
        for name, at in self.faults:
            start = at
            if "slow" in name:
                found.append((name, at, at + 45))
                continue
            end = next((s.at + s.seconds for s in ordered if s.at >= at and s.status == 200), None)
            found.append((name, start, end if end is not None else float("inf")))
        return found

    def report(self) -> list[str]:
        failures = []
        windows = self.windows()

        def in_fault(sample: Sample) -> bool:
            end = sample.at + sample.seconds
            return any(s - 1 <= end and sample.at <= e + 1 for _, s, e in windows)

        print("\nfaults and recovery (to the first success after the fault):")
        for name, start, end in windows:
            recovery = end - start
            print(f"  {start:7.1f}s {name:<28} recovered in {recovery:.2f}s")
            if "slow" not in name and recovery > 10:
                failures.append(f"{name}: recovered in {recovery:.1f}s (> 10 s)")
        outside = [s for s in self.samples if s.status >= 500 and not in_fault(s)]
        print(f"\n{len(self.samples)} requests; 5xx outside fault windows: {len(outside)}")
        if self.refusals:
            print(f"registrations refused with a reason: {dict(self.refusals)}")
        if outside:
            failures.append(f"{len(outside)} 5xx outside fault windows")
        print("\noperation      count     p50 ms    p99 ms   p99/p50")
        by_op = defaultdict(list)
        for s in self.samples:
            if s.status == 200 and not in_fault(s):
                by_op[s.op].append(s.seconds)
        for op, values in sorted(by_op.items()):
            p50, p99 = quantile(values, 0.5), quantile(values, 0.99)
            ratio = p99 / p50 if p50 else 0
            print(f"  {op:<10} {len(values):8d} {p50 * 1000:9.1f} {p99 * 1000:9.1f} {ratio:8.1f}")
            if len(values) >= 100 and ratio > 5:
                failures.append(f"{op}: p99 {ratio:.1f}× p50 (> 5×)")
        slow = [w for w in windows if "slow" in w[0]]
        if slow:
            _, began, ended = slow[0]
            during = [
                x.seconds
                for x in self.samples
                if x.op == "lookup" and began <= x.at <= ended and x.status == 200
            ]
            if during:
                p99 = quantile(during, 0.99)
                print(
                    f"\nlookups during the slow-client burst: {len(during)}, "
                    f"p99 {p99 * 1000:.0f} ms"
                )
                if p99 > 1:
                    failures.append(f"lookup p99 {p99:.2f}s during the slow-client burst (> 1 s)")
        # The ledger against the database.
        uri = f"postgresql://postgres@/volunteer_records?host={self.pgdata}"
        with psycopg2.connect(uri) as conn, conn.cursor() as cursor:
            cursor.execute(
                "SELECT name, count(*) FROM region_chongqing.volunteers_volunteer "
                "WHERE name LIKE %s GROUP BY name",
                [f"负载{self.tag}%"],
            )
            stored = dict(cursor.fetchall())
        lost = [n for n in self.ledger.acknowledged if stored.get(n) != 1]
        doubled = [n for n, c in stored.items() if c > 1]
        surprise = [
            n for n in stored if n not in self.ledger.acknowledged and n not in self.ledger.unknown
        ]
        print(
            f"\nledger: {len(self.ledger.acknowledged)} acknowledged writes, {len(lost)} lost; "
            f"{len(doubled)} doubled; {len(self.ledger.unknown)} without an answer, "
            f"{sum(1 for n in self.ledger.unknown if n in stored)} of them written; "
            f"{len(surprise)} written that nobody asked for"
        )
        if lost or doubled or surprise:
            failures.append("the ledger does not match the database")
        growth = memory_growth(self.memory, self.args.minutes * 30)
        for pid, (first, last, peak) in sorted(growth.items()):
            print(
                f"worker {pid} RSS over the second half, warmed up: "
                f"{first:.0f} → {last:.0f} MiB (peak {peak:.0f})"
            )
            if peak > first * (1 + RSS_GROWTH):
                failures.append(f"worker {pid} grew {first:.0f} → {peak:.0f} MiB")
        self.plot(by_op)
        (self.work / "samples.json").write_text(json.dumps([s.__dict__ for s in self.samples]))
        print("\n" + ("targets met" if not failures else "MISSED: " + "; ".join(failures)))
        return failures

    def plot(self, by_op) -> None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("(no plot: pip install -e '.[bench]' for matplotlib)")
            return
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
        minutes: defaultdict[Any, defaultdict[Any, list]] = defaultdict(lambda: defaultdict(list))
        for s in self.samples:
            if s.status == 200:
                minutes[s.op][int(s.at // 60)].append(s.seconds)
        for op, per in sorted(minutes.items()):
            xs = sorted(per)
            top.plot(xs, [quantile(per[x], 0.99) * 1000 for x in xs], label=op)
        for _name, at in self.faults:
            for axis in (top, bottom):
                axis.axvline(at / 60, color="grey", alpha=0.3)
        top.set_ylabel("p99 ms (per minute)")
        top.set_yscale("log")
        top.legend()
        per_worker = defaultdict(list)
        for at, pid, rss in self.memory:
            per_worker[pid].append((at / 60, rss))
        for points in per_worker.values():
            bottom.plot([t for t, _ in points], [m for _, m in points], color="tab:blue")
        bottom.set_ylabel("worker RSS, MiB")
        bottom.set_xlabel("minute")
        out = ROOT / "bench" / "load.png"
        fig.savefig(out, dpi=80)
        print(f"plot: {out}")


# A worker is flat when, once warmed up, it stays within this much of its size.
RSS_GROWTH = 0.10
RSS_WARM_UP = 120  # seconds a new worker takes to load what it serves (measured: < 2 min)


def memory_growth(
    memory: list[tuple[float, int, float]], half: float
) -> dict[int, tuple[float, float, float]]:
    """Per worker sampled in the second half, after its warm-up: (first, last,
    peak) RSS in MiB. Warm-up is left out because a replacement worker loads the
    code paths it serves in its first minutes; what must not happen is growth
    after that (issue 16: reference cycles kept pages alive)."""
    born: dict[int, float] = {}
    for at, pid, _ in memory:
        born.setdefault(pid, at)
    series = defaultdict(list)
    for at, pid, rss in memory:
        if at >= half and at - born[pid] >= RSS_WARM_UP:
            series[pid].append(rss)
    return {pid: (v[0], v[-1], max(v)) for pid, v in series.items() if len(v) >= 12}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--kill-every", type=float, default=5, help="minutes between worker kills")
    parser.add_argument("--slow", type=int, default=200, help="slow connections in the burst")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    run = Run(args)
    try:
        code = run.go()
    finally:
        run.stop.set()
        if run.up.poll() is None if hasattr(run, "up") else False:
            run.finish()
        if not args.keep:
            shutil.rmtree(run.work, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
