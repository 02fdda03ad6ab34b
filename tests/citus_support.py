"""Running the suite on a Citus coordinator (issue 14 point 3; platform/CITUS.md).

With ``DATABASE_URL`` pointing at a Citus coordinator, pytest-django creates the
``test_`` database on the coordinator only. When the server offers the ``citus``
extension, :func:`prepare` then creates the same database on every worker
listed in ``PLATFORM_CITUS_WORKERS`` (``host:port,host:port``, reached with
``DATABASE_URL``'s user and password), the extension in each, and registers the
coordinator (``PLATFORM_CITUS_COORDINATOR``, default ``DATABASE_URL``'s host and
port, as the workers reach it) and the workers. With no workers listed, the
coordinator itself holds the regions' shards. :func:`drop_worker_copies` drops
the workers' copies at teardown, before pytest-django drops the coordinator's.

On plain PostgreSQL (the embedded server, CI) nothing here does anything.
"""

from __future__ import annotations

import os

WORKERS = "PLATFORM_CITUS_WORKERS"
COORDINATOR = "PLATFORM_CITUS_COORDINATOR"


def nodes(value: str | None) -> list[tuple[str, int]]:
    """``"w1:5432, w2:5433"`` -> ``[("w1", 5432), ("w2", 5433)]``."""
    found = []
    for item in (value or "").split(","):
        if item.strip():
            host, _, port = item.strip().rpartition(":")
            found.append((host, int(port)))
    return found


def citus_available(connection) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'citus')")
        return bool(cursor.fetchone()[0])


def _connect(settings: dict, host: str, port: int, name: str):
    import psycopg2

    conn = psycopg2.connect(
        host=host, port=port, dbname=name, user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
    )  # fmt: skip
    conn.autocommit = True
    return conn


def coordinator_statements(coordinator: tuple[str, int], workers: list[tuple[str, int]]):
    """What the coordinator's test database is sent, one statement (and its parameters) each."""
    yield "CREATE EXTENSION IF NOT EXISTS citus", []
    yield "SELECT citus_set_coordinator_host(%s, %s)", list(coordinator)
    if not workers:  # a single node: the coordinator holds the shards too
        yield "SELECT citus_set_node_property(%s, %s, 'shouldhaveshards', true)", list(coordinator)
    for host, port in workers:
        yield "SELECT citus_add_node(%s, %s)", [host, port]


def prepare(connection) -> list[tuple[str, int]]:
    """Set Citus up in the test database when the server has it; the workers used."""
    from django.db import connections

    from central import citus

    if not citus_available(connection):
        return []
    settings = connection.settings_dict
    name = settings["NAME"]
    workers = nodes(os.environ.get(WORKERS))
    for host, port in workers:
        admin = _connect(settings, host, port, "postgres")
        try:
            with admin.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                if cursor.fetchone() is None:  # unless CREATE DATABASE was propagated
                    cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            admin.close()
        worker = _connect(settings, host, port, name)
        try:
            with worker.cursor() as cursor:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS citus")
        finally:
            worker.close()
    default = (settings["HOST"] or "localhost", int(settings["PORT"] or 5432))
    coordinator = (nodes(os.environ.get(COORDINATOR)) or [default])[0]
    with connection.cursor() as cursor:
        for statement, params in coordinator_statements(coordinator, workers):
            cursor.execute(statement, params)
    # Every connection from now on is a Citus one (central/citus.py detects again).
    connections.close_all()
    citus.forget()
    return workers


def drop_worker_copies(settings: dict, workers: list[tuple[str, int]]) -> None:
    for host, port in workers:
        admin = _connect(settings, host, port, "postgres")
        try:
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{settings["NAME"]}" WITH (FORCE)')
        finally:
            admin.close()
