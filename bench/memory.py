"""Memory that levels off (issue 16 point 1): worker RSS over thousands of nested pages.

Starts ``manage.py up`` with its defaults — the embedded PostgreSQL (here in a
throwaway directory), 2 gunicorn workers × 4 threads behind the front, the GC
tuning of ``central/gunicorn_conf.py`` — on a region of ``--volunteers`` ×
``--records-per-volunteer`` records (by default 100,000 × 10 = 1,000,000, made
by ``manage.py generate_data`` as bench/nested_page.py makes them), logs in as
an authority and sends ``--pages`` nested pages (bench/nested_page.py's QUERY:
50 groups × 20 volunteers × 10 records) from ``--clients`` threads, each on one
keep-alive connection. Every ``--sample-every`` pages it samples each worker's
RSS (psutil).

It prints, per worker, RSS after the warm-up (``--warmup`` pages) and at the end,
and the growth ratio end / warm-up; the latency of the pages after the warm-up
(min / median / p99 / max, and p99 / median); and, over ``--rounds`` consecutive
rounds of the pages after the warm-up, min / median / max of each round's
p99 / median and of each round's RSS growth (its end over its start). It exits 1
when a target is missed: a worker above 300 MB at the end, p99 above 2 × the
median, or any failed page.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python bench/memory.py
    # keep the generated region for the next run (generation is skipped then):
    .venv/bin/python bench/memory.py --reuse /tmp/memory-db
    # a quick run while developing:
    .venv/bin/python bench/memory.py --volunteers 2000 --pages 400 --warmup 50

Everything listens on 127.0.0.1 only; without ``--reuse`` the database and its
directory are deleted on exit. See bench/README.md for the figures.
"""

from __future__ import annotations

import argparse
import atexit
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
# Run as a script: the repository on sys.path, for ``bench.*`` and the platform.
sys.path.insert(0, str(ROOT))

import statistics  # noqa: E402

from bench._common import free_port, get, load, load_average, ms, post, quantile  # noqa: E402
from bench.nested_page import (  # noqa: E402
    CODE,
    HOST,
    MEMBERSHIPS_PER_VOLUNTEER,
    PAGE,
    PASSWORD,
    QUERY,
    REGION,
    USERNAME,
    Api,
    log,
    manage,
)

RSS_TARGET_MB = 300
P99_TARGET = 2.0  # p99 / median


def mb(n: float) -> str:
    return f"{n / 2**20:.0f}"


