"""Errors that services raise and every caller (GraphQL, commands, interop) understands.

A service never returns half a result: it raises one of these before writing,
or inside a transaction that the raise rolls back. The GraphQL layer turns
them into typed errors (``schema/errors.py``); management commands print them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar, overload

if TYPE_CHECKING:
    from django.db.models import Manager, Model, QuerySet

    from central.models import Region

    M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: which input field, a stable code, a message."""

    message: str
    field: str | None = None
    code: str = "INVALID"
    # THROTTLED only: seconds until the caller may try again (None: not a matter of time).
    retry_after: int | None = None


class ServiceError(Exception):
    """Base of all expected failures; carries one or more :class:`Problem`."""

    default_code = "INVALID"

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        code=None,
        problems: list[Problem] | None = None,
    ):
        if problems is None:
            problems = [Problem(message or "", field, code or self.default_code)]
        self.problems = problems
        super().__init__("; ".join(_describe(p) for p in problems))


def _describe(problem: Problem) -> str:
    return f"{problem.field}: {problem.message}" if problem.field else problem.message


class InvalidInput(ServiceError):
    default_code = "INVALID"


class NotFound(ServiceError):
    default_code = "NOT_FOUND"


class Conflict(ServiceError):
    default_code = "CONFLICT"


class RegionSuspended(Conflict):
    """A write to a suspended region (issue 10 finding 7): nothing is written, by
    any path; the inbox answers 503 with Retry-After, commands exit with it."""

    def __init__(self, region: Region):
        self.region = region
        super().__init__(
            f"{region.name} ({region.code}) is suspended: {region.suspended_reason}; "
            "nothing is written to it until it is resumed"
        )


def require_active(region: Region) -> None:
    """Refuse any write to a suspended region."""
    if region.is_suspended:
        raise RegionSuspended(region)


class PermissionDenied(ServiceError):
    default_code = "PERMISSION_DENIED"


class Unauthenticated(ServiceError):
    default_code = "UNAUTHENTICATED"


class Throttled(ServiceError):
    """Too many attempts (issue 10 finding 8): refused before any work, with when to retry."""

    default_code = "THROTTLED"

    def __init__(self, message: str, *, retry_after: int | None = None, field: str | None = None):
        super().__init__(problems=[Problem(message, field, "THROTTLED", retry_after)])

    @property
    def retry_after(self) -> int | None:
        return self.problems[0].retry_after


class ProblemCollector:
    """Collects problems so a request can report every bad field at once."""

    def __init__(self):
        self.problems: list[Problem] = []

    def add(self, field: str | None, message: str, code: str = "INVALID") -> None:
        self.problems.append(Problem(message, field, code))

    def raise_if_any(self) -> None:
        if not self.problems:
            return
        codes = {p.code for p in self.problems}
        error_class: type[ServiceError] = Conflict if codes == {"CONFLICT"} else InvalidInput
        if codes == {"NOT_FOUND"}:
            error_class = NotFound
        raise error_class(problems=self.problems)


@overload
def locked_row(
    rows: QuerySet[M] | Manager[M], *, missing: NotFound, create: bool = False, **lookup: object
) -> M: ...
@overload
def locked_row(
    rows: QuerySet[M] | Manager[M], *, missing: None, create: Literal[True], **lookup: object
) -> M: ...
@overload
def locked_row(
    rows: QuerySet[M] | Manager[M],
    *,
    missing: None,
    create: Literal[False] = False,
    **lookup: object,
) -> M | None: ...
def locked_row(rows, *, missing, create=False, **lookup):
    """The one row of ``rows`` matching ``lookup``, locked ``FOR UPDATE`` (its own
    table only, not the ``select_related`` ones) until the transaction ends. Every
    service that decides on a row locks it this way first, so two concurrent
    decisions on one row run one after the other. Where there is no such row:
    ``missing`` raised (a :class:`NotFound` naming the field), or None where
    ``missing`` is None; with ``create``, the row is first inserted from ``lookup``
    (unless it exists, or a concurrent transaction inserts it), so it is always there."""
    if create:
        model = rows.model
        model._default_manager.bulk_create([model(**lookup)], ignore_conflicts=True)
    row = rows.select_for_update(of=("self",)).filter(**lookup).first()
    if row is None and missing is not None:
        raise missing
    return row
