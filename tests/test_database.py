"""Issue 2 §2: DATABASE_URL or an embedded server; the tests run on their own server."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import psutil
import psycopg2
import pytest
from django.db import connection
from psycopg2 import sql

from central.database import database_url, ensure_database, parse_database_url
from tests.support import admin_database_url, wait_until

REPO = Path(__file__).resolve().parent.parent


def test_parse_database_url_tcp_and_socket():
    assert parse_database_url("postgresql://u:p%40ss@db.example:6543/records") == {
        "NAME": "records",
        "USER": "u",
        "PASSWORD": "p@ss",
        "HOST": "db.example",
        "PORT": "6543",
    }
    assert parse_database_url("postgresql://postgres:@/postgres?host=/tmp/pg")["HOST"] == "/tmp/pg"
    with pytest.raises(ValueError, match="postgresql://"):
        parse_database_url("mysql://x@y/z")


@pytest.mark.parametrize(
    "url",
    ["postgresql://u:p%40ss@db.example:6543/records", "postgresql://postgres@/app?host=/tmp/pg"],
)
def test_database_url_round_trips(url):
    assert parse_database_url(database_url(parse_database_url(url))) == parse_database_url(url)


def test_processes_ensuring_one_new_database_at_once_all_succeed():
    """Commands started together on a fresh embedded server (or pytest-xdist workers
    sharing one) each ensure the platform's database: all but the first used to
    fail with ``pg_database_datname_index`` between the check and the CREATE."""
    name = f"race_{uuid.uuid4().hex[:8]}"
    admin = admin_database_url()
    start = threading.Barrier(6)
    failures: list[Exception] = []

    def ensure() -> None:
        start.wait()
        try:
            ensure_database(admin, name)
        except Exception as error:
            failures.append(error)

    threads = [threading.Thread(target=ensure) for _ in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failures == []
        with psycopg2.connect(admin) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [name])
            assert cursor.fetchone() == (1,)
        conn.close()
    finally:
        conn = psycopg2.connect(admin)
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.close()


def test_tests_use_their_own_server_and_database():
    name = connection.settings_dict["NAME"]
    assert name.startswith("test_")
    if not os.environ.get("DATABASE_URL"):
        # The throwaway embedded server lives in a temporary directory, not .data/.
        host = connection.settings_dict["HOST"]
        assert ".data" not in host
        assert os.environ["PLATFORM_PG_DATA"] in host or host.startswith("/tmp")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert int(cursor.fetchone()[0].split(".")[0]) >= 14


IMPORT_EVERYTHING = """
import django
django.setup()
from django.conf import settings
import central.urls_public, central.urls_region, schema.central, schema.region  # noqa: F401
print(settings.DATABASES["default"]["HOST"] or "-")
"""

FIRST_QUERY = """
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SELECT 1")
    print(cursor.fetchone()[0], connection.settings_dict["HOST"])
"""


def _python(code: str, pgdata) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PLATFORM_PG_DATA")}
    env.update(
        DJANGO_SETTINGS_MODULE="central.settings",
        PLATFORM_PG_DATA=str(pgdata),
        PLATFORM_PG_CLEANUP="stop",
    )
    # Output to files, not pipes: a server the child starts would hold a pipe open.
    out, err = pgdata.parent / "stdout", pgdata.parent / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env=env,
            stdout=stdout,
            stderr=stderr,
            timeout=300,
        )
    return subprocess.CompletedProcess(done.args, done.returncode, out.read_text(), err.read_text())


def _postmasters(pgdata) -> list[int]:
    return [
        process.pid
        for process in psutil.process_iter(["cmdline"])
        if str(pgdata) in " ".join(process.info["cmdline"] or [])
    ]


def test_importing_settings_starts_nothing_until_the_first_connection(tmp_path):
    """Issue 15 point 4: a tool that imports settings (mypy's Django plugin, an IDE)
    leaves no PostgreSQL behind; the first connection starts the embedded server,
    and it stops when the last process using it exits."""
    pgdata = tmp_path / "pg"
    imported = _python(IMPORT_EVERYTHING, pgdata)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "-"
    assert not (pgdata / "PG_VERSION").exists()
    assert _postmasters(pgdata) == []

    queried = _python(FIRST_QUERY, pgdata)
    assert queried.returncode == 0, queried.stderr
    answer, host = queried.stdout.split()
    assert answer == "1" and host  # where the server it started listens
    assert (pgdata / "PG_VERSION").exists()
    wait_until(lambda: _postmasters(pgdata) == [], 30, "the embedded server to stop")
