"""Issue 14 point 4: no statement touches two regions' schemas.

Under Citus each region's schema may live on another worker, so the federation
code paths work region by region. ``central/region_guard.py`` fails any
statement whose ``search_path`` plus the schemas it names hold two regions;
here it wraps those paths in this process and, through
``PLATFORM_ONE_REGION_PER_STATEMENT``, every connection of a server process:
federation statistics, the central lists of regions, a transfer within one
deployment (request, consent, import), the interop outbox and its delivery, and
/metrics (whose backlog was one UNION over every region's outbox), and ``up``'s
and ``/readyz``'s check of every region's migrations (one UNION ALL as well).
"""

from __future__ import annotations

import io

import httpx
import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from central import services
from central.management.commands import up
from central.models import HomeRegion
from central.region_guard import ENVIRONMENT, CrossRegionStatement, one_region_per_statement
from central.tenancy import connection
from interop import delivery
from interop.models import OutboxMessage, Transfer
from tests.support import GraphQLClient, PlatformServer, platform_database_url
from tests.test_interop import CONSENT, REQUEST, moving_volunteer

REGIONS = "{ regions { code status } }"
FEDERATION = """{ federationStatistics(topGroups: 3) { volunteers { total }
  hours { total } regions { code volunteers hours } } }"""


@pytest.fixture(scope="module")
def guarded(seed_regions, tmp_path_factory):
    """A server whose every connection has the guard; its log shows any refusal."""
    log = tmp_path_factory.mktemp("guarded") / "server.log"
    env = {ENVIRONMENT: "1"}
    with PlatformServer(platform_database_url(), workers=1, env=env, log=log) as running:
        yield running, log


def refused(statement: str, schema: str | None = None) -> bool:
    try:
        if schema:
            connection.set_schema(schema)  # the next cursor sets the search_path
        with one_region_per_statement(), connection.cursor() as cursor:
            cursor.execute(statement)
    except CrossRegionStatement:
        return True
    finally:
        connection.set_schema_to_public()
    return False


def test_a_statement_across_two_regions_is_refused(seed_regions):
    chongqing, yunnan = (seed_regions[s].schema_name for s in ("chongqing", "yunnan"))
    # Two regions named at once: the UNION /metrics used to send, and a join.
    union = " UNION ALL ".join(
        f'SELECT count(*) FROM "{schema}".interop_outboxmessage WHERE delivered_at IS NULL'
        for schema in (chongqing, yunnan)
    )
    assert refused(union)
    assert refused(
        f"SELECT 1 FROM {chongqing}.volunteers_volunteer a "
        f'JOIN "{yunnan}".volunteers_volunteer b ON a.id = b.id'
    )
    # Another region named while this one is on the search_path.
    assert refused(f'SELECT count(*) FROM "{yunnan}".audit_auditentry', schema=chongqing)
    # A search_path holding two regions.
    assert refused(f'SET search_path = "{chongqing}", "{yunnan}", public')
    # One region at a time passes, named or on the path; so does the public schema.
    assert not refused(f'SELECT count(*) FROM "{yunnan}".audit_auditentry')
    assert not refused("SELECT count(*) FROM audit_auditentry", schema=yunnan)
    assert not refused(f'SELECT count(*) FROM "{yunnan}".audit_auditentry', schema=yunnan)
    assert not refused("SELECT count(*) FROM central_region")
    with connection.cursor() as cursor:  # unguarded, the same statement runs
        cursor.execute(union)
        assert len(cursor.fetchall()) == 2


