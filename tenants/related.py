"""Reading a many-relation that a request may have prefetched.

``schema/region/prefetch.py`` prefetches what a query selects with
``Prefetch(..., to_attr="prefetched_<relation>")``: a plain list on each
instance, which spares Django a related manager and a queryset per instance
(on a page of 10,000 records that bookkeeping cost more than the SQL).
Code that reads such a relation goes through :func:`prefetched`.

A relation that most rows have none of (a record's amendments) can declare
:class:`MostlyEmpty` on its model: the query then marks each row with
``has_<relation>`` (an ``EXISTS``), and only rows that have some are
prefetched, usually none, so no query at all.
"""

from __future__ import annotations


def to_attr(relation: str) -> str:
    return f"prefetched_{relation}"


def prefetched(instance, relation: str) -> list:
    """The instance's rows of ``relation``: the prefetched list, else one query."""
    rows = getattr(instance, to_attr(relation), None)
    return rows if rows is not None else list(getattr(instance, relation).all())


class MostlyEmpty:
    """``prefetched_<relation>`` on a model: the prefetched list, or ``[]`` for an
    instance loaded with ``has_<relation>`` false. Django's prefetching skips the
    instances that have the attribute, so those cost nothing."""

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
