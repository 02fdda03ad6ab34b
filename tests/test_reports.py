"""Hours reports and exports (issue 12 point 6), through the real HTTP endpoint of
重庆 (records count at once): each format parses back with numbers equal to a
direct SQL sum; volunteers masked unless the caller may reveal, and each reveal
logged; every refused role; expired, forged and other-region links refused.

Seeds: 000 Art.10 (service records and their hours), 001 §4(4)3 (publicity before
hours count: reports count counted hours only), 000 Art.3 and Art.15 (personal
information masked, revealed only to whom it may be, logged).
"""

from __future__ import annotations

import csv
import datetime
import io
import time
from dataclasses import dataclass
from decimal import Decimal
from unittest import mock
from urllib.parse import parse_qs, unquote, urlsplit

import openpyxl
import pypdfium2 as pdfium
import pytest
from django.core import signing
from django.db import connection
from django_tenants.utils import tenant_context

from tenants.volunteers import pii
from tenants.volunteers.models import PersonalInfoAccess, Volunteer
from tests.records_support import RECORD, Stage, days_ago, declaration, entry, stage
from tests.registry_support import (
    authority,
    login,
    region,
    register_volunteer,
)
from tests.support import gid, row_key
from tests.test_records import AMEND, DECLARE

SLUG = "chongqing"
HOST = f"{SLUG}.localhost"
EXPORT = """mutation($input: ExportInput!) { exportLink(input: $input) { url expiresAt fileName
  errors { field code message } } }"""
HOURS_KINDS = ["HOURS_BY_VOLUNTEER", "HOURS_BY_GROUP", "HOURS_BY_PROJECT", "HOURS_BY_DIVISION"]


@dataclass
class Scene(Stage):
    """The stage, a member's token and the records the scene made."""

    own: str  # the token of the member who declared hours
    record_ids: list[str]  # six counted records, the first amended
    period: tuple[datetime.date, datetime.date]  # holds days_ago(3), not days_ago(20)


@pytest.fixture(scope="module")
def scene(server) -> Scene:
    """A team with three members: counted records (one amended, one outside the
    period), a self-declaration still waiting (not counted)."""
    from tests.support import GraphQLClient

    gql = GraphQLClient(server.base_url)
    s = stage(gql, SLUG, participants=3)
    hours = [("09:00", "11:30", "2.5"), ("13:00", "17:00", "4"), ("08:00", "09:15", "1.25")]
    record_ids = []
    for (volunteer, _username), (start, end, h) in zip(s.volunteers, hours, strict=True):
        for day in (days_ago(3), days_ago(20)):
            made = gql.region(
                SLUG,
                RECORD,
                {"p": s.project_id, "n": volunteer.number, "input": entry(day, start, end, h)},
                token=s.recorder,
            )["data"]["recordHours"]
            assert made["errors"] == [], made
            assert made["record"]["state"] == "COUNTED"
            record_ids.append(made["record"]["id"])
    amended = gql.region(
        SLUG, AMEND, {"r": record_ids[0], "c": {"hours": "1.75"}, "why": "补录更正"}, token=s.admin
    )["data"]["amendRecord"]
    assert amended["errors"] == [], amended
    own = login(gql, SLUG, s.volunteers[1][1])
    declared = gql.region(
        SLUG,
        DECLARE,
        {"p": s.project_id, "input": declaration(days_ago(5), "19:00", "21:00", 2)},
        token=own,
    )["data"]["declareHours"]
    assert declared["record"]["state"] == "DECLARED", declared
    return Scene(**vars(s), own=own, record_ids=record_ids, period=(days_ago(10), days_ago(0)))


def link(gql, token, **input_):
    body = gql.region(SLUG, EXPORT, {"input": input_}, token=token)
    return body


def url_of(gql, token, **input_) -> str:
    body = link(gql, token, **input_)
    payload = body["data"]["exportLink"]
    assert payload["errors"] == [], payload
    return payload["url"]


def download(gql, url: str, host: str = HOST):
    parts = urlsplit(url)
    return gql.http.get(f"{parts.path}?{parts.query}", headers={"Host": host})


def schema() -> str:
    return region(SLUG).schema_name


