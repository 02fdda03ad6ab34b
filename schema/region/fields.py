"""Declaring a type's fields that read a model column.

Most fields of the region API's types return one attribute of the model
instance they wrap (``_model``); :func:`model_field` declares such a field in
one line and records the column it reads, which ``prefetch.py`` uses to load
only the columns a page's selected fields read. A field computed from columns
declares them with ``metadata=reads(...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry

from schema.compiled import ATTRIBUTE_KEY

COLUMNS_KEY = "columns"


def reads(*columns: str) -> dict[str, object]:
    """Field metadata: the model columns the field's resolver reads."""
    return {COLUMNS_KEY: columns}


def model_field(attr: str, convert: Callable[[Any], Any] | None = None, **options):
    """A field returning ``self._model.<attr>`` (through ``convert``, e.g. an enum),
    typed by the class annotation: ``name: str = model_field("name")``."""
    if convert is None:

        def resolve(self):
            return getattr(self._model, attr)

    else:

        def resolve(self):
            return convert(getattr(self._model, attr))

    metadata = reads(attr)
    if convert is None:
        metadata[ATTRIBUTE_KEY] = attr
    return strawberry.field(resolver=resolve, metadata=metadata, **options)


def model_id(kind: str, attr: str = "id", **options):
    """The global id (schema/identity.py) of the ``kind`` object whose row key is
    ``self._model.<attr>``."""
    from schema.identity import global_id

    def as_id(value) -> strawberry.ID:
        return strawberry.ID(global_id(kind, value))

    options.setdefault("description", "Opaque, stable and unique across types and regions.")
    return model_field(attr, as_id, **options)
