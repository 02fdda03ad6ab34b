"""Pages of a list: connection arguments (``first``/``after``, ``last``/``before``),
keyset cursors, ``PageInfo`` (GraphQL Cursor Connections), shared by every domain."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import strawberry
from django.conf import settings
from django.utils.translation import gettext as _

from central.errors import InvalidInput
from schema.errors import QueryError
from schema.region.auth import guarded, key_in_range

# A paged list's size when the query names none (prefetch.py PAGES reads it).
LIST_FIRST = 100


@strawberry.type(description="Where a page is in its list (GraphQL Cursor Connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Reading forward (first): more follow. Reading backward (last): false."
    )
    has_previous_page: bool = strawberry.field(
        description="Reading backward (last): more come before. Reading forward: false."
    )
    # The page's first and last rows and how to make their cursors: encoded only when
    # asked for (a page of volunteers has a records connection per volunteer).
    _ends: strawberry.Private[tuple] = ()
    _cursor: strawberry.Private[Callable[[Any], str] | None] = None

    @strawberry.field
    def start_cursor(self) -> str | None:
        return self._cursor(self._ends[0]) if self._ends and self._cursor else None

    @strawberry.field
    def end_cursor(self) -> str | None:
        return self._cursor(self._ends[-1]) if self._ends and self._cursor else None


@dataclass(slots=True)
class Window:
    """A connection's arguments, checked: ``size`` rows after ``after`` (forward), or
    the ``size`` rows just before ``before`` (backward: ``last``)."""

    size: int
    after: int | None
    before: int | None
    backward: bool


def window(kind: str, first: int | None, after, last: int | None, before, default: int) -> Window:
    """``first``/``after`` or ``last``/``before`` of a connection keyed by ``kind``
    cursors; each page size within ``settings.GRAPHQL["MAX_PAGE"]``."""
    # (imports at module level: this runs once per volunteer on a page of volunteers)
    if first is not None and last is not None:
        raise QueryError(InvalidInput(_("give first or last, not both"), field="last"))
    # Once per volunteer on a page of volunteers' records: no call without a cursor.
    after_key = None if after is None else guarded(decode_cursor, kind, after)
    before_key = None if before is None else guarded(decode_cursor, kind, before, "before")
    if last is not None:
        return Window(page_size(last, "last"), after_key, before_key, True)
    return Window(page_size(default if first is None else first), after_key, before_key, False)


def paged(rows: list, window: Window, key, cursor) -> tuple[list, PageInfo]:
    """A page of ``rows`` (ascending by ``key``; at least the page plus one past it in
    the direction read, where there are) and its ``PageInfo``."""
    if window.after is not None:
        rows = [r for r in rows if key(r) > window.after]
    if window.before is not None:
        rows = [r for r in rows if key(r) < window.before]
    if window.backward:
        page = rows[-window.size :]
        more_before, more_after = len(rows) > window.size, False
    else:
        page = rows[: window.size]
        more_before, more_after = False, len(rows) > window.size
    info = PageInfo(
        has_next_page=more_after,
        has_previous_page=more_before,
        _ends=(page[0], page[-1]) if page else (),
        _cursor=cursor,
    )
    return page, info


def keyset_rows(queryset, keyset: str, window: Window, ahead: bool = True) -> list:
    """The rows ``paged`` needs, read in SQL: one past the page in the direction read,
    which tells ``hasNextPage`` (``hasPreviousPage`` backward). ``ahead=False`` (the
    query selects no ``pageInfo``: prefetch.py ``asks_page_info``) reads the page only,
    and the ``PageInfo`` made from it, never answered, does not know what follows:
    the row past the page was a whole subtree more on a nested page (issue 16)."""
    if window.after is not None:
        queryset = queryset.filter(**{f"{keyset}__gt": window.after})
    if window.before is not None:
        queryset = queryset.filter(**{f"{keyset}__lt": window.before})
    if window.backward:
        return list(queryset.order_by(f"-{keyset}")[: window.size + ahead])[::-1]
    return list(queryset.order_by(keyset)[: window.size + ahead])


def page_size(first: int, field: str = "first") -> int:
    """``first`` (or ``last``) within 1..settings.GRAPHQL["MAX_PAGE"], else a typed error."""
    limit = settings.GRAPHQL["MAX_PAGE"]
    if not 1 <= first <= limit:
        raise QueryError(
            InvalidInput(
                _("%(field)s must be between 1 and %(limit)s") % {"field": field, "limit": limit},
                field=field,
            )
        )
    return first


def encode_cursor(kind: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{pk}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None, field: str = "after") -> int | None:
    if cursor is None:
        return None
    try:
        prefix, _unused, pk = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if prefix != kind:
            raise ValueError
        return key_in_range(int(pk))
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(_("not a cursor from this list"), field=field) from None
