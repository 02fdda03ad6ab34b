"""Helpers shared by the benchmark scripts (``serving.py``, ``regions.py``).

A throwaway embedded PostgreSQL with a monitoring connection, child server
processes on free loopback ports, a bounded threaded HTTP/1.1 load generator
(one keep-alive connection per client thread), CPU accounting, quantiles.
Nothing here listens anywhere but 127.0.0.1.
"""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# --- the database ------------------------------------------------------------


class Database:
    """A throwaway embedded server in ``workdir`` plus a monitoring connection to it.

    The server's data directory is deleted when this process exits (the
    wheel's ``delete`` clean-up; ``cleanup="stop"`` keeps it); ``url`` is the
    benchmark database's URL for ``DATABASE_URL``.
    """

    def __init__(self, workdir: Path, name: str, cleanup: str = "delete"):
        from central.database import (
            database_url,
            ensure_database,
            parse_database_url,
            start_embedded_server,
        )

        self.name = name
        self.admin_uri = start_embedded_server(workdir / "pg", cleanup=cleanup)
        ensure_database(self.admin_uri, name)
        self.url = database_url({**parse_database_url(self.admin_uri), "NAME": name})
        pid_file = workdir / "pg" / "postmaster.pid"
        self.postmaster_pid = int(pid_file.read_text().split()[0])
        self._monitor = self.connect()

    def connect(self, database: str | None = None):
        """An autocommit connection, by default to the "postgres" database (not counted)."""
        import psycopg2

        conn = psycopg2.connect(self.url if database == self.name else self.admin_uri)
        conn.autocommit = True
        return conn

    def counters(self) -> int:
        """Sessions ever opened to the benchmark database (PostgreSQL 14+)."""
        with self._monitor.cursor() as cur:
            cur.execute("SELECT pg_stat_clear_snapshot()")
            cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [self.name])
            return int(cur.fetchone()[0])

    def close(self) -> None:
        self._monitor.close()


class BackendSampler(threading.Thread):
    """Samples how many client backends are connected to the benchmark database."""

    def __init__(self, db: Database):
        super().__init__(daemon=True)
        self.name_ = db.name
        self.conn = db.connect()
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with self.conn.cursor() as cur:
            while not self.stop.wait(0.05):
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = %s AND backend_type = 'client backend'",
                    [self.name_],
                )
                self.peak = max(self.peak, cur.fetchone()[0])

    def finish(self) -> int:
        self.stop.set()
        self.join()
        self.conn.close()
        return self.peak


# --- CPU ---------------------------------------------------------------------


def machine_ticks() -> tuple[int, int] | None:
    """(idle, total) CPU ticks of the whole machine so far, where /proc/stat exists."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return fields[3] + fields[4], sum(fields[:8])


def _tree(pid: int) -> list:
    """The process ``pid`` and its descendants (psutil), or [] once it is gone."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(pid: int) -> float:
    """CPU time of a process tree, including children it has already reaped."""
    import psutil

    total = 0.0
    for proc in _tree(pid):
        try:
            t = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def system_and_faults(pid: int) -> tuple[float, int]:
    """System CPU seconds and minor page faults so far of a process tree
    (children already reaped included): what the kernel does for it, which
    instruction counts in user space do not see."""
    import psutil

    system, faults = 0.0, 0
    for proc in _tree(pid):
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            t = proc.cpu_times()
        except (OSError, psutil.NoSuchProcess):
            continue
        system += t.system + t.children_system
        faults += int(fields[7]) + int(fields[8])  # minflt, cminflt
    return system, faults


