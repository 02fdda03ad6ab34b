"""Narrowing a volunteer's records (``Volunteer.records(filter:)``): the filter as
Django lookups, its one statement. SQL applies them however the rows are read: in
the ``WHERE`` of a resolver's own page or of the prefetch, or (aliases with
different filters) as a column per filter that each resolver picks its rows by
(``schema/region/prefetch.py`` ``marked``/``meeting``); nothing re-applies them in
Python."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import strawberry

from schema.errors import QueryError
from schema.region.auth import guarded, parse_id
from schema.region.fields import choices_enum
from tenants.records import models as record_models

# To mypy each enum is the choices class it is made from: the same members
# (named by the upper-cased value) and values.
if TYPE_CHECKING:
    RecordState = record_models.RecordState
else:
    RecordState = choices_enum("RecordState", record_models.RecordState, "记录状态")


@strawberry.input
class RecordFilter:
    state: RecordState | None = None
    project_id: strawberry.ID | None = None
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None


def _record_conditions(filter: RecordFilter | None) -> dict[str, object]:
    """The filter as Django lookups on a record, e.g. ``{"service_date__gte": …}``."""
    if filter is None:
        return {}
    conditions: dict[str, object] = {}
    if filter.state:
        conditions["state"] = filter.state.value
    if filter.project_id:
        conditions["project_id"] = guarded(parse_id, filter.project_id, "Project", "projectId")
    if filter.date_from:
        conditions["service_date__gte"] = filter.date_from
    if filter.date_to:
        conditions["service_date__lte"] = filter.date_to
    return conditions


def record_filter_lookups(raw) -> dict[str, object] | None:
    """A ``filter`` argument as the prefetch sees it (strawberry's ``SelectedField``:
    a literal's text, or a variable's parsed values) as :func:`_record_conditions`
    lookups, so a page of volunteers reads only matching records; None when it does
    not parse (the resolver then reports the error)."""
    try:
        state, date_from, date_to = (raw.get(k) for k in ("state", "dateFrom", "dateTo"))
        return _record_conditions(
            RecordFilter(
                state=RecordState.__members__[state] if isinstance(state, str) else state,
                project_id=raw.get("projectId"),
                date_from=_date(date_from),
                date_to=_date(date_to),
            )
        )
    except (AttributeError, KeyError, TypeError, ValueError, QueryError):
        return None


def _date(value) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if isinstance(value, str) else value
