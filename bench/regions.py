"""Regions at scale: provisioning, migrating 370 regions, tenant routing, single lookups.

Starts a throwaway embedded PostgreSQL, sets it up with ``manage.py up
--no-serve`` (the six seed regions), then measures, each figure against a
baseline measured in the same run:

  provisioning  seconds to create one region (median of --provision-runs) by
                ``central.services.provision_region`` (row, schema by the
                migrations with Django's migration states computed once per
                process, domain, audit, one transaction) against
                django-tenants' default path (``Region(...).save()`` then
                ``create_schema()``: CREATE SCHEMA + ``migrate_schemas`` for it)
                and against django-tenants' template path
                (TENANT_CREATION_FAKES_MIGRATIONS: ``clone_schema()`` of a
                migrated template schema + ``migrate_schemas --fake``); the
                paths take turns; every path's schema is compared through the
                catalog with one built migration by migration (squashed
                migrations ignored); all three again once every region exists
  bulk          creates regions by the provisioning service (--jobs processes)
                until there are --regions (370), with progress
  migrating     ``manage.py migrate_schemas --tenant`` over all of them with
                nothing to apply, standard executor vs multiprocessing, taking
                turns, with the CPU used by manage.py and by PostgreSQL; what
                comparing every schema's django_migrations with the migrations
                on disk takes (``up.regions_behind``: one statement per schema,
                none reading two); then
                ``manage.py up --no-serve`` (which migrates only the regions
                that are behind, in parallel when many), with nothing behind and
                with --behind regions made to lack a migration
  routing       gunicorn (gthread, 2 workers × 4 threads, CONN_MAX_AGE=60, as
                ``manage.py up``), ``{ region { code } }`` on one region's host
                again and again vs round-robin over every region's host; and
                the same pair for a query that reads a table in the region's
                schema (``groups(first: 1)``); and the first pair in this
                process through Django's test client (CPU per request without
                HTTP, a steadier figure on a shared machine)
  lookups       ``volunteer(number:)`` through GraphQL as an authority vs a
                bench-only plain Django view doing the same authentication,
                query and permission check and returning the same JSON
                (``bench/bench_urls.py``, served with ``bench.bench_settings``),
                on a region filled by ``generate_data``

The HTTP modes take turns within each round, with a fresh server per round; the
load is a bounded threaded HTTP/1.1 keep-alive client (``_common.load``).

    .venv/bin/python bench/regions.py            # about 9-11 minutes on 2 cores

Everything listens on 127.0.0.1 only; the database and its directory are
deleted on exit (also on Ctrl-C or SIGTERM). See bench/README.md for figures.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# This folder on sys.path (first when run as a script), for _common.
_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.append(str(_HERE))

import argparse
import atexit
import http.client
import json
import multiprocessing
import os
import resource
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from _common import (
    ROOT,
    ChildServer,
    Database,
    child_env,
    cpu_seconds,
    get,
    gunicorn_argv,
    load,
    load_average,
    ms,
    post,
    quantile,
)

DB_NAME = "bench_regions"
TEMPLATE = "region_benchtemplate"  # a migrated schema to clone; no region owns it
LOOKUP = ("530100", "昆明市", "kunming")  # the region with volunteers
LOOKUP_HOST = "kunming.localhost"
USERNAME, PASSWORD = "bench-authority", "Bench-pass-2026"
WORKERS, THREADS = 2, 4  # as ``manage.py up`` on this 2-core machine
LATE_RUNS = 3  # provisioning runs per path once every region exists
LATE_PATHS = ["service", "default", "clone"]
REGION_QUERY = b'{"query":"{ region { code } }"}'
TABLE_QUERY = b'{"query":"{ groups(first: 1) { edges { node { name } } } }"}'
VOLUNTEER_QUERY = (
    "query($n: String!) { volunteer(number: $n) { number name gender birthDate status "
    "verification serviceArea skills idNumberMasked phoneMasked } }"
)


last_cpu = 0.0  # CPU seconds of the last ``manage()`` child and its children


def log(message: str) -> None:
    print(message, flush=True)


def manage(env: dict, *args: str, timeout: float = 600) -> tuple[float, str]:
    """Run ``manage.py``; return its wall time and its output. Raise if it fails."""
    global last_cpu
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The child and every process it waited for (the migration pool's workers).
    last_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return seconds, result.stdout


# --- provisioning (in this process) ------------------------------------------


def city_specs(taken: set[str]):
    """Valid city codes (GB/T 2260 shape: a real province prefix, xxyy00), spread
    over the provinces, as provisioning specs; skips ``taken`` codes."""
    from central.divisions import PROVINCE_PREFIXES
    from central.services import RegionSpec

    for city in range(1, 100):
        for prefix in sorted(PROVINCE_PREFIXES):
            code = f"{prefix}{city:02d}00"
            if code not in taken:
                taken.add(code)
                yield RegionSpec(code, f"基准{code}", "city", f"b{code}")


def create_template() -> float:
    """The template schema django-tenants would clone: CREATE SCHEMA + migrations."""
    from django.core.management import call_command

    from central.tenancy import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{TEMPLATE}"')
    call_command(
        "migrate_schemas", tenant=True, schema_name=TEMPLATE, interactive=False, verbosity=0
    )
    connection.set_schema_to_public()
    return time.perf_counter() - started


REFERENCE = "region_benchreference"  # built migration by migration; no region owns it


def create_reference() -> int:
    """A schema built by Django's executor from every migration as written,
    squashed ones ignored (as a region created before a squash): what every
    provisioning path must produce. Returns how many migrations it applied."""
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.loader import MigrationLoader

    from central.tenancy import connection

    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{REFERENCE}"')
    try:
        connection.set_schema(REFERENCE, include_public=False)
        executor = MigrationExecutor(connection)
        executor.recorder.ensure_schema()
        connection.set_schema(REFERENCE)
        executor.loader = MigrationLoader(connection, replace_migrations=False)
        squashes = set(executor.loader.replacements)
        targets = [key for key in executor.loader.graph.leaf_nodes() if key not in squashes]
        plan = executor.migration_plan(targets)
        executor.migrate(targets, plan=plan)
        return len(plan)
    finally:
        connection.set_schema_to_public()


def by_service(spec) -> dict[str, float]:
    from central.services import provision_region

    started = time.perf_counter()
    provision_region(spec, actor="bench")
    return {"total": time.perf_counter() - started}


def by_django_tenants(spec, clone: bool = False) -> dict[str, float]:
    """django-tenants' own way: save the tenant row, ``create_schema()``, add a domain.

    With ``clone`` its template path: TENANT_CREATION_FAKES_MIGRATIONS with
    TENANT_BASE_SCHEMA, i.e. ``CloneSchema.clone_schema()`` of the template and
    then ``migrate_schemas --fake`` for the new schema.
    """
    from unittest import mock

    from django.test import override_settings
    from django_tenants.clone import CloneSchema

    from central.models import Domain, Region
    from central.policy import merge_policy, preset
    from central.services import default_domain

    spent: dict[str, float] = {}

    class TimedClone(CloneSchema):
        def clone_schema(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return super().clone_schema(*args, **kwargs)
            finally:
                spent["clone_schema()"] = time.perf_counter() - started

    started = time.perf_counter()
    region = Region(
        code=spec.code,
        name=spec.name,
        level=spec.level,
        slug=spec.slug,
        schema_name=Region.schema_name_for(spec.slug),
        policy=merge_policy(preset(spec.preset), {}).as_json(),
    )
    region.save()
    step = time.perf_counter()
    if clone:
        with (
            override_settings(TENANT_CREATION_FAKES_MIGRATIONS=True, TENANT_BASE_SCHEMA=TEMPLATE),
            mock.patch("django_tenants.models.CloneSchema", TimedClone),
        ):
            region.create_schema(check_if_exists=True, verbosity=0)
    else:
        region.create_schema(check_if_exists=True, verbosity=0)
    spent["create_schema()"] = time.perf_counter() - step
    Domain.objects.create(domain=default_domain(spec.slug), tenant=region, is_primary=True)
    spent["total"] = time.perf_counter() - started
    return spent


PATHS: dict[str, tuple[str, Callable]] = {
    "service": ("provision_region (service, one transaction)", by_service),
    "default": (
        "django-tenants default: save() + create_schema() (CREATE SCHEMA + migrate_schemas)",
        by_django_tenants,
    ),
    "clone": (
        "django-tenants template: save() + clone_schema() + migrate_schemas --fake",
        lambda spec: by_django_tenants(spec, clone=True),
    ),
}

# What a schema consists of, with its own name replaced, to compare two schemas.
CATALOG = {
    "columns": """SELECT table_name, column_name, data_type, coalesce(column_default, ''),
        is_nullable, is_identity, coalesce(identity_generation, '')
        FROM information_schema.columns WHERE table_schema = %(s)s""",
    "constraints": """SELECT c.relname, con.conname, pg_get_constraintdef(con.oid)
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %(s)s",
    "sequences": """SELECT c.relname, s.seqtypid::regtype::text, s.seqstart, s.seqincrement
        FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s""",
    "functions": """SELECT p.proname, p.prosrc FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %(s)s""",
    "triggers": """SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(s)s AND NOT t.tgisinternal""",
    "sequence owners": """SELECT c.relname, coalesce(d.refobjid::regclass::text, '-')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass
            AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
        WHERE n.nspname = %(s)s AND c.relkind = 'S'""",
    "applied migrations": "SELECT app, name FROM {schema}.django_migrations",
}


