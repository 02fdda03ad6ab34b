"""Typed errors of the GraphQL API.

Two kinds, as in Saleor:
- a mutation that fails for a reason the caller can act on (bad input, a
  conflict, a missing object) returns its payload with ``errors``: a list of
  :class:`UserError` naming the input field, a stable ``code`` and a message,
  and writes nothing;
- a caller who may not do something at all (no token, wrong role) gets a
  GraphQL error whose ``extensions.code`` is ``UNAUTHENTICATED`` or
  ``PERMISSION_DENIED``, and no data.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from functools import wraps

import strawberry
from django.db import DataError
from django.utils.translation import gettext as _
from graphql import GraphQLError

from central.errors import PermissionDenied, ServiceError, Unauthenticated


@strawberry.enum(description="Why a request was refused.")
class ErrorCode(enum.Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    THROTTLED = "THROTTLED"
    # A service this one depends on (a peer deployment's home-region directory,
    # issue 11 finding 11) did not answer: nothing was written; try again later.
    UNAVAILABLE = "UNAVAILABLE"
    # The region's policy does not enable what was asked (the time bank, 000 Art.20):
    # nothing was written; no caller of this region may do it.
    DISABLED_BY_POLICY = "DISABLED_BY_POLICY"


@strawberry.type(description="One problem with a mutation's input; nothing was written.")
class UserError:
    field: str | None = strawberry.field(description="The input field at fault, if one is.")
    code: ErrorCode
    message: str
    retry_after: int | None = strawberry.field(
        default=None,
        description="With THROTTLED: seconds until the next attempt may be made.",
    )


@strawberry.type
class Payload:
    """A mutation's answer: what it wrote, or ``errors`` and nothing written. Each
    mutation's payload type adds its result fields (all optional) to this."""

    errors: list[UserError] = strawberry.field(default_factory=list)


def user_errors(error: ServiceError) -> list[UserError]:
    return [
        UserError(
            field=p.field, code=ErrorCode(p.code), message=p.message, retry_after=p.retry_after
        )
        for p in error.problems
    ]


class AccessError(GraphQLError):
    """Raised into GraphQL for authentication and authorization failures."""

    def __init__(self, error: ServiceError):
        code = "UNAUTHENTICATED" if isinstance(error, Unauthenticated) else "PERMISSION_DENIED"
        super().__init__(str(error), extensions={"code": code})


class QueryError(GraphQLError):
    """A query's own arguments are wrong (queries have no payload to carry errors)."""

    def __init__(self, error: ServiceError):
        problem = error.problems[0]
        extensions: dict[str, object] = {"code": problem.code, "field": problem.field}
        if problem.retry_after is not None:  # THROTTLED: when to try again
            extensions["retryAfter"] = problem.retry_after
        super().__init__(str(error), extensions=extensions)


def mutation_payload(payload_type) -> Callable:
    """Run a mutation resolver; turn a :class:`ServiceError` into ``payload(errors=…)``.

    Access failures are not payload errors: they become GraphQL errors.
    """

    def decorator(resolver):
        @wraps(resolver)
        def wrapper(*args, **kwargs):
            try:
                return resolver(*args, **kwargs)
            except (Unauthenticated, PermissionDenied) as error:
                raise AccessError(error) from None
            except ServiceError as error:
                return payload_type(errors=user_errors(error))
            except DataError:
                # The database refused a value (longer than its column, say) that the
                # service let through: bad input, and the transaction wrote nothing.
                return payload_type(
                    errors=[
                        UserError(
                            field=None,
                            code=ErrorCode.INVALID,
                            message=_("a value is too long or not valid text"),
                        )
                    ]
                )

        return wrapper

    return decorator
