"""Limits and protections of both GraphQL APIs, configured in one place
(``settings.GRAPHQL``; production defaults follow ``PLATFORM_ENV=production``).

- depth, alias and token limits refuse abusive queries before they run;
- batched requests (a JSON list of operations) are capped;
- pages are capped by each list field (``first`` ≤ 100);
- introspection and GraphiQL can be switched off (off in production);
- in production, unexpected errors are masked; typed domain errors
  (``extensions.code``) and validation errors still reach the client;
- parsed documents and validation results are cached process-wide
  (``QueryCache``), so a query text seen before skips both steps;
- every string a client sends (variables and literals, of every argument and
  input field) is checked once at the boundary (``InputChecks``): no NUL, no
  lone surrogate, at most ``MAX_STRING_LENGTH`` characters, variables nested at
  most ``MAX_INPUT_DEPTH`` deep — else ``INVALID`` before anything runs
  (issue 10 finding 13).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import strawberry
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    Node,
    ObjectFieldNode,
    StringValueNode,
    VariableDefinitionNode,
    parse,
)
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import validate_document

from central import compat
from central.logs import is_database_unavailable
from central.text import text_problem
from schema.errors import AccessError, QueryError

MASKED_MESSAGE = gettext_noop("Unexpected error; it has been logged.")


class Schema(strawberry.Schema):
    """strawberry's schema, logging only the errors nobody expected. A typed error
    (``AccessError``, ``QueryError``) or a syntax or validation error answers the
    client, who is to fix it; a traceback in the server's log for each would bury
    the failures an operator must see. Its custom scalars are described and
    specified (``schema/scalars.py``)."""

    def __init__(self, *args, **kwargs):
        from schema.scalars import SCALARS

        kwargs.setdefault("scalar_overrides", SCALARS)
        super().__init__(*args, **kwargs)

    def process_errors(self, errors, execution_context=None) -> None:
        super().process_errors([e for e in errors if _is_unexpected(e)], execution_context)


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:  # syntax, validation and limit errors: the client's to fix
        return False
    if is_database_unavailable(original):
        # Answered 503 by the view and logged as one line per request (issue 20).
        return False
    return not isinstance(original, AccessError | QueryError)


class _LRU:
    """A least-recently-used map bounded by entries and by the summed weight of its
    entries (here: characters of query text, which bound a document's memory); one
    lock around every access, so gunicorn's threads can share it. Two threads
    missing the same key both compute it; the later ``put`` wins, both are equal."""

    def __init__(self, max_entries: int, max_weight: int):
        self.max_entries = max_entries
        self.max_weight = max_weight
        self._data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                self.misses += 1
                return default
            self._data.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: Hashable, value: Any, weight: int) -> None:
        if self.max_entries <= 0 or weight > self.max_weight:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            self._data[key] = (value, weight)
            self._weight += weight
            while len(self._data) > self.max_entries or self._weight > self.max_weight:
                _unused, (_unused, dropped) = self._data.popitem(last=False)
                self._weight -= dropped

    def info(self) -> dict[str, int]:
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "entries": len(self._data),
                "weight": self._weight,
            }

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._weight = 0
            self.hits = self.misses = 0


def per_document_lru() -> _LRU:
    """An LRU for what is kept per query document beside the parser's cache
    (compiled execution's plans, the column choices): as many entries as that cache
    keeps documents (``settings.GRAPHQL["CACHE_SIZE"]``; 0 keeps none), each of
    weight 1."""
    size = settings.GRAPHQL["CACHE_SIZE"]
    return _LRU(max_entries=size, max_weight=max(size, 1))


class QueryCache:
    """Parsed documents and validation results of this process, shared by every
    request, thread and schema.

    - documents are keyed by (query text, parse options — the token limit among
      them); a text that does not parse is not cached: strawberry parses it again
      and reports the error as without a cache;
    - validation results are keyed by (schema, query text, parse options, the
      validation rules): the rules include the depth and alias limiters and, where
      introspection is off, ``NoSchemaIntrospectionCustomRule``, so a result is
      only reused under exactly the rules that produced it. Failing results are
      cached too and returned on every send.

    graphql-core's AST nodes are frozen dataclasses and execution only reads them,
    so one ``DocumentNode`` serves concurrent requests. Cached errors are kept as a
    tuple; every request gets a list of its own.
    """

    def __init__(self, max_entries: int, max_chars: int):
        self.documents = _LRU(max_entries, max_chars)
        self.validations = _LRU(max_entries, max_chars)
        # (schema, query text) → its document, once the full path has parsed and
        # validated that text under the schema's limits without an error: what the
        # views' direct path (schema/views.py) may run without the extensions.
        self.ready = _LRU(max_entries, max_chars)

    def document(self, query: str, options: tuple) -> DocumentNode:
        key = (query, options)
        document = self.documents.get(key)
        if document is None:
            document = parse(query, **dict(options))  # raises GraphQLError: not cached
            self.documents.put(key, document, len(query))
        return document

    def errors(
        self,
        schema: GraphQLSchema,
        query: str,
        options: tuple,
        rules: tuple,
        document: DocumentNode,
    ) -> list[GraphQLError]:
        key = (schema, query, options, rules)
        found = self.validations.get(key)
        if found is None:
            found = tuple(validate_document(schema, document, rules))
            self.validations.put(key, found, len(query))
        return list(found)

    def ready_document(self, schema: GraphQLSchema, query: str) -> DocumentNode | None:
        """The document of a query text this schema's full path parsed and
        validated without error (``CachedParsingAndValidation``), else None."""
        return self.ready.get((schema, query))

    def info(self) -> dict[str, dict[str, int]]:
        return {
            "documents": self.documents.info(),
            "validations": self.validations.info(),
            "ready": self.ready.info(),
        }

    def clear(self) -> None:
        self.documents.clear()
        self.validations.clear()
        self.ready.clear()


_query_cache: QueryCache | None = None
_query_cache_lock = threading.Lock()


def query_cache() -> QueryCache:
    """This process's cache, sized by ``settings.GRAPHQL`` on first use."""
    global _query_cache
    with _query_cache_lock:
        if _query_cache is None:
            limits = settings.GRAPHQL
            _query_cache = QueryCache(limits["CACHE_SIZE"], limits["CACHE_MAX_CHARS"])
        return _query_cache


class CachedParsingAndValidation(SchemaExtension):
    """Parses and validates through the process-wide ``QueryCache``. A new instance
    per request (strawberry keeps the request's ``execution_context`` on it); the
    cache itself is shared. Runs after every ``on_operation`` hook, so the token
    limit (a parse option) and the added validation rules are already in place."""

    def __init__(self, cache: QueryCache):
        self.cache = cache
        self._options: tuple | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query and context.graphql_document is None:
            options = tuple(sorted(context.parse_options.items()))
            try:
                context.graphql_document = self.cache.document(context.query, options)
                self._options = options
            except GraphQLError:
                pass  # left to strawberry's own parse, which raises and reports it
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if (
            self._options is not None  # so on_parse parsed the query
            and context.query is not None
            and context.graphql_document is not None
            and context.validation_rules
            and context.pre_execution_errors is None
        ):
            errors = self.cache.errors(
                compat.graphql_schema(context.schema),
                context.query,
                self._options,
                context.validation_rules,
                context.graphql_document,
            )
            if not errors:
                # Parsed under the token limit, valid under every rule (depth,
                # aliases, introspection where it is off), its string literals
                # passed InputChecks (which ran first): ready for the direct path.
                key = (compat.graphql_schema(context.schema), context.query)
                self.cache.ready.put(key, context.graphql_document, len(context.query))
            context.pre_execution_errors = errors
        yield


class InputChecks(SchemaExtension):
    """One boundary check of every string the client sent, before validation's
    result is used and before any resolver runs: the variables (whatever their
    type: String, ID, an input object's fields, a list's items, JSON) and the
    string literals of the query text. A refused value answers one GraphQL error,
    ``extensions: {code: INVALID, field: <argument path>}``, and no data; nothing
    was read or written. Pure Python, no SQL: ordinary queries cost a walk over
    their variables (literals only when the text could hold a bad one)."""

    def __init__(self, max_length: int, max_depth: int):
        self.max_length = max_length
        self.max_depth = max_depth

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.pre_execution_errors is None:
            found = self._variables(context.variables)
            if found is None and context.query and self._may_hold_bad_literal(context.query):
                found = self._literals(context.graphql_document)
            if found is not None:
                field, reason = found
                context.pre_execution_errors = [
                    GraphQLError(
                        _("%(field)s: %(reason)s") % {"field": field, "reason": reason},
                        extensions={"code": "INVALID", "field": field},
                    )
                ]
        yield

    def _variables(self, variables) -> tuple[str, str] | None:
        stack = [(variables or {}, "", 0)]
        while stack:
            value, path, depth = stack.pop()
            if isinstance(value, str):
                problem = text_problem(value, self.max_length)
                if problem is not None:
                    return path, problem
            elif isinstance(value, dict | list):
                if depth >= self.max_depth:
                    return path, _("nested more than %(depth)s levels deep") % {
                        "depth": self.max_depth
                    }
                items = value.items() if isinstance(value, dict) else enumerate(value)
                for key, item in items:
                    if isinstance(key, str) and text_problem(key, self.max_length):
                        return path, _("a key %(problem)s") % {
                            "problem": text_problem(key, self.max_length)
                        }
                    stack.append((item, f"{path}.{key}" if path else str(key), depth + 1))
        return None

    def _may_hold_bad_literal(self, query: str) -> bool:
        return len(query) > self.max_length or "\\u" in query or "\x00" in query

    def _literals(self, document: DocumentNode | None) -> tuple[str, str] | None:
        if document is None:
            return None
        stack: list[tuple[Node, str]] = [(document, "")]
        while stack:
            node, path = stack.pop()
            if isinstance(node, StringValueNode):
                problem = text_problem(node.value, self.max_length)
                if problem is not None:
                    return path, problem
                continue
            if isinstance(node, ArgumentNode | ObjectFieldNode):
                path = f"{path}.{node.name.value}" if path else node.name.value
            elif isinstance(node, VariableDefinitionNode):
                path = node.variable.name.value
            for key in node.keys:
                child = getattr(node, key, None)
                if isinstance(child, Node):
                    stack.append((child, path))
                elif isinstance(child, tuple | list):
                    stack.extend((item, path) for item in child if isinstance(item, Node))
        return None


def variables_problem(variables) -> tuple[str, str] | None:
    """What ``InputChecks`` would refuse in these variables: (argument path,
    reason), or None. For the views' direct path, which runs no extension."""
    limits = settings.GRAPHQL
    checks = InputChecks(limits["MAX_STRING_LENGTH"], limits["MAX_INPUT_DEPTH"])
    return checks._variables(variables)


class _MaskErrors(MaskErrors):
    """strawberry's MaskErrors with the message in the request's language."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        self.error_message = _(MASKED_MESSAGE)  # one instance per operation
        return super().anonymise_error(error)


def extensions() -> list[Callable[[], SchemaExtension]]:
    """Extension factories: every request gets fresh extension objects, because
    strawberry keeps per-request state on them (sharing one across gunicorn's
    threads would let requests see each other's state). What is shared lives
    outside them: the limiters' rule classes, built once here (a new class per
    request would change the validation cache's key every time), and the
    process-wide ``QueryCache``."""
    limits = settings.GRAPHQL
    rules = [
        *QueryDepthLimiter(max_depth=limits["MAX_DEPTH"]).validation_rules,
        *MaxAliasesLimiter(max_alias_count=limits["MAX_ALIASES"]).validation_rules,
    ]
    cache = query_cache()
    chosen = [
        # First: its refusal is in place before the cached validation result is read.
        lambda: InputChecks(limits["MAX_STRING_LENGTH"], limits["MAX_INPUT_DEPTH"]),
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=limits["MAX_TOKENS"]),
    ]
    if not limits["INTROSPECTION"]:
        chosen.append(DisableIntrospection)
    chosen.append(lambda: CachedParsingAndValidation(cache))
    if limits["MASK_ERRORS"]:
        chosen.append(
            lambda: _MaskErrors(should_mask_error=_is_unexpected, error_message=MASKED_MESSAGE)
        )
    return chosen


def config() -> StrawberryConfig:
    return StrawberryConfig(
        batching_config={"max_operations": settings.GRAPHQL["MAX_BATCH"]},
        disable_field_suggestions=not settings.GRAPHQL["INTROSPECTION"],
    )
