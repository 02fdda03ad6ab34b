"""Issue 2 §6: ``manage.py up`` sets everything up, serves, and is safe to run twice;
issue 6: it migrates only the regions that are behind the migrations on disk."""

from __future__ import annotations

import base64
import subprocess
import sys
import uuid
from urllib.parse import parse_qs, urlparse

import httpx
import psycopg2
import pytest
from django_otp.oath import totp
from psycopg2 import sql

from tests.support import (
    REPO,
    admin_database_url,
    child_env,
    city_name,
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
        row = cursor.fetchone()
        assert row is not None  # a count answers one row
        return row[0]


def execute(url: str, statements: str | list[str]) -> None:
    """One statement per call, as Citus needs (issue 14 point 1)."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cursor:
        for statement in [statements] if isinstance(statements, str) else statements:
            cursor.execute(statement)
    conn.close()


# Undo the audit log's newest migration (0003) in a region's schema, as if the region
# predated it.
UNDO_AUDIT_NEWEST = [
    "DROP TRIGGER audit_entry_no_truncate ON {schema}.audit_auditentry",
    "DROP FUNCTION {schema}.audit_forbid_truncate()",
    "DELETE FROM {schema}.django_migrations WHERE app = 'audit' AND name >= '0003_no_truncate'",
]
AUDIT_TRIGGER = (
    "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = '{schema}' AND t.tgname = 'audit_entry_no_truncate'"
)


def test_up_twice_then_serve(fresh_database):
    url, _ = fresh_database
    first = run_up(url, "--no-serve")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("… created") == 6
    assert "central admin created: username 'admin', password '" in first.stdout
    # Issue 10 finding 8: the first admin's TOTP device, printed once with the password.
    uri = first.stdout.split("authenticator app: ")[1].split()[0]
    assert uri.startswith("otpauth://totp/")

    second = run_up(url, "--no-serve")
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("… present") == 6
    assert "regions: 6 of 6 up to date" in second.stdout
    assert "migrat" not in second.stdout.split("up to date")[1], second.stdout  # nothing run
    # The public schema is checked like a region's: Django's migrate with nothing
    # to do (seconds of model rendering) runs only the first time.
    assert any(s in first.stdout for s in ("migrating the public schema", "正在迁移公共模式"))
    assert any(s in second.stdout for s in ("public schema: up to date", "公共模式：已是最新"))
    assert not any(s in second.stdout for s in ("migrating the public", "正在迁移公共模式"))

    # A region behind the migrations on disk is migrated; the others are skipped.
    execute(url, [sql.format(schema="region_fuxin") for sql in UNDO_AUDIT_NEWEST])
    assert count(url, AUDIT_TRIGGER.format(schema="region_fuxin")) == 0
    third = run_up(url, "--no-serve")
    assert third.returncode == 0, third.stderr
    assert "regions: 5 of 6 up to date" in third.stdout and "1 to migrate" in third.stdout
    assert "migrating regions [1/1] region_fuxin" in third.stdout
    assert "migrated 1 region in" in third.stdout
    assert count(url, AUDIT_TRIGGER.format(schema="region_fuxin")) == 1
    assert "password '" not in second.stdout  # printed only once
    assert "otpauth://" not in second.stdout
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
        query = (
            'mutation($p: String!, $otp: String) { login(username: "admin", password: $p, '
            "otp: $otp) { token errors { field message } } }"
        )
        without = httpx.post(
            base, json={"query": query, "variables": {"p": password}}, headers={"Host": "localhost"}
        )
        assert without.json()["data"]["login"]["errors"][0]["field"] == "otp"
        secret = parse_qs(urlparse(uri).query)["secret"][0]
        code = f"{totp(base64.b32decode(secret + '=' * (-len(secret) % 8))):06d}"
        login = httpx.post(
            base,
            json={"query": query, "variables": {"p": password, "otp": code}},
            headers={"Host": "localhost"},
        )
        assert login.json()["data"]["login"]["token"].startswith("cat_"), login.text
    finally:
        returncode = stop_process(process)
    assert process.stdout is not None
    output = process.stdout.read()
    assert f"http://chongqing.localhost:{port}/graphql" in output
    # Issue 12 point 2: the daily jobs run beside the server, nobody starts them.
    assert "scheduler: started (pid" in output, output
    assert f"http://localhost:{port}/graphql" in output
    assert returncode == 0, output


def test_only_regions_behind_are_found_and_migrated_in_parallel(seed_regions):
    """In this process, against the test database: the one-query check finds
    exactly the schemas that lack a migration, and the parallel path (a pool of
    forked processes) brings them up to date."""
    from django.db import connection

    from central import services
    from central.management.commands.up import migrate_in_processes, regions_behind
    from tests.support import platform_database_url, unique_city_code

    regions = [
        services.provision_region(
            services.RegionSpec(code, city_name(code), "city", f"up{code}"), actor="test"
        )
        for code in (unique_city_code("13") for _ in range(3))
    ]
    schemas = [region.schema_name for region in regions]
    seeds = [region.schema_name for region in seed_regions.values()]
    assert regions_behind(schemas + seeds) == []

    url = platform_database_url()
    execute(url, [sql.format(schema=schemas[0]) for sql in UNDO_AUDIT_NEWEST])
    execute(url, f"DELETE FROM {schemas[2]}.django_migrations WHERE app = 'sessions'")
    execute(url, "CREATE SCHEMA region_upnotable")  # a schema without django_migrations
    try:
        assert regions_behind(["region_upnotable", *schemas, *seeds]) == [
            "region_upnotable",
            schemas[0],
            schemas[2],
        ]
    finally:
        execute(url, "DROP SCHEMA region_upnotable")

    seen = []
    migrate_in_processes([schemas[0], schemas[2]], 2, lambda done, schema: seen.append(done))
    assert seen == [1, 2]
    assert regions_behind(schemas + seeds) == []
    assert count(url, AUDIT_TRIGGER.format(schema=schemas[0])) == 1
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {schemas[2]}.django_migrations WHERE app = 'sessions'"
        )
        assert cursor.fetchone()[0] == 1
