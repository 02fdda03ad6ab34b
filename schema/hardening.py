"""Limits and protections of both GraphQL APIs, configured in one place
(``settings.GRAPHQL``; production defaults follow ``PLATFORM_ENV=production``).

- depth, alias and token limits refuse abusive queries before they run;
- batched requests (a JSON list of operations) are capped;
- pages are capped by each list field (``first`` ≤ 100);
- introspection and GraphiQL can be switched off (off in production);
- in production, unexpected errors are masked; typed domain errors
  (``extensions.code``) and validation errors still reach the client;
"""

from __future__ import annotations

from django.conf import settings
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
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
    """Extension factories: every request gets fresh extension objects, because
    strawberry keeps per-request state on them (sharing one across gunicorn's
    threads would let requests see each other's state). The parser and
    validation caches are therefore per request too, i.e. off for now; a
    process-wide cache needs its own thread-safe extension (issue 6 note)."""
    limits = settings.GRAPHQL
    # The limiters' rule classes are built once: a new class per request would change
    # the ValidationCache key every time, so the cache would never hit. Each request
    # still gets its own extension object (strawberry keeps request state on it).
    rules = [
        *QueryDepthLimiter(max_depth=limits["MAX_DEPTH"]).validation_rules,
        *MaxAliasesLimiter(max_alias_count=limits["MAX_ALIASES"]).validation_rules,
    ]
    chosen = [
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=limits["MAX_TOKENS"]),
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
