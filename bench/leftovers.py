"""What is left of ``manage.py up`` after ``kill -9``? (the Faults rule)

Starts ``manage.py up --no-seed --workers 2`` (front, gunicorn, the delivery
worker and the scheduler) on its own embedded PostgreSQL in a temporary
directory, waits until it listens and ``--settle`` seconds more, kills it with
``-9`` and lists what is still running of it — its descendants, the processes
naming its data directory (PostgreSQL, its watchdog) and its children's
``--parent`` — 1, 5, 10 and 30 s after the kill, as ``ps`` shows them (zombies
not counted). Then a second ``up`` on the same directory and port: seconds
until it listens, and what is left 3 s after its SIGTERM.

    .venv/bin/python bench/leftovers.py [--settle 3] [--repo DIR]

``--repo`` runs another checkout's ``manage.py`` with this interpreter (the
code before a change). Anything found at the end is killed, and the
directory removed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds between listening and the kill"
    )
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose up to run")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="leftovers-"))
    pgdata = base / "pg"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PLATFORM_PG_", "PYTEST_", "DJANGO_SETTINGS_MODULE", "DATABASE_URL"))
    }
    env.update(
        PLATFORM_PG_DATA=str(pgdata),
        PLATFORM_PG_CLEANUP="stop",
        DJANGO_SETTINGS_MODULE="central.settings",
        PLATFORM_CALENDAR_READY_DAYS="-1",
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "manage.py", "up", "--no-seed", "--port", str(port)]
    seen: set[int] = set()
    try:
        up = start([*command, "--workers", "2"], args.repo, env, base / "up.log", port)
        time.sleep(args.settle)
        tree = psutil.Process(up.pid).children(recursive=True)
        seen.update(process.pid for process in tree)
        before = leftovers(tree, pgdata, up.pid)
        print(f"before the kill: {len(before)} processes (uptime load {os.getloadavg()[0]:.2f})")
        up.kill()
        up.wait()
        killed = time.monotonic()
        for at in (1, 5, 10, 30):
            time.sleep(max(0.0, at - (time.monotonic() - killed)))
            left = leftovers(tree, pgdata, up.pid)
            seen.update(pid for pid, _ in left)
            print(f"{at:>2} s after kill -9: {len(left)} left")
            for pid, line in left:
                print(f"     {pid} {line}")
        started = time.monotonic()
        again = start(
            [*command, "--no-deliver", "--no-schedule"], args.repo, env, base / "up2.log", port
        )
        waited = time.monotonic() - started
        print(f"a second up on the same directory and port listens after {waited:.1f} s")
        tree = psutil.Process(again.pid).children(recursive=True)
        again.send_signal(signal.SIGTERM)
        print(f"  its SIGTERM: exit {again.wait(60)}")
        time.sleep(3)
        left = leftovers(tree, pgdata, again.pid)
        seen.update(pid for pid, _ in left)
        print(f"  3 s later: {len(left)} left")
    finally:
        for pid in seen:  # never leave anything of the run behind
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
        shutil.rmtree(base, ignore_errors=True)


def start(command: list[str], repo: Path, env: dict, log: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        command,
        cwd=repo,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"up exited with {process.returncode}; see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    sys.exit("up did not listen within 300 s")


def leftovers(tree: list[psutil.Process], pgdata: Path, parent: int) -> list[tuple[int, str]]:
    found: dict[int, str] = {}
    for process in tree:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                found[process.pid] = " ".join(process.cmdline())[:100]
        except psutil.Error:
            continue
    for process in psutil.process_iter(["cmdline", "status"]):
        line = " ".join(process.info["cmdline"] or ())
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if str(pgdata) in line or f"--parent {parent}" in line:
            found[process.pid] = line[:100]
    return sorted(found.items())


if __name__ == "__main__":
    main()
