"""Reading a many-relation that a request may have prefetched.

``schema/region/prefetch.py`` prefetches what a query selects with
``Prefetch(..., to_attr="prefetched_<relation>")``: a plain list on each
instance, which spares Django a related manager and a queryset per instance
(on a page of 10,000 records that bookkeeping cost more than the SQL).
Code that reads such a relation goes through :func:`prefetched`.

A relation that most rows have none of (a record's amendments) is declared
:class:`MostlyEmpty` on its model, whose queryset is a :class:`FewRelatedQuerySet`:
``.with_few(relation)`` carries each row's related rows in the row itself
(``has_<relation>``: a ``jsonb`` array, null for none — usually), built from
the rows once loaded for the few that have any: no statement of its own, so a
page costs the same statements whether or not some of its records were amended
(issue 16 point 2). Where the related rows must be narrowed or joined (a
queryset of them is given), the mark is an ``EXISTS`` and the marked rows'
relation one more query.

A page of parents that shows each one's first rows of a relation (a volunteer's
first records) reads them with :class:`FirstRows`: one LATERAL join, each
parent's rows by an index range scan.

Where a page selects only fields that read a record's columns, its records are
read as tuples (:func:`as_rows`): no model instance per row, each row a
:func:`row_class` tuple whose attributes are the selected columns (issue 16
point 2: building 10,000 instances was the largest part of the nested page).

Rows of a page never point back at the parents that hold them (:func:`parentless`,
issue 16 point 1): a row whose parent lists it and which caches that parent is a
reference cycle, which reference counting cannot free, so a page's rows outlived
the request until a full collection — a worker grew by ~0.5 MB a page, and the
collection that finally ran stalled one request for seconds. Code that needs a
row's parent reads it from the parent being resolved, or reads the foreign key.
"""

from __future__ import annotations

import collections
import functools
import itertools
import operator
from typing import Any

import orjson
from django.contrib.postgres.aggregates import JSONBAgg
from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.db.models import (
    Case,
    Exists,
    JSONField,
    OuterRef,
    Prefetch,
    Subquery,
    TextField,
    When,
)
from django.db.models.base import ModelState
from django.db.models.constants import LOOKUP_SEP
from django.db.models.expressions import RawSQL
from django.db.models.fields.mixins import FieldCacheMixin
from django.db.models.functions import Cast, JSONArray
from django.db.models.query import ModelIterable, prefetch_related_objects

# ``_few[relation]``: the related rows travel in the rows' own statement.
CARRIED = "carried"


def to_attr(relation: str) -> str:
    return f"prefetched_{relation}"


def prefetched(instance, relation: str) -> list:
    """The instance's rows of ``relation``: the prefetched list, else one query."""
    rows = getattr(instance, to_attr(relation), None)
    return rows if rows is not None else list(getattr(instance, relation).all())


class MostlyEmpty:
    """``prefetched_<relation>`` on a model: the loaded list, or ``[]`` for an
    instance loaded with ``has_<relation>`` false."""

    def __init__(self, relation: str):
        self.relation = relation
        self.flag = f"has_{relation}"
        self.slot = f"_prefetched_{relation}"

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        rows = instance.__dict__.get(self.slot)
        if rows is not None:
            return rows
        if instance.__dict__.get(self.flag, True) in (False, None):  # none: EXISTS or null
            return []
        raise AttributeError(to_attr(self.relation))

    def __set__(self, instance, rows) -> None:
        # Read through the related manager, each row caches ``instance``: a cycle.
        _forget(instance, rows)
        instance.__dict__[self.slot] = rows

    def forget(self, instance) -> None:
        """Drop the loaded list and the mark (the relation has changed)."""
        instance.__dict__.pop(self.slot, None)
        instance.__dict__.pop(self.flag, None)


