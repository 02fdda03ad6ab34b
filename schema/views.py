"""The GraphQL HTTP views.

The API authenticates with bearer tokens, never with cookies, so a forged
cross-site request carries no credentials: the views are CSRF-exempt (without
that, strawberry's view answers real browser-less POSTs with 403).

Responses are encoded with orjson (``encode_json``): UTF-8 with non-ASCII text
as is (strawberry's ``json.dumps`` escaped it to ASCII), no spaces. On the
nested page's ~620 KB answer it takes 2-3 ms instead of 8-13 ms
(``bench/encoding.py``); on a single lookup both take microseconds.

Request bodies are decoded with orjson too, which refuses what ``json.loads``
answered with a 500 (invalid UTF-8, nesting deeper than 1024 levels) or let
through to the database (lone surrogates): each is ``400`` with a JSON
GraphQL error, code ``INVALID``, as is a malformed multipart ``operations`` or
``map``. A refusal of the HTTP layer is JSON like every other answer. When an
operation failed because the database cannot be reached, the answer is ``503``
with ``Retry-After`` and no detail of the error (issue 10 finding 13).
"""

from __future__ import annotations

import orjson
from cross_web import HTTPException
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from strawberry.django.views import GraphQLView
from strawberry.file_uploads.utils import replace_placeholders_with_files

from central.middleware import (
    database_unavailable_response,
    graphql_error_response,
    is_database_unavailable,
)
from schema.context import CentralContext, RegionContext

_fallback = DjangoJSONEncoder().default  # Decimal, lazy strings …: as strawberry's encoder did


def encode_json(data: object) -> bytes:
    """A GraphQL response (or a batch of them) as JSON. GraphQL has already
    serialized every scalar, so orjson's own types cover the data; anything else
    (in an error's ``extensions``, say) goes through Django's encoder."""
    return orjson.dumps(data, default=_fallback)


_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


class _DatabaseUnavailable(Exception):
    """An operation failed because the database cannot be reached."""


class _OrjsonMixin:
    def encode_json(self, data: object) -> bytes:
        return encode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        # orjson.JSONDecodeError subclasses json.JSONDecodeError: strawberry answers 400.
        return orjson.loads(data)

    def parse_http_body(self, request):
        try:
            return super().parse_http_body(request)
        except UnicodeDecodeError:  # the adapter decodes the body as UTF-8 first
            raise HTTPException(400, "the request body is not UTF-8") from None

    def parse_multipart(self, request):
        """The GraphQL multipart request spec's ``operations`` and ``map``, each
        checked for its shape: ``map`` is an object of file field → list of
        dotted paths, every path leads into ``operations`` and every file exists."""
        operations = self.parse_json(request.post_data.get("operations", "{}"))
        files_map = self.parse_json(request.post_data.get("map", "{}"))
        if not isinstance(operations, dict | list):
            raise HTTPException(400, "multipart `operations` must be a JSON object or list")
        if not isinstance(files_map, dict) or not all(
            isinstance(paths, list) and all(isinstance(path, str) for path in paths)
            for paths in files_map.values()
        ):
            raise HTTPException(400, "multipart `map` must map each file to a list of paths")
        try:
            return replace_placeholders_with_files(operations, files_map, request.files)
        except KeyError:
            raise HTTPException(400, "File(s) missing in form data") from None
        except (IndexError, TypeError, ValueError, AttributeError):
            raise HTTPException(
                400, "a multipart `map` path leads nowhere in `operations`"
            ) from None

    def process_result(self, request, result):
        if any(is_database_unavailable(e.original_error) for e in result.errors or ()):
            raise _DatabaseUnavailable
        return super().process_result(request, result)

    def dispatch(self, request, *args, **kwargs):
        try:
            return self.run(request=request)
        except HTTPException as error:
            code = _HTTP_CODES.get(error.status_code, "INVALID")
            return graphql_error_response(error.status_code, code, error.reason)
        except _DatabaseUnavailable:
            return database_unavailable_response()


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
