"""Host routing: which region (schema) a request belongs to.

The central hosts (``settings.CENTRAL_HOSTS``) serve the public schema: the
central GraphQL API and the Django admin. Every other host must be a region's
domain; the request then runs with that region's schema on the search path.
A suspended region's hosts answer every request with ``REGION_SUSPENDED``
and serve no data; an unknown host gets ``REGION_NOT_FOUND``. Host names are
matched in lower case (``Chongqing.LOCALHOST`` is 重庆's), and an IPv6 literal
with or without a port (``[::1]``, ``[::1]:8000``) is parsed as a host.

Whatever fails unexpectedly answers JSON, never Django's HTML page
(``server_error``, both URL confs' ``handler500``): while the database cannot
be reached, ``503`` with ``DATABASE_UNAVAILABLE`` and ``Retry-After``, without
the driver's message (it names the server's socket path or address); any
other unexpected error ``500`` with ``INTERNAL_ERROR`` (issue 10 finding 13).
"""

from __future__ import annotations

import json
import sys

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db.models import QuerySet
from django.http import JsonResponse
from django.http.request import split_domain_port
from django.utils.translation import gettext as _
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import remove_www

from central import readiness
from central.logs import is_database_unavailable
from central.models import Domain
from central.tenancy import connection
from tenants.loading import unique_row


def graphql_error_response(status: int, code: str, message: str) -> JsonResponse:
    """A refusal in the GraphQL-over-HTTP error shape, so clients parse one format."""
    return JsonResponse(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


def database_unavailable_response() -> JsonResponse:
    response = graphql_error_response(
        503,
        "DATABASE_UNAVAILABLE",
        _("the service is temporarily unavailable (its database cannot be reached); retry later"),
    )
    response["Retry-After"] = str(settings.DATABASE_RETRY_AFTER_SECONDS)
    return response


def server_error(request, *args, **kwargs) -> JsonResponse:
    """``handler500``: Django calls it inside its ``except`` block, so the error is
    ``sys.exc_info()``'s. JSON for every URL; nothing of the error's text."""
    if is_database_unavailable(sys.exc_info()[1]):
        return database_unavailable_response()
    return graphql_error_response(500, "INTERNAL_ERROR", _("Unexpected error; it has been logged."))


def bad_request(request, exception=None) -> JsonResponse:
    """``handler400`` (a malformed or oversized request Django itself refused)."""
    return graphql_error_response(400, "INVALID", _("the request is malformed or too large"))


def forbidden(request, exception=None) -> JsonResponse:
    """``handler403``."""
    return graphql_error_response(403, "PERMISSION_DENIED", _("forbidden"))


def not_found(request, exception=None) -> JsonResponse:
    """``handler404``: no such URL on this host."""
    return graphql_error_response(404, "NOT_FOUND", _("no such URL on this host"))


class ProbeMiddleware:
    """``/healthz``, ``/readyz`` and ``/metrics`` on every host, before host routing
    (which needs the database). ``/healthz``: the process serves (200).
    ``/readyz``: it can serve requests now (``central/readiness.py``): the database
    answers, every schema is migrated, the working-day calendar covers the
    publicity periods being counted — 200, else ``503`` naming the failed checks
    (while ``up`` restarts PostgreSQL, issue 20, it is ``DATABASE_UNAVAILABLE``).
    For load balancers and ``systemd``/container checks. ``/metrics``: Prometheus
    (``central/metrics.py``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path == "/readyz":
            return readyz()
        if request.path == "/metrics":
            from central.metrics import metrics_view

            return metrics_view(request)
        return self.get_response(request)


def readyz() -> JsonResponse:
    try:
        readiness.database_answers()
        checks = {"database": readiness.OK, **readiness.slow_checks()}
    except Exception as error:
        if not is_database_unavailable(error):
            raise
        response = database_unavailable_response()
        body = json.loads(response.content)
        body.update(ready=False, checks={"database": body["errors"][0]["message"]})
        response.content = json.dumps(body, ensure_ascii=False)
        return response
    failed = {name: problem for name, problem in checks.items() if problem != readiness.OK}
    if not failed:
        return JsonResponse({"ready": True, "checks": checks})
    errors = [
        {"message": problem, "extensions": {"code": readiness.CODES[name], "check": name}}
        for name, problem in failed.items()
    ]
    return JsonResponse(
        {"ready": False, "checks": checks, "errors": errors},
        status=503,
        json_dumps_params={"ensure_ascii": False},
    )


def _domain_named(hostname: str) -> QuerySet[Domain]:
    # Every request on a region's host looks it up: compiled once (unique_row).
    return Domain.objects.select_related("tenant").filter(domain=hostname)


class RegionRoutingMiddleware(TenantMainMiddleware):
    def hostname_from_request(self, request):
        """The Host header's name part in lower case (``get_host`` validates it
        against ``ALLOWED_HOSTS`` first); ``[::1]:8000`` gives ``[::1]``."""
        domain, _port = split_domain_port(request.get_host())
        if not domain:
            raise DisallowedHost("no host name")
        return remove_www(domain.lower())

    def process_request(self, request):
        connection.set_schema_to_public()
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return graphql_error_response(400, "BAD_HOST", _("this host name is not served here"))
        request.region = None
        if hostname in settings.CENTRAL_HOSTS:
            request.tenant = connection.tenant
            self.setup_url_routing(request, force_public=True)
            return None
        domain = unique_row(_domain_named, hostname)
        if domain is None:
            return graphql_error_response(
                404,
                "REGION_NOT_FOUND",
                _("no region is served at %(hostname)s") % {"hostname": hostname},
            )
        region = domain.tenant
        if region.is_suspended:
            return graphql_error_response(
                403,
                "REGION_SUSPENDED",
                _("%(name)s (%(code)s) is suspended: %(suspended_reason)s")
                % {
                    "name": region.name,
                    "code": region.code,
                    "suspended_reason": region.suspended_reason,
                },
            )
        region.domain_url = hostname
        request.tenant = region
        request.region = region
        connection.set_tenant(region)
        self.setup_url_routing(request)
        return None
