"""The rows of hours reports and exports, read in bounded memory.

Every hours report counts **counted hours only** (已记入, the end of the record
lifecycle, 000 Art.10, 001 §4(4)3): records still declared, in publicity,
objected, awaiting confirmation, rejected or void are left out. A record's hours
are its current hours (the latest amendment that sets them, else its own; the
original stays in the record, README "Nothing counted is edited").

Rows come from a server-side cursor (``QuerySet.iterator(chunk_size=…)``), a
chunk at a time, so an export of a million records never holds more than one
chunk in the serving process.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from central.divisions import division_name, prefixes_q
from tenants.groups.models import Membership, MembershipStatus, VolunteerGroup
from tenants.records.models import Amendment, RecordMode, RecordState, ServiceRecord
from tenants.reports.permissions import AREA, GROUP, SELF, Scope
from tenants.volunteers.models import (
    Gender,
    IdType,
    Verification,
    Volunteer,
    VolunteerStatus,
)

CHUNK = 2000

HOURS_BY_VOLUNTEER = "hours_by_volunteer"
HOURS_BY_GROUP = "hours_by_group"
HOURS_BY_PROJECT = "hours_by_project"
HOURS_BY_DIVISION = "hours_by_division"
VOLUNTEERS = "volunteers"
RECORDS = "records"
HOURS_REPORTS = (HOURS_BY_VOLUNTEER, HOURS_BY_GROUP, HOURS_BY_PROJECT, HOURS_BY_DIVISION)

COUNTED = "已记入服务时长（小时）"
HEADERS = {
    HOURS_BY_VOLUNTEER: ["志愿者编号", "姓名", "记录条数", COUNTED],
    HOURS_BY_GROUP: ["团体名称", "行政区划代码", "志愿者人数", "记录条数", COUNTED],
    HOURS_BY_PROJECT: ["项目名称", "组织团体", "志愿者人数", "记录条数", COUNTED],
    HOURS_BY_DIVISION: ["行政区划代码", "行政区划名称", "志愿者人数", "记录条数", COUNTED],
    VOLUNTEERS: [
        "志愿者编号",
        "姓名",
        "性别",
        "年龄段",
        "证件类型",
        "证件号码",
        "手机号码",
        "所在县（区）代码",
        "实名认证",
        "注册状态",
        "注册时间",
        COUNTED,
    ],
    RECORDS: [
        "记录编号",
        "志愿者编号",
        "姓名",
        "记录团体",
        "项目名称",
        "服务日期",
        "开始时间",
        "结束时间",
        "服务时长（小时）",
        "记录状态",
        "记录方式",
        "地点",
        "服务内容",
        "转入地区",
    ],
}
TITLES = {
    HOURS_BY_VOLUNTEER: "志愿服务时长报表（按志愿者）",
    HOURS_BY_GROUP: "志愿服务时长报表（按团体）",
    HOURS_BY_PROJECT: "志愿服务时长报表（按项目）",
    HOURS_BY_DIVISION: "志愿服务时长报表（按行政区划）",
    VOLUNTEERS: "志愿者名册",
    RECORDS: "志愿服务记录台账",
}
# Where a record with no group (transferred in, 000 Art.16) is shown in a by-group report.
TRANSFERRED_IN = "转入记录（无本地区团体）"


def current_hours():
    """A record's current hours in SQL: the latest amendment that sets hours, else its own."""
    latest = (
        Amendment.objects.filter(record=OuterRef("pk"), hours__isnull=False)
        .order_by("-id")
        .values("hours")[:1]
    )
    return Coalesce(Subquery(latest), F("hours"))


def records_in(scope: Scope, date_from: datetime.date | None, date_to: datetime.date | None):
    """The records of ``scope`` whose service date lies in the period (any state)."""
    records = ServiceRecord.objects.all()
    if scope.kind == SELF:
        records = records.filter(volunteer_id=int(scope.key))
    elif scope.kind == GROUP:
        records = records.filter(group_id=int(scope.key))
    elif scope.kind == AREA:
        # Where a record belongs (records.permissions.record_division): its group's
        # division; a record without one (transferred in) the volunteer's.
        records = records.filter(
            prefixes_q("group__division_code", [scope.prefix])
            | (Q(group__isnull=True) & prefixes_q("volunteer__division_code", [scope.prefix]))
        )
    else:  # pragma: no cover - scopes come from a signed link
        return records.none()
    if date_from is not None:
        records = records.filter(service_date__gte=date_from)
    if date_to is not None:
        records = records.filter(service_date__lte=date_to)
    return records


def counted_in(scope: Scope, date_from, date_to):
    return records_in(scope, date_from, date_to).filter(state=RecordState.COUNTED)


def volunteers_in(scope: Scope, date_from=None, date_to=None):
    """A group's active members, or the volunteers of an area (living there, or
    active members of a group registered there); registered in the period."""
    if scope.kind == GROUP:
        members = Membership.objects.filter(
            group_id=int(scope.key), status=MembershipStatus.ACTIVE
        ).values("volunteer_id")
        volunteers = Volunteer.objects.filter(id__in=members)
    elif scope.kind == AREA:
        groups = VolunteerGroup.objects.filter(prefixes_q("division_code", [scope.prefix]))
        members = Membership.objects.filter(
            status=MembershipStatus.ACTIVE, group_id__in=groups.values("id")
        ).values("volunteer_id")
        volunteers = Volunteer.objects.filter(
            Q(id__in=members) | prefixes_q("division_code", [scope.prefix])
        )
    else:
        return Volunteer.objects.none()
    if date_from is not None:
        volunteers = volunteers.filter(registered_at__date__gte=date_from)
    if date_to is not None:
        volunteers = volunteers.filter(registered_at__date__lte=date_to)
    return volunteers


