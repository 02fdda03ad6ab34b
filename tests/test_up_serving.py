"""Issue 20 findings 4-5: slow and idle clients cannot starve ``up``, and load
spreads again after a worker dies (``central/front.py`` in front of gunicorn).

A real ``up`` serves the test database; clients are raw sockets and httpx.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import psutil
import pytest

from tests.support import REPO, child_env, free_port, wait_for_port
from tests.test_up import fresh_database  # noqa: F401 (a fixture)

QUERY = b'{"query": "{ __typename }"}'


@pytest.fixture
def served(fresh_database):  # noqa: F811
    url, _ = fresh_database
    port = free_port()
    command = [sys.executable, "manage.py", "up", "--no-seed", "--no-deliver"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "2"],
        cwd=REPO,
        env=child_env(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, timeout=300)
        yield process, port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


def lookup(port: int, client: httpx.Client | None = None) -> httpx.Response:
    return (client or httpx).post(
        f"http://127.0.0.1:{port}/graphql",
        content=QUERY,
        headers={"Host": "localhost", "Content-Type": "application/json"},
        timeout=10,
    )


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends before it closes (TCP may split an answer)."""
    parts = []
    while chunk := sock.recv(4096):
        parts.append(chunk)
    return b"".join(parts)


def test_slow_and_idle_clients_do_not_starve_it(served):
    _, port = served
    trickling, idle = [], []
    try:
        for _ in range(100):  # each sends a header line now and then, never the end
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: localhost\r\n")
            trickling.append(sock)
        for _ in range(100):  # each keeps its connection open after one request
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(
                b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
                b"\r\nContent-Length: %d\r\n\r\n%s" % (len(QUERY), QUERY)
            )
            idle.append(sock)
        for sock in trickling:
            sock.sendall(b"X-Slow: 1\r\n")
        # 2 workers × 4 threads, 200 connections held: a fresh lookup is answered.
        for _ in range(5):
            answer = lookup(port)
            assert answer.status_code == 200 and answer.json() == {
                "data": {"__typename": "CentralQuery"}
            }
        # A head that never ends is refused after the head timeout (10 s), in JSON.
        trickling[0].settimeout(30)
        refused = read_until_closed(trickling[0])
        assert refused.startswith(b"HTTP/1.1 408"), refused
        assert b'"REQUEST_TIMEOUT"' in refused
    finally:
        for sock in trickling + idle:
            sock.close()
    # A body larger than the limit is refused before it is read.
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Length: 999999999\r\n\r\n"
        )
        sock.settimeout(10)
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")


def workers_of(process: subprocess.Popen) -> list[psutil.Process]:
    """up's gunicorn workers (its children running up's own command line)."""
    found = []
    for child in psutil.Process(process.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "manage.py up" in " ".join(
                child.cmdline()
            ):
                found.append(child)
        except psutil.Error:
            continue
    return found


def test_every_worker_serves_again_after_one_is_killed(served):
    process, port = served
    stop = threading.Event()
    answers: list[int] = []

    def keep_alive_client():
        with httpx.Client() as client:  # one connection, kept alive
            while not stop.is_set():
                try:
                    answers.append(lookup(port, client).status_code)
                except httpx.HTTPError:
                    answers.append(0)

    clients = [threading.Thread(target=keep_alive_client) for _ in range(4)]
    for client in clients:
        client.start()
    try:
        time.sleep(2)
        victim = workers_of(process)[0]
        os.kill(victim.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            workers = workers_of(process)
            if len(workers) == 2 and victim.pid not in {w.pid for w in workers}:
                break
            time.sleep(0.2)
        time.sleep(2)
        before = {w.pid: sum(w.cpu_times()[:2]) for w in workers}
        served_before = len(answers)
        time.sleep(5)
        after = {w.pid: sum(w.cpu_times()[:2]) for w in workers}
    finally:
        stop.set()
        for client in clients:
            client.join(30)
    assert len(answers) > served_before + 20
    # Both workers, the new one included, took requests within seconds of the kill.
    assert all(after[pid] - before[pid] > 0.05 for pid in before), (before, after)
    assert answers.count(200) >= len(answers) - 8, sorted(set(answers))
