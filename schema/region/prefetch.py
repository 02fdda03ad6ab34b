"""Prefetching what a query asks for, so nested lists cost one SQL query per
level of nesting, never one per row.

The fields that need rows loaded declare it where they are defined: a relation
field says which Django relation its rows come from, and how it is paged
(``metadata=related(...)``); a type says whose rows it shows and which key
columns its lists always load (``@rows(Model, keys=...)``); a column field says
what it reads (``model_field``/``reads``, fields.py). :func:`bind` collects the
declarations when the schema is built and checks every name against the models
(a wrong one raises ``ImproperlyConfigured`` at start-up); :func:`optimize` walks
the selection set of a request and joins the single rows and prefetches the
lists it needs, to any depth.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db.models import BooleanField, ExpressionWrapper, Model, Prefetch, Q, QuerySet
from graphql import FieldNode, FragmentSpreadNode, GraphQLObjectType, get_named_type
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from central import compat
from central.errors import ServiceError
from central.tenancy import connection
from schema.hardening import _LRU, per_document_lru
from schema.region.auth import caller, guarded, parse_id
from schema.region.fields import COLUMNS_KEY
from schema.region.pagination import LIST_FIRST, keyset_rows, page_size
from tenants.related import FirstRows, MostlyEmpty, as_rows, parentless, reads_rows, to_attr
from tenants.volunteers.permissions import region_wide

RELATION_KEY = "relation"  # field metadata: a ``Relation``
DEFINITION = "strawberry-definition"  # strawberry's back-reference on GraphQL types and fields

# (principal, policy), as auth.caller gives them
Viewer = tuple[Any, Any]


@dataclass(frozen=True)
class Page:
    """A paged list field: ``rows(viewer)`` gives the rows the caller (``viewer``:
    principal and policy, as ``auth.caller`` gives them) may see,
    in page order, a keyset on ``keyset``; ``after_key`` turns the field's
    ``after`` argument into the keyset value past which the page starts (raising
    ``ServiceError`` for a bad one); ``first`` defaults to ``default_first``.
    ``narrow`` turns a ``filter`` argument into lookups on the rows (None: it does
    not parse). Prefetched into ``to_attr`` (``prefetched_<field>``, set by
    :func:`bind`; read by the field's resolver through :func:`list_page` or
    :func:`read_window`)."""

    rows: Callable[[Viewer], QuerySet]
    keyset: str
    after_key: Callable[[str], int | None]
    default_first: int = 20
    gated: bool = False  # refused to anonymous callers: not read for them at all
    narrow: Callable[[Any], dict | None] | None = None
    to_attr: str = ""


def by_id(rows: Callable[[Viewer], QuerySet], kind: str, gated: bool = False) -> Page:
    """A list field paged by id: ``first`` (default ``LIST_FIRST``), ``after`` an id
    of a ``kind`` object (read by :func:`list_page`)."""
    after_key = functools.partial(parse_id, kind=kind, field="after")
    return Page(rows, "id", after_key, LIST_FIRST, gated)


@dataclass(frozen=True)
class Relation:
    """A field whose rows come from the Django relation ``name`` of its parent's rows
    (``""``: the parent's own rows under another type, a connection's edges or an
    edge's node). ``of``: the rows' type where the field's own type is not it (a
    scalar computed from them); ``page``: how it is paged; ``reveal``: loaded only
    when the caller's right to reveal personal information can depend on them."""

    name: str
    of: type | None = None
    page: Page | None = None
    reveal: bool = False


def related(name: str = "", *, of: type | None = None, page: Page | None = None, reveal=False):
    """Field metadata: the field's rows come from relation ``name`` (see ``Relation``)."""
    return {RELATION_KEY: Relation(name, of, page, reveal)}


@dataclass(frozen=True)
class Rows:
    model: type[Model]
    keys: tuple[str, ...] | None


