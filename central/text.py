"""Text that no field of the platform accepts (issue 10 finding 13).

PostgreSQL refuses NUL in text and jsonb, a lone surrogate cannot be encoded as
UTF-8 at all, and a string longer than any field's business limit is never
legitimate. One walk over whatever a client sent (GraphQL variables and
literals, an interop envelope) finds the first such value before anything runs,
so the caller answers ``INVALID`` and nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _

_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str, max_length: int) -> str | None:
    """Why ``value`` is refused, or None."""
    if len(value) > max_length:
        return _("longer than %(max_length)s characters") % {"max_length": max_length}
    if "\x00" in value:
        return _("contains a NUL character (U+0000)")
    if _SURROGATE.search(value):
        return _("contains a lone surrogate (not valid Unicode)")
    return None


class TooDeep(ValueError):
    pass


def _walk(value: Any, path: str, max_depth: int) -> Iterator[tuple[str, str]]:
    """Every string in a JSON-like value with its dotted path (iteratively: a deeply
    nested value must not exhaust the interpreter's stack)."""
    stack = [(value, path, 0)]
    while stack:
        current, where, depth = stack.pop()
        if isinstance(current, str):
            yield where, current
        elif isinstance(current, dict | list | tuple):
            if depth >= max_depth:
                raise TooDeep(where)
            items = current.items() if isinstance(current, dict) else enumerate(current)
            for key, item in items:
                if isinstance(key, str):
                    yield where, key
                stack.append((item, f"{where}.{key}" if where else str(key), depth + 1))


def first_bad_text(
    value: Any, max_length: int, max_depth: int = 64, path: str = ""
) -> tuple[str, str] | None:
    """The first refused string in ``value`` as (path, reason), or None; a value
    nested deeper than ``max_depth`` is refused too."""
    try:
        for where, text in _walk(value, path, max_depth):
            problem = text_problem(text, max_length)
            if problem is not None:
                return where, problem
    except TooDeep as error:
        return str(error), f"nested more than {max_depth} levels deep"
    return None