def _aggregate(kind: str, scope: Scope, date_from, date_to):
    """The grouped queryset of an hours report, as tuples in the header's order."""
    records = counted_in(scope, date_from, date_to).annotate(now=current_hours())
    sums = {"records": Count("id"), "hours": Sum("now")}
    if kind == HOURS_BY_VOLUNTEER:
        return (
            records.values("volunteer__number", "volunteer__name")
            .annotate(**sums)
            .order_by("volunteer__number")
            .values_list("volunteer__number", "volunteer__name", "records", "hours")
        )
    people = {"people": Count("volunteer_id", distinct=True)}
    if kind == HOURS_BY_GROUP:
        return (
            records.values("group_id", "group__name", "group__division_code")
            .annotate(**people, **sums)
            .order_by(F("group__name").asc(nulls_last=True))
            .values_list("group__name", "group__division_code", "people", "records", "hours")
        )
    if kind == HOURS_BY_PROJECT:
        return (
            records.values("project_id", "project_name", "group__name")
            .annotate(**people, **sums)
            .order_by("project_name", "project_id")
            .values_list("project_name", "group__name", "people", "records", "hours")
        )
    if kind == HOURS_BY_DIVISION:
        return (
            records.annotate(
                division=Coalesce(F("group__division_code"), F("volunteer__division_code"))
            )
            .values("division")
            .annotate(**people, **sums)
            .order_by("division")
            .values_list("division", "people", "records", "hours")
        )
    raise ValueError(kind)


def report_size(kind: str, scope: Scope, date_from, date_to) -> int:
    """How many rows an hours report has (for the PDF's limit)."""
    return _aggregate(kind, scope, date_from, date_to).count()


def hours_rows(kind: str, scope: Scope, date_from, date_to) -> Iterator[list]:
    """An hours report's rows, then its total (合计) row."""
    records = 0
    hours = Decimal(0)
    rows = 0
    for row in _aggregate(kind, scope, date_from, date_to).iterator(chunk_size=CHUNK):
        row = list(row)
        if kind == HOURS_BY_DIVISION:
            row.insert(1, division_name(row[0]) or "")
        if kind == HOURS_BY_GROUP and row[0] is None:
            row[0], row[1] = TRANSFERRED_IN, ""
        records += row[-2]
        hours += row[-1]
        rows += 1
        yield row
    if kind == HOURS_BY_VOLUNTEER:
        yield ["合计", f"{rows}人", records, hours]
    else:
        # A volunteer may serve in several groups (projects, divisions): the total
        # counts each person once.
        people = counted_in(scope, date_from, date_to).values("volunteer_id").distinct().count()
        yield ["合计", "", people, records, hours]


_LABELS = {
    "gender": dict(Gender.choices),
    "id_type": dict(IdType.choices),
    "verification": dict(Verification.choices),
    "status": dict(VolunteerStatus.choices),
    "state": dict(RecordState.choices),
    "mode": dict(RecordMode.choices),
}


def volunteer_chunks(scope: Scope, date_from, date_to) -> Iterator[list[tuple]]:
    """The volunteers of an export, a chunk at a time (the caller reveals or masks)."""
    columns = (
        "id",
        "number",
        "name",
        "gender",
        "birth_date",
        "id_type",
        "id_number_masked",
        "id_number_encrypted",
        "phone_masked",
        "phone_encrypted",
        "division_code",
        "verification",
        "status",
        "registered_at",
        "counted",
    )
    rows = (
        volunteers_in(scope, date_from, date_to)
        .annotate(counted=Coalesce(F("totals__counted_hours"), Value(Decimal(0))))
        .order_by("id")
        .values_list(*columns)
        .iterator(chunk_size=CHUNK)
    )
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def label(kind: str, value: str) -> str:
    return _LABELS[kind].get(value, value)


def record_rows(scope: Scope, date_from, date_to) -> Iterator[list]:
    """Every record of the scope in the period, any state, with its current values."""
    rows = (
        records_in(scope, date_from, date_to)
        .annotate(amended=Exists(Amendment.objects.filter(record=OuterRef("pk"))))
        .order_by("id")
        .values_list(
            "id",
            "volunteer__number",
            "volunteer__name",
            "group__name",
            "project_name",
            "service_date",
            "start_time",
            "end_time",
            "hours",
            "state",
            "mode",
            "place",
            "content",
            "origin_region_name",
            "amended",
        )
        .iterator(chunk_size=CHUNK)
    )
    chunk: list[list] = []
    for row in rows:
        chunk.append(list(row))
        if len(chunk) >= CHUNK:
            yield from _current(chunk)
            chunk = []
    yield from _current(chunk)


# The columns of a record row an amendment may change (Amendment's fields).
_AMENDABLE = {"start_time": 6, "end_time": 7, "hours": 8, "place": 11, "content": 12}


def _current(chunk: list[list]) -> Iterator[list]:
    """Apply each amended record's amendments, oldest first: one query per chunk
    that holds any (few records are ever amended)."""
    amended = [row[0] for row in chunk if row[-1]]
    if amended:
        by_record: dict[int, list] = {}
        for amendment in Amendment.objects.filter(record_id__in=amended).order_by("id"):
            by_record.setdefault(amendment.record_id, []).append(amendment)
        for row in chunk:
            for amendment in by_record.get(row[0], ()):
                for name, index in _AMENDABLE.items():
                    value = getattr(amendment, name)
                    if value not in (None, ""):
                        row[index] = value
    for row in chunk:
        row.pop()
        row[3] = row[3] or TRANSFERRED_IN
        row[9] = label("state", row[9])
        row[10] = label("mode", row[10])
        yield row