def rows(model: type, *, keys: tuple[str, ...] | None = None):
    """Class decorator (above ``@strawberry.type``): the type shows rows of ``model``;
    lists of them load only the columns their selected fields read plus ``keys`` (the
    primary key, the foreign keys prefetching joins on, what list resolvers filter
    on); without ``keys``, every column. Types reached through a relation (a
    connection, an edge, a joined row) need no declaration: the relation says."""

    def declare(cls):
        cls.__rows__ = Rows(model, keys)
        return cls

    return declare


# What ``bind`` collected from the schema's declarations (read by the planner below):
# GraphQL type → {field name: (Django relation, GraphQL type of the related rows)}
RELATIONS: dict[str, dict[str, tuple[str, str]]] = {}
# (GraphQL type, field name) → its Page
PAGES: dict[tuple[str, str], Page] = {}
# model label → the key columns its lists always load (``rows(keys=...)``)
KEYS: dict[str, tuple[str, ...]] = {}
# Fields whose answer depends on whether the caller may reveal the volunteer's
# personal information (tenants/volunteers/permissions.may_reveal; issue 10 finding
# 4): their relation (the volunteer's memberships) is prefetched only for a
# caller whose right can come from a group they hold a role in (``related(reveal=True)``).
REVEAL_FIELDS: set[tuple[str, str]] = set()
# GraphQL type → {field name: the columns it reads}
_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {}


@dataclass
class Plan:
    relations: dict = dataclasses.field(default_factory=dict)
    pages: dict = dataclasses.field(default_factory=dict)
    keys: dict = dataclasses.field(default_factory=dict)
    reveal: set = dataclasses.field(default_factory=set)
    columns: dict = dataclasses.field(default_factory=dict)


def plan(schema) -> Plan:
    """The declarations of ``schema``'s types and fields, checked against the models:
    every relation, page keyset, key and (on types whose lists load only some columns)
    column must name a field of the model whose rows the type shows; a type with
    relation fields must say (or be reached by a relation that says) which model.
    Raises ``ImproperlyConfigured`` listing every wrong name."""
    found = Plan()
    models: dict[str, type[Model]] = {}
    objects = {
        name: t
        for name, t in compat.graphql_schema(schema).type_map.items()
        if isinstance(t, GraphQLObjectType) and DEFINITION in (t.extensions or {})
    }
    for type_name, graphql_type in objects.items():
        declared = getattr(graphql_type.extensions[DEFINITION].origin, "__rows__", None)
        if declared is not None:
            models[type_name] = declared.model
            if declared.keys:
                found.keys[declared.model._meta.label] = declared.keys
        for field_name, field in graphql_type.fields.items():
            definition = (field.extensions or {}).get(DEFINITION)
            if definition is None:
                continue  # not a strawberry field: declares nothing
            metadata = definition.metadata or {}
            if COLUMNS_KEY in metadata:
                found.columns.setdefault(type_name, {})[field_name] = metadata[COLUMNS_KEY]
            relation = metadata.get(RELATION_KEY)
            if relation is None:
                continue
            of = relation.of
            child = of.__strawberry_definition__.name if of else get_named_type(field.type).name
            found.relations.setdefault(type_name, {})[field_name] = (relation.name, child)
            if relation.page is not None:
                attr = to_attr(definition.python_name)
                found.pages[(type_name, field_name)] = dataclasses.replace(
                    relation.page, to_attr=attr
                )
            if relation.reveal:
                found.reveal.add((type_name, field_name))
    # The rows of the types that declare none: where their relations lead.
    errors: list[str] = []
    changed = True
    while changed:
        changed = False
        for type_name, fields in found.relations.items():
            for django_name, child in fields.values():
                model = models.get(type_name)
                if model is None or child not in objects:
                    continue
                child_model = _related_model(model, django_name)
                if child_model is not None and child not in models:
                    models[child] = child_model
                    changed = True
    for type_name, fields in found.relations.items():
        model = models.get(type_name)
        if model is None:
            errors.append(f"{type_name}: has relation fields; declare @rows(Model) on it")
            continue
        for field_name, (django_name, child) in fields.items():
            where = f"{type_name}.{field_name}"
            child_model = _related_model(model, django_name)
            if child_model is None:
                errors.append(f"{where}: {model._meta.label} has no relation {django_name!r}")
                continue
            if child in models and models[child] is not child_model:
                errors.append(
                    f"{where}: its rows are {child_model._meta.label}, but {child} shows "
                    f"{models[child]._meta.label}"
                )
            page = found.pages.get((type_name, field_name))
            if page is not None and not _has_column(child_model, page.keyset):
                errors.append(f"{where}: {child_model._meta.label} has no column {page.keyset!r}")
    for label, keys in found.keys.items():
        model = next(m for m in models.values() if m._meta.label == label)
        errors += [f"{label}: no key column {k!r}" for k in keys if not _has_column(model, k)]
    for type_name, fields in found.columns.items():
        model = models.get(type_name)
        if model is None or model._meta.label not in found.keys:
            continue  # its lists load every column: a property is as good as a column
        for field_name, columns in fields.items():
            errors += [
                f"{type_name}.{field_name}: {model._meta.label} has no column {c!r}"
                for c in columns
                if not _has_column(model, c)
            ]
    if errors:
        raise ImproperlyConfigured("; ".join(sorted(set(errors))))
    return found


