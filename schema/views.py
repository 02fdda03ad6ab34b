"""The GraphQL HTTP views.

The API authenticates with bearer tokens, never with cookies, so a forged
cross-site request carries no credentials: the views are CSRF-exempt (without
that, strawberry's view answers real browser-less POSTs with 403).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from strawberry.django.views import GraphQLView

from schema.context import CentralContext, RegionContext


@method_decorator(csrf_exempt, name="dispatch")
class CentralGraphQLView(GraphQLView):
    def get_context(self, request, response):
        return CentralContext(request=request, response=response)


@method_decorator(csrf_exempt, name="dispatch")
class RegionGraphQLView(GraphQLView):
    def get_context(self, request, response):
        return RegionContext(request=request, response=response)


def central_view():
    from schema.central import schema

    return CentralGraphQLView.as_view(schema=schema, graphql_ide=_ide())


def region_view():
    from schema.region import schema

    return RegionGraphQLView.as_view(
        schema=schema, graphql_ide=_ide(), multipart_uploads_enabled=True
    )


def _ide():
    return "graphiql" if settings.GRAPHIQL_ENABLED else None
