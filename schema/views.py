"""The GraphQL HTTP views.

The API authenticates with bearer tokens, never with cookies, so a forged
cross-site request carries no credentials: the views are CSRF-exempt (without
that, strawberry's view answers real browser-less POSTs with 403).

Responses are encoded with orjson (``encode_json``): UTF-8 with non-ASCII text
as is (strawberry's ``json.dumps`` escaped it to ASCII), no spaces. On the
nested page's ~620 KB answer it takes 2-3 ms instead of 8-13 ms
(``bench/encoding.py``); on a single lookup both take microseconds.
"""

from __future__ import annotations

import orjson
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from strawberry.django.views import GraphQLView

from schema.context import CentralContext, RegionContext

_fallback = DjangoJSONEncoder().default  # Decimal, lazy strings …: as strawberry's encoder did


def encode_json(data: object) -> bytes:
    """A GraphQL response (or a batch of them) as JSON. GraphQL has already
    serialized every scalar, so orjson's own types cover the data; anything else
    (in an error's ``extensions``, say) goes through Django's encoder."""
    return orjson.dumps(data, default=_fallback)


class _OrjsonMixin:
    def encode_json(self, data: object) -> bytes:
        return encode_json(data)


@method_decorator(csrf_exempt, name="dispatch")
class CentralGraphQLView(_OrjsonMixin, GraphQLView):
    def get_context(self, request, response):
        return CentralContext(request=request, response=response)


@method_decorator(csrf_exempt, name="dispatch")
class RegionGraphQLView(_OrjsonMixin, GraphQLView):
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