def catalog(conn, schema: str) -> dict[str, set[tuple]]:
    found = {}
    with conn.cursor() as cur:
        cur.execute("SET search_path = public")  # so that every name comes qualified
        for name, query in CATALOG.items():
            cur.execute(query.replace("{schema}", f'"{schema}"'), {"s": schema})
            found[name] = {
                tuple(str(v).replace(f"{schema}.", "<S>.").replace(schema, "<S>") for v in row)
                for row in cur.fetchall()
            }
    return found


def compare_schemas(conn, reference: str, other: str) -> list[str]:
    """How ``other`` differs from ``reference``, as lines ("" when it does not)."""
    a, b = catalog(conn, reference), catalog(conn, other)
    lines = []
    for name in CATALOG:
        missing, extra = a[name] - b[name], b[name] - a[name]
        if missing or extra:
            lines.append(
                f"{name}: {len(a[name])} vs {len(b[name])}; "
                f"{len(missing)} missing, {len(extra)} different/extra"
                + (f"; e.g. missing {sorted(missing)[0]}" if missing else "")
                + (f"; e.g. extra {sorted(extra)[0]}" if extra else "")
            )
    sizes = ", ".join(f"{len(a[name])} {name}" for name in CATALOG)
    return lines or [f"identical ({sizes})"]


def measure_provisioning(specs, runs: int, paths: list[str], db) -> dict[str, list[dict]]:
    """Each path ``runs`` times, taking turns (the order rotates every run); wall
    seconds by step, and CPU seconds in this process and in PostgreSQL."""
    results: dict[str, list[dict]] = {key: [] for key in paths}
    for run in range(runs):
        order = paths[run % len(paths) :] + paths[: run % len(paths)]
        for key in order:
            spec = next(specs)
            cpu, cpu_db = time.process_time(), cpu_seconds(db.postmaster_pid)
            spent = PATHS[key][1](spec)
            spent["cpu"] = time.process_time() - cpu
            spent["cpu_db"] = cpu_seconds(db.postmaster_pid) - cpu_db
            results[key].append({"schema": f"region_{spec.slug}", **spent})
    return results


def migration_state(schemas: list[str]) -> tuple[int, float]:
    """How many ``schemas`` lack a migration on disk, by ``manage.py up``'s check
    (one statement per schema's ``django_migrations``), and how long it took."""
    from central.management.commands.up import regions_behind

    started = time.perf_counter()
    behind = regions_behind(schemas)
    return len(behind), time.perf_counter() - started


# Undoes audit 0002 in a schema, as if the region predated that migration.
UNDO_AUDIT_0002 = """
DROP TRIGGER audit_entry_append_only ON "{schema}".audit_auditentry;
DROP FUNCTION "{schema}".audit_forbid_change();
DELETE FROM "{schema}".django_migrations WHERE app = 'audit' AND name = '0002_append_only';
"""


def _provision_one(spec) -> float:
    """In a worker process of the bulk creation."""
    from central.services import provision_region

    started = time.perf_counter()
    provision_region(spec, actor="bench")
    return time.perf_counter() - started


