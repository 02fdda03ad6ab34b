"""Issue 16 point 3 and issue 14 point 5: what must not grow with the region count
(~3,000 regions, every county-level division). Without 3,000 regions here, each
test checks that the work per region (statements, connections, catalog scans) is
constant, and that no scrape or migration reads one region's schema on behalf
of another (issue 14 point 4). ``bench/regions.py`` measures the seconds."""

from __future__ import annotations

import datetime
import io

from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from central import migrating, services
from central.management.commands import up
from central.models import OutboxBacklog
from central.tenancy import connection
from tests.support import city_name, platform_database_url, unique_city_code
from tests.test_provisioning import catalog
from tests.test_up import AUDIT_TRIGGER, UNDO_AUDIT_NEWEST, count, execute

# Listing every visible table (Django's introspection, MigrationRecorder.has_table):
# a scan of pg_class, which holds every region's tables, so O(regions) each time.
CATALOG_SCAN = "pg_table_is_visible"


def provision(prefix: str, n: int) -> list[str]:
    schemas = []
    for _ in range(n):
        code = unique_city_code(prefix)
        region = services.provision_region(
            services.RegionSpec(code, city_name(code), "city", f"sc{code}"), actor="test"
        )
        schemas.append(region.schema_name)
    return schemas


def make_behind(*schemas: str) -> None:
    """As regions that predate the audit log's newest migration."""
    url = platform_database_url()
    for schema in schemas:
        execute(url, [statement.format(schema=schema) for statement in UNDO_AUDIT_NEWEST])


def run_up_migrations() -> tuple[list[str], str]:
    """``manage.py up``'s region step, one process: the statements it sent, its output."""
    out = io.StringIO()
    command = up.Command(stdout=out)
    with CaptureQueriesContext(connection) as captured:
        command._migrate_regions(parallel_from=10**6)
    return sent(captured), out.getvalue()


def sent(captured) -> list[str]:
    """The statements, without django-tenants' ``SET search_path`` (sent when the
    schema changes since the last one, so their number depends on what ran before)."""
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("SET search_")]


def names_a_region(sql: str) -> bool:
    schemas = services.Region.objects.values_list("schema_name", flat=True)
    return any(schema in sql for schema in schemas)


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_each_region_behind_costs_the_same_few_statements_on_one_connection(seed_regions):
    """16 §3: applying one new migration to N regions is N times the work for one
    region: the plan and Django's states are computed once per process, each
    region then costs a constant number of statements on the same connection,
    with no catalog scan (which grows with the region count) and no statement
    naming another region's schema."""
    schemas = provision("14", 5)
    reference = catalog(schemas[-1])

    make_behind(schemas[0])  # the first after a release computes the plan
    run_up_migrations()

    nothing, _out = run_up_migrations()  # finding out that nothing is behind
    make_behind(schemas[1])
    pid = backend_pid()
    one, out = run_up_migrations()
    assert "migrated 1 region" in out
    make_behind(*schemas[2:])
    three, out = run_up_migrations()
    assert "migrated 3 regions" in out
    assert backend_pid() == pid  # no new connection per region

    per_region = len(one) - len(nothing)
    assert 0 < per_region <= 12, one
    assert len(three) - len(nothing) == 3 * per_region, "\n".join(three)
    assert not [sql for sql in one + three if CATALOG_SCAN in sql]
    # Each region's statements name no schema (its search_path says which); the
    # one-query check before them is up's, over every schema's django_migrations.
    for sql in one[len(nothing) :]:
        assert not names_a_region(sql), sql

    url = platform_database_url()
    for schema in schemas:
        assert count(url, AUDIT_TRIGGER.format(schema=schema)) == 1
        assert catalog(schema) == reference  # tables, triggers, applied migrations …
    assert up.regions_behind(schemas) == []


def test_a_schema_without_its_migrations_table_goes_through_migrate_schemas(seed_regions):
    """A schema the shared plan cannot cover exactly (no ``django_migrations``)
    is migrated by django-tenants' ``migrate_schemas`` and ends up complete."""
    (model,) = provision("14", 1)
    schema = "region_scnotable"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        cursor.execute(f'CREATE SCHEMA "{schema}"')
    try:
        assert migrating.applied_in(schema) is None
        assert migrating.migrate_schema(schema) == "command"
        assert migrating.migrate_schema(schema) == "current"
        assert catalog(schema)["applied migrations"] == catalog(model)["applied migrations"]
        assert up.regions_behind([schema]) == []
    finally:
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_a_squash_partly_applied_is_left_to_django():
    """Django plans with the replaced migrations then; the shared plan does not guess.
    (The retired squashes: their replaced migrations are deleted, but a region may
    still list them.)"""
    key, replaces = next(iter(migrating.RETIRED_SQUASHES.items()))
    _loader, full = migrating._graph()
    every = set(full) - {key}
    applied = migrating.effective_applied(every | set(replaces))
    assert applied is not None and applied >= {key}
    assert migrating.retired_now_applied(every | set(replaces)) == [key]
    assert migrating.effective_applied(every | set(replaces[:1])) is None