def sql_hours(where: str, params, group_by: str | None = None):
    """Counted hours straight from SQL: current hours (the latest amendment's, else the
    record's own), for records matching ``where``."""
    s = schema()
    current = (
        f"coalesce((SELECT a.hours FROM {s}.records_amendment a WHERE a.record_id = r.id "
        "AND a.hours IS NOT NULL ORDER BY a.id DESC LIMIT 1), r.hours)"
    )
    select = f"{group_by}, " if group_by else ""
    sql = (
        f"SELECT {select}count(*), coalesce(sum({current}), 0) FROM {s}.records_servicerecord r "
        f"JOIN {s}.volunteers_volunteer v ON v.id = r.volunteer_id "
        f"LEFT JOIN {s}.groups_volunteergroup g ON g.id = r.group_id "
        f"WHERE r.state = 'counted' AND {where}" + (f" GROUP BY {group_by}" if group_by else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def parse(fmt: str, body: bytes) -> list[list[str]]:
    if fmt == "CSV":
        assert body.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for Excel"
        return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    workbook = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    return [
        ["" if v is None else str(v) for v in row]
        for row in workbook.worksheets[0].iter_rows(values_only=True)
    ]


def hours(text: str) -> Decimal:
    return Decimal(text).quantize(Decimal("0.01"))


@pytest.mark.parametrize("fmt", ["CSV", "XLSX"])
def test_hours_reports_parse_back_equal_to_sql(gql, scene, fmt):
    team = scene.h.team
    start, end = scene.period
    period = {"dateFrom": start.isoformat(), "dateTo": end.isoformat()}
    where, params = "r.group_id = %s AND r.service_date BETWEEN %s AND %s", [team.id, start, end]
    [(records, total)] = sql_hours(where, params)
    assert records == 3 and total == Decimal("7.00")  # 1.75 (amended) + 4 + 1.25
    for kind in HOURS_KINDS:
        url = url_of(gql, scene.admin, kind=kind, format=fmt, groupId=gid(SLUG, team), **period)
        response = download(gql, url)
        assert response.status_code == 200, response.text
        rows = parse(fmt, response.content)
        assert rows[0][-1] == "已记入服务时长（小时）", "says it counts counted hours only"
        assert rows[-1][0] == "合计"
        assert hours(rows[-1][-1]) == total and int(rows[-1][-2]) == records
        body = rows[1:-1]
        assert sum(hours(r[-1]) for r in body) == total
        if kind == "HOURS_BY_VOLUNTEER":
            expected = {n: h for n, _count, h in sql_hours(where, params, group_by="v.number")}
            assert {r[0]: hours(r[-1]) for r in body} == expected
            # The declared record (still waiting) and the record 20 days ago are left out.
            assert scene.volunteers[1][0].number in expected
        if kind == "HOURS_BY_DIVISION":
            assert body[0][0] == team.division_code and body[0][1]  # the division's name


def test_whole_history_and_area_scope_equal_sql(gql, scene):
    """No period: every counted record; an authority of the county: its whole area."""
    team = scene.h.team
    url = url_of(gql, scene.admin, kind="HOURS_BY_PROJECT", format="CSV", groupId=gid(SLUG, team))
    rows = parse("CSV", download(gql, url).content)
    [(records, total)] = sql_hours("r.group_id = %s", [team.id])
    assert (int(rows[-1][-2]), hours(rows[-1][-1])) == (records, total) == (6, Decimal("14.75"))
    county = authority(gql, SLUG, "county")
    url = url_of(gql, county, kind="HOURS_BY_DIVISION", format="XLSX")
    rows = parse("XLSX", download(gql, url).content)
    prefix = team.division_code
    [(records, total)] = sql_hours(
        "coalesce(g.division_code, v.division_code) LIKE %s", [prefix + "%"]
    )
    assert hours(rows[-1][-1]) == total and int(rows[-1][-2]) == records


def test_pdf_report_states_the_sql_sum(gql, scene):
    team = scene.h.team
    start, end = scene.period
    url = url_of(
        gql,
        scene.admin,
        kind="HOURS_BY_VOLUNTEER",
        format="PDF",
        groupId=gid(SLUG, team),
        dateFrom=start.isoformat(),
        dateTo=end.isoformat(),
    )
    response = download(gql, url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    doc = pdfium.PdfDocument(response.content)
    text = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    assert "志愿服务时长报表（按志愿者）" in text
    assert "仅统计已记入" in text
    for number, _count, h in sql_hours(
        "r.group_id = %s AND r.service_date BETWEEN %s AND %s",
        [team.id, start, end],
        group_by="v.number",
    ):
        assert number in text
        assert f"{h.normalize():f}" in text
    assert "合计" in text


def test_headers_name_the_file_in_chinese(gql, scene):
    url = url_of(gql, scene.admin, kind="RECORDS", format="CSV", groupId=gid(SLUG, scene.h.team))
    response = download(gql, url)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    name = unquote(disposition.split("filename*=UTF-8''")[1])
    assert name.startswith("志愿服务记录台账_") and name.endswith(".csv")
    assert scene.h.team.name in name
    assert response.headers["cache-control"] == "private, no-store"
    rows = parse("CSV", response.content)
    # Every record of the team in every state: 6 counted and the declared one.
    assert len(rows) == 1 + 7
    states = sorted(r[9] for r in rows[1:])
    assert states == ["已记入"] * 6 + ["待团体确认"]
    amended = [r for r in rows[1:] if r[0] == str(row_key(scene.record_ids[0]))]
    assert amended and hours(amended[0][8]) == Decimal("1.75")  # the amended hours, not 2.5


def test_a_volunteer_gets_their_own_hours_only(gql, scene):
    volunteer = scene.volunteers[1][0]
    url = url_of(gql, scene.own, kind="HOURS_BY_PROJECT", format="CSV")
    rows = parse("CSV", download(gql, url).content)
    [(records, total)] = sql_hours("r.volunteer_id = %s", [volunteer.id])
    assert (int(rows[-1][-2]), hours(rows[-1][-1])) == (records, total) == (2, Decimal("8.00"))
    url = url_of(gql, scene.own, kind="RECORDS", format="XLSX")
    rows = parse("XLSX", download(gql, url).content)
    assert {r[1] for r in rows[1:]} == {volunteer.number}
    assert len(rows) == 1 + 3  # two counted, one declared


def _volunteer_export(gql, token, **extra):
    return link(gql, token, kind="VOLUNTEERS", format="CSV", groupId=gid(SLUG, _TEAM[0]), **extra)[
        "data"
    ]["exportLink"]


_TEAM: list = []


def test_volunteers_masked_unless_revealed_and_every_reveal_logged(gql, scene):
    _TEAM[:] = [scene.h.team]
    numbers = {v.number for v, _u in scene.volunteers}
    with tenant_context(region(SLUG)):
        full = {
            v.number: (pii.decrypt(v.id_number_encrypted), pii.decrypt(v.phone_encrypted))
            for v in Volunteer.objects.filter(number__in=numbers)
        }
        before = PersonalInfoAccess.objects.filter(volunteer__number__in=numbers).count()
    masked = parse("CSV", download(gql, _volunteer_export(gql, scene.admin)["url"]).content)
    assert masked[0][5:7] == ["证件号码", "手机号码"]
    assert {r[0] for r in masked[1:]} == numbers
    for row in masked[1:]:
        id_number, phone = full[row[0]]
        assert row[5] != id_number and row[5] == pii.mask_id_number(id_number)
        assert row[6] == pii.mask_phone(phone)
    # A recorder sees the members masked, and may not reveal them.
    recorder = _volunteer_export(gql, scene.recorder)
    assert recorder["errors"] == []
    refused = link(
        gql,
        scene.recorder,
        kind="VOLUNTEERS",
        format="CSV",
        groupId=gid(SLUG, scene.h.team),
        reveal=True,
        reason="核对名册",
    )
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    no_reason = _volunteer_export(gql, scene.admin, reveal=True)
    assert (
        no_reason["errors"][0]["code"] == "INVALID" and no_reason["errors"][0]["field"] == "reason"
    )
    with tenant_context(region(SLUG)):
        assert PersonalInfoAccess.objects.filter(volunteer__number__in=numbers).count() == before
    revealed = _volunteer_export(gql, scene.admin, reveal=True, reason="保险投保核对")
    rows = parse("CSV", download(gql, revealed["url"]).content)
    assert {r[0]: (r[5], r[6]) for r in rows[1:]} == full
    with tenant_context(region(SLUG)):
        logged = list(PersonalInfoAccess.objects.filter(volunteer__number__in=numbers))
        assert len(logged) == before + 3
        mine = [a for a in logged if "保险投保核对" in a.reason]
        assert {a.volunteer.number for a in mine} == numbers
        assert all(a.fields == ["idNumber", "phone"] for a in mine)
    # The volunteer sees the reveal in their own log.
    seen = gql.region(SLUG, "{ myPersonalInfoAccesses { reason accessor } }", token=scene.own)
    assert "保险投保核对" in str(seen)


REFUSALS: list[tuple[str, dict[str, object], str]] = [
    # (who, input, code)
    ("anonymous", {"kind": "RECORDS"}, "UNAUTHENTICATED"),
    ("stranger", {"kind": "RECORDS", "group": True}, "PERMISSION_DENIED"),
    ("member", {"kind": "HOURS_BY_GROUP", "group": True}, "PERMISSION_DENIED"),
    ("member", {"kind": "VOLUNTEERS"}, "PERMISSION_DENIED"),
    ("hub", {"kind": "RECORDS", "group": True}, "PERMISSION_DENIED"),
    ("other_county", {"kind": "RECORDS", "group": True}, "PERMISSION_DENIED"),
    ("county", {"kind": "RECORDS", "divisionCode": "500000"}, "PERMISSION_DENIED"),
    ("yunnan", {"kind": "RECORDS", "group": True}, "UNAUTHENTICATED"),
]


def test_every_other_role_is_refused(gql, scene):
    county_code = scene.h.team.division_code
    other_county = next(c for c in sorted(_counties()) if c != county_code and c.startswith("5001"))
    _stranger, stranger_username = register_volunteer(SLUG)
    tokens = {
        "anonymous": None,
        "stranger": login(gql, SLUG, stranger_username),
        "member": scene.own,
        "hub": login(gql, SLUG, scene.h.admins["district"]),
        "other_county": authority(gql, SLUG, "county", division=other_county),
        "county": authority(gql, SLUG, "county"),
        "yunnan": authority(gql, "yunnan"),
    }
    for who, input_, code in REFUSALS:
        input_ = dict(input_, format="CSV")
        if input_.pop("group", False):
            input_["groupId"] = gid(SLUG, scene.h.team)
        body = link(gql, tokens[who], **input_)
        assert body["data"] is None, (who, body)
        assert body["errors"][0]["extensions"]["code"] == code, (who, body)
    # Allowed for comparison: the county's authority over the team, and its whole area.
    assert url_of(
        gql, tokens["county"], kind="RECORDS", format="CSV", groupId=gid(SLUG, scene.h.team)
    )
    assert url_of(gql, tokens["county"], kind="VOLUNTEERS", format="XLSX")


def _counties():
    from central.divisions import division_level, divisions_within

    return [c for c in divisions_within("500000") if division_level(c) == "county"]


def test_bad_input_is_a_typed_error(gql, scene):
    team = gid(SLUG, scene.h.team)
    cases: list[tuple[dict[str, str | bool], str]] = [
        ({"kind": "RECORDS", "format": "PDF", "groupId": team}, "format"),
        (
            {"kind": "RECORDS", "format": "CSV", "groupId": team, "reveal": True, "reason": "看看"},
            "reveal",
        ),
        (
            {
                "kind": "RECORDS",
                "format": "CSV",
                "groupId": team,
                "dateFrom": "2026-05-02",
                "dateTo": "2026-05-01",
            },
            "dateTo",
        ),
        ({"kind": "RECORDS", "format": "CSV", "groupId": "not-an-id"}, "groupId"),
        ({"kind": "RECORDS", "format": "CSV", "divisionCode": "530102"}, "divisionCode"),
        ({"kind": "RECORDS", "format": "CSV", "divisionCode": "50zz"}, "divisionCode"),
    ]
    county = authority(gql, SLUG, "county")
    for input_, field in cases:
        payload = link(gql, county, **input_)["data"]["exportLink"]
        assert payload["url"] is None and payload["errors"][0]["field"] == field, payload
        assert payload["errors"][0]["code"] == "INVALID"


def test_expired_forged_and_other_region_links_are_refused(gql, scene):
    url = url_of(gql, scene.admin, kind="RECORDS", format="CSV", groupId=gid(SLUG, scene.h.team))
    token = parse_qs(urlsplit(url).query)["link"][0]
    assert download(gql, url).status_code == 200
    parts = urlsplit(url)
    head = gql.http.head(f"{parts.path}?{parts.query}", headers={"Host": HOST})
    assert head.status_code == 405  # HEAD would run the export for nothing
    data = signing.loads(token, salt="report-export-link")

    def refused(candidate: str, host: str = HOST):
        response = gql.http.get(
            "/exports/download", params={"link": candidate}, headers={"Host": host}
        )
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "LINK_EXPIRED"
        assert b"\xef\xbb\xbf" not in response.content

    # Expired: the same export signed six minutes ago.
    real_time = time.time
    with mock.patch.object(time, "time", lambda: real_time() - 360):  # signing's clock
        old = signing.dumps(data, salt="report-export-link", compress=True)
    refused(old)
    # Forged: another scope with the signature of this one.
    signature = token.rpartition(":")[2]
    other = signing.dumps(dict(data, scope="area:500000"), salt="x", compress=True)
    refused(other.rpartition(":")[0] + ":" + signature)
    refused(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    refused("")
    # This region's link on another region's host, and a link naming another region.
    refused(token, host="yunnan.localhost")
    refused(signing.dumps(dict(data, region="530000"), salt="report-export-link", compress=True))


def test_link_expires_after_the_configured_seconds(gql, scene):
    body = link(gql, scene.admin, kind="RECORDS", format="CSV", groupId=gid(SLUG, scene.h.team))
    expires = datetime.datetime.fromisoformat(body["data"]["exportLink"]["expiresAt"])
    left = (expires - datetime.datetime.now(datetime.UTC)).total_seconds()
    assert 250 < left <= 300


def _statements(username: str, **kwargs) -> int:
    """SQL statements of one download, in this process (signing and streaming)."""
    from django.test.utils import CaptureQueriesContext

    from tenants.reports import services
    from tests.registry_support import principal_of_account

    target = region(SLUG)
    with tenant_context(target):
        principal = principal_of_account(username)
        path, _expires, _name = services.export_link(
            principal=principal, policy=target.get_policy(), region=target, **kwargs
        )
        spec = services.open_link(parse_qs(urlsplit(path).query)["link"][0], target)
        assert spec is not None
        with CaptureQueriesContext(connection) as captured:
            body = b"".join(services.stream(spec))
    assert body
    return len(captured.captured_queries)


def test_statements_do_not_grow_with_the_rows(scene):
    """Two records of one volunteer, seven of the team: the same statements (one
    amended record in each, whose amendments are read once per chunk)."""
    team = scene.h.team.id
    own = scene.volunteers[0][1]
    for kind in ("records", "hours_by_project"):
        mine = _statements(own, kind=kind, fmt="csv")
        group = _statements(scene.h.admins["team"], kind=kind, fmt="csv", group_id=team)
        assert mine == group, kind
    # The audit entry, the rows' cursor, the chunk's amendments and housekeeping.
    assert _statements(scene.h.admins["team"], kind="records", fmt="csv", group_id=team) <= 5


def test_xlsx_goes_on_in_another_sheet_past_excels_rows(monkeypatch):
    """Excel opens 1,048,576 rows a sheet: more rows go on in the next, with the header."""
    from tenants.reports import formats

    monkeypatch.setattr(formats, "XLSX_MAX_ROWS", 3)
    body = b"".join(formats.xlsx_stream("志愿服务记录台账", ["序号"], [[i] for i in range(7)]))
    sheets = openpyxl.load_workbook(io.BytesIO(body)).worksheets
    assert [s.title for s in sheets] == [
        "志愿服务记录台账",
        "志愿服务记录台账（2）",
        "志愿服务记录台账（3）",
    ]
    assert [[r[0] for r in s.iter_rows(values_only=True)] for s in sheets] == [
        ["序号", 0, 1, 2],
        ["序号", 3, 4, 5],
        ["序号", 6],
    ]
