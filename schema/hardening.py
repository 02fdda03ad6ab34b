"""Limits and protections of both GraphQL APIs, configured in one place
(``settings.GRAPHQL``; production defaults follow ``PLATFORM_ENV=production``).

- depth, alias and token limits refuse abusive queries before they run;
- batched requests (a JSON list of operations) are capped;
- pages are capped by each list field (``first`` ≤ 100);
- introspection and GraphiQL can be switched off (off in production);
- in production, unexpected errors are masked; typed domain errors
  (``extensions.code``) and validation errors still reach the client;
- parsed documents and validation results are cached.
"""

from __future__ import annotations

from django.conf import settings
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from schema.errors import AccessError, QueryError

MASKED_MESSAGE = "Unexpected error; it has been logged."


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:  # syntax, validation and limit errors: the client's to fix
        return False
    return not isinstance(original, AccessError | QueryError)


def extensions() -> list:
    """Extension factories: limiters are built per request; the caches are shared on
    purpose (one instance for the process), which is what makes them caches."""
    limits = settings.GRAPHQL
    parser_cache = ParserCache(maxsize=limits["CACHE_SIZE"])
    validation_cache = ValidationCache(maxsize=limits["CACHE_SIZE"])
    # The limiters are built once too: each builds a validation-rule class, and a
    # new class per request would change the ValidationCache key every time, so
    # the cache would never hit (bench/README.md, single lookups).
    depth = QueryDepthLimiter(max_depth=limits["MAX_DEPTH"])
    aliases = MaxAliasesLimiter(max_alias_count=limits["MAX_ALIASES"])
    chosen = [
        lambda: depth,
        lambda: aliases,
        lambda: MaxTokensLimiter(max_token_count=limits["MAX_TOKENS"]),
        lambda: parser_cache,
        lambda: validation_cache,
    ]
    if not limits["INTROSPECTION"]:
        chosen.append(DisableIntrospection)
    if limits["MASK_ERRORS"]:
        chosen.append(
            lambda: MaskErrors(should_mask_error=_is_unexpected, error_message=MASKED_MESSAGE)
        )
    return chosen


def config() -> StrawberryConfig:
    return StrawberryConfig(
        batching_config={"max_operations": settings.GRAPHQL["MAX_BATCH"]},
        disable_field_suggestions=not settings.GRAPHQL["INTROSPECTION"],
    )