def _related_model(model, django_name: str):
    """The model of the rows relation ``django_name`` of ``model`` leads to (``""``:
    ``model`` itself), or None when there is no such relation."""
    if not django_name:
        return model
    try:
        field = model._meta.get_field(django_name)
    except FieldDoesNotExist:
        return None
    return field.related_model if field.is_relation else None


def _has_column(model, name: str) -> bool:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return field.concrete


def bind(schema) -> None:
    """Plan for ``schema`` (``schema/region/__init__.py`` calls it once it is built)."""
    found = plan(schema)
    for registry, value in (
        (RELATIONS, found.relations),
        (PAGES, found.pages),
        (KEYS, found.keys),
        (REVEAL_FIELDS, found.reveal),
        (_COLUMNS, found.columns),
    ):
        registry.clear()
        registry.update(value)


def declared_columns(type_name: str) -> dict[str, tuple[str, ...]]:
    """GraphQL field name → the columns it reads, for the fields that declare them."""
    return _COLUMNS.get(type_name, {})


def _reveal_needs_memberships(viewer: Viewer) -> bool:
    """Whether the caller's right to reveal can come from a volunteer's groups: not for
    an authority of the whole region (always may) nor a caller with no group role and
    no authority role (never may, but for themself)."""
    principal = viewer[0]
    return (
        principal is not None
        and not region_wide(principal, connection.tenant.code)
        and bool(principal.staff_group_ids or principal.authority_prefixes)
    )


def _fields(selections) -> list[SelectedField]:
    """Flatten fragments into the fields they select."""
    fields = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            fields.append(selection)
        elif isinstance(selection, FragmentSpread | InlineFragment):
            fields.extend(_fields(selection.selections))
    return fields


