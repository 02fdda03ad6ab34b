"""Building model instances from rows, without ``Model.__init__``.

Django's ``Model.from_db`` calls ``Model.__init__``, which sends the
``pre_init``/``post_init`` signals and sets each field through ``setattr``:
about 6 µs per instance of a 28-column record, a fifth of a 10,000-record
page's loading. For a freshly loaded instance that comes to filling its
``__dict__`` with the row (attnames → values, fields not loaded stay deferred),
which is what :data:`fast_from_db` does — unless something listens to those
signals for the model, when Django's own path runs.

Use it as ``from_db = fast_from_db`` in a model's body (the models of large pages).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from django.db import models
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
