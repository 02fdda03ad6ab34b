"""Host routing: which region (schema) a request belongs to.

The central hosts (``settings.CENTRAL_HOSTS``) serve the public schema: the
central GraphQL API and the Django admin. Every other host must be a region's
domain; the request then runs with that region's schema on the search path.
A suspended region's hosts answer every request with ``REGION_SUSPENDED``
and serve no data; an unknown host gets ``REGION_NOT_FOUND``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import JsonResponse
from django_tenants.middleware.main import TenantMainMiddleware

from central.models import Domain


def graphql_error_response(status: int, code: str, message: str) -> JsonResponse:
    """A refusal in the GraphQL-over-HTTP error shape, so clients parse one format."""
    return JsonResponse(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


class RegionRoutingMiddleware(TenantMainMiddleware):
    def process_request(self, request):
        connection.set_schema_to_public()
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return graphql_error_response(400, "BAD_HOST", "this host name is not served here")
        request.region = None
        if hostname in settings.CENTRAL_HOSTS:
            request.tenant = connection.tenant
            self.setup_url_routing(request, force_public=True)
            return None
        domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
        if domain is None:
            return graphql_error_response(
                404, "REGION_NOT_FOUND", f"no region is served at {hostname}"
            )
        region = domain.tenant
        if region.is_suspended:
            return graphql_error_response(
                403,
                "REGION_SUSPENDED",
                f"{region.name} ({region.code}) is suspended: {region.suspended_reason}",
            )
        region.domain_url = hostname
        request.tenant = region
        request.region = region
        connection.set_tenant(region)
        self.setup_url_routing(request)
        return None