def prepare(env: dict, args) -> None:
    """Migrate and seed (``up --no-serve``), then the region, its data and an authority."""
    step = time.monotonic()
    manage(env, "up", "--no-serve")
    log(f"set up in {time.monotonic() - step:.1f} s")
    if manage(env, "region", "show", CODE, check=False).returncode == 0:
        log(f"reusing region {CODE}")
        return
    manage(env, "region", "create", *REGION)
    groups = round(args.volunteers * MEMBERSHIPS_PER_VOLUNTEER / args.members_per_group)
    command = ["generate_data", "--region", CODE, "--volunteers", str(args.volunteers)]
    command += ["--groups", str(groups), "--records-per-volunteer", str(args.records_per_volunteer)]
    command += ["--seed", "20261123"]
    log("manage.py " + " ".join(command))
    step = time.monotonic()
    subprocess.run(
        [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    log(f"generated in {time.monotonic() - step:.0f} s")
    manage(
        env, "registry", "--region", CODE, "create-authority", "--username", USERNAME,
        "--password", PASSWORD, "--name", "基准测试", "--level", "province",
        "--authority-name", "云南省民政厅",
    )  # fmt: skip


class Up:
    """``manage.py up`` on a free port, in a session of its own."""

    def __init__(self, env: dict, workdir: Path):
        self.port = free_port()
        self.log_path = workdir / "up.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "up", "--port", str(self.port)],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 600) -> None:
        import http.client

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"up exited; see {self.log_path}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.5)
        raise RuntimeError(f"up not ready; see {self.log_path}")

    def workers(self) -> list[psutil.Process]:
        """gunicorn's workers: ``up`` runs the arbiter, the workers are its forks."""
        found = []
        for child in psutil.Process(self.proc.pid).children():
            try:
                if "manage.py up" in " ".join(child.cmdline()):
                    found.append(child)
            except psutil.Error:
                continue
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: only ours
                self.proc.wait(10)
        self._log.close()


class Sampler(threading.Thread):
    """Each worker's RSS every ``every`` pages done: (pages done, {pid: bytes})."""

    def __init__(self, up: Up, every: int):
        super().__init__(daemon=True)
        self.up, self.every = up, every
        self.done = 0  # pages answered (the load's threads count them)
        self.samples: list[tuple[int, dict[int, int]]] = []
        self.loads: list[float] = []  # the 1-minute load average at each sample
        self.cpu: list[float] = []  # the workers' CPU seconds (user + system) so far
        self.finished = threading.Event()

    def sample(self) -> None:
        rss = {}
        for worker in self.up.workers():
            try:
                rss[worker.pid] = worker.memory_info().rss
            except psutil.Error:
                continue
        self.samples.append((self.done, rss))
        cpu = 0.0
        for worker in self.up.workers():
            try:
                times = worker.cpu_times()
                cpu += times.user + times.system
            except psutil.Error:
                continue
        self.cpu.append(cpu)
        self.loads.append(os.getloadavg()[0])

    def run(self) -> None:
        mark = 0
        while not self.finished.wait(0.02):
            if self.done >= mark:
                self.sample()
                mark = (self.done // self.every + 1) * self.every
        self.sample()

    def at(self, pages: int) -> dict[int, int]:
        """The first sample taken once ``pages`` pages were done."""
        return next((rss for done, rss in self.samples if done >= pages), self.samples[-1][1])


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def server_times(up: Up) -> dict[str, tuple[float, float]]:
    """request id → (end as Unix time, server-side ms) from the access log."""
    found = {}
    for line in up.log_path.read_text(errors="replace").splitlines():
        if '"platform.access"' not in line:
            continue
        try:
            entry = json.loads(line)
            end = datetime.datetime.fromisoformat(entry["time"]).timestamp()
            found[entry["request_id"]] = (end, float(entry["duration_ms"]))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def tail(timed: list[tuple[int, float]], up: Up, gc_dir: Path) -> None:
    """Where the slowest pages' time went: server-side time (access log) against
    the client's (the rest is the front, the sockets and gunicorn's queue), and
    the GC pauses of either worker while the page was served (an upper bound: a
    pause stops only its own worker)."""
    pauses = []  # (start, ms, generation, between requests)
    for path in gc_dir.glob("gc-*.jsonl"):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            pauses.append((entry["t"], entry["ms"], entry["gen"], entry.get("between", False)))
    for gen in (0, 1, 2):
        for between, where in ((True, "between requests"), (False, "automatic")):
            mine = [p[1] for p in pauses if p[2] == gen and p[3] is between]
            if mine:
                print(
                    f"  GC gen {gen} {where}: {len(mine)} collections, total {sum(mine):.0f} ms, "
                    f"median {statistics.median(mine):.1f} ms, p99 {quantile(mine, 0.99):.1f} ms, "
                    f"max {max(mine):.1f} ms"
                )
    server = server_times(up)
    rows = []
    for index, took in timed:
        seen = server.get(f"page-{index}")
        if seen is None:
            continue
        end, server_ms = seen
        start = end - server_ms / 1000
        gc_ms = sum(p[1] for p in pauses if start - 0.001 <= p[0] <= end)
        rows.append((took * 1000, server_ms, gc_ms))
    if len(rows) < 20:
        return
    rows.sort()
    slow = rows[-max(1, len(rows) // 100) :]
    typical = rows[len(rows) // 4 : 3 * len(rows) // 4]

    def mean(values):
        return sum(values) / len(values)

    for label, group in (("slowest 1 %", slow), ("middle half", typical)):
        client, srv, gcs = (mean([r[k] for r in group]) for k in range(3))
        print(
            f"  {label} of pages ({len(group)}): client {client:.0f} ms = server {srv:.0f} ms "
            f"(GC of either worker {gcs:.1f} ms) + front/queue {client - srv:.0f} ms"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volunteers", type=int, default=100_000)
    parser.add_argument("--records-per-volunteer", type=int, default=10)
    parser.add_argument("--members-per-group", type=int, default=20)
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=400, help="pages before the baseline RSS")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--sample-every", type=int, default=100, help="pages between samples")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--reuse", type=Path, help="keep the database in this directory")
    parser.add_argument("--time-limit", type=float, default=3600, help="seconds for the pages")
    parser.add_argument(
        "--plain-every", type=int, default=10,
        help="after every N-th page also GET /plain/nested, the served baseline (0: never)",
    )  # fmt: skip
    args = parser.parse_args()

    from central.database import start_embedded_server

    workdir = args.reuse or Path(tempfile.mkdtemp(prefix="bench-memory-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if not args.reuse:  # runs after the server has stopped (atexit: reverse order)
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    cleanup = "stop" if args.reuse else "delete"
    # Started here so it stays up between the commands below; `up` joins it.
    start_embedded_server(workdir / "pg", cleanup=cleanup)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "PLATFORM_PG_", "DJANGO_SETTINGS_MODULE"))
    }
    env.update(
        PLATFORM_PG_DATA=str(workdir / "pg"),
        PLATFORM_PG_CLEANUP=cleanup,
        # The access log (INFO): each request's server-side duration, by request id.
        PLATFORM_LOG_LEVEL="INFO",
        # /plain/nested, the hand-written SQL served through the same HTTP, host,
        # token and role path (bench/bench_urls.py): the same load's baseline.
        DJANGO_SETTINGS_MODULE="bench.bench_settings",
        # Ready means the database answers (the calendar's part depends on the date).
        PLATFORM_CALENDAR_READY_DAYS="-1",
    )
    prepare(env, args)
    # Each worker's GC pauses (central/gunicorn_conf.py), fresh for this run.
    gc_dir = workdir / "gc"
    shutil.rmtree(gc_dir, ignore_errors=True)
    gc_dir.mkdir()
    env["PLATFORM_GC_LOG"] = str(gc_dir)

    up = Up(env, workdir)
    try:
        up.wait_ready()
        api = Api(up.port)
        api.login()
        first = json.loads(api.post(QUERY))["data"]["groups"]["edges"]
        assert len(first) == PAGE, len(first)
        workers = up.workers()
        log(f"up on port {up.port}, workers {[w.pid for w in workers]}")
        started_rss = {w.pid: w.memory_info().rss for w in workers}

        headers = {
            "Host": HOST,
            "Content-Type": "application/json",
            "Authorization": f"Bearer {api.token}",
        }
        body = json.dumps({"query": QUERY, "variables": {}}).encode()
        timed: list[tuple[int, float]] = []  # (page index, seconds)
        plain: list[tuple[int, float]] = []  # /plain/nested after page index
        lock = threading.Lock()
        sampler = Sampler(up, args.sample_every)

        def page(conn, index: int) -> None:
            began = time.perf_counter()
            post(conn, body, {**headers, "X-Request-Id": f"page-{index}"})
            took = time.perf_counter() - began
            with lock:
                timed.append((index, took))
                sampler.done += 1
            if args.plain_every and index % args.plain_every == 0:
                began = time.perf_counter()
                get(conn, "/plain/nested", {**headers, "X-Request-Id": f"plain-{index}"})
                took = time.perf_counter() - began
                with lock:
                    plain.append((index, took))

        uptime_before = load_average()
        when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        sampler.start()
        began = time.monotonic()
        _, errors = load(up.port, args.pages, args.clients, args.time_limit, page)
        wall = time.monotonic() - began
        sampler.finished.set()
        sampler.join()
        uptime_after = load_average()
    finally:
        up.stop()

    done = len(timed)
    after = [t for i, t in sorted(timed) if i >= args.warmup]
    warm, end = sampler.at(args.warmup), sampler.samples[-1][1]
    print(f"bench/memory.py {when}, load average {uptime_before} → {uptime_after}")
    print(
        f"{args.volunteers:,} volunteers × {args.records_per_volunteer} records; "
        f"{done:,} nested pages ({errors} failed) from {args.clients} clients in {wall:.0f} s"
    )
    failures = []
    for pid in sorted(end):
        w, e = warm.get(pid), end[pid]
        line = f"  worker {pid}: RSS after the first page {mb(started_rss.get(pid, 0))} MB"
        if w:
            line += f", after {args.warmup} pages {mb(w)} MB, end {mb(e)} MB (× {e / w:.2f})"
        print(line)
        if e > RSS_TARGET_MB * 2**20:
            failures.append(f"worker {pid} at {mb(e)} MB after {done} pages (> {RSS_TARGET_MB})")
    if after:
        median, p99 = statistics.median(after), quantile(after, 0.99)
        print(
            f"  latency after warm-up (ms): min {ms(min(after))} median {ms(median)} "
            f"p99 {ms(p99)} max {ms(max(after))}; p99/median {p99 / median:.2f}, "
            f"max/median {max(after) / median:.2f}"
        )
        if p99 > P99_TARGET * median:
            failures.append(f"p99 {ms(p99)} ms > {P99_TARGET} × median {ms(median)} ms")
        # Consecutive rounds of the pages after the warm-up.
        size = max(1, len(after) // args.rounds)
        rounds = [after[i : i + size] for i in range(0, size * args.rounds, size)]
        rounds = [r for r in rounds if len(r) > 1]
        ratios = [quantile(r, 0.99) / statistics.median(r) for r in rounds]
        print(f"  p99/median per round of {size} pages, min / median / max: {spread(ratios)}")
        growth = []
        for k in range(len(rounds)):
            start = sampler.at(args.warmup + k * size)
            stop = sampler.at(args.warmup + (k + 1) * size)
            growth += [stop[p] / start[p] for p in stop if p in start]
        if growth:
            print(f"  RSS growth per round (end / start), min / median / max: {spread(growth)}")
        plain_after = [t for i, t in sorted(plain) if i >= args.warmup]
        if len(plain_after) > 1:
            pm, pp = statistics.median(plain_after), quantile(plain_after, 0.99)
            print(
                f"  served baseline /plain/nested, {len(plain_after)} pages after warm-up (ms): "
                f"median {ms(pm)} p99 {ms(pp)} max {ms(max(plain_after))}; p99/median "
                f"{pp / pm:.2f}; page median / baseline median {median / pm:.2f}"
            )
            size_p = max(1, len(plain_after) // args.rounds)
            chunks = [plain_after[i : i + size_p] for i in range(0, len(plain_after), size_p)]
            chunks = [c for c in chunks if len(c) > 1]
            ratios = [quantile(c, 0.99) / statistics.median(c) for c in chunks]
            print(f"  baseline p99/median per round, min / median / max: {spread(ratios)}")
        warm_at = next(k for k, (d, _r) in enumerate(sampler.samples) if d >= args.warmup)
        pages_cpu = sampler.samples[-1][0] - sampler.samples[warm_at][0]
        if pages_cpu > 0:
            cpu_ms = (sampler.cpu[-1] - sampler.cpu[warm_at]) / pages_cpu * 1000
            print(f"  workers' CPU per page after warm-up (baseline pages too): {cpu_ms:.0f} ms")
        if sampler.loads:
            print(f"  load average during the pages, min / median / max: {spread(sampler.loads)}")
        tail([(i, t) for i, t in timed if i >= args.warmup], up, gc_dir)
    if errors:
        failures.append(f"{errors} pages failed")
    for failure in failures:
        print(f"MISSED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
