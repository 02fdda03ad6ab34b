"""Issue 2 §6: ``manage.py up`` sets everything up, serves, and is safe to run twice."""

from __future__ import annotations

import subprocess
import sys
import uuid

import httpx
import psycopg2
import pytest
from psycopg2 import sql

from tests.support import (
    REPO,
    admin_database_url,
    child_env,
    free_port,
    stop_process,
    wait_for_port,
)


@pytest.fixture
def fresh_database():
    """An empty database on the test server, dropped afterwards."""
    name = f"up_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(admin_database_url())
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin_database_url(name)
    yield url, name
    with admin.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    admin.close()


def run_up(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "up", *args],
        cwd=REPO,
        env=child_env(url),
        capture_output=True,
        text=True,
        timeout=300,
    )


def count(url: str, query: str) -> int:
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchone()[0]


def test_up_twice_then_serve(fresh_database):
    url, _ = fresh_database
    first = run_up(url, "--no-serve")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("… created") == 6
    assert "central admin created: username 'admin', password '" in first.stdout

    second = run_up(url, "--no-serve")
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("… present") == 6
    assert "password '" not in second.stdout  # printed only once
    assert count(url, "SELECT count(*) FROM central_region") == 6
    assert count(url, "SELECT count(*) FROM auth_user WHERE is_superuser") == 1
    assert count(url, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'region\\_%'") == 6

    password = first.stdout.split("password '")[1].split("'")[0]
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "up", "--port", str(port), "--workers", "1"],
        cwd=REPO,
        env=child_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, process)
        base = f"http://127.0.0.1:{port}/graphql"
        region = httpx.post(
            base,
            json={"query": "{ region { code name } }"},
            headers={"Host": "fuxin.localhost"},
        )
        assert region.json() == {"data": {"region": {"code": "210900", "name": "阜新市"}}}
        login = httpx.post(
            base,
            json={
                "query": 'mutation($p: String!) { login(username: "admin", password: $p) '
                "{ token errors { message } } }",
                "variables": {"p": password},
            },
            headers={"Host": "localhost"},
        )
        assert login.json()["data"]["login"]["token"].startswith("cat_")
    finally:
        returncode = stop_process(process)
    output = process.stdout.read()
    assert f"http://chongqing.localhost:{port}/graphql" in output
    assert f"http://localhost:{port}/graphql" in output
    assert returncode == 0, output
