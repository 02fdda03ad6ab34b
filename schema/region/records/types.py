"""GraphQL types of service records: the record and its amendments, a volunteer's
page of records, the card, the publicity notice."""

from __future__ import annotations

import datetime
import operator
from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry
from django.utils.translation import gettext as _
from strawberry.types import Info

from schema.identity import global_id
from schema.node import Node
from schema.region.fields import choices_enum, model_field, model_id, reads
from schema.region.pagination import PageInfo, Window, encode_cursor, paged
from schema.region.prefetch import meeting, read_window, related, rows
from schema.region.records.filters import RecordFilter, RecordState, _record_conditions
from tenants.records import cards
from tenants.records import models as record_models
from tenants.related import prefetched, to_attr
from tenants.volunteers.pii import mask_name

# To mypy each enum is the choices class it is made from: the same members
# (named by the upper-cased value) and values.
if TYPE_CHECKING:
    RecordMode = record_models.RecordMode
else:
    RecordMode = choices_enum("RecordMode", record_models.RecordMode, "记录方式")


@strawberry.type(description="An amendment: the new values of a record, why, who, when.")
class Amendment:
    _model: strawberry.Private[record_models.Amendment]

    hours: Decimal | None = model_field("hours")
    start_time: datetime.time | None = model_field("start_time")
    end_time: datetime.time | None = model_field("end_time")
    content: str = model_field("content")
    reason: str = model_field("reason")
    amended_by: str = model_field("amended_by")
    amended_at: datetime.datetime = model_field("amended_at")


# A current value: the record's own, or its latest amendment's.
CURRENT = related("amendments", of=Amendment)


@rows(
    record_models.ServiceRecord, keys=("id", "volunteer_id", "project_id", "state", "service_date")
)
@strawberry.type(description="A service record (志愿服务记录): current values, amendments applied.")
class ServiceRecord(Node):
    _model: strawberry.Private[record_models.ServiceRecord]

    id: strawberry.ID = model_id("ServiceRecord")
    project_name: str = model_field("project_name")
    service_date: datetime.date = model_field("service_date")

    @strawberry.field(metadata=reads("start_time") | CURRENT)
    def start_time(self) -> datetime.time:
        return self._model.current_value("start_time")

    @strawberry.field(metadata=reads("end_time") | CURRENT)
    def end_time(self) -> datetime.time:
        return self._model.current_value("end_time")

    @strawberry.field(
        description="Current hours (amendments applied).", metadata=reads("hours") | CURRENT
    )
    def hours(self) -> Decimal:
        return self._model.current_value("hours")

    original_hours: Decimal = model_field("hours", description="Hours as first recorded.")

    @strawberry.field(metadata=reads("place") | CURRENT)
    def place(self) -> str:
        return self._model.current_value("place")

    @strawberry.field(metadata=reads("service_target") | CURRENT)
    def service_target(self) -> str:
        return self._model.current_value("service_target")

    @strawberry.field(metadata=reads("content") | CURRENT)
    def content(self) -> str:
        return self._model.current_value("content")

    contact: str = model_field("contact")
    punctuality: int | None = model_field("punctuality", description="守时程度 1–5")
    attitude: int | None = model_field("attitude", description="服务态度 1–5")
    professionalism: int | None = model_field("professionalism", description="专业水平 1–5")
    mode: RecordMode = model_field("mode", RecordMode)

    @strawberry.field(
        description="记录人: the name of who recorded it (a staff account's display name; "
        "the origin group for a record transferred in; 本人申报 while self-declared).",
        metadata=reads("recorder", "mode", "state", "origin_group_name"),
    )
    def recorder(self, info: Info) -> str:
        return recorder_name(self._model, info)

    state: RecordState = model_field("state", RecordState)
    state_reason: str = model_field("state_reason")
    publicity_ends_on: datetime.date | None = model_field("publicity_ends_on")
    counted_at: datetime.datetime | None = model_field("counted_at")
    decided_at: datetime.datetime | None = model_field(
        "decided_at",
        description="When the group accepted or rejected it, for self-declared hours (本人申报).",
    )
    origin_region_code: str = model_field(
        "origin_region_code", description="Region the record came from, if transferred in."
    )

    origin_group_name: str = model_field("origin_group_name")
    origin_region_name: str = model_field(
        "origin_region_name",
        description="Name of the region the record was first recorded in, if transferred in.",
    )
    origin_record_id: str = model_field(
        "origin_record_id", description="The record's id in its origin region."
    )
    origin_hours: Decimal | None = model_field(
        "origin_hours", description="Hours as first recorded in the origin region."
    )
    origin_counted_at: datetime.datetime | None = model_field(
        "origin_counted_at", description="When it counted in the region it came from."
    )
    origin_confirmed_by: str = model_field(
        "origin_confirmed_by", description="Who confirmed it there (civil affairs), if anyone."
    )

    @strawberry.field(metadata=related("amendments"))
    def amendments(self) -> list[Amendment]:
        return [Amendment(_model=a) for a in prefetched(self._model, "amendments")]


def recorder_name(record, info: Info) -> str:
    """Who recorded ``record``, by name; the actor key stays internal."""
    if record.mode == record_models.RecordMode.IMPORTED:
        # The actor is an account of the origin region, unknown here.
        return record.origin_group_name or _("recorded in another region")
    if record.state == record_models.RecordState.DECLARED:
        return _("the volunteer (self-declared, 本人申报)")
    return info.context.actor_names.name(record.recorder) or _("the platform")


@strawberry.type
class ServiceRecordEdge:
    node: ServiceRecord = strawberry.field(metadata=related())

    @strawberry.field
    def cursor(self) -> str:
        # Encoded when asked for: a page of 1,000 volunteers' records rarely is.
        return _record_cursor(self.node._model)