def test_provisioning_costs_the_same_statements_whatever_the_region_count(seed_regions):
    """14 §5: a new region < 0.5 s at 3,000 regions. Provisioning sends the same
    statements with more regions present, and none of them scans the catalog."""

    def statements() -> list[str]:
        code = unique_city_code("14")
        spec = services.RegionSpec(code, city_name(code), "city", f"sc{code}")
        with CaptureQueriesContext(connection) as captured:
            services.provision_region(spec, actor="test")
        return sent(captured)

    statements()  # the process's first: builds the migration states
    before = statements()
    provision("14", 3)
    after = statements()
    assert len(after) == len(before)
    assert not [sql for sql in after if CATALOG_SCAN in sql]


def scrape_statements() -> tuple[list[str], bytes]:
    client = Client()
    with CaptureQueriesContext(connection) as captured:
        answer = client.get("/metrics", HTTP_HOST="localhost")
    assert answer.status_code == 200, answer.content[:300]
    return sent(captured), answer.content


def test_a_metrics_scrape_reads_no_region_schema_and_does_not_grow(seed_regions):
    """14 §5: /metrics computed the outbox backlog with one query over every
    region's schema per scrape. Now the same statements with more regions, none
    of them naming a region's schema; the backlog is what the delivery worker
    last counted, region by region."""
    from interop.delivery import deliver_pending
    from interop.models import OutboxMessage, Transfer

    before, _body = scrape_statements()
    (schema,) = provision("15", 1)
    after, body = scrape_statements()
    assert len(after) == len(before) <= 3, after
    assert not [sql for sql in after if names_a_region(sql)], after
    region = services.Region.objects.get(schema_name=schema)
    assert f'platform_interop_outbox_backlog{{region="{region.code}"}} 0.0'.encode() in body

    with tenant_context(region):
        transfer = Transfer.objects.create(
            direction="outgoing",
            state="exported",
            volunteer_number="SC-1",
            counterpart_region_code="999999",
            requested_by="test",
        )
        later = timezone.now() + datetime.timedelta(days=1)
        for _ in range(2):  # not yet due: the pass counts them and sends nothing
            OutboxMessage.objects.create(
                kind="package",
                transfer=transfer,
                destination_code="999999",
                inbox_url="https://peer.invalid/interop/inbox",
                body={},
                next_attempt_at=later,
            )
    try:
        report = deliver_pending()
        assert (report.delivered, report.retrying, report.refused) == (0, 0, 0)
        assert OutboxBacklog.objects.get(region_code=region.code).pending == 2
        _sql, body = scrape_statements()
        assert f'platform_interop_outbox_backlog{{region="{region.code}"}} 2.0'.encode() in body
    finally:
        with tenant_context(region):
            OutboxMessage.objects.filter(transfer=transfer).delete()
    deliver_pending()  # counted again: the region's row goes
    assert not OutboxBacklog.objects.filter(region_code=region.code).exists()


def test_a_new_region_renders_no_models_and_sends_its_ddl_without_savepoints(
    seed_regions, monkeypatch
):
    """14 §5, a new region < 0.5 s: what a region cost besides its DDL. Each
    ``RunPython`` migration re-rendered every model (Django drops a delayed
    state's models first: 4 × 0.13 s per region), each migration had its own
    savepoint inside provisioning's one transaction (2 statements × 80) and each
    applied migration its own ``INSERT`` (80). Now: no rendering once the
    process has built its states, no savepoint, one ``INSERT`` for every row."""
    from django.db.migrations import state

    def statements() -> tuple[list[str], str]:
        code = unique_city_code("14")
        spec = services.RegionSpec(code, city_name(code), "city", f"sc{code}")
        with CaptureQueriesContext(connection) as captured:
            region = services.provision_region(spec, actor="test")
        return sent(captured), region.schema_name

    statements()  # the process's first: builds the migration states
    rendered = []  # models rendered (ModelState.render builds a model class)
    original = state.ModelState.render

    def counting(self, apps):
        rendered.append(self.name)
        return original(self, apps)

    monkeypatch.setattr(state.ModelState, "render", counting)
    sql, schema = statements()
    assert rendered == []
    # One savepoint is left: django-tenants' Domain.save() (the primary domain).
    savepoints = [s for s in sql if s.startswith("SAVEPOINT")]
    assert len(savepoints) == 1, savepoints
    inserts = [s for s in sql if s.startswith('INSERT INTO "django_migrations"')]
    assert len(inserts) == 1
    # Every row in that one INSERT (test_provisioning compares the whole catalog).
    assert len(catalog(schema)["applied migrations"]) == inserts[0].count("::timestamptz")
    assert len(sql) < 330, len(sql)  # the DDL and a few rows; was 532
