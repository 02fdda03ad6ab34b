"""Prometheus metrics (issue 13 point 6), served at ``GET /metrics`` on every host.

gunicorn runs several worker processes, so the counters live in
``prometheus_client``'s multiprocess mode: each process writes its samples to
memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them
up. The directory is the environment's ``PROMETHEUS_MULTIPROC_DIR`` if set, else
``.data/metrics`` in the deployment (``manage.py up``: ``.data/metrics-<port>``);
it is emptied when gunicorn starts (``central/gunicorn_conf.py``), as the
library requires.

- ``platform_http_request_duration_seconds{host_kind,status}``: every request
  (``_count`` is the request count); ``host_kind`` is ``central``, ``region``,
  ``probe`` (``/healthz``, ``/readyz``, ``/metrics``) or ``unknown`` (a host no
  region has);
- ``platform_graphql_operation_duration_seconds{host_kind,operation}``: each
  GraphQL operation by its name (``anonymous`` without one; at most
  ``MAX_OPERATION_NAMES`` names per process, then ``other``, so clients cannot
  grow the series without bound);
- ``platform_errors_total{code}``: every error answered, by ``extensions.code``
  (GraphQL errors and the HTTP layer's JSON refusals alike);
- ``platform_compiled_fallbacks_total{kind,reason}``: queries that compiled
  execution left to graphql-core (``schema/compiled.py``): ``declined`` (what it
  does not do), ``gave_up`` (a null or an awaitable part-way), ``error`` (a
  resolver raised);
- ``platform_interop_outbox_backlog{region}`` and
  ``platform_interop_outbox_oldest_seconds{region}``: messages to other
  deployments not yet delivered, and the age of the oldest, for every active
  region, as the delivery worker counted them on its last pass (every 5 s with
  ``interop deliver --loop``); read from one public table, so a scrape costs the
  same with 3,000 regions as with one.

Who may read it: requests from the machine itself (the client address is
loopback: ``central.throttle.client_address``, so behind a proxy it is the
address the proxy reports) and requests with ``Authorization: Bearer
<PLATFORM_METRICS_TOKEN>``; everyone else gets ``403``.
"""

from __future__ import annotations

import hmac
import os
import re
import threading
from pathlib import Path

from django.conf import settings

# Multiprocess mode is chosen by this variable before prometheus_client makes a value.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    str(settings.METRICS_DIR or Path(settings.BASE_DIR) / ".data" / "metrics"),
)
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

from django.db import DatabaseError  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.http.request import split_domain_port  # noqa: E402
from django.utils.translation import gettext as _  # noqa: E402
from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402

REQUEST_SECONDS = Histogram(
    "platform_http_request_duration_seconds",
    "HTTP requests by host kind and status, and how long they took.",
    ["host_kind", "status"],
)
OPERATION_SECONDS = Histogram(
    "platform_graphql_operation_duration_seconds",
    "GraphQL operations by name, and how long they took to execute.",
    ["host_kind", "operation"],
)
ERRORS = Counter("platform_errors", "Errors answered, by extensions.code.", ["code"])
COMPILED_FALLBACKS = Counter(
    "platform_compiled_fallbacks",
    "Query operations compiled execution left to graphql-core, and why.",
    ["kind", "reason"],
)

PROBES = ("/healthz", "/readyz", "/metrics")
MAX_OPERATION_NAMES = 200
_OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,47}")
_operation_names: set[str] = set()
_names_lock = threading.Lock()


def host_kind(request) -> str:
    if request.path in PROBES:
        return "probe"
    if getattr(request, "region", None) is not None:
        return "region"
    host, _port = split_domain_port(request.META.get("HTTP_HOST", "").lower())
    return "central" if host in settings.CENTRAL_HOSTS else "unknown"


def operation_label(name: str) -> str:
    """A bounded label for an operation name a client chose."""
    if name == "anonymous" or not _OPERATION_NAME.fullmatch(name):
        return "anonymous"
    with _names_lock:
        if name in _operation_names:
            return name
        if len(_operation_names) < MAX_OPERATION_NAMES:
            _operation_names.add(name)
            return name
    return "other"


def observe_request(request, status: int, seconds: float, codes: list[str]) -> None:
    REQUEST_SECONDS.labels(host_kind(request), str(status)).observe(seconds)
    for code in codes:
        ERRORS.labels(code if _CODE.fullmatch(code) else "OTHER").inc()


def observe_operation(request, name: str, seconds: float) -> None:
    OPERATION_SECONDS.labels(host_kind(request), operation_label(name)).observe(seconds)


def compiled_fallback(kind: str, reason: str) -> None:
    COMPILED_FALLBACKS.labels(kind, reason[:120]).inc()


class OutboxBacklog:
    """Undelivered interop outbox messages per region, as the delivery worker last
    counted them (``interop/delivery.py`` ``record_backlog``, every pass of
    ``interop deliver --loop``): two queries in the public schema at each scrape,
    whatever the region count. Reading every region's outbox here cost one query
    per region per scrape (a UNION over 3,000 schemas), and a query spanning
    regions' schemas is what issue 14 point 4 rules out."""

    def collect(self):
        backlog = GaugeMetricFamily(
            "platform_interop_outbox_backlog",
            "Interop outbox messages not yet delivered (as the delivery worker last counted).",
            labels=["region"],
        )
        oldest = GaugeMetricFamily(
            "platform_interop_outbox_oldest_seconds",
            "Age of the oldest interop outbox message not yet delivered.",
            labels=["region"],
        )
        try:
            rows = _outbox_rows()
        except DatabaseError:
            rows = []  # the database is away: /readyz says so; the counters still answer
        for code, count, age in rows:
            backlog.add_metric([code], count)
            oldest.add_metric([code], age)
        yield backlog
        yield oldest


def _outbox_rows() -> list[tuple[str, int, float]]:
    """Every active region's backlog (0 without a row), by code."""
    from django.utils import timezone

    from central.models import OutboxBacklog, Region

    now = timezone.now()
    counted = {
        code: (pending, max((now - oldest).total_seconds(), 0.0))
        for code, pending, oldest in OutboxBacklog.objects.values_list(
            "region_code", "pending", "oldest_at"
        )
    }
    codes = Region.objects.filter(status=Region.Status.ACTIVE).values_list("code", flat=True)
    return [(code, *counted.get(code, (0, 0.0))) for code in codes.order_by("code")]


def may_read(request) -> bool:
    from central.throttle import client_address

    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer "):
        return hmac.compare_digest(given.removeprefix("Bearer ").encode(), token.encode())
    return client_address(request) in ("127.0.0.1", "::1")


def metrics_view(request) -> HttpResponse:
    from central.middleware import graphql_error_response

    if not may_read(request):
        return graphql_error_response(
            403,
            "PERMISSION_DENIED",
            _("metrics are served to this machine and to holders of the metrics token"),
        )
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(OutboxBacklog())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