def _page_window(
    page: Page, fields: list[SelectedField], viewer: Viewer
) -> tuple[int | None, int | None, list[dict]] | None:
    """How to prefetch a page for every parent at once: ``(N + 1 (N without
    pageInfo), the after argument's key, [the filter's lookups])`` — each parent's
    first N+1 rows past the
    cursor that meet the filter, sliced in SQL (a ``LATERAL`` join where the parent
    model offers ``FirstRows``, else Django's window function), so a long list is
    not loaded to show one page of it; asked for several times (aliases), the
    largest page. Aliases with different filters (a volunteer's records): ``(None,
    key, [each filter's lookups])``, every row past the cursor, each marked in SQL
    with the filters it meets (:func:`marked`). None —
    nothing prefetched, each resolver reads its own bounded page or refuses — for
    arguments the resolver refuses, aliases past different cursors, and a list
    closed to an anonymous caller (``Page.gated``)."""
    if page.gated and viewer[0] is None:
        return None
    firsts, afters, filters = [], set(), []
    for field in fields:
        arguments = field.arguments or {}
        if arguments.get("last") is not None or arguments.get("before") is not None:
            return None  # read backward: the resolver reads its own page
        first = arguments.get("first")
        first = page.default_first if first is None else _int(first)
        if first is None or not 1 <= first <= 100:
            return None
        firsts.append(first)
        afters.add(arguments.get("after"))
        if arguments.get("filter") not in filters:
            filters.append(arguments.get("filter"))
    if len(afters) != 1:
        return None
    (after,) = afters
    try:
        after_key = None if after is None else page.after_key(after)
    except ServiceError:
        return None
    narrowed = []
    for raw in filters:
        lookups = {} if not raw else page.narrow(raw) if page.narrow else None
        if lookups is None:  # a filter that does not parse: the resolver reports it
            return None
        narrowed.append(lookups)
    if len(narrowed) > 1:  # aliases with different filters: every row past the cursor
        return None, after_key, narrowed
    # One row past the page tells hasNextPage; without pageInfo nobody asks (a
    # volunteer's 11th record, a group's 21st member with its records: issue 16).
    ahead = any(asks_page_info(field.selections) for field in fields)
    return max(firsts) + ahead, after_key, narrowed


def marked(rows: QuerySet, filters: list[dict]) -> QuerySet:
    """``rows`` with a boolean column for each filter's lookups (:func:`mark`): whether
    the row meets them, as SQL judges it, so that each resolver picks its own rows out
    of rows prefetched for several filters (:func:`meeting`) and no filter is ever
    written a second time as Python."""
    marks = {
        mark(lookups): ExpressionWrapper(Q(**lookups), BooleanField())
        for lookups in filters
        if lookups
    }
    return rows.annotate(**marks) if marks else rows


def mark(lookups: dict) -> str:
    """The name of the column :func:`marked` adds for ``lookups`` (one name for one
    set of lookups, whichever alias asked for it)."""
    digest = hashlib.blake2s(repr(sorted(lookups.items())).encode(), digest_size=8)
    return f"meets_{digest.hexdigest()}"


def meeting(rows: list, lookups: dict) -> list | None:
    """The prefetched ``rows`` that meet ``lookups``, by the column :func:`marked` gave
    them; None when they carry no such column (not prefetched for that filter: the
    resolver reads its own page). No lookups: every row."""
    if not lookups or not rows:
        return rows
    name = mark(lookups)
    if not hasattr(rows[0], name):
        return None
    return [row for row in rows if getattr(row, name)]


def asks_page_info(selections) -> bool:
    """Whether a connection's ``selections`` ask for its ``pageInfo`` (under an alias
    or in a fragment too): only then does a page read the row past its end, which
    only ``hasNextPage`` (``hasPreviousPage`` backward) needs."""
    return any(field.name == "pageInfo" for field in _fields(selections))