class FewRelatedQuerySet(models.QuerySet):
    _few: dict = {}  # relation → queryset of its rows (or None), loaded after the rows

    def with_few(self, relation: str, rows=None):
        """Load ``relation`` (declared :class:`MostlyEmpty`) for the rows that have any:
        carried in the rows' statement, or (``rows`` narrowed or joined) marked by
        an ``EXISTS`` and read by one more query for the marked rows."""
        descriptor = getattr(self.model, to_attr(relation))
        assert isinstance(descriptor, MostlyEmpty), f"{relation} is not declared MostlyEmpty"
        field: Any = self.model._meta.get_field(relation)  # a reverse relation
        related = field.related_model._default_manager.filter(**{field.field.name: OuterRef("pk")})
        if rows is None or _every_row(rows):
            clone = self.annotate(**{descriptor.flag: _carried(related, field)})
            rows = CARRIED
        else:
            clone = self.annotate(**{descriptor.flag: Exists(related)})
        clone._few = {**self._few, relation: rows}
        return clone

    def _clone(self):
        clone = super()._clone()  # type: ignore[misc]  # private in Django, not in the stubs
        clone._few = self._few
        return clone

    def _fetch_all(self):
        fresh = self._result_cache is None
        super()._fetch_all()
        if fresh and self._few and issubclass(self._iterable_class, ModelIterable):
            for relation, rows in self._few.items():
                _load_few(self.model, self._result_cache or [], relation, rows)


def _every_row(rows) -> bool:
    """Whether ``rows`` is the related model's every row, every column, nothing joined."""
    query = rows.query
    return (
        not query.where
        and not query.select_related
        and not query.annotations
        and not rows._prefetch_related_lookups
        and query.deferred_loading == (frozenset(), True)
    )


def _carried(related, field) -> Case:
    """A row's related rows as one ``jsonb`` array of arrays (each column as text, so
    decimals and times keep their exact values), oldest first; null for none."""
    columns = [f.attname for f in field.related_model._meta.concrete_fields]
    rows = JSONArray(*(Cast(c, TextField()) for c in columns))
    carried = Subquery(
        related.order_by()
        .values(field.field.attname)
        .annotate(carried=JSONBAgg(rows, order_by="id"))
        .values("carried")
    )
    # Behind an EXISTS: aggregating for every row cost the nested page's records
    # statement ~50 % more (64 vs 43 ms for 9,390 records); the probe alone does not.
    return Case(When(Exists(related), then=carried), default=None, output_field=JSONField())


def _load_few(model, instances: list, relation: str, rows) -> None:
    flag = getattr(model, to_attr(relation)).flag
    marked = [instance for instance in instances if instance.__dict__.get(flag)]
    if not marked:
        return
    field = model._meta.get_field(relation)
    if rows is CARRIED:
        _unpack(marked, relation, flag, field.related_model)
        return
    rows = rows if rows is not None else field.related_model._default_manager.all()
    parent = field.field.attname
    by_parent: dict = {}
    for row in rows.filter(**{f"{field.field.name}__in": marked}):
        by_parent.setdefault(getattr(row, parent), []).append(row)
    for instance in marked:
        setattr(instance, to_attr(relation), by_parent.get(instance.pk, []))


def _unpack(marked: list, relation: str, flag: str, model) -> None:
    """Build each marked row's related rows from the array its statement carried."""
    for instance in marked:
        related = carried_rows(model, instance.__dict__[flag], instance._state.db)
        instance.__dict__[flag] = True
        setattr(instance, to_attr(relation), related)


def carried_rows(model, carried, db: str = "default") -> list:
    """``model`` instances from a ``jsonb`` array :func:`_carried` built (each
    column as text, in the model's column order)."""
    if isinstance(carried, str):  # a raw() row: the jsonb text, undecoded
        carried = orjson.loads(carried)
    fields = model._meta.concrete_fields
    names = [f.attname for f in fields]
    parse = [f.to_python for f in fields]
    return [
        model.from_db(
            db, names, [None if v is None else p(v) for p, v in zip(parse, values, strict=True)]
        )
        for values in carried
    ]


# --- rows as tuples -------------------------------------------------------------

