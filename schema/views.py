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

GraphQL over HTTP (issue 21 finding 2): the answer's media type follows
``Accept`` (``response_media_type``); a request error — the operation never
ran — has no ``data`` entry, a code (``request_error_code``) and, in
``application/graphql-response+json``, status ``400``. Persisted and trusted
documents are resolved before execution (``schema/persisted.py``); an
anonymous query by GET answered without error is cacheable, with an ``ETag``
(``_cacheable``).

A single POSTed query whose text this process has already parsed and validated
without error takes a direct path (``direct``; issue 16 point 2): compiled
execution straight from the view, after the same checks, answered as ``run``
answers; anything else, and any query compiled execution gives up on, goes
the full way.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import TYPE_CHECKING, Any, cast

import orjson
import strawberry
from cross_web import HTTPException
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, HttpResponseNotModified
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.django.views import GraphQLView
from strawberry.file_uploads.utils import replace_placeholders_with_files
from strawberry.http import GraphQLRequestData, process_result
from strawberry.types.execution import ExecutionResult, PreExecutionError

from central import compat, metrics
from central.logs import is_database_unavailable
from central.middleware import database_unavailable_response
from schema import compiled, persisted
from schema.context import CentralContext, RegionContext
from schema.hardening import query_cache, variables_problem

_fallback = DjangoJSONEncoder().default  # Decimal, lazy strings …: as strawberry's encoder did


def encode_json(data: object) -> bytes:
    """A GraphQL response (or a batch of them) as JSON. GraphQL has already
    serialized every scalar, so orjson's own types cover the data; anything else
    (in an error's ``extensions``, say) goes through Django's encoder."""
    return orjson.dumps(data, default=_fallback)


_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}

GRAPHQL_RESPONSE = "application/graphql-response+json"

# GraphiQL's page: scripts, styles and fonts from this host only (its inline script
# and styles, and the data: fonts of its stylesheet, included).
GRAPHIQL_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:; img-src 'self' data:; connect-src 'self'"
)


def response_media_type(request) -> str:
    """``application/graphql-response+json`` when the client's ``Accept`` lists it
    (GraphQL over HTTP; required of servers since its 2025-01-01 watershed),
    else ``application/json``, the legacy type every client reads."""
    for item in request.headers.get("Accept", "").split(","):
        media_type, *params = (part.strip().lower() for part in item.split(";"))
        if media_type == GRAPHQL_RESPONSE and not any(
            p.startswith("q=") and _quality(p[2:]) == 0 for p in params
        ):
            return GRAPHQL_RESPONSE
    return "application/json"