def test_federation_statistics_and_delivery_in_process(seed_regions):
    from tenants.statistics.selectors import federation_statistics

    regions = list(services.regions("active"))
    assert len(regions) >= 2
    with one_region_per_statement():
        total = federation_statistics(regions)
    assert {r.code for r in total.regions} == {r.code for r in regions}

    # The outbox and its delivery: a message to a region with no inbox is retried.
    region = seed_regions["liaoning"]
    with tenant_context(region):
        transfer = Transfer.objects.create(
            direction="outgoing",
            state="exported",
            volunteer_number="GUARD-1",
            counterpart_region_code="999999",
            requested_by="test",
        )
        message = OutboxMessage.objects.create(
            kind="package",
            transfer=transfer,
            destination_code="999999",
            inbox_url="https://peer.invalid/interop/inbox",
            body={},
            next_attempt_at=timezone.now(),
        )
    try:
        with one_region_per_statement():
            delivery.deliver_pending()
            # /metrics in this process: the backlog, region by region.
            answer = Client(HTTP_HOST="localhost").get("/metrics")
        assert answer.status_code == 200
        assert f'platform_interop_outbox_backlog{{region="{region.code}"}} 1.0' in (
            answer.content.decode()
        )
        with schema_context(region.schema_name):
            message.refresh_from_db()
        assert message.attempts == 1 and message.delivered_at is None
    finally:
        with tenant_context(region):
            OutboxMessage.objects.filter(transfer=transfer).delete()
            transfer.delete()
        connection.set_schema_to_public()


@pytest.mark.usefixtures("federation_invariant")
def test_federation_paths_over_http_touch_one_region_per_statement(guarded, central_admin):
    server, log = guarded
    gql = GraphQLClient(server.base_url)
    token = central_admin["token"]

    listed = gql.central(REGIONS, token=token)
    assert "errors" not in listed, listed
    assert {"500000", "530000"} <= {r["code"] for r in listed["data"]["regions"]}
    stats = gql.central(FEDERATION, token=token)
    assert "errors" not in stats, stats
    assert len(stats["data"]["federationStatistics"]["regions"]) >= 2

    # A transfer within this deployment: consent exports from 重庆 and imports
    # into 云南 in one transaction, switching schemas between statements.
    _stage, volunteer, holder = moving_volunteer(gql)
    requested = gql.region("chongqing", REQUEST, {"to": "530000"}, token=holder)
    assert requested["data"]["requestTransfer"]["errors"] == [], requested
    transfer_id = requested["data"]["requestTransfer"]["transfer"]["id"]
    consented = gql.region("chongqing", CONSENT, {"t": transfer_id, "offline": False}, token=holder)
    assert "errors" not in consented, consented
    assert consented["data"]["consentTransfer"]["transfer"]["state"] == "COMPLETED"
    assert HomeRegion.objects.get(volunteer_number=volunteer.number).region_code == "530000"

    scraped = httpx.get(f"{server.base_url}/metrics", timeout=30)
    assert scraped.status_code == 200, scraped.text[:500]
    assert "platform_interop_outbox_backlog" in scraped.text
    # The guard ran in the server and refused nothing.
    assert "CrossRegionStatement" not in log.read_text()


def test_up_and_readiness_read_each_region_on_its_own(seed_regions):
    """14 §4: ``up``'s check for regions behind and ``/readyz``'s migrations check
    read every region's ``django_migrations``; they did it with one ``UNION ALL``
    naming every region. Now one statement per region, and a region made behind
    (its rows deleted, as after a release) is still found and migrated."""
    from central import readiness
    from tests.test_regions_at_scale import make_behind, provision

    (schema,) = provision("26", 1)
    schemas = list(services.Region.objects.values_list("schema_name", flat=True))
    make_behind(schema)
    with one_region_per_statement():
        assert readiness.schemas_behind(["public", *schemas]) == [schema]
        problem = readiness.migrations_problem()
        assert problem is not None and schema in problem
        up.Command(stdout=io.StringIO())._migrate_regions(parallel_from=10**6)
        assert readiness.schemas_behind(["public", *schemas]) == []
        assert readiness.migrations_problem() is None


def test_readyz_over_http_reads_each_region_on_its_own(guarded):
    """The same check in a server whose every connection has the guard: a region
    behind makes /readyz answer MIGRATIONS_PENDING naming it, and nothing is refused."""
    from central.migrating import migrate_schema
    from tests.test_regions_at_scale import make_behind, provision

    server, log = guarded
    (schema,) = provision("26", 1)
    make_behind(schema)
    try:
        answer = httpx.get(f"{server.base_url}/readyz", timeout=60)
        assert answer.status_code == 503, answer.text
        body = answer.json()
        assert body["checks"]["database"] == "ok", body
        assert schema in body["checks"]["migrations"], body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["MIGRATIONS_PENDING"]
    finally:
        migrate_schema(schema)
    assert "CrossRegionStatement" not in log.read_text()