# Set on a queryset's ``Query`` (which its clones copy: filters, slices): read its
# rows as tuples where :func:`reads_rows` allows.
ROWS_FLAG = "rows_as_tuples"


def as_rows(queryset):
    """``queryset`` whose rows, where :class:`FirstRows` reads them and
    :func:`reads_rows` allows, are tuples of :func:`row_class` instead of model
    instances. For a selection that reads only the model's columns: the caller
    (schema/region/prefetch.py) decides that from the fields' declared columns."""
    clone = queryset._chain()
    setattr(clone.query, ROWS_FLAG, True)
    return clone


def reads_rows(queryset) -> bool:
    """Whether ``queryset`` asked for tuples and can give them: its model declares a
    ``Row`` mixin (the model methods a row needs), nothing is joined to its rows or
    prefetched under them (both need instances), and any ``MostlyEmpty`` relation
    travels in the row itself (:data:`CARRIED`, decoded by the mixin when read)."""
    model = queryset.model
    return (
        getattr(queryset.query, ROWS_FLAG, False)
        and isinstance(model.__dict__.get("Row"), type)
        and not queryset.query.select_related
        and not queryset._prefetch_related_lookups
        and all(rows is CARRIED for rows in getattr(queryset, "_few", {}).values())
    )


_ROW_CLASSES: dict[tuple, type] = {}


def row_class(model, names: tuple[str, ...]) -> type:
    """A named tuple of ``names`` (attnames, then annotations) with ``model.Row``'s
    methods: a row reads ``row.service_date`` as an instance would, in C
    (``collections.namedtuple``'s attribute getters). Made once per model and column
    set."""
    key = (model, names)
    cls = _ROW_CLASSES.get(key)
    if cls is None:
        # (a name and fields known only at run time, which mypy cannot follow)
        base = collections.namedtuple(f"{model.__name__}Row", names)  # type: ignore[misc]
        cls = _ROW_CLASSES[key] = type(base.__name__, (model.Row, base), {"__slots__": ()})
    return cls


def _is_mark(model, name: str) -> bool:
    """Whether ``name`` is a ``has_<relation>`` mark of a :class:`MostlyEmpty` relation."""
    return name.startswith("has_") and isinstance(
        model.__dict__.get(to_attr(name[len("has_") :])), MostlyEmpty
    )


