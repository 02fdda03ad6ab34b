"""Declaring a type's fields that read a model column.

Most fields of the region API's types return one attribute of the model
instance they wrap (``_model``); :func:`model_field` declares such a field in
one line and records the column it reads, which ``prefetch.py`` uses to load
only the columns a page's selected fields read. A field computed from columns
declares them with ``metadata=reads(...)``.
"""

from __future__ import annotations

import enum
import functools
import importlib
from collections.abc import Callable
from typing import Any, cast

import strawberry

from schema.compiled import ATTRIBUTE_KEY
from schema.identity import global_id

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

    def as_id(value) -> strawberry.ID:
        return strawberry.ID(global_id(kind, value))

    options.setdefault("description", "Opaque, stable and unique across types and regions.")
    return model_field(attr, as_id, **options)


def choices_enum(name: str, choices, description: str):
    """A GraphQL enum from a Django ``TextChoices`` (members named by upper-cased value)."""
    # (members known at run time only, which mypy's Enum() support cannot read)
    members = enum.Enum(name, {v.upper(): v for v in choices.values})  # type: ignore[misc]
    return strawberry.enum(cast("type[enum.Enum]", members), description=description)


def lazy_type(module: str, name: str) -> Callable[[], type]:
    """The type ``name`` of ``module``, for a module that ``module`` imports (the import
    graph stays a DAG): what ``Annotated[X, strawberry.lazy(module)]`` is to an
    annotation, this is to a resolver that makes an ``X``. Looked up once, on the
    first call (after every module is loaded), not at each row of a page."""

    @functools.cache
    def resolve() -> type:
        return getattr(importlib.import_module(module), name)

    return resolve