def _int(value) -> int | None:
    """An Int argument as strawberry's ``SelectedField`` gives it: an int from a
    variable, the literal's text (``"10"``) when written in the query."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def optimize(
    queryset,
    selections,
    type_name: str,
    only_columns: bool = False,
    viewer: Viewer = (None, None),
):
    """``queryset`` joined with the single rows and prefetching the lists that
    ``selections`` (under GraphQL type ``type_name``) ask for, to any depth.

    A single row (foreign key, reverse one-to-one) is joined (``select_related``);
    a list is one more query for all parents (``Prefetch`` with
    ``to_attr="prefetched_<relation>"``, see ``tenants/related.py``), optimized
    the same way for what is selected under it. So the statement count depends
    on the query's shape, never on how many rows a page has. Its rows hold no
    reference back to their parents (``tenants/related.py`` ``parentless``). With
    ``only_columns`` (the lists, where the rows are many), rows load only the
    columns the selection reads (``declared_columns``). Pages whose rows depend on
    who asks (``Page.rows``) are read for ``viewer`` (principal, policy).
    """
    joins, prefetches, few = _relations(queryset.model, selections, type_name, "", viewer)
    for relation, rows in few.items():
        queryset = queryset.with_few(relation, rows)
    if joins:
        queryset = queryset.select_related(*joins)
    if prefetches:
        queryset = queryset.prefetch_related(*prefetches)
    if only_columns:
        columns = _only_columns(queryset.model, selections, type_name)
        if columns is not None:
            queryset = queryset.only(*columns)
    # No row of the page points back at its parent: no reference cycles (issue 16).
    return parentless(queryset)


def _only_columns(model, selections, type_name: str) -> list[str] | None:
    """:func:`_columns` for ``only()``: a joined row asked for in two places (an edge's
    node and its membership's volunteer), once with every column (``rel__*``), keeps
    every column — else ``only()`` would take the other place's few and defer the rest."""
    columns = _columns(model, selections, type_name)
    if columns is None:
        return None
    whole = [c[: -len("*")] for c in columns if c.endswith("__*")]
    return [c for c in columns if not any(c.startswith(prefix) for prefix in whole)]


def _columns(model, selections, type_name: str, keys=None) -> list[str] | None:
    """What ``only()`` needs for ``selections`` on ``type_name`` over rows of
    ``model`` (joined rows as ``relation__column``), or None to load every column.
    ``keys``: the key columns to load instead of the model's ``KEYS``."""
    listed = declared_columns(type_name) or None  # None: a connection or an edge
    relations = RELATIONS.get(type_name, {})
    declared_keys = KEYS.get(model._meta.label)
    if declared_keys is None or (listed is None and not relations):
        return None
    columns = set(declared_keys if keys is None else keys)
    for field in _fields(selections):
        if field.name == "__typename":
            continue
        relation = relations.get(field.name)
        if listed is not None and field.name in listed:
            columns.update(listed[field.name])
            if relation is None or not relation[0]:
                continue
            # a relation that also reads columns of its own row (applicant: shared_fields)
        if relation is None:
            if listed is not None:  # a field of the rows' type not listed: any column
                return None
            continue  # a connection's or an edge's own field (cursor, pageInfo): keys
        django_name, child_type = relation
        if not django_name:  # the same rows as another type (edges, node, membership)
            inner = _columns(model, field.selections, child_type, keys)
            if inner is None:
                return None
            columns.update(inner)
            continue
        django_field = model._meta.get_field(django_name)
        if django_field.many_to_one:  # a joined row: its foreign key, and its own columns
            child = _columns(django_field.related_model, field.selections, child_type)
            columns.add(django_name)
            # "*": every column of the joined row (see _only_columns)
            columns.update(f"{django_name}__{c}" for c in child or ("*",))
        elif django_field.one_to_one:  # a reverse one-to-one join: keep it simple
            return None
        # a list: prefetched by the primary key, which KEYS holds
    return sorted(columns)


def _relations(
    model, selections, type_name: str, prefix: str, viewer: Viewer
) -> tuple[list, list, dict]:
    """Joins, prefetches and (``MostlyEmpty`` relations of ``model`` itself) the
    relations to load for the few rows that have any, for what ``selections`` ask."""
    # One entry per relation however many places ask for it (an edge's node and its
    # membership's volunteer are the same join): Django refuses two prefetches of one
    # path with different querysets.
    by_relation: dict[tuple[str, Page | None, str], list[SelectedField]] = {}
    joins: list[str] = []
    prefetches: list[Prefetch] = []
    few: dict[str, object] = {}
    for owner, field in _relation_fields(selections, type_name):
        if (owner, field.name) in REVEAL_FIELDS and not _reveal_needs_memberships(viewer):
            continue
        django_name, child_type = RELATIONS[owner][field.name]
        page = PAGES.get((owner, field.name))
        by_relation.setdefault((django_name, page, child_type), []).append(field)
    for (django_name, page, child_type), fields in by_relation.items():
        children = [s for field in fields for s in field.selections]
        django_field = model._meta.get_field(django_name)
        related_model = django_field.related_model
        if django_field.many_to_one or django_field.one_to_one:
            joins.append(f"{prefix}{django_name}")
            # A joined row's MostlyEmpty relations are prefetched like any list.
            inner_joins, inner_prefetches, _ = _relations(
                related_model, children, child_type, f"{prefix}{django_name}__", viewer
            )
            joins += inner_joins
            prefetches += inner_prefetches
            continue
        window = _page_window(page, fields, viewer) if page else None
        if page is not None and window is None:  # each resolver reads its own page, or refuses
            continue
        base = page.rows(viewer) if page else related_model._default_manager.all()
        rows = optimize(base, children, child_type, True, viewer)
        mostly_empty = isinstance(getattr(model, to_attr(django_name), None), MostlyEmpty)
        if mostly_empty and page is None and not prefix:
            few[django_name] = rows
            continue
        attr = page.to_attr if page else to_attr(django_name)
        if window is not None:
            limit, after_key, filters = window
            if len(filters) == 1:
                rows = rows.filter(**filters[0])
            rows = marked(rows, filters)
            if after_key is not None:
                assert page is not None  # a window is asked for on a paged field only
                rows = rows.filter(**{f"{page.keyset}__gt": after_key})
            if limit is None:
                prefetches.append(Prefetch(f"{prefix}{django_name}", queryset=rows, to_attr=attr))
                continue
            rows = rows[:limit]
            # Each parent's first rows by a LATERAL join where the model offers it
            # (tenants/related.py FirstRows), else Django's window function.
            first_rows = getattr(model, f"first_{django_name}", None)
            if isinstance(first_rows, FirstRows) and FirstRows.usable(rows):
                if _reads_only_columns(children, child_type):
                    # No instance per row: tuples of the selected columns (issue 16 §2).
                    rows = as_rows(rows)
                    if reads_rows(rows) and not any(filters) and page is not None:
                        rows = rows.only(
                            *_tuple_columns(related_model, django_field, page, children, child_type)
                        )
                lookup = f"{prefix}first_{django_name}"
                prefetches.append(Prefetch(lookup, queryset=rows, to_attr=attr))
                continue
        prefetches.append(Prefetch(f"{prefix}{django_name}", queryset=rows, to_attr=attr))
    return joins, prefetches, few


def _tuple_columns(model, relation, page: Page, selections, type_name: str) -> list[str]:
    """The columns of a page's rows read as tuples with no filter: the key, the
    parent's foreign key (rows are grouped by it), the page's keyset and what the
    selected fields declare — not the rest of ``KEYS``, which the filters read
    (``_meets``): on the nested page a record's project and state, two of its seven
    columns, decoded for each of ~10,000 records and never shown (issue 16)."""
    keys = (model._meta.pk.attname, relation.field.attname, page.keyset)
    columns = _columns(model, selections, type_name, keys)
    assert columns is not None  # rows read as tuples declare every column they read
    return columns


def _reads_only_columns(selections, type_name: str) -> bool:
    """Whether every field ``selections`` ask of the rows (under ``type_name``, looking
    through a connection and its edges) declares the columns it reads
    (``model_field``/``reads``): such rows can be read as tuples
    (``tenants/related.py`` ``as_rows``); a relation or an undeclared field needs
    model instances."""
    listed = declared_columns(type_name) or None  # None: a connection or an edge
    relations = RELATIONS.get(type_name, {})
    for field in _fields(selections):
        if field.name == "__typename" or (listed is not None and field.name in listed):
            continue
        relation = relations.get(field.name)
        if relation is not None and not relation[0]:  # the same rows (edges, node)
            if not _reads_only_columns(field.selections, relation[1]):
                return False
            continue
        if relation is None and listed is None:  # a connection's or an edge's own field
            continue
        return False
    return True


def _relation_fields(selections, type_name: str) -> list[tuple[str, SelectedField]]:
    """(GraphQL type, field) for each relation field ``selections`` ask of the rows,
    looking through wrappers (a connection, an edge: the same rows under another type)."""
    found = []
    for field in _fields(selections):
        relation = RELATIONS.get(type_name, {}).get(field.name)
        if relation is None:
            continue
        if relation[0]:
            found.append((type_name, field))
        else:
            found += _relation_fields(field.selections, relation[1])
    return found


def child_selections(info, *path: str):
    """The selections under the current field, following ``path`` (e.g. edges, node)."""
    selections = info.selected_fields[0].selections
    for name in path:
        matches = [f for f in _fields(selections) if f.name == name]
        selections = [s for match in matches for s in match.selections]
    return selections


def _key(info: Info) -> tuple[str, str]:
    """(GraphQL type, field) of the field being resolved: its ``PAGES`` entry (the
    path's ``typename`` is the parent type, under an alias too)."""
    return info.path.typename or "", info.field_name


def read_page(parent, info: Info, limit: int, after_key=None, lookups=None) -> list:
    """One parent's page read on its own, where no prefetch served it (the parent was
    not loaded through :func:`optimize`, or ``_page_window`` declined): the field's
    ``Page`` rows for the caller, narrowed to ``parent``, past ``after_key``, meeting
    ``lookups``, ``limit`` of them (a connection asks one more than its page, to know
    whether another follows), with what the query selects under them."""
    page = PAGES[_key(info)]
    rows = _parent_rows(parent, info, lookups)
    if after_key is not None:
        rows = rows.filter(**{f"{page.keyset}__gt": after_key})
    return list(rows[:limit])


def list_page(parent, first: int, after, info: Info) -> list:
    """A page of the list field being resolved, paged by id (``first``, ``after`` the
    last id seen; ``related(page=by_id(...))``): from the rows prefetched (each
    parent's first rows past ``after``), else by one query for just this page."""
    first = page_size(first)
    page = PAGES[_key(info)]
    after_id = None if after is None else guarded(page.after_key, after)
    rows = getattr(parent, page.to_attr, None)
    if rows is None:
        rows = read_page(parent, info, first, after_id)
    rows = sorted(rows, key=lambda row: row.id)
    if after_id is not None:  # prefetched rows may start before it (_page_window)
        rows = [row for row in rows if row.id > after_id]
    return rows[:first]


def read_window(parent, info: Info, window, lookups=None) -> list:
    """``read_page`` for a connection's ``Window`` (``pagination.window``), backward too:
    the page and (for ``pageInfo``) one row past it in the direction read, ascending."""
    rows = _parent_rows(parent, info, lookups)
    ahead = asks_page_info(child_selections(info))
    return keyset_rows(rows, PAGES[_key(info)].keyset, window, ahead)


def _parent_rows(parent, info: Info, lookups) -> QuerySet:
    type_name, field = _key(info)
    page = PAGES[type_name, field]
    django_name, child_type = RELATIONS[type_name][field]
    parent_field = parent._meta.get_field(django_name).field.name
    rows = page.rows(caller(info)).filter(**{parent_field: parent}, **(lookups or {}))
    return optimized(rows, info, child_type)


def optimized(queryset, info, type_name: str, *path: str, only_columns: bool = False):
    """``queryset`` with every relation the request selects joined or prefetched
    (:func:`optimize` over the selections under the current field, following
    ``path``), and with ``only_columns`` only the columns they read.

    What that takes from the query document alone — the columns, and whether any
    relation is asked for — is kept per field of a document (:func:`_shape`): a
    repeat of a known document whose field asks for no relation (or only the
    reveal fields' memberships, for a caller who needs none) skips strawberry's
    ``SelectedField``s and the column choice (issue 16 point 2: single lookups).
    Everything that depends on the request — the arguments and variables of
    relations, the caller's pages — is still made per request, by :func:`optimize`.
    """
    raw = compat.raw_info(info)
    node = raw.field_nodes[0]
    key = (id(node), type_name, queryset.model, path, only_columns)
    cache = _shape_cache()
    shape = cache.get(key)
    known = shape is not None and shape.node is node
    if known and _enough(shape, info):
        if shape.columns is None:
            return parentless(queryset)
        return parentless(queryset.only(*shape.columns), own=True)
    selections = child_selections(info, *path)
    if not known:
        shape = _shape(node, raw.fragments, selections, queryset.model, type_name, only_columns)
        if shape is not None:
            cache.put(key, shape, 1)
    return optimize(queryset, selections, type_name, only_columns, caller(info))


def kept_columns(info, type_name: str, model) -> list[str] | None:
    """The columns :func:`optimized` (``only_columns``) loads for the current field,
    when its document's shape is kept and asks for nothing more for this caller (no
    relation to join or prefetch): then a lookup of one row may read just them
    (``tenants.loading.unique_row``). None otherwise: go through :func:`optimized`,
    which keeps the shape for the next request."""
    node = compat.raw_info(info).field_nodes[0]
    shape = _shape_cache().get((id(node), type_name, model, (), True))
    if shape is None or shape.node is not node or not _enough(shape, info):
        return None
    return shape.columns


def _enough(shape: _Shape, info) -> bool:
    """Whether a kept shape tells everything this caller's load needs: no relation
    asked for, or only the reveal fields' memberships, which the caller does not need
    (:func:`_reveal_needs_memberships`)."""
    return shape.relations is None or (
        shape.relations == "reveal" and not _reveal_needs_memberships(caller(info))
    )


@dataclass(frozen=True)
class _Shape:
    """What :func:`optimized` derives from a field of a query document alone."""

    # The field node it was derived from, kept: its id is the key, and a node lives
    # as long as its document, so the id is not reused while the shape is kept.
    node: FieldNode
    # only()'s columns (``_only_columns``), None: every column (or not only_columns)
    columns: list[str] | None
    # None: no relation asked for; "reveal": only REVEAL_FIELDS' (needed or not by
    # the caller); "some": others, whose arguments may be the request's variables
    relations: str | None


def _shape(node, fragments, selections, model, type_name: str, only_columns: bool) -> _Shape | None:
    """The shape of ``selections`` (under ``node``), or None where it is not kept: a
    field under a directive (``@skip``/``@include`` read the variables; the planner
    reads no directive today, but a shape must never depend on what a request sends)."""
    if _has_directives(node, fragments, set()):
        return None
    fields = _relation_fields(selections, type_name)
    relations = None
    if fields:
        relations = "reveal" if all(pair in REVEAL_FIELDS for pair in _named(fields)) else "some"
    columns = _only_columns(model, selections, type_name) if only_columns else None
    return _Shape(node, columns, relations)


def _named(fields: list[tuple[str, SelectedField]]) -> list[tuple[str, str]]:
    return [(owner, field.name) for owner, field in fields]


def _has_directives(node, fragments, seen: set) -> bool:
    """Whether ``node`` or anything selected under it (through fragments too) carries
    a directive."""
    if node.directives:
        return True
    if isinstance(node, FragmentSpreadNode):
        name = node.name.value
        if name in seen:
            return False
        seen.add(name)
        fragment = fragments.get(name)
        return fragment is not None and _has_directives(fragment, fragments, seen)
    selection_set = getattr(node, "selection_set", None)
    return selection_set is not None and any(
        _has_directives(child, fragments, seen) for child in selection_set.selections
    )


# Shapes by (field node, GraphQL type, model, path, only_columns): as many as the
# parser's cache keeps documents (``settings.GRAPHQL["CACHE_SIZE"]``; 0: none), like
# compiled execution's plans.
_shapes: _LRU | None = None


def _shape_cache() -> _LRU:
    global _shapes
    if _shapes is None:
        _shapes = per_document_lru()
    return _shapes
