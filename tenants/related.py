"""Reading a many-relation that a request may have prefetched.

``schema/region/prefetch.py`` prefetches what a query selects with
``Prefetch(..., to_attr="prefetched_<relation>")``: a plain list on each
instance, which spares Django a related manager and a queryset per instance
(on a page of 10,000 records that bookkeeping cost more than the SQL).
Code that reads such a relation goes through :func:`prefetched`.

A relation that most rows have none of (a record's amendments) is declared
:class:`MostlyEmpty` on its model, whose queryset is a :class:`FewRelatedQuerySet`:
``.with_few(relation)`` marks each row with ``has_<relation>`` (an ``EXISTS``)
and, once the rows are loaded, fetches the relation for the marked rows only —
usually none, so no query at all, and no per-row work for the others.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Exists, OuterRef
from django.db.models.query import ModelIterable


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
        if instance.__dict__.get(self.flag) is False:
            return []
        raise AttributeError(to_attr(self.relation))

    def __set__(self, instance, rows) -> None:
        instance.__dict__[self.slot] = rows


class FewRelatedQuerySet(models.QuerySet):
    _few: dict = {}  # relation → queryset of its rows (or None), loaded after the rows

    def with_few(self, relation: str, rows=None):
        """Load ``relation`` (declared :class:`MostlyEmpty`) for the rows that have any."""
        descriptor = getattr(self.model, to_attr(relation))
        assert isinstance(descriptor, MostlyEmpty), f"{relation} is not declared MostlyEmpty"
        field = self.model._meta.get_field(relation)
        related = field.related_model._default_manager.filter(**{field.field.name: OuterRef("pk")})
        clone = self.annotate(**{descriptor.flag: Exists(related)})
        clone._few = {**self._few, relation: rows}
        return clone

    def _clone(self):
        clone = super()._clone()
        clone._few = self._few
        return clone

    def _fetch_all(self):
        fresh = self._result_cache is None
        super()._fetch_all()
        if fresh and self._few and issubclass(self._iterable_class, ModelIterable):
            for relation, rows in self._few.items():
                _load_few(self.model, self._result_cache, relation, rows)


def _load_few(model, instances: list, relation: str, rows) -> None:
    flag = f"has_{relation}"
    marked = [instance for instance in instances if instance.__dict__.get(flag)]
    if not marked:
        return
    field = model._meta.get_field(relation)
    rows = rows if rows is not None else field.related_model._default_manager.all()
    parent = field.field.attname
    by_parent: dict = {}
    for row in rows.filter(**{f"{field.field.name}__in": marked}):
        by_parent.setdefault(getattr(row, parent), []).append(row)
    for instance in marked:
        setattr(instance, to_attr(relation), by_parent.get(instance.pk, []))