def _quality(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 1.0


def is_request_error(result) -> bool:
    """Whether the operation was refused before it ran: a parse or validation
    error, a limit of ``hardening.py``, or variables that do not coerce. Such
    an answer has no ``data`` entry at all (the GraphQL spec), where an
    operation that ran and failed has ``"data": null`` and errors with a path."""
    if isinstance(result, PreExecutionError):
        return True
    return (
        result.data is None
        and bool(result.errors)
        # graphql-core's coercion errors wrap a GraphQLError; a failure inside the
        # operation (the database, a bug) wraps some other exception.
        and all(
            error.path is None
            and (error.original_error is None or isinstance(error.original_error, GraphQLError))
            for error in result.errors
        )
    )


def forget_tracebacks(errors) -> None:
    """Drop the errors' tracebacks once they are logged (schema.process_errors) and
    shaped for the answer: a traceback holds the frames that raised the error, and
    they hold the error (a list of errors, the page's rows): a reference cycle that
    kept a page with a refused field alive until a full collection (issue 16)."""
    for error in errors:
        seen = set()
        exception = error
        while exception is not None and id(exception) not in seen:
            seen.add(id(exception))
            exception.__traceback__ = None
            exception = (
                getattr(exception, "original_error", None)
                or exception.__cause__
                or exception.__context__
            )


def request_error_code(error: GraphQLError) -> str:
    """The code of a request error graphql-core raised without one: the names
    Apollo Server gives them, which front-end code already tests for."""
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    if error.message.startswith("Variable '$"):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


_OPERATION = re.compile(r"\s*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")


def operation_name(given: object, query: object) -> str:
    """The operation's name: the one the client sent, else that of a document
    that starts with a named operation, else ``anonymous``."""
    if isinstance(given, str) and given:
        return given[:64]
    match = _OPERATION.match(query) if isinstance(query, str) else None
    return match.group(1)[:64] if match else "anonymous"


def _request_error_response(request, status: int, code: str, message: str) -> HttpResponse:
    """A refusal of the HTTP layer (no JSON, no query, a bad multipart map …):
    a request error in the client's media type, without ``data``."""
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return HttpResponse(encode_json(body), status=status, content_type=response_media_type(request))


class _DatabaseUnavailable(Exception):
    """An operation failed because the database cannot be reached."""


if TYPE_CHECKING:
    _ViewBase = GraphQLView  # the view the mixin goes into
else:
    _ViewBase = object


class _OrjsonMixin(_ViewBase):
    schema: strawberry.Schema  # the platform's schemas (with their extensions)

    def encode_json(self, data: object) -> bytes:
        return encode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        # orjson.JSONDecodeError subclasses json.JSONDecodeError: strawberry answers 400.
        return orjson.loads(data)

    def parse_http_body(self, request):
        try:
            return super().parse_http_body(request)
        except UnicodeDecodeError:  # the adapter decodes the body as UTF-8 first
            raise HTTPException(400, _("the request body is not UTF-8")) from None

    def parse_multipart(self, request):
        """The GraphQL multipart request spec's ``operations`` and ``map``, each
        checked for its shape: ``map`` is an object of file field → list of
        dotted paths, every path leads into ``operations`` and every file exists."""
        operations = self.parse_json(request.post_data.get("operations", "{}"))
        files_map = self.parse_json(request.post_data.get("map", "{}"))
        if not isinstance(operations, dict | list):
            raise HTTPException(400, _("multipart `operations` must be a JSON object or list"))
        if not isinstance(files_map, dict) or not all(
            isinstance(paths, list) and all(isinstance(path, str) for path in paths)
            for paths in files_map.values()
        ):
            raise HTTPException(400, _("multipart `map` must map each file to a list of paths"))
        try:
            # A batch's list of operations too (the stubs say a dict; paths index both).
            return replace_placeholders_with_files(
                operations,  # type: ignore[arg-type]
                files_map,
                request.files,
            )
        except KeyError:
            raise HTTPException(400, _("File(s) missing in form data")) from None
        except (IndexError, TypeError, ValueError, AttributeError):
            raise HTTPException(
                400, _("a multipart `map` path leads nowhere in `operations`")
            ) from None

    def render_graphql_ide(self, request) -> HttpResponse:
        """GraphiQL with its files served by the platform (``central/static/graphiql``),
        never from a CDN; the policy makes the browser refuse any other host too."""
        response = HttpResponse(render_to_string("graphql/graphiql.html", request=request))
        response["Content-Security-Policy"] = GRAPHIQL_CSP
        return response

    def should_render_graphql_ide(self, request) -> bool:
        # A hash-only persisted query by GET has no ``query`` either.
        return "extensions" not in request.query_params and super().should_render_graphql_ide(
            request
        )

    def execute_single(
        self, request, request_adapter, sub_response, context, root_value, request_data
    ):
        try:
            persisted.resolve(request_data, getattr(request, "region", None))
        except persisted.Refused as refused:
            return refused.result()
        # The access log names the operation(s); the metrics time each by name.
        name = operation_name(request_data.operation_name, request_data.query)
        request.graphql_operations = [*getattr(request, "graphql_operations", []), name]
        started = time.perf_counter()
        try:
            return super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        finally:
            metrics.observe_operation(request, name, time.perf_counter() - started)

    def process_result(self, request, result):
        if any(is_database_unavailable(e.original_error) for e in result.errors or ()):
            raise _DatabaseUnavailable
        answer = cast(dict[str, Any], process_result(result))  # a TypedDict, edited here
        if result.errors:
            request.graphql_errors = True  # such an answer is nobody's to cache
            forget_tracebacks(result.errors)
        if is_request_error(result):
            del answer["data"]
            for error, shown in zip(result.errors, answer["errors"], strict=True):
                if "code" not in (shown.get("extensions") or {}):
                    shown.setdefault("extensions", {})["code"] = request_error_code(error)
            request.graphql_request_errors = getattr(request, "graphql_request_errors", 0) + 1
        # Errors by code (central/metrics.py), noted here for the access middleware.
        request.graphql_error_codes = [
            *getattr(request, "graphql_error_codes", []),
            *(
                str((shown.get("extensions") or {}).get("code") or "INTERNAL_ERROR")
                for shown in answer.get("errors") or ()
            ),
        ]
        return answer

    def direct(self, request) -> HttpResponse | None:
        """A single query whose text this process has already parsed and validated
        without error (``QueryCache.ready_document``), run by compiled execution
        without strawberry's view and extension machinery (issue 16 point 2: a
        single lookup cost ~8 % more than a plain Django view). The same checks
        come first — the body's shape, persisted and trusted documents, the
        variables' strings (``InputChecks``) — and the answer is shaped, logged and
        counted as ``run`` does it. Anything else returns None, and ``run`` serves
        the request as before: a batch, GET, multipart, a streaming ``Accept``,
        ``extensions``, a text not seen valid, a mutation, a request with errors or
        any answer compiled execution gives up on. What a query that gave up loaded
        at its root goes to graphql-core, as within one execution (``compiled.py``)."""
        mode = settings.GRAPHQL["COMPILED_EXECUTION"]
        if (
            compiled.CompiledQueries not in self.schema.extensions  # the central API
            or request.method != "POST"
            or request.content_type != "application/json"
            or mode == "off"
            or compat.streaming_requested(self, request.headers)
        ):
            return None
        try:
            body = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return None
        if type(body) is not dict or body.get("extensions") is not None:
            return None
        query, variables, name = body.get("query"), body.get("variables"), body.get("operationName")
        if (
            type(query) is not str
            or not (variables is None or type(variables) is dict)
            or not (name is None or type(name) is str)
        ):
            return None
        document = query_cache().ready_document(compat.graphql_schema(self.schema), query)
        if document is None or variables_problem(variables) is not None:
            return None
        request_data = GraphQLRequestData(
            query=query, variables=variables, operation_name=name, extensions=None
        )
        try:
            persisted.resolve(request_data, getattr(request, "region", None))
        except persisted.Refused:
            return None
        # No sub-response: no query resolver sets headers. One that tried would fail
        # and give up to the full path, which has one.
        context = self.get_context(request, response=None)  # type: ignore[arg-type]
        root_values: dict = {}
        started = time.perf_counter()
        arguments = (self.schema, document, name, variables, context, None)
        data = compiled.execute(*arguments, root_values)
        if data is None:
            # The full path runs graphql-core with what was loaded, in the same
            # context (the caller is not looked up twice).
            request.compiled_root_values = root_values
            request.graphql_direct_context = context
            return None
        if mode == "verify":
            try:
                compiled.verify(data, *arguments)
            except compiled.CompiledAnswerDiffers:
                return None  # the full path runs and reports it, as without this path
        operation = operation_name(name, query)
        request.graphql_operations = [*getattr(request, "graphql_operations", []), operation]
        metrics.observe_operation(request, operation, time.perf_counter() - started)
        answer = self.process_result(request, ExecutionResult(data=data, errors=None))
        return HttpResponse(encode_json(answer), content_type="application/json")

    def dispatch(self, request, *args, **kwargs):
        try:
            response = self.direct(request) or self.run(request=request)
        except HTTPException as error:
            code = _HTTP_CODES.get(error.status_code, "INVALID")
            return _request_error_response(request, error.status_code, code, error.reason)
        except _DatabaseUnavailable:
            return database_unavailable_response()
        if isinstance(response, HttpResponse) and response.get("Content-Type", "").startswith(
            "application/json"  # not GraphiQL
        ):
            media_type = response_media_type(request)
            response["Content-Type"] = media_type
            # One operation refused before it ran: 400 in the new media type (the
            # legacy one keeps 200, which older clients expect); a batch stays 200.
            if (
                media_type == GRAPHQL_RESPONSE
                and getattr(request, "graphql_request_errors", None)
                and not response.content.startswith(b"[")
            ):
                response.status_code = 400
            if request.method == "GET":
                return _cacheable(request, response)
        return response


def _cacheable(request, response: HttpResponse) -> HttpResponse:
    """A query by GET: anonymous and answered without error, it may be kept by
    any cache (``Cache-Control: public``) for ``PUBLIC_QUERY_MAX_AGE`` seconds and
    revalidated by its ``ETag`` (``304`` on a matching ``If-None-Match``); with a
    token it is the caller's alone (``private, no-store``). ``Vary`` keeps answers
    to other tokens, media types and origins apart."""
    patch_vary_headers(response, ("Accept", "Authorization"))
    if (
        "Authorization" in request.headers
        or response.status_code != 200
        or getattr(request, "graphql_errors", False)
    ):
        response["Cache-Control"] = "private, no-store"
        return response
    max_age = settings.PUBLIC_QUERY_MAX_AGE
    response["Cache-Control"] = f"public, max-age={max_age}" if max_age else "public, no-cache"
    etag = f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'
    response["ETag"] = etag
    wanted = [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]
    if etag in wanted or f"W/{etag}" in wanted or "*" in wanted:
        not_modified = HttpResponseNotModified()
        for header in ("ETag", "Cache-Control", "Vary"):
            not_modified[header] = response[header]
        return not_modified
    return response


class CentralGraphQLView(_OrjsonMixin, GraphQLView):
    def get_context(self, request, response):
        return CentralContext(request=request, response=response)


class RegionGraphQLView(_OrjsonMixin, GraphQLView):
    def get_context(self, request, response):
        tried = request.__dict__.pop("graphql_direct_context", None)  # see ``direct``
        if tried is not None:
            tried.response = response
            return tried
        return RegionContext(request=request, response=response)


# Both views are CSRF-exempt (an app's POST is not refused), marked on the view
# function: ``method_decorator`` on ``dispatch`` made two wrapper functions and a
# partial on every request (issue 16 point 2, bench/lookups_opcodes.py).
def central_view():
    from schema.central import schema

    return csrf_exempt(CentralGraphQLView.as_view(schema=schema, graphql_ide=_ide()))


def region_view():
    from schema.region import schema

    return csrf_exempt(
        RegionGraphQLView.as_view(schema=schema, graphql_ide=_ide(), multipart_uploads_enabled=True)
    )


def _ide():
    return "graphiql" if settings.GRAPHIQL_ENABLED else None
