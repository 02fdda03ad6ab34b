"""Issue 13 point 6: Prometheus metrics at ``/metrics`` (multiprocess, scraped from
a live gunicorn with two workers), request ids and the JSON access log read from
a live server's log."""

from __future__ import annotations

import datetime
import json
import re

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import PlatformServer, city_name, platform_database_url, unique_city_code

TOKEN = "scrape-secret-for-tests"
NAMED = "query RegionCard { region { code name } }"
INTROSPECTION = "query Shape { __schema { queryType { name } } }"


@pytest.fixture(scope="module")
def metrics_server(seed_regions):
    env = {"PLATFORM_METRICS_TOKEN": TOKEN, "PLATFORM_CLIENT_ADDRESS_HEADER": "X-Forwarded-For"}
    with PlatformServer(platform_database_url(), workers=2, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def logged_server(seed_regions, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    with PlatformServer(platform_database_url(), workers=1, log=log) as running:
        yield running, log


def scrape(base_url: str, **headers: str) -> dict[tuple[str, frozenset], float]:
    answer = httpx.get(f"{base_url}/metrics", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def post(base_url: str, host: str, query: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/graphql", json={"query": query}, headers={"Host": host, **headers}, timeout=30
    )


def test_metrics_move_with_traffic(metrics_server):
    base = metrics_server.base_url

    def value(samples, name: str, **labels: str) -> float:
        return samples.get((name, frozenset(labels.items())), 0.0)

    before = scrape(base)
    for _ in range(4):  # keep-alive off: both workers take some of them
        assert post(base, "chongqing.localhost", NAMED).json()["data"]["region"]["code"]
    assert post(base, "nowhere.localhost", NAMED).status_code == 404  # REGION_NOT_FOUND
    invalid = post(base, "chongqing.localhost", "{ noSuchField }").json()
    assert invalid["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert post(base, "yunnan.localhost", INTROSPECTION).status_code == 200
    after = scrape(base)

    requests = "platform_http_request_duration_seconds_count"
    assert (
        value(after, requests, host_kind="region", status="200")
        - value(before, requests, host_kind="region", status="200")
        == 6
    )
    assert (
        value(after, requests, host_kind="unknown", status="404")
        - value(before, requests, host_kind="unknown", status="404")
        == 1
    )
    operations = "platform_graphql_operation_duration_seconds_count"
    assert (
        value(after, operations, host_kind="region", operation="RegionCard")
        - value(before, operations, host_kind="region", operation="RegionCard")
        == 4
    )
    assert (
        value(after, "platform_errors_total", code="REGION_NOT_FOUND")
        - value(before, "platform_errors_total", code="REGION_NOT_FOUND")
        == 1
    )
    assert (
        value(after, "platform_errors_total", code="GRAPHQL_VALIDATION_FAILED")
        - value(before, "platform_errors_total", code="GRAPHQL_VALIDATION_FAILED")
        == 1
    )
    fallbacks = "platform_compiled_fallbacks_total"
    assert (
        value(after, fallbacks, kind="declined", reason="introspection")
        - value(before, fallbacks, kind="declined", reason="introspection")
        == 1
    )
    # The first scrape itself was counted, as a probe.
    assert value(after, requests, host_kind="probe", status="200") >= 1


def test_the_outbox_backlog_is_what_the_delivery_worker_last_counted(metrics_server):
    """Every active region has the series; the counts come from the delivery
    worker's last pass (one public table, not every region's schema per scrape)."""
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from central import services
    from interop.delivery import deliver_pending
    from interop.models import OutboxMessage, Transfer

    code = unique_city_code("15")
    region = services.provision_region(
        services.RegionSpec(code, city_name(code), "city", f"obx{code}"), actor="test"
    )
    backlog = ("platform_interop_outbox_backlog", frozenset({("region", code)}))
    assert scrape(metrics_server.base_url)[backlog] == 0
    with tenant_context(region):
        transfer = Transfer.objects.create(
            direction="outgoing",
            state="exported",
            volunteer_number="OBX-1",
            counterpart_region_code="999999",
            requested_by="test",
        )
        for _ in range(2):
            OutboxMessage.objects.create(
                kind="package",
                transfer=transfer,
                destination_code="999999",
                inbox_url="https://peer.invalid/interop/inbox",
                body={},
                next_attempt_at=timezone.now() + datetime.timedelta(days=1),
            )
    try:
        assert scrape(metrics_server.base_url)[backlog] == 0  # not counted yet
        deliver_pending()  # not due: counted, not sent
        samples = scrape(metrics_server.base_url)
        assert samples[backlog] == 2
        assert samples[("platform_interop_outbox_oldest_seconds", backlog[1])] >= 0
    finally:
        with tenant_context(region):
            OutboxMessage.objects.filter(transfer=transfer).delete()
            transfer.delete()
    deliver_pending()
    assert scrape(metrics_server.base_url)[backlog] == 0


def test_metrics_are_for_this_machine_or_the_token_holder(metrics_server):
    base = metrics_server.base_url
    elsewhere = {"X-Forwarded-For": "203.0.113.7"}  # the proxy says: a remote client
    refused = httpx.get(f"{base}/metrics", headers=elsewhere, timeout=30)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    wrong = httpx.get(f"{base}/metrics", headers={**elsewhere, "Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    assert scrape(base, **elsewhere, Authorization=f"Bearer {TOKEN}")


def test_request_ids_and_one_json_access_line_per_request(logged_server):
    server, log = logged_server
    base = server.base_url
    given = post(base, "chongqing.localhost", NAMED, **{"X-Request-Id": "trace-42.a:b"})
    assert given.headers["X-Request-Id"] == "trace-42.a:b"
    made = post(base, "chongqing.localhost", NAMED, **{"X-Request-Id": "x" * 200})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-Id"])
    # A line written while serving a request (the compiled-execution fallback's
    # warning, the first of this process) carries that request's id.
    post(base, "yunnan.localhost", INTROSPECTION, **{"X-Request-Id": "shape-1"})
    probe = httpx.get(f"{base}/healthz", headers={"X-Request-Id": "probe-1"})
    assert probe.headers["X-Request-Id"] == "probe-1"

    def lines() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

    # Every line is JSON (gunicorn's own too); read until the last access line is there.
    for _ in range(50):
        entries = lines()
        if any(e.get("request_id") == "probe-1" for e in entries):
            break
        httpx.get(f"{base}/healthz")
    access = [e for e in entries if e.get("logger") == "platform.access"]
    ours = [e for e in access if e.get("request_id") == "trace-42.a:b"]
    assert len(ours) == 1, access
    line = ours[0]
    assert line["method"] == "POST" and line["host"] == "chongqing.localhost"
    assert line["path"] == "/graphql" and line["status"] == 200
    assert line["operation"] == "RegionCard" and line["duration_ms"] > 0
    assert line["client"] == "127.0.0.1" and line["level"] == "INFO" and line["time"]
    assert [e["request_id"] for e in access].count(made.headers["X-Request-Id"]) == 1
    warning = [e for e in entries if e["logger"] == "schema.compiled"]
    assert warning and warning[0]["level"] == "WARNING", entries
    assert warning[0]["request_id"] == "shape-1"
    assert "introspection" in warning[0]["message"]
    assert any(e["request_id"] == "probe-1" and e["path"] == "/healthz" for e in access)