def _instances(queryset, compiler, sql: str, params: list) -> list:
    """``queryset``'s model instances for the rows ``sql`` selects (the columns of
    ``compiler``'s query: the model's, then the joined models' of ``select_related``,
    then annotations): the cursor's tuples straight into each instance's
    ``__dict__`` (tenants/loading.py), without ``raw()``'s per-row bookkeeping — a
    page of 10,000 records spent more there than in PostgreSQL. Joined rows are
    attached by Django's own populators, as ``ModelIterable`` does."""
    from django.db.models.query import get_related_populators

    from tenants.loading import builds_fast

    model = queryset.model
    select, klass_info = compiler.select, compiler.klass_info
    own = klass_info["select_fields"]
    start, end = own[0], own[-1] + 1
    own_names = [expression.target.attname for expression, _sql, _alias in select[start:end]]
    annotations = sorted(compiler.annotation_col_map.items(), key=operator.itemgetter(1))
    names = [alias or "" for _expression, _sql, alias in select]
    # (not a MostlyEmpty mark's: _unpack decodes the few non-null ones itself)
    converters = {
        position: converter
        for position, converter in compiler.get_converters(
            [expression for expression, _sql, _alias in select]
        ).items()
        if not _is_mark(model, names[position])
    }
    db = queryset.db
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if converters:
        rows = list(compiler.apply_converters(rows, converters))
    if reads_rows(queryset):  # tuples: one tuple per row, no instance (as_rows)
        names = own_names + [name for name, _position in annotations]
        make = functools.partial(tuple.__new__, row_class(model, tuple(names)))
        positions = list(range(start, end)) + [position for _name, position in annotations]
        if positions == list(range(len(select))):  # the statement's columns, in order
            return list(map(make, rows))
        getter = operator.itemgetter(*positions)
        return [make(getter(row)) for row in rows]
    # Django 5.2's signature; django-stubs 6.1 describes 6.1's, with fetch_mode.
    populators = get_related_populators(klass_info, select, db)  # type: ignore[call-arg]
    if builds_fast(model) and not populators:
        from_db = model.from_db
        names = own_names + [name for name, _position in annotations]
        if end == len(select):
            return [from_db(db, names, row) for row in rows]
        positions = list(range(start, end)) + [position for _name, position in annotations]
        getter = operator.itemgetter(*positions)
        return [from_db(db, names, getter(row)) for row in rows]
    joins = _plain_joins(populators, db) if builds_fast(model) else None
    if joins:  # memberships with their volunteers: both filled straight from the row
        from_db = model.from_db
        names = own_names + [name for name, _position in annotations]
        positions = list(range(start, end)) + [position for _name, position in annotations]
        getter = operator.itemgetter(*positions)
        instances = []
        for row in rows:
            instance = from_db(db, names, getter(row))
            cache = instance._state.fields_cache
            for name, first, last, pk, init_list, build in joins:
                cache[name] = None if row[pk] is None else build(db, init_list, row[first:last])
            instances.append(instance)
        return instances
    instances = []
    for row in rows:  # Django's own path: nested joins, or someone listens to init signals
        instance = model.from_db(db, own_names, row[start:end])
        for populator in populators:
            populator.populate(row, instance)
        for name, position in annotations:
            instance.__dict__[name] = row[position]
        instances.append(instance)
    return instances


def _plain_joins(populators, db) -> list[tuple] | None:
    """What Django's ``RelatedPopulator.populate`` does for each of ``populators`` —
    one model joined by a non-unique foreign key of the row, its columns in order,
    nothing joined to it, built by :data:`~tenants.loading.fast_from_db` — as
    ``(cache name, first column, end, primary key column, attnames, from_db)``, the
    joined row then being cached on the row as Django caches it; None when any
    populator does more (a reverse or unique join, a nested one, signals)."""
    from tenants.loading import builds_fast

    joins = []
    for populator in populators:
        setter = populator.local_setter
        field: Any = getattr(setter, "__self__", None)
        if (
            populator.reorder_for_init is not None
            or populator.related_populators
            or populator.db != db
            or not builds_fast(populator.model_cls)
            or getattr(setter, "__func__", None) is not FieldCacheMixin.set_cached_value
            or not getattr(field, "many_to_one", False)
            or field.unique
        ):
            return None
        joins.append(
            (
                field.cache_name,
                populator.cols_start,
                populator.cols_end,
                populator.cols_start + populator.pk_idx,
                populator.init_list,
                populator.model_cls.from_db,
            )
        )
    return joins


