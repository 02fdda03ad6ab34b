"""Building model instances from rows, without ``Model.__init__``.

Django's ``Model.from_db`` calls ``Model.__init__``, which sends the
``pre_init``/``post_init`` signals and sets each field through ``setattr``:
about 6 µs per instance of a 28-column record, a fifth of a 10,000-record
page's loading. For a freshly loaded instance that comes to filling its
``__dict__`` with the row (attnames → values, fields not loaded stay deferred),
which is what :data:`fast_from_db` does — unless something listens to those
signals for the model, when Django's own path runs.

Use it as ``from_db = fast_from_db`` in a model's body (the models of large pages).

:func:`unique_row` (one row by a unique column, with its ``select_related``
joins) and :func:`kept_rows` (a list) read by a statement Django compiles once
per query, value type and column list: every request's region, token and roles
lookups, and a known document's ``volunteer(number:)``, had Django compile the
same SQL again each time — three quarters of a single lookup's instructions
(issue 16 point 2).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connections, models
from django.db.models import QuerySet
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

# The function behind Django's classmethod, to call with another class.
_django_from_db = vars(models.Model)["from_db"].__func__
_M = TypeVar("_M", bound=models.Model)


def _listened(cls) -> bool:
    # (the list checks first: has_listeners() costs a microsecond, often nothing listens)
    return bool(pre_init.receivers or post_init.receivers) and (
        pre_init.has_listeners(cls) or post_init.has_listeners(cls)
    )


def builds_fast(cls) -> bool:
    """Whether ``cls.from_db`` fills ``__dict__`` with whatever names it is given
    (annotations too), as :data:`fast_from_db` does when nobody listens."""
    return getattr(cls.from_db, "__func__", None) is _from_db and not _listened(cls)


def _from_db(
    cls: type[_M],
    db: str | None,
    field_names: Collection[str],
    values: Collection[Any],
    **options: Any,  # what later Django versions add (fetch_mode), passed on
) -> _M:
    if _listened(cls):
        return _django_from_db(cls, db, field_names, values, **options)
    instance = cls.__new__(cls)
    state = ModelState()
    state.adding = False
    state.db = db
    instance._state = state
    instance.__dict__.update(zip(field_names, values, strict=True))
    return instance


fast_from_db: classmethod[Any, ..., Any] = classmethod(_from_db)


# Stand in for the value while a statement is compiled: a query that does anything to
# its value but compare it (strip it, change its case, hash it, add to it) would not
# find its mark in the parameters — hence the spaces, the mixed case, the odd number.
_VALUE_MARKS: dict[type, Any] = {str: " \tUnique_Row value\x00 ", int: -7_036_521_418_907}


@dataclass(frozen=True)
class _Statement:
    """A compiled ``unique_row`` statement and what building its row needs, as
    Django's ``ModelIterable`` builds one (none of it holds a connection)."""

    model: type[models.Model]
    db: str
    sql: str
    own: slice  # the model's own columns in the row
    names: tuple[str, ...]  # their attnames (the others deferred)
    # Django's converters (JSON columns'), as ``SQLCompiler.get_converters`` gives them:
    # (position, converter functions, expression)
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...]
    joined: tuple[Any, ...]  # ``select_related``'s populators


# Keyed by the query function, the value's type and the column list: the callers'
# fixed queries and the query documents' shapes bound the keys, and this bounds
# what is kept.
@functools.lru_cache(maxsize=256)
def _statement(
    query: Callable[[Any], QuerySet], value_type: type, columns: tuple[str, ...] | None
) -> _Statement:
    from django.db.models.query import get_related_populators

    mark = _VALUE_MARKS[value_type]
    queryset = query(mark)
    if columns is not None:
        queryset = queryset.only(*columns)
    compiler = queryset.query.get_compiler(queryset.db)
    sql, params = compiler.as_sql()
    info = compiler.klass_info or {}
    own = info.get("select_fields") or [-1]
    if list(params) != [mark] or compiler.annotation_col_map or own[0] != 0:
        raise ValueError(
            f"{query.__qualname__}: unique_row needs a query of a model's rows whose "
            "only parameter is the value as given (no annotations)"
        )
    select = [expression for expression, _sql, _alias in compiler.select]
    converters = tuple(
        (position, tuple(functions), expression)
        for position, (functions, expression) in sorted(compiler.get_converters(select).items())
    )
    names = tuple(expression.target.attname for expression in select[: own[-1] + 1])
    # Django 5.2's signature; django-stubs 6.1 describes 6.1's, with fetch_mode.
    joined = get_related_populators(info, compiler.select, queryset.db)  # type: ignore[call-arg]
    return _Statement(
        queryset.model,
        queryset.db,
        sql,
        slice(0, own[-1] + 1),
        names,
        converters,
        tuple(joined),
    )


def unique_row(
    query: Callable[[Any], QuerySet[_M]], value: str | int, columns: Sequence[str] | None = None
) -> _M | None:
    """The row ``query(value)`` selects — ``query`` filters by a unique column, so at
    most one — with what it joins (``select_related``), and with ``columns`` only
    those columns loaded, the rest deferred: as iterating ``query(value)`` (with
    ``.only(*columns)``) would load it, but its SQL is compiled once per ``query``,
    value type and column list, then run with each value. ``query`` must be a
    module-level function that uses ``value`` as it is as the statement's only
    parameter (normalise the value before calling) and annotates nothing."""
    statement, connection = _kept(query, value, columns)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, [value])
        row = cursor.fetchone()
    return None if row is None else _built(statement, row, connection)


def kept_rows(query: Callable[[Any], QuerySet[_M]], value: str | int) -> list[_M]:
    """Every row ``query(value)`` selects, in its order, as :func:`unique_row` reads
    its one: by a statement compiled once per ``query`` and value type."""
    statement, connection = _kept(query, value, None)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, [value])
        rows = cursor.fetchall()
    return [_built(statement, row, connection) for row in rows]


def _kept(query, value, columns) -> tuple[_Statement, Any]:
    kind: type = type(value)
    statement = _statement(query, kind, None if columns is None else tuple(columns))
    return statement, connections[statement.db]


def _built(statement: _Statement, row, connection) -> Any:
    if statement.converters:
        row = list(row)
        for position, functions, expression in statement.converters:
            for function in functions:
                row[position] = function(row[position], expression, connection)
    found = statement.model.from_db(statement.db, statement.names, row[statement.own])
    for populator in statement.joined:
        populator.populate(row, found)
    return found