@strawberry.type
class ServiceRecordConnection:
    edges: list[ServiceRecordEdge] = strawberry.field(metadata=related())
    page_info: PageInfo


def volunteer_records(
    volunteer, page: Window, filter: RecordFilter | None, info: Info
) -> ServiceRecordConnection:
    """A page of a volunteer's records: from the rows prefetch.py loaded for a page of
    volunteers, else by one query for just this page."""
    rows = getattr(volunteer, to_attr("records"), None)
    forward = page.after is None and page.before is None and not page.backward
    if rows is not None and filter is None and forward:
        # A page of volunteers' first records, the usual case (once per volunteer of a
        # nested page): the prefetched rows, in id order, are the page and one more
        # (what ``paged`` does for a first page, without its generic steps).
        ids = list(map(_row_id, rows))
        if ids != sorted(ids):
            rows = sorted(rows, key=_row_id)
        shown = rows[: page.size]
        page_info = PageInfo(
            has_next_page=len(rows) > page.size,
            has_previous_page=False,
            _ends=(shown[0], shown[-1]) if shown else (),
            _cursor=_record_cursor,
        )
        return ServiceRecordConnection(edges=_record_edges(shown), page_info=page_info)
    conditions = _record_conditions(filter)
    if rows is not None:  # those the SQL marked as meeting the filter (prefetch.marked)
        rows = meeting(rows, conditions)
    if rows is None:  # not prefetched (prefetch._page_window declined): this page only
        rows = read_window(volunteer, info, page, conditions)
    ids = list(map(_row_id, rows))  # (in C: once per volunteer of a page)
    if ids != sorted(ids):  # prefetched in id order; else sort them
        rows = sorted(rows, key=_row_id)
    rows, page_info = paged(rows, page, key=lambda r: r.id, cursor=_record_cursor)
    return ServiceRecordConnection(edges=_record_edges(rows), page_info=page_info)


_row_id = operator.attrgetter("id")


def _record_edges(rows: list) -> list[ServiceRecordEdge]:
    """``ServiceRecordEdge(node=ServiceRecord(_model=row))`` for each row, without the
    dataclass constructors: ServiceRecord's sets ~30 attributes its resolvers never
    read (each field resolves from ``_model``), ~5 µs a record, 50 ms of a nested
    page of 10,000 records (issue 16 point 2). Only what the types read is set."""
    new = object.__new__
    edges = []
    for row in rows:
        node = new(ServiceRecord)
        node._model = row
        edge = new(ServiceRecordEdge)
        edge.node = node
        edges.append(edge)
    return edges


def _record_cursor(record) -> str:
    return encode_cursor("r", record.id)


def volunteer_total_hours(volunteer) -> Decimal:
    totals = getattr(volunteer, "totals", None) if _has_totals(volunteer) else None
    return totals.counted_hours if totals else Decimal("0")


def volunteer_star_level(volunteer) -> int:
    totals = getattr(volunteer, "totals", None) if _has_totals(volunteer) else None
    return totals.star_level if totals else 0


def _has_totals(volunteer) -> bool:
    try:
        volunteer.totals  # noqa: B018 - reverse one-to-one raises when absent
        return True
    except record_models.VolunteerTotals.DoesNotExist:
        return False


@strawberry.type(description="The volunteer's card: a signed, rotating code and its QR image.")
class VolunteerCard(Node):
    _volunteer_id: strawberry.Private[int]
    code: str
    expires_at: datetime.datetime
    qr_png_data_url: str

    @strawberry.field(description="Opaque, stable and unique across types and regions.")
    def id(self) -> strawberry.ID:
        # The volunteer's card, whatever its current code: rotateCard updates it in a cache.
        return strawberry.ID(global_id("VolunteerCard", self._volunteer_id))


def card_of(volunteer, region_code: str) -> VolunteerCard:
    """The volunteer's card as shown now (a fresh code)."""
    code, expires = cards.card_code(volunteer, region_code)
    return VolunteerCard(
        _volunteer_id=volunteer.id,
        code=code,
        expires_at=expires,
        qr_png_data_url=cards.qr_data_url(code),
    )


@strawberry.type(
    description="A record under publicity (公示, 001 §4(4)3) as the notice shows it, to whoever "
    "may object: the volunteer's name masked, never an ID number or phone."
)
class PublicityEntry:
    _model: strawberry.Private[record_models.ServiceRecord]

    id: strawberry.ID = model_id(
        "ServiceRecord", description="The record's id: object to it with raiseObjection."
    )

    @strawberry.field(description="姓名, masked as public notices show it (张*, 欧**月).")
    def volunteer_name(self) -> str:
        return mask_name(self._model.volunteer.name)

    project_name: str = model_field("project_name")

    @strawberry.field
    def group_name(self) -> str:
        return self._model.group.name if self._model.group else ""  # recorded here: has one

    service_date: datetime.date = model_field("service_date")

    @strawberry.field
    def start_time(self) -> datetime.time:
        return self._model.current_value("start_time")

    @strawberry.field
    def end_time(self) -> datetime.time:
        return self._model.current_value("end_time")

    @strawberry.field(description="Current hours (amendments applied).")
    def hours(self) -> Decimal:
        return self._model.current_value("hours")

    state: RecordState = model_field(
        "state", RecordState, description="IN_PUBLICITY, or OBJECTED while an objection is open."
    )
    publicity_ends_on: datetime.date = model_field(
        "publicity_ends_on", description="The last day of publicity: objections until then."
    )


@strawberry.type
class PublicityEdge:
    node: PublicityEntry
    cursor: str


@strawberry.type
class PublicityConnection:
    edges: list[PublicityEdge]
    page_info: PageInfo


def _publicity_cursor(record) -> str:
    return encode_cursor("pub", record.id)