class FirstRows:
    """Each parent's first rows of a reverse foreign key, for a page of parents.

    Declared on the parent model (``first_records = FirstRows("records")``) and used
    as ``Prefetch("first_records", queryset=rows[:n], to_attr=...)`` with a sliced
    queryset of the related model (its ordering, ``only()`` and annotations kept).
    Django prefetches a sliced queryset by numbering every row of every parent
    with a window function; this reads each parent's first ``n`` rows by one
    index range scan per parent (``CROSS JOIN LATERAL … LIMIT n``), which is
    faster on a page and does not grow with a parent's history.
    """

    def __init__(self, relation: str):
        self.relation = relation
        self.slot = f"_first_{relation}"

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        # Django's prefetching walks through the attribute once the rows are in (also
        # when a lookup finds them loaded already): the rows of the last load, whatever
        # ``to_attr`` the page gave them.
        rows = instance.__dict__.get(self.slot)
        if rows is None:
            raise AttributeError(f"{self.relation}: not prefetched; read it with prefetched()")
        return rows

    @staticmethod
    def usable(queryset) -> bool:
        """Rows built as model instances (joins and nested prefetches are carried)."""
        return issubclass(queryset._iterable_class, ModelIterable)

    def get_prefetch_querysets(self, instances, querysets=None):
        (queryset,) = querysets
        model = type(instances[0])
        foreign_key = model._meta.get_field(self.relation).field
        limit = queryset.query.high_mark
        rows_query = queryset._chain()
        rows_query.query.clear_limits()
        rows_query = rows_query.filter(**{foreign_key.attname: RawSQL("page_parent.id", ())})[
            :limit
        ]
        # Each parent once (a volunteer in two groups on the page is two instances).
        # (its key column read in C: ``pk`` is a property, a call per parent)
        key = operator.attrgetter(model._meta.pk.attname)
        parents = list(dict.fromkeys(map(key, instances)))
        compiler = rows_query.query.get_compiler(queryset.db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:  # a condition no row can meet (Django's own querysets agree)
            rows = []
        else:
            sql = (
                "SELECT page_rows.* FROM unnest(%s::bigint[]) AS page_parent(id) "
                f"CROSS JOIN LATERAL ({sql}) AS page_rows"
            )
            rows = _instances(queryset, compiler, sql, [parents, *params])
            lookups = queryset._prefetch_related_lookups
            if rows and lookups:  # as the queryset would after its own rows
                prefetch_related_objects(rows, *lookups)
            # Joined and nested rows must not point back either (forget_parents does
            # not walk into FirstRows: each one cleans up after its own load).
            forget_parents(rows, queryset.query.select_related, lookups)
        # Each parent's rows, grouped in C: the statement returns them parent by
        # parent (unnest's order), so each parent is one run of ``groupby``; should
        # a parent's rows come in two runs, the second is appended to the first.
        by_parent: dict = {parent: [] for parent in parents}
        for parent, run in itertools.groupby(rows, operator.attrgetter(foreign_key.attname)):
            by_parent[parent].extend(run)
        for instance in instances:
            instance.__dict__[self.slot] = by_parent[key(instance)]
        # No row → parent reference: the rows are reached from their parent only, and
        # such a cycle is garbage that reference counting never frees (issue 16).
        if not reads_rows(queryset):  # tuples carry their few rows in the row (Row mixin)
            for relation, few in getattr(queryset, "_few", {}).items():
                _load_few(queryset.model, rows, relation, few)
        # Django's prefetch_one_level regroups what it is given by parent and sets
        # ``to_attr`` on each parent: given each parent's list as one "single related
        # object", it sets that list as it is, one step per parent, not per row.
        groups = list(by_parent.values())
        parent_of = {id(group): parent for parent, group in by_parent.items()}
        return (
            groups,
            lambda group: parent_of[id(group)],
            key,
            True,
            self.relation,
            False,
        )


# --- rows that do not point back at their parents ------------------------------


class _Parentless:
    """Mixed into a queryset's class by :func:`parentless`."""

    # The queryset's (Django's private attributes).
    _result_cache: list[Any] | None
    _iterable_class: type
    _prefetch_related_lookups: tuple[Any, ...]
    query: Any

    def _fetch_all(self):
        fresh = self._result_cache is None
        super()._fetch_all()  # type: ignore[misc]  # the queryset's, after this mixin
        if fresh and self._result_cache and issubclass(self._iterable_class, ModelIterable):
            forget_parents(
                self._result_cache, self.query.select_related, self._prefetch_related_lookups
            )


_PARENTLESS: dict[type, type] = {}


def parentless(queryset, *, own: bool = False):
    """``queryset`` whose rows, once loaded, hold no reference back to the rows
    that hold them (:func:`forget_parents`). Its clones (``filter``, slices) keep
    that. The queryset's class gets a subclass, made once per class. ``own``: the
    caller's own new clone, which nothing else holds (what ``only()`` just
    returned): marked in place rather than cloned once more."""
    cls = type(queryset)
    if issubclass(cls, _Parentless):
        return queryset
    subclass = _PARENTLESS.get(cls)
    if subclass is None:
        subclass = _PARENTLESS[cls] = type(f"Parentless{cls.__name__}", (_Parentless, cls), {})
    clone = queryset if own else queryset._chain()
    clone.__class__ = subclass
    return clone


def forget_parents(instances: list, select_related, lookups) -> None:
    """Drop the back-references Django leaves between the rows of one load:

    * a reverse foreign key prefetched (``Prefetch(..., to_attr=...)``): Django
      caches the parent on each row (``membership.group``), and the parent's list
      holds the row (related_descriptors ``get_prefetch_querysets``);
    * a one-to-one joined (``select_related``): the joined row caches the row it
      was joined to (``totals.volunteer``).

    Each is a reference cycle per row. Walks the joins (``select_related``, a dict
    tree or True) and the ``Prefetch`` lookups, to any depth. Rows read through
    :class:`FirstRows` never cache their parent, and it walks their joins and
    lookups itself.
    """
    if select_related and select_related is not True:
        for name, deeper in select_related.items():
            # (a row joined by a plain foreign key is never told what it was joined
            # to: nothing to drop, once per membership of a nested page)
            caches_back = _caches_back(instances, name)
            joined = []
            for instance in instances:
                row = instance._state.fields_cache.get(name)
                if row is not None:
                    if caches_back:
                        _forget(instance, (row,))
                    joined.append(row)
            if joined:
                forget_parents(joined, deeper, ())
    for lookup in lookups:
        if not isinstance(lookup, Prefetch) or not lookup.to_attr:
            continue
        *path, relation = lookup.prefetch_through.split(LOOKUP_SEP)
        parents = instances
        for name in path:  # joined rows on the way (optimize's joins)
            parents = [p._state.fields_cache.get(name) for p in parents]
            parents = [p for p in parents if p is not None]
        if not parents or isinstance(getattr(type(parents[0]), relation, None), FirstRows):
            continue
        rows = []
        for parent in parents:
            children = parent.__dict__.get(lookup.to_attr)
            if children:
                _forget(parent, children)
                rows.extend(children)
        if rows and lookup.queryset is not None:
            nested = lookup.queryset
            forget_parents(rows, nested.query.select_related, nested._prefetch_related_lookups)


def _caches_back(instances: list, name: str) -> bool:
    """Whether Django caches each row on the row joined to it under ``name``: a
    one-to-one either way, or a unique foreign key; not a plain foreign key."""
    if not instances or not isinstance(instances[0], models.Model):
        return True
    try:
        field = instances[0]._meta.get_field(name)
    except Exception:  # not a field (Django would not have joined it): look anyway
        return True
    return not (isinstance(field, models.Field) and field.many_to_one and not field.unique)


def _forget(parent, rows) -> None:
    """Each row caches, instead of ``parent``, a detached copy of it (whichever
    relation it is cached under): the row still reads its parent's columns without
    a query (a complaint's ``volunteerNumber`` on a page of volunteers), and the
    copy holds none of the parent's loaded rows, so there is no cycle."""
    detached = None
    for row in rows:
        cache = row.__dict__.get("_state")
        cache = cache.__dict__.get("fields_cache") if cache is not None else None
        if cache:
            for name in [name for name, value in cache.items() if value is parent]:
                if detached is None:
                    detached = _detached(parent)
                cache[name] = detached


def _detached(instance: models.Model):
    """A copy of ``instance`` with its own column values only: no loaded lists of
    rows, no joined rows (a fresh ``_state``), no prefetch cache."""
    copy = type(instance).__new__(type(instance))
    copy.__dict__.update(
        (name, value)
        for name, value in instance.__dict__.items()
        if name not in ("_state", "_prefetched_objects_cache") and not _holds_rows(value)
    )
    state = ModelState()
    state.adding = False
    state.db = instance._state.db
    copy._state = state
    return copy


def _holds_rows(value) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], models.Model)