def create_regions(specs: list, jobs: int, deadline: float) -> tuple[int, float]:
    """Provision ``specs`` in ``jobs`` forked processes, with progress; stop at ``deadline``."""
    from django.db import connections

    connections.close_all()  # never share a connection with forked workers
    started = time.perf_counter()
    done = 0
    step = max(1, min(100, len(specs) // 10))
    pool = multiprocessing.get_context("fork").Pool(jobs)
    try:
        for _ in pool.imap_unordered(_provision_one, specs):
            done += 1
            if done % step == 0 or done == len(specs):
                rate = done / (time.perf_counter() - started)
                left = (len(specs) - done) / rate
                log(f"  created {done}/{len(specs)} ({rate:.1f} regions/s, ~{left:.0f} s left)")
            if time.monotonic() > deadline:
                log(f"  time budget: stopping after {done} regions")
                break
    finally:
        if done < len(specs):
            pool.terminate()
        else:
            pool.close()
        pool.join()
    return done, time.perf_counter() - started


# --- HTTP modes ---------------------------------------------------------------


@dataclass
class Mode:
    key: str
    label: str
    request: Callable[[http.client.HTTPConnection, int], None]
    warmup: int
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: int = 0
    cpu_app: float = 0.0
    cpu_db: float = 0.0
    round_rps: list[float] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.wall if self.wall else 0.0

    def cpu_per_request(self) -> float:
        return (self.cpu_app + self.cpu_db) / max(self.requests, 1)


def region_request(body: bytes, hosts: list[str], expect: list[bytes]):
    headers = [{"Host": host, "Content-Type": "application/json"} for host in hosts]

    def request(conn: http.client.HTTPConnection, index: int) -> None:
        i = index % len(hosts)
        data = post(conn, body, headers[i])
        if expect[i] not in data:
            raise RuntimeError(f"unexpected answer from {hosts[i]}: {data[:200]!r}")

    return request


def graphql_lookup(numbers: list[str], token: str):
    headers = {
        "Host": LOOKUP_HOST,
        "Content-Type": "application/json",
        "Authorization": f"Bearer {token}",
    }
    bodies = [
        json.dumps({"query": VOLUNTEER_QUERY, "variables": {"n": n}}).encode() for n in numbers
    ]

    def request(conn: http.client.HTTPConnection, index: int) -> None:
        i = index % len(numbers)
        data = post(conn, bodies[i], headers)
        if numbers[i].encode() not in data:
            raise RuntimeError(f"unexpected answer {data[:200]!r}")

    return request


def plain_lookup(numbers: list[str], token: str):
    headers = {"Host": LOOKUP_HOST, "Authorization": f"Bearer {token}"}

    def request(conn: http.client.HTTPConnection, index: int) -> None:
        number = numbers[index % len(numbers)]
        data = get(conn, f"/plain/volunteer/{number}", headers)
        if number.encode() not in data:
            raise RuntimeError(f"unexpected answer {data[:200]!r}")

    return request


def routing_cpu(
    hosts: list[str], codes: list[bytes], one: int, db: Database, blocks: int = 3, n: int = 1000
) -> dict[str, list[tuple[float, float]]]:
    """CPU seconds per request in this process and in PostgreSQL for ``{ region { code } }``
    through Django's test client: ``n`` requests on one host, then ``n`` round-robin
    over every host, in turns (``blocks`` of each); no HTTP, no gunicorn, no threads."""
    from django.test import Client

    client = Client()
    body = REGION_QUERY.decode()

    def block(indexes) -> tuple[float, float]:
        cpu, cpu_db = time.process_time(), cpu_seconds(db.postmaster_pid)
        for i in indexes:
            answer = client.post(
                "/graphql", body, content_type="application/json", HTTP_HOST=hosts[i]
            )
            if answer.status_code != 200 or codes[i] not in answer.content:
                raise RuntimeError(f"unexpected answer from {hosts[i]}: {answer.content[:200]!r}")
        return (
            (time.process_time() - cpu) / len(indexes),
            (cpu_seconds(db.postmaster_pid) - cpu_db) / len(indexes),
        )

    block(range(len(hosts)))  # warm-up: every host once
    results: dict[str, list[tuple[float, float]]] = {"one": [], "spread": []}
    for number in range(blocks):
        order = ["one", "spread"] if number % 2 == 0 else ["spread", "one"]
        for kind in order:
            indexes = [one] * n if kind == "one" else [i % len(hosts) for i in range(n)]
            results[kind].append(block(indexes))
    return results


def login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = json.dumps(
            {
                "query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p) "
                "{ token errors { message } } }",
                "variables": {"u": USERNAME, "p": PASSWORD},
            }
        ).encode()
        data = json.loads(
            post(conn, body, {"Host": LOOKUP_HOST, "Content-Type": "application/json"})
        )
    finally:
        conn.close()
    token = data["data"]["login"]["token"]
    if not token:
        raise RuntimeError(f"login failed: {data}")
    return token


def check_same_answers(port: int, numbers: list[str], token: str) -> None:
    """The plain view must answer exactly what GraphQL answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {
        "Host": LOOKUP_HOST,
        "Content-Type": "application/json",
        "Authorization": f"Bearer {token}",
    }
    try:
        for number in numbers[:5]:
            body = json.dumps({"query": VOLUNTEER_QUERY, "variables": {"n": number}}).encode()
            graphql = json.loads(post(conn, body, headers))
            plain = json.loads(get(conn, f"/plain/volunteer/{number}", headers))
            if graphql != plain or graphql["data"]["volunteer"] is None:
                raise RuntimeError(f"plain view differs from GraphQL:\n{graphql}\n{plain}")
    finally:
        conn.close()


def serve(db: Database, workdir: Path, number: int) -> ChildServer:
    config = (
        "python:central.gunicorn_conf" if (ROOT / "central/gunicorn_conf.py").exists() else None
    )
    server = ChildServer(
        lambda port: gunicorn_argv(port, WORKERS, THREADS, config=config),
        child_env(db, 60, "bench.bench_settings"),
        workdir / f"server-{number}.log",
    )
    headers = {"Host": LOOKUP_HOST, "Content-Type": "application/json"}
    try:
        server.wait_ready(lambda conn: post(conn, REGION_QUERY, headers))
    except BaseException:
        server.stop()  # not handed to the caller yet: never leave it running
        raise
    return server


def run_round(
    modes: list[Mode],
    server: ChildServer,
    db: Database,
    requests: int,
    concurrency: int,
    time_limit: float,
) -> None:
    for mode in modes:
        load(server.port, mode.warmup, concurrency, time_limit, mode.request)
    for mode in modes:
        cpu_app, cpu_db = cpu_seconds(server.proc.pid), cpu_seconds(db.postmaster_pid)
        started = time.perf_counter()
        latencies, errors = load(server.port, requests, concurrency, time_limit, mode.request)
        wall = time.perf_counter() - started
        mode.cpu_app += cpu_seconds(server.proc.pid) - cpu_app
        mode.cpu_db += cpu_seconds(db.postmaster_pid) - cpu_db
        mode.wall += wall
        mode.latencies += latencies
        mode.errors += errors
        mode.round_rps.append(len(latencies) / wall if wall else 0.0)


# --- reporting ---------------------------------------------------------------


def seconds_row(label: str, values: list[float], base: float, cpu: str) -> str:
    median = statistics.median(values)
    return (
        f"| {label} | {median:.3f} | {min(values):.3f}–{max(values):.3f} | {len(values)} "
        f"| {median / base:.2f} | {cpu} |"
    )


def provisioning_table(results: dict[str, list[dict]]) -> float:
    """Print a table of provisioning paths; return the service's median."""
    print("| path | median s | min–max s | runs | × service | CPU s here / PG (medians) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    base = statistics.median(r["total"] for r in results["service"])
    for key, runs in results.items():
        cpu = (
            f"{statistics.median(r['cpu'] for r in runs):.3f} / "
            f"{statistics.median(r['cpu_db'] for r in runs):.3f}"
        )
        print(seconds_row(PATHS[key][0], [r["total"] for r in runs], base, cpu))
    return base


def mode_row(mode: Mode, base: Mode) -> str:
    rounds = " ".join(f"{rps:.0f}" for rps in mode.round_rps)
    cost = base.rps / mode.rps - 1 if mode.rps else float("nan")
    return (
        f"| {mode.label} | {mode.rps:.0f} | {rounds} | {ms(quantile(mode.latencies, 0.5))} "
        f"| {ms(quantile(mode.latencies, 0.95))} | {mode.errors} "
        f"| {ms(mode.cpu_app / max(mode.requests, 1))} / {ms(mode.cpu_db / max(mode.requests, 1))} "
        f"| {mode.rps / base.rps:.2f} | {cost:+.0%} |"
    )


def print_modes(title: str, modes: list[Mode]) -> None:
    base = modes[0]
    print(f"\n{title} (baseline: {base.label})")
    print(
        "| mode | req/s | req/s by round | median ms | p95 ms | errors | CPU ms/req app / PG "
        "| req/s × baseline | cost vs baseline |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for mode in modes:
        print(mode_row(mode, base))
    other = modes[1]
    ratios = [b / a for a, b in zip(base.round_rps, other.round_rps, strict=True) if a]
    print(
        f"req/s ratio in each round (same server): {' '.join(f'{r:.2f}' for r in ratios)} "
        f"(median {statistics.median(ratios):.2f})"
    )
    print(
        f"p95 {ms(quantile(other.latencies, 0.95))} vs {ms(quantile(base.latencies, 0.95))} ms "
        f"(×{quantile(other.latencies, 0.95) / quantile(base.latencies, 0.95):.2f}); "
        f"CPU per request (app + PG) ×{other.cpu_per_request() / base.cpu_per_request():.2f}"
    )


# --- national scale: --national ---------------------------------------------------
#
# Issue 14 point 5 and issue 16 point 3: every county-level division as a region
# (~3,000). At each of --sizes (default 50, 370, 3,000 regions in all, seeds
# included) it measures, in one run, each figure against the smallest size's:
# applying one migration to every region by ``manage.py up --no-serve`` (the
# regions made one migration behind: the audit log's newest migration undone in
# each, so ``up`` re-applies a real migration: a function, a trigger and its
# django_migrations rows), ``up`` with nothing to do, a new region by the
# provisioning service, routing (one host vs round-robin over every region) and a
# /metrics scrape.


def county_specs(taken: set[str]):
    """Real GB/T 2260 county codes with their names, as provisioning specs of
    county-level regions (Region.Level.COUNTY), then city codes once the counties
    run out."""
    from central.divisions import _table, division_level
    from central.services import RegionSpec

    table = _table()
    for level in ("county", "city"):
        for code in sorted(c for c in table if division_level(c) == level):
            if code not in taken:
                taken.add(code)
                yield RegionSpec(code, table[code], level, f"c{code}")


# Undoes the audit log's newest migration in a schema, as a region that predates
# it (the statements of tests/test_up.py).
UNDO_AUDIT_NEWEST = [
    'DROP TRIGGER audit_entry_no_truncate ON "{schema}".audit_auditentry',
    'DROP FUNCTION "{schema}".audit_forbid_truncate()',
    "DELETE FROM \"{schema}\".django_migrations WHERE app = 'audit' AND name >= '0003_no_truncate'",
]

# The code before issue 16 point 3: ``migrate_schemas`` for each region behind, in 2
# forked processes (as ``manage.py up`` did), in a fresh process.
OLD_MIGRATE = """
import functools, multiprocessing, time
from django.core.management import call_command
from django.db import connections
from central.management.commands.up import regions_behind
from central.models import Region

one = functools.partial(call_command, "migrate_schemas", "--tenant", interactive=False, verbosity=0)
schemas = list(Region.objects.order_by("schema_name").values_list("schema_name", flat=True))
behind = regions_behind(schemas)
connections.close_all()
started = time.perf_counter()
with multiprocessing.get_context("fork").Pool(2) as pool:
    for _ in pool.imap_unordered(one, [f"--schema={schema}" for schema in behind]):
        pass
print(f"migrated {len(behind)} regions in {time.perf_counter() - started:.3f}s")
"""


def make_behind(db, schemas: list[str]) -> float:
    started = time.perf_counter()
    sql = db.connect(DB_NAME)
    with sql.cursor() as cur:
        for schema in schemas:
            for statement in UNDO_AUDIT_NEWEST:
                cur.execute(statement.format(schema=schema))
    sql.close()
    return time.perf_counter() - started


def migrated_seconds(out: str) -> tuple[int, float]:
    """``up``'s "migrated N regions in X s" line (the migration step alone)."""
    for line in out.replace("\r", "\n").splitlines():
        if line.strip().startswith("migrated "):
            words = line.split()
            return int(words[1]), float(words[-1].rstrip("s"))
    return 0, 0.0


def new_region_seconds(specs, runs: int) -> list[float]:
    from central.services import provision_region

    times = []
    for _ in range(runs):
        spec = next(specs)
        started = time.perf_counter()
        provision_region(spec, actor="bench")
        times.append(time.perf_counter() - started)
    return times


def metrics_scrapes(n: int = 10) -> tuple[list[float], int]:
    """Seconds per /metrics scrape (Django test client, in this process) and its
    statement count."""
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from central.tenancy import connection

    client = Client()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            answer = client.get("/metrics", HTTP_HOST="localhost")
        times.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise RuntimeError(f"/metrics answered {answer.status_code}")
    return times, len(captured.captured_queries)


def routing_national(hosts, codes, one, db, n: int) -> dict[str, list[tuple[float, float, float]]]:
    """(wall, app CPU, PG CPU) per request, one host vs round-robin over every host,
    blocks taking turns, through Django's test client (no HTTP: steadier on a
    shared machine)."""
    from django.test import Client

    client = Client()
    body = REGION_QUERY.decode()

    def block(indexes) -> tuple[float, float, float]:
        wall, cpu, cpu_db = time.perf_counter(), time.process_time(), cpu_seconds(db.postmaster_pid)
        for i in indexes:
            answer = client.post(
                "/graphql", body, content_type="application/json", HTTP_HOST=hosts[i]
            )
            if answer.status_code != 200 or codes[i] not in answer.content:
                raise RuntimeError(f"unexpected answer from {hosts[i]}: {answer.content[:200]!r}")
        k = len(indexes)
        return (
            (time.perf_counter() - wall) / k,
            (time.process_time() - cpu) / k,
            (cpu_seconds(db.postmaster_pid) - cpu_db) / k,
        )

    block(range(len(hosts)))  # warm-up: every host once
    results: dict[str, list[tuple[float, float, float]]] = {"one": [], "spread": []}
    for number in range(4):
        for kind in ["one", "spread"] if number % 2 == 0 else ["spread", "one"]:
            indexes = [one] * n if kind == "one" else [i % len(hosts) for i in range(n)]
            results[kind].append(block(indexes))
    return results


def mmm(values: list[float], scale: float = 1.0, fmt: str = ".3f") -> str:
    return " / ".join(
        format(v * scale, fmt) for v in (min(values), statistics.median(values), max(values))
    )


def national(args) -> int:
    sizes = sorted({s for s in args.sizes if s <= args.regions} | {args.regions})
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="vrp-bench-national-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    log(f"{os.cpu_count()} CPUs, load average {load_average()}; sizes {sizes}; {workdir}")
    db = Database(workdir, DB_NAME)
    env = child_env(db, 0)
    os.environ.update(
        DATABASE_URL=db.url,
        DJANGO_SETTINGS_MODULE="central.settings",
        DJANGO_DEBUG="0",
        PLATFORM_LOG_LEVEL="WARNING",
    )
    rows = []
    try:
        seconds, out = manage(env, "up", "--no-serve")
        log(f"manage.py up --no-serve: {seconds:.1f} s ({out.count('… created')} seed regions)")
        import django

        django.setup()
        from django.db import connections

        from central.models import Region
        from central.tenancy import connection

        specs = county_specs(set(Region.objects.values_list("code", flat=True)))
        new_region_seconds(specs, 1)  # the process's first builds Django's states
        for size in sizes:
            row: dict = {"size": size, "load": load_average()}
            missing = size - Region.objects.count() - args.provision_runs
            bulk = [next(specs) for _ in range(max(0, missing))]
            log(f"== {size} regions: creating {len(bulk)} by provision_region ({args.jobs} jobs)")
            created, bulk_seconds = create_regions(bulk, args.jobs, began + args.budget)
            row["bulk"] = (created, bulk_seconds)
            rate = created / max(bulk_seconds, 1e-9)
            log(f"  created {created} in {bulk_seconds:.0f} s ({rate:.1f}/s)")
            row["new"] = new_region_seconds(specs, args.provision_runs)
            log(f"  a new region: {mmm(row['new'])} s")
            schemas = list(Region.objects.values_list("schema_name", flat=True))
            row["size"] = len(schemas)
            connections.close_all()
            idle = []
            for _ in range(args.migrate_runs):
                seconds, _out = manage(env, "up", "--no-serve", timeout=3600)
                idle.append(seconds)
            row["idle"] = idle
            log(f"  up with nothing to do: {mmm(idle, fmt='.1f')} s")
            new: list[float] = []
            old: list[float] = []
            total: list[float] = []
            for run in range(args.migrate_runs):
                ways = ["new", "old"] if run % 2 == 0 else ["old", "new"]
                for way in ways:
                    if way == "old" and len(schemas) > args.old_max:
                        continue
                    undo = make_behind(db, schemas)
                    if way == "new":
                        seconds, out = manage(env, "up", "--no-serve", timeout=3600)
                        total.append(seconds)
                    else:
                        seconds, out = manage(env, "shell", "-c", OLD_MIGRATE, timeout=3600)
                    count, step = migrated_seconds(out)
                    if count != len(schemas):
                        raise RuntimeError(f"{way}: migrated {count} of {len(schemas)}:\n{out}")
                    (new if way == "new" else old).append(step)
                    log(
                        f"  {way}: {len(schemas)} regions one migration behind "
                        f"(made so in {undo:.1f} s): migrated in {step:.1f} s"
                    )
            behind, _check = migration_state(schemas)
            if behind:
                raise RuntimeError(f"{behind} regions still behind")
            row.update(new=row["new"], migrate=new, old=old, up_total=total)
            connections.close_all()
            hosts, codes = [], []
            for region in Region.objects.prefetch_related("domains").order_by("code"):
                hosts.append(region.domains.all()[0].domain)
                codes.append(f'"code":"{region.code}"'.encode())
            row["routing"] = routing_national(hosts, codes, 0, db, args.route_requests)
            row["metrics"] = metrics_scrapes()
            # The test client's requests leave the connection on the last host's
            # schema; the next creation forks from here.
            connection.set_schema_to_public()
            connections.close_all()
            rows.append(row)
            log(f"  load average {load_average()}")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()

    base = rows[0]
    per = lambda row: [s / row["size"] for s in row["migrate"]]  # noqa: E731
    print(f"\n## national scale ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    print(
        "\nApplying one migration to every region (`manage.py up --no-serve`'s migration "
        "step), ms per region, min / median / max; × the smallest size's median:"
    )
    print("| regions | load avg | new: ms/region | × | old (migrate_schemas each) | × new |")
    print("| ---: | --- | --- | ---: | --- | ---: |")
    for row in rows:
        ratio = statistics.median(per(row)) / statistics.median(per(base))
        old = [s / row["size"] for s in row["old"]]
        old_text = mmm(old, 1000, ".1f") if old else "not run"
        old_ratio = f"{statistics.median(old) / statistics.median(per(row)):.1f}" if old else "–"
        print(
            f"| {row['size']} | {row['load']} | {mmm(per(row), 1000, '.1f')} | {ratio:.2f} "
            f"| {old_text} | {old_ratio} |"
        )
    print(
        "\n| regions | bulk creation | new region s (× smallest) | up, nothing to do s | "
        "up with all behind s | /metrics ms (statements) |"
    )
    print("| ---: | --- | --- | --- | --- | --- |")
    for row in rows:
        created, seconds = row["bulk"]
        new_ratio = statistics.median(row["new"]) / statistics.median(base["new"])
        scrapes, statements = row["metrics"]
        rate = created / max(seconds, 1e-9)
        print(
            f"| {row['size']} | {created} in {seconds:.0f} s ({rate:.1f}/s) "
            f"| {mmm(row['new'])} (×{new_ratio:.2f}) | {mmm(row['idle'], fmt='.1f')} "
            f"| {mmm(row['up_total'], fmt='.1f')} | {mmm(scrapes, 1000, '.1f')} ({statements}) |"
        )
    print(
        "\nRouting `{ region { code } }` in this process (Django test client), per request, "
        "round-robin over every region vs one host in the same blocks:"
    )
    print(
        "| regions | one host req/s | round-robin req/s | × | CPU ms app+PG one / round-robin | × |"
    )
    print("| ---: | ---: | ---: | ---: | --- | ---: |")
    for row in rows:
        one = row["routing"]["one"]
        spread = row["routing"]["spread"]
        rps_one = 1 / statistics.median(b[0] for b in one)
        rps_spread = 1 / statistics.median(b[0] for b in spread)
        cpu_one = statistics.median(b[1] + b[2] for b in one)
        cpu_spread = statistics.median(b[1] + b[2] for b in spread)
        print(
            f"| {row['size']} | {rps_one:.0f} | {rps_spread:.0f} | {rps_spread / rps_one:.2f} "
            f"| {cpu_one * 1000:.2f} / {cpu_spread * 1000:.2f} | {cpu_spread / cpu_one:.2f} |"
        )
    last = rows[-1]
    first_one = statistics.median(b[0] for b in base["routing"]["one"])
    last_one = statistics.median(b[0] for b in last["routing"]["one"])
    print(
        f"\nrouting to one host with {last['size']} regions vs with {base['size']}: "
        f"req/s ×{first_one / last_one:.2f}"
    )
    print(f"\ntotal {time.monotonic() - began:.0f} s; load average now {load_average()}")
    return 0


# --- the run -----------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--regions", type=int, default=None, help="regions in all (default 370; --national 3000)"
    )
    parser.add_argument(
        "--national",
        action="store_true",
        help="only the national-scale figures, at each of --sizes regions",
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[50, 370, 3000],
        help="region counts for --national (default 50,370,3000)",
    )
    parser.add_argument(
        "--old-max", type=int, default=370, help="--national: the old migration path up to (370)"
    )
    parser.add_argument(
        "--route-requests", type=int, default=500, help="--national: per routing block (500)"
    )
    parser.add_argument("--provision-runs", type=int, default=5, help="per path (default 5)")
    parser.add_argument("--jobs", type=int, default=2, help="processes creating regions in bulk")
    parser.add_argument(
        "--migrate-runs", type=int, default=2, help="runs of each executor (default 2)"
    )
    parser.add_argument(
        "--behind", type=int, default=30, help="regions made behind for manage.py up (30)"
    )
    parser.add_argument("--volunteers", type=int, default=300)
    parser.add_argument("--requests", type=int, default=3000, help="per mode, over all rounds")
    parser.add_argument(
        "--rounds", type=int, default=5, help="a fresh server per round; the modes take turns"
    )
    parser.add_argument("--warmup", type=int, default=100, help="warm-up requests per mode")
    parser.add_argument("--concurrency", type=int, default=8, help="client connections")
    parser.add_argument("--time-limit", type=float, default=30.0, help="cap per load phase, s")
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds for the whole run (default 840; --national: 7200 for the bulk creation)",
    )
    args = parser.parse_args()
    if args.national:
        args.regions = args.regions or max(args.sizes)
        args.budget = args.budget or 7200.0
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        sys.path.insert(0, str(ROOT))
        os.chdir(ROOT)
        return national(args)
    args.regions = args.regions or 370
    args.budget = args.budget or 840.0
    if args.regions < 10 or args.rounds < 1 or args.requests < args.rounds:
        parser.error("--regions must be at least 10, --requests at least --rounds")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="vrp-bench-regions-"))
    # Registered first so that it runs last, after the embedded server has
    # stopped and deleted its data directory (atexit runs in reverse order).
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    log(
        f"{os.cpu_count()} CPUs, load average {load_average()}; "
        f"starting a throwaway PostgreSQL in {workdir} …"
    )
    db = Database(workdir, DB_NAME)
    env = child_env(db, 0)
    os.environ.update(
        DATABASE_URL=db.url,
        DJANGO_SETTINGS_MODULE="central.settings",
        DJANGO_DEBUG="0",
        PLATFORM_LOG_LEVEL="WARNING",
    )
    server: ChildServer | None = None
    try:
        seconds, out = manage(env, "up", "--no-serve")
        log(f"manage.py up --no-serve: {seconds:.1f} s ({out.count('… created')} seed regions)")

        import django

        django.setup()
        from django.db import connections

        from central.models import Region
        from central.services import RegionSpec, provision_region

        taken = set(Region.objects.values_list("code", flat=True)) | {LOOKUP[0]}
        specs = city_specs(taken)

        # 1. Provisioning, while few regions exist.
        present_start = Region.objects.count()
        template_seconds = create_template()
        log(f"template schema {TEMPLATE}: migrated in {template_seconds:.2f} s")
        step = time.perf_counter()
        reference_migrations = create_reference()
        reference_seconds = time.perf_counter() - step
        log(
            f"reference schema {REFERENCE}: {reference_migrations} migrations one by one "
            f"in {reference_seconds:.2f} s"
        )
        paths = list(PATHS)
        log(f"provisioning: {args.provision_runs} runs of {', '.join(paths)}, taking turns …")
        provisioned = measure_provisioning(specs, args.provision_runs, paths, db)
        sql = db.connect(DB_NAME)
        fidelity = {
            "service (first call, builds the states)": provisioned["service"][0]["schema"],
            "service (reusing the states)": provisioned["service"][-1]["schema"],
            "default": provisioned["default"][0]["schema"],
            "clone": provisioned["clone"][0]["schema"],
        }
        fidelity = {key: compare_schemas(sql, REFERENCE, other) for key, other in fidelity.items()}
        sql.close()

        # 2. Regions in bulk, by the service: the lookup region first.
        provision_region(
            RegionSpec(
                LOOKUP[0], LOOKUP[1], "city", LOOKUP[2], parent_code="530000", preset="yunnan"
            ),
            actor="bench",
        )
        missing = args.regions - Region.objects.count() - len(LATE_PATHS) * LATE_RUNS
        bulk = [next(specs) for _ in range(max(0, missing))]
        log(f"creating {len(bulk)} regions by provision_region in {args.jobs} processes …")
        created, bulk_seconds = create_regions(bulk, args.jobs, began + args.budget * 0.5)

        # 3. Provisioning again, with every region present (service and default only).
        log(f"provisioning again with {Region.objects.count()} regions present …")
        later = measure_provisioning(specs, LATE_RUNS, LATE_PATHS, db)
        schemas = list(Region.objects.values_list("schema_name", flat=True))
        regions_after = len(schemas)
        behind, check_seconds = migration_state(schemas)
        connections.close_all()

        # 4. Migrating every region with nothing to apply.
        migrate: dict[str, list[float]] = {"standard": [], "multiprocessing": []}
        migrate_cpu: dict[str, list[tuple[float, float]]] = {key: [] for key in migrate}
        for run in range(args.migrate_runs):
            if run and time.monotonic() > began + args.budget * 0.6:
                log("time budget: no more migrate_schemas runs")
                break
            order = list(migrate) if run % 2 == 0 else list(reversed(migrate))
            for executor in order:
                cpu_db = cpu_seconds(db.postmaster_pid)
                log(
                    f"migrate_schemas --tenant --executor={executor} over {regions_after} regions …"
                )
                seconds, _ = manage(
                    env, "migrate_schemas", "--tenant", f"--executor={executor}", "-v", "0"
                )
                migrate[executor].append(seconds)
                migrate_cpu[executor].append((last_cpu, cpu_seconds(db.postmaster_pid) - cpu_db))
                log(f"  {seconds:.1f} s")
        log(f"manage.py up --no-serve with {regions_after} regions …")
        up_seconds, up_out = manage(env, "up", "--no-serve")
        up_cpu = last_cpu
        # Again with --behind regions lacking a migration (audit 0002 undone).
        sql = db.connect(DB_NAME)
        by_bulk = [f"region_{spec.slug}" for spec in bulk if f"region_{spec.slug}" in schemas]
        made_behind = by_bulk[-args.behind :] if args.behind else []
        with sql.cursor() as cur:
            for schema in made_behind:
                cur.execute(UNDO_AUDIT_0002.format(schema=schema))
        sql.close()
        log(f"manage.py up --no-serve with {len(made_behind)} of them behind …")
        up_behind_seconds, up_behind_out = manage(env, "up", "--no-serve")
        up_behind_cpu = last_cpu
        behind_after, _ = migration_state(schemas)
        connections.close_all()
        if behind_after:
            raise RuntimeError(f"{behind_after} regions still behind after manage.py up")

        def up_lines(out: str) -> list[str]:
            lines = out.replace("\r", "\n").splitlines()
            keep = [line for line in lines if "up to date" in line or "ready" in line]
            keep += [line for line in lines if "migrated" in line or "processes" in line]
            return keep

        # 5. A region with volunteers and an authority account for the lookups.
        step = time.perf_counter()
        manage(
            env,
            "generate_data",
            "--region",
            LOOKUP[0],
            "--volunteers",
            str(args.volunteers),
            "--groups",
            str(max(1, args.volunteers // 20)),
            "--records-per-volunteer",
            "1",
            "--seed",
            "20261123",
        )
        from django_tenants.utils import tenant_context

        from tenants.accounts import services as accounts
        from tenants.volunteers.models import Volunteer

        lookup_region = Region.objects.get(code=LOOKUP[0])
        with tenant_context(lookup_region):
            accounts.create_authority_account(
                USERNAME,
                PASSWORD,
                "基准测试",
                "province",
                "云南省民政厅",
                # A province authority's division is the region's own code.
                division_code=lookup_region.code,
                region_code=lookup_region.code,
                actor="bench",
            )
            numbers = list(Volunteer.objects.order_by("id").values_list("number", flat=True))
        hosts, codes = [], []
        for region in Region.objects.prefetch_related("domains").order_by("code"):
            hosts.append(region.domains.all()[0].domain)
            codes.append(f'"code":"{region.code}"'.encode())
        connections.close_all()
        log(
            f"{LOOKUP[1]}: {len(numbers)} volunteers by generate_data, an authority account "
            f"({time.perf_counter() - step:.1f} s); {len(hosts)} region hosts"
        )

        # 6. Routing in this process: CPU per request without HTTP and gunicorn.
        log("routing in-process (Django test client) …")
        in_process = routing_cpu(hosts, codes, hosts.index(LOOKUP_HOST), db)
        connections.close_all()

        # 7. Routing and lookups over HTTP.
        one = hosts.index(LOOKUP_HOST)
        groups_ok = [b'"groups"'] * len(hosts)
        server = serve(db, workdir, 0)
        token = login(server.port)
        check_same_answers(server.port, numbers, token)
        routing = [
            Mode(
                "one",
                f"one host ({LOOKUP_HOST})",
                region_request(REGION_QUERY, [hosts[one]], [codes[one]]),
                args.warmup,
            ),
            Mode(
                "spread",
                f"round-robin over {len(hosts)} hosts",
                region_request(REGION_QUERY, hosts, codes),
                max(args.warmup, 3 * len(hosts)),
            ),
        ]
        table = [
            Mode(
                "one",
                "one host, groups(first: 1)",
                region_request(TABLE_QUERY, [hosts[one]], groups_ok[:1]),
                args.warmup,
            ),
            Mode(
                "spread",
                f"round-robin over {len(hosts)} hosts, groups(first: 1)",
                region_request(TABLE_QUERY, hosts, groups_ok),
                max(args.warmup, 3 * len(hosts)),
            ),
        ]
        lookups = [
            Mode("graphql", "GraphQL volunteer(number:)", graphql_lookup(numbers, token), 100),
            Mode("plain", "plain Django view, same query", plain_lookup(numbers, token), 100),
        ]
        every = routing + table + lookups
        per_round = [
            args.requests // args.rounds + (1 if i < args.requests % args.rounds else 0)
            for i in range(args.rounds)
        ]
        for number, requests in enumerate(per_round, start=1):
            if server is None:
                server = serve(db, workdir, number)
            remaining = began + args.budget - time.monotonic() - 10
            phases = (len(per_round) - number + 1) * len(every) * 2
            time_limit = max(2.0, min(args.time_limit, remaining / phases))
            modes = every if number % 2 else every[::-1]
            log(
                f"round {number}/{args.rounds}: {requests} requests per mode, "
                f"{args.concurrency} clients, keep-alive, {len(every)} modes …"
            )
            run_round(modes, server, db, requests, args.concurrency, time_limit)
            server.stop()
            server = None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        db.close()

    # --- report ---
    print(f"\n## provisioning a region ({present_start} regions present at the start)")
    service = provisioning_table(provisioned)
    for key in ("default", "clone"):
        parts = [p for p in provisioned[key][0] if p.endswith("()")]
        detail = ", ".join(
            f"{part} {statistics.median(r[part] for r in provisioned[key]):.3f} s" for part in parts
        )
        print(f"{key}: of which {detail}")
    first = provisioned["service"][0]["total"]
    print(
        f"service: first call in this process {first:.3f} s (it builds Django's migration "
        f"states, then keeps them); the others reuse them"
    )
    print(f"template schema migrated once in {template_seconds:.2f} s (not counted above)")
    for key, lines in fidelity.items():
        print(
            f"{key} schema vs one built by the {reference_migrations} migrations one by one "
            f"({reference_seconds:.2f} s): {'; '.join(lines)}"
        )
    print(f"\nwith {regions_after - len(LATE_PATHS) * LATE_RUNS}–{regions_after} regions present:")
    late_base = provisioning_table(later)

    print(
        f"\n## creating regions in bulk: {created} by provision_region in {args.jobs} processes, "
        f"{bulk_seconds:.0f} s ({created / bulk_seconds:.1f} regions/s)"
    )
    print(f"\n## migrate_schemas --tenant over {regions_after} regions, nothing to apply")
    print(
        "| executor | median s | min–max s | runs | × standard | CPU s manage.py / PG (medians) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    seq = statistics.median(migrate["standard"])
    for key, label in (
        ("standard", "standard (one schema after another)"),
        ("multiprocessing", "multiprocessing (2 processes)"),
    ):
        cpu = (
            f"{statistics.median(c[0] for c in migrate_cpu[key]):.1f} / "
            f"{statistics.median(c[1] for c in migrate_cpu[key]):.1f}"
        )
        print(seconds_row(label, migrate[key], seq, cpu))
    print(
        f"finding out that nothing is to apply, by one query over the {regions_after} schemas' "
        f"django_migrations against the migrations on disk: {check_seconds:.2f} s "
        f"({behind} schemas behind)"
    )
    print(
        f"manage.py up --no-serve with {regions_after} regions, none behind: {up_seconds:.1f} s "
        f"(CPU {up_cpu:.1f} s)"
    )
    for line in up_lines(up_out):
        print(f"  {line.strip()}")
    print(
        f"manage.py up --no-serve with {len(made_behind)} of {regions_after} behind: "
        f"{up_behind_seconds:.1f} s (CPU {up_behind_cpu:.1f} s); none behind afterwards"
    )
    for line in up_lines(up_behind_out):
        print(f"  {line.strip()}")

    print_modes(f"## tenant routing: {{ region {{ code }} }} over {len(hosts)} regions", routing)
    print(
        "\nin-process, CPU per request (Django test client, one thread, no HTTP server; "
        "blocks of one host and of round-robin take turns):"
    )
    for kind, blocks in in_process.items():
        app = [b[0] for b in blocks]
        pg = [b[1] for b in blocks]
        print(
            f"  {kind:6} app {ms(statistics.median(app))} ms (blocks "
            f"{' '.join(ms(x) for x in app)}), PG {ms(statistics.median(pg))} ms"
        )
    one_cpu = statistics.median(b[0] + b[1] for b in in_process["one"])
    spread_cpu = statistics.median(b[0] + b[1] for b in in_process["spread"])
    print(f"  round-robin / one host, app + PG: ×{spread_cpu / one_cpu:.2f}")
    print_modes("## tenant routing, reading a table in the region's schema", table)
    print_modes(
        f"## single lookups: volunteer(number:) over {len(numbers)} volunteers, as an authority",
        lookups,
    )

    clone = statistics.median(r["total"] for r in provisioned["clone"])
    late_clone = statistics.median(r["total"] for r in later["clone"])
    par = statistics.median(migrate["multiprocessing"])
    spread_cost = routing[0].rps / routing[1].rps - 1
    print("\n## targets")
    print(
        f"- creating a region < 1 s: {service:.2f} s by the service "
        f"({late_base:.2f} s with {regions_after} present; the first call in the process "
        f"{first:.2f} s) — {'met' if max(service, late_base, first) < 1 else 'NOT met'}; "
        f"cloning a template {clone:.2f} s (×{clone / service:.2f}), with {regions_after} "
        f"present {late_clone:.2f} s (×{late_clone / late_base:.2f})"
    )
    print(
        f"- migrating {regions_after} regions in parallel: {par:.1f} s vs {seq:.1f} s "
        f"sequential (×{par / seq:.2f}); manage.py up skips the up-to-date ones: "
        f"{up_seconds:.1f} s with none behind, {up_behind_seconds:.1f} s with "
        f"{len(made_behind)} behind"
    )
    print(
        f"- routing to {len(hosts)} regions ≤ 10% over one: {spread_cost:+.1%} — "
        f"{'met' if spread_cost <= 0.10 else 'NOT met'} over HTTP; in-process CPU per request "
        f"×{spread_cpu / one_cpu:.2f}"
    )
    print(
        f"- single lookups: GraphQL {lookups[0].rps:.0f} req/s vs plain view "
        f"{lookups[1].rps:.0f} req/s (GraphQL at ×{lookups[0].rps / lookups[1].rps:.2f})"
    )
    print(f"\ntotal {time.monotonic() - began:.0f} s; load average now {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