def context_switches(pid: int) -> tuple[int, int]:
    """(voluntary, involuntary) context switches so far of every thread of a
    process tree, from ``/proc/<pid>/task/*/status`` ((0, 0) off Linux). A thread
    waiting for the GIL or a lock sleeps: a voluntary switch."""
    voluntary = involuntary = 0
    for proc in _tree(pid):
        for status in Path(f"/proc/{proc.pid}/task").glob("*/status"):
            try:
                text = status.read_text()
            except OSError:  # the thread ended meanwhile
                continue
            for line in text.splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    voluntary += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches:"):
                    involuntary += int(line.split()[1])
    return voluntary, involuntary


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- child servers -----------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(
    db: Database, conn_max_age: int = 60, settings_module: str = "central.settings", **extra: str
) -> dict[str, str]:
    """The environment of a child process (server or ``manage.py``) on ``db``."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db.url,
        DJANGO_SETTINGS_MODULE=settings_module,
        CONN_MAX_AGE=str(conn_max_age),
        DJANGO_DEBUG="0",
        PLATFORM_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def gunicorn_argv(
    port: int,
    workers: int,
    threads: int,
    *,
    app: str = "central.wsgi:application",
    config: str | None = None,
) -> list[str]:
    """gunicorn with ``gthread`` workers on 127.0.0.1:``port``.

    ``config`` (e.g. ``python:central.gunicorn_conf``) is read first; the
    options given here override it.
    """
    argv = [sys.executable, "-m", "gunicorn", app]
    if config:
        argv.append(f"--config={config}")
    return [
        *argv,
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--worker-class=gthread",
        "--graceful-timeout=5",
        "--log-level=warning",
    ]


def post(
    conn: http.client.HTTPConnection, body: bytes, headers: dict[str, str], path: str = "/graphql"
) -> bytes:
    """POST and return the body; raise unless HTTP 200 without GraphQL errors (top-level,
    or a mutation payload's non-empty ``errors``)."""
    conn.request("POST", path, body, headers)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200 or b'"errors":[{' in data or b'"errors": [{' in data:
        raise RuntimeError(f"HTTP {resp.status}: {data[:200]!r}")
    return data


def get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> bytes:
    """GET and return the body; raise unless HTTP 200."""
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {data[:200]!r}")
    return data


class ChildServer:
    """A server child process on a free loopback port, in a session of its own.

    ``argv_for(port)`` gives its command line; its output goes to ``log_path``.
    """

    def __init__(
        self,
        argv_for: Callable[[int], list[str]],
        env: dict[str, str],
        log_path: Path,
    ):
        self.port = free_port()
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            argv_for(self.port),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal goes to us, not to it
        )

    def wait_ready(self, probe: Callable[[http.client.HTTPConnection], bytes], timeout=30.0):
        """Call ``probe`` on a fresh connection until it succeeds; return its answer."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                return probe(conn)
            except (OSError, http.client.HTTPException, RuntimeError) as exc:
                last_error = exc
                time.sleep(0.2)
            finally:
                conn.close()
        raise RuntimeError(
            f"server not ready after {timeout:.0f}s ({last_error}); its log ends:\n"
            f"{self.log_tail()}"
        )

    def log_tail(self) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)  # its own session: only what we started
                self.proc.wait(5)
        self._log.close()


# --- the load ----------------------------------------------------------------


def load(
    port: int,
    total: int,
    concurrency: int,
    time_limit: float,
    request: Callable[[http.client.HTTPConnection, int], None],
    keepalive: bool = True,
) -> tuple[list[float], int]:
    """Send ``total`` requests from ``concurrency`` threads.

    ``request(conn, index)`` sends request number ``index`` (0, 1, 2 … in the
    order they are issued) and raises unless the answer is right. Each thread
    keeps one HTTP/1.1 connection open, or with ``keepalive=False`` opens a
    new one per request (as nginx does towards its upstream by default).
    Returns the latencies of the successful requests and the number of errors;
    stops early, with fewer requests, when ``time_limit`` seconds have passed.
    """
    lock = threading.Lock()
    issued = 0
    errors = 0
    latencies: list[float] = []
    deadline = time.monotonic() + time_limit

    def worker() -> None:
        nonlocal issued, errors
        mine: list[float] = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if issued >= total or time.monotonic() > deadline:
                    break
                index = issued
                issued += 1
            started = time.perf_counter()
            try:
                request(conn, index)
            except Exception:
                with lock:
                    errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append(time.perf_counter() - started)
            if not keepalive:
                conn.close()
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


# --- figures -----------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"
