"""Issue 12 point 7: bulk import (批量导入) of volunteers, members and records from
XLSX and CSV, by the ``importRows`` multipart mutation over real HTTP and by
``manage.py import_rows`` — the same services and rules as one-at-a-time entry
(000 Art.5–10, 003 Art.7 and 13, 001 §4(4)3, issue 10 finding 1)."""

from __future__ import annotations

import csv
import datetime
import io
import json
import re

import openpyxl
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context
from openpyxl.worksheet.worksheet import Worksheet

from tenants.audit.models import AuditEntry
from tenants.groups.models import Membership, MembershipStatus
from tenants.imports import services as imports
from tenants.imports.columns import COLUMNS, ImportKind
from tenants.records.models import ServiceRecord
from tenants.volunteers import services as volunteers
from tenants.volunteers.models import Volunteer
from tests.records_support import days_ago, stage
from tests.registry_support import (
    authority,
    authority_account,
    hierarchy,
    id_number,
    login,
    phone,
    principal_of_account,
    region,
    register_volunteer,
)
from tests.support import GraphQLClient, code_blocks, gid, readme_section

IMPORT = """mutation($kind: ImportKind!, $file: Upload!, $g: ID, $p: ID, $valid: Boolean!) {
  importRows(kind: $kind, file: $file, groupId: $g, projectId: $p, validRowsOnly: $valid) {
    errors { field code message }
    report { kind rows imported alreadyPresent failed committed validRowsOnly
             problems { line column field code message } problemsOmitted
             outcomes { line outcome key } outcomesOmitted } } }"""

VOLUNTEER_HEADERS = [c.header for c in COLUMNS[ImportKind.VOLUNTEERS]]


def upload(gql, slug, kind, content: bytes, *, token=None, group=None, project=None,
           valid=False, filename="rows.csv") -> dict:  # fmt: skip
    """A GraphQL multipart request (the spec strawberry implements), over real HTTP."""
    variables = {"kind": kind, "file": None, "g": group, "p": project, "valid": valid}
    headers = {"Host": f"{slug}.localhost"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = gql.http.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": IMPORT, "variables": variables}),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"0": (filename, io.BytesIO(content), "application/octet-stream")},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


def csv_file(header, rows, encoding="utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_file(header, rows, workbook=None) -> bytes:
    if workbook is None:
        workbook = openpyxl.Workbook()
        workbook.active.append(header)
    sheet = workbook.worksheets[0]
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def person(birth=datetime.date(1991, 3, 9), area="500101", **extra) -> dict:
    """One volunteer row, by Chinese header."""
    row = {
        "姓名": "王小红",
        "性别": "女",
        "证件号码": id_number(birth, area),
        "手机号码": phone(),
        "技能特长": "急救、心理疏导",
        **extra,
    }
    return row


def rows_of(header, people) -> list[list]:
    return [[p.get(h, "") for h in header] for p in people]


def find(slug, number_or_id):
    with tenant_context(region(slug)):
        return volunteers.find_by_id_number(number_or_id)


def test_templates_are_downloadable_with_chinese_headers(gql, tmp_path, capsys):
    xlsx = gql.http.get(
        "/imports/templates/volunteers.xlsx", headers={"Host": "chongqing.localhost"}
    )
    assert xlsx.status_code == 200, xlsx.text
    assert "attachment" in xlsx.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    assert [c.value for c in sheet[1]] == VOLUNTEER_HEADERS
    assert VOLUNTEER_HEADERS[:3] == ["姓名", "性别", "出生日期"]
    # 证件号码 is a text column: Excel would keep 15 digits of a number.
    assert sheet.column_dimensions["E"].number_format == "@"
    for kind in ("members", "records"):
        text = gql.http.get(f"/imports/templates/{kind}.csv", headers={"Host": "yunnan.localhost"})
        assert text.content.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads UTF-8
        header = text.content.decode("utf-8-sig").strip().split(",")
        assert header == [c.header for c in COLUMNS[ImportKind(kind)]]
    missing = gql.http.get(
        "/imports/templates/secrets.xlsx", headers={"Host": "chongqing.localhost"}
    )
    assert missing.status_code == 404
    # The CLI writes the same template.
    out = tmp_path / "records.xlsx"
    call_command("import_rows", "--kind", "records", "--template", str(out))
    written = openpyxl.load_workbook(out).worksheets[0]
    assert [c.value for c in written[1]] == [c.header for c in COLUMNS[ImportKind.RECORDS]]
    assert "records" in capsys.readouterr().out


def test_group_imports_volunteers_from_xlsx_and_a_rerun_imports_nothing_twice(gql, seed_regions):
    h = hierarchy("chongqing")
    admin = login(gql, "chongqing", h.admins["team"])
    # Filled in from the downloaded template, as an operator would.
    template = gql.http.get(
        "/imports/templates/volunteers.xlsx", headers={"Host": "chongqing.localhost"}
    )
    workbook = openpyxl.load_workbook(io.BytesIO(template.content))
    people = [person(), person(datetime.date(1988, 12, 1)), person(datetime.date(2001, 7, 7))]
    people[1]["性别"] = "male"  # the English value is read too
    people[2]["出生日期"] = datetime.datetime(2001, 7, 7)  # an Excel date cell
    content = xlsx_file(None, rows_of(VOLUNTEER_HEADERS, people), workbook)
    group = gid("chongqing", h.team)
    body = upload(gql, "chongqing", "VOLUNTEERS", content, token=admin, group=group)
    payload = body["data"]["importRows"]
    assert payload["errors"] == [], payload
    report = payload["report"]
    assert report["rows"] == 3 and report["imported"] == 3 and report["committed"], report
    assert [o["line"] for o in report["outcomes"]] == [2, 3, 4]
    numbers = [o["key"] for o in report["outcomes"]]
    with tenant_context(region("chongqing")):
        for number, row in zip(numbers, people, strict=True):
            volunteer = Volunteer.objects.get(number=number)
            assert volunteers.find_by_id_number(row["证件号码"]) == volunteer
            # Encrypted at rest and masked, as any registration.
            assert row["证件号码"] not in volunteer.id_number_encrypted
            assert "*" in volunteer.id_number_masked
            assert volunteer.skills == ["急救", "心理疏导"]
            assert Membership.objects.get(volunteer=volunteer).status == MembershipStatus.ACTIVE
        audited = AuditEntry.objects.filter(action="volunteer.registered", target__in=numbers)
        assert audited.count() == 3
    again = upload(gql, "chongqing", "VOLUNTEERS", content, token=admin, group=group)
    report = again["data"]["importRows"]["report"]
    assert (report["imported"], report["alreadyPresent"], report["failed"]) == (0, 3, 0)
    assert {o["outcome"] for o in report["outcomes"]} == {"ALREADY_PRESENT"}
    assert [o["key"] for o in report["outcomes"]] == numbers
    with tenant_context(region("chongqing")):
        assert Membership.objects.filter(group=h.team).count() == 3


# English headers (the API's field names) are accepted too.
ENGLISH_HEADER = ["name", "gender", "idNumber", "phone", "birthDate"]


def _mixed_file(encoding="utf-8-sig") -> tuple[bytes, list[str]]:
    good = id_number(datetime.date(1993, 1, 2))
    bad_check = id_number(datetime.date(1994, 2, 3))
    bad_check = bad_check[:-1] + ("0" if bad_check[-1] != "0" else "1")
    wrong_gender = id_number(datetime.date(1995, 3, 4))
    bad_date = id_number(datetime.date(1996, 4, 5))
    rows = [
        ["赵一", "男", good, phone(), ""],
        ["钱二", "女", bad_check, "12345", ""],  # two problems in one row
        ["孙三", "未知", wrong_gender, phone(), ""],
        ["李四", "女", bad_date, phone(), "1996年13月40日"],
    ]
    return csv_file(ENGLISH_HEADER, rows, encoding), [good, bad_check, wrong_gender, bad_date]


def test_every_problem_is_reported_by_line_and_column_and_nothing_is_imported(gql, seed_regions):
    h = hierarchy("chongqing")
    admin = login(gql, "chongqing", h.admins["team"])
    content, ids = _mixed_file()
    team = gid("chongqing", h.team)
    body = upload(gql, "chongqing", "VOLUNTEERS", content, token=admin, group=team)
    payload = body["data"]["importRows"]
    assert payload["errors"][0]["field"] == "file" and payload["errors"][0]["code"] == "INVALID"
    report = payload["report"]
    assert not report["committed"] and report["imported"] == 0, report
    assert (report["rows"], report["failed"]) == (4, 3)
    where = {(p["line"], p["column"], p["code"]) for p in report["problems"]}
    assert {(3, "idNumber", "INVALID"), (3, "phone", "INVALID")} <= where
    assert (4, "gender", "INVALID") in where
    assert (5, "birthDate", "INVALID") in where
    # The valid row passed but was not kept: all or nothing.
    assert report["outcomes"] == [{"line": 2, "outcome": "VALID", "key": ""}]
    assert all(find("chongqing", i) is None for i in ids)
    # Chinese first: without Accept-Language the messages are in Chinese.
    chinese = GraphQLClient(gql.base_url, language=None)
    body = upload(chinese, "chongqing", "VOLUNTEERS", content, token=admin, group=team)
    messages = [p["message"] for p in body["data"]["importRows"]["report"]["problems"]]
    assert all(re.search(r"[\u4e00-\u9fff]", m) for m in messages), messages
    assert re.search(r"[\u4e00-\u9fff]", body["data"]["importRows"]["errors"][0]["message"])


def test_the_valid_rows_choice_keeps_only_the_valid_rows(gql, seed_regions):
    h = hierarchy("chongqing")
    admin = login(gql, "chongqing", h.admins["team"])
    content, ids = _mixed_file(encoding="gb18030")  # what Chinese Excel saves as CSV
    group = gid("chongqing", h.team)
    body = upload(gql, "chongqing", "VOLUNTEERS", content, token=admin, group=group, valid=True)
    payload = body["data"]["importRows"]
    assert payload["errors"] == []
    report = payload["report"]
    assert report["committed"] and report["validRowsOnly"], report
    assert (report["imported"], report["failed"]) == (1, 3)
    assert find("chongqing", ids[0]) is not None
    assert all(find("chongqing", i) is None for i in ids[1:])
    assert {p["line"] for p in report["problems"]} == {3, 4, 5}


def test_members_are_invited_once_by_number_or_by_id_number_and_name(gql, seed_regions):
    h = hierarchy("chongqing")
    admin = login(gql, "chongqing", h.admins["team"])
    by_number, _ = register_volunteer("chongqing", name="周五")
    birth = datetime.date(1987, 6, 6)
    by_id = id_number(birth)
    register_volunteer("chongqing", name="吴六", idNumber=by_id, birthDate=birth.isoformat())
    content = csv_file(
        ["志愿者编号", "证件号码", "姓名"],
        [
            [by_number.number, "", ""],
            ["", by_id, "吴六"],
            ["", by_id, "别人"],  # the wrong name: no such volunteer (no oracle)
            ["50000026999999999", "", ""],
        ],
    )
    group = gid("chongqing", h.team)
    body = upload(gql, "chongqing", "MEMBERS", content, token=admin, group=group, valid=True)
    report = body["data"]["importRows"]["report"]
    assert (report["imported"], report["failed"]) == (2, 2), report
    assert {(p["line"], p["code"]) for p in report["problems"]} == {
        (4, "NOT_FOUND"),
        (5, "NOT_FOUND"),
    }
    with tenant_context(region("chongqing")):
        invited = Membership.objects.filter(group=h.team, status=MembershipStatus.INVITED)
        assert invited.count() == 2  # invitations: the volunteers decide (finding 1)
    again = upload(gql, "chongqing", "MEMBERS", content, token=admin, group=group, valid=True)
    report = again["data"]["importRows"]["report"]
    assert (report["imported"], report["alreadyPresent"]) == (0, 2), report
    with tenant_context(region("chongqing")):
        assert Membership.objects.filter(group=h.team).count() == 2


RECORD_HEADER = [
    "志愿者编号",
    "姓名",
    "服务日期",
    "开始时间",
    "结束时间",
    "服务时长",
    "服务内容",
    "守时",
]


def test_records_import_by_the_recorder_with_the_record_key(gql, seed_regions):
    s = stage(gql, "yunnan", participants=2)
    (first, _), (second, _) = s.volunteers
    day = days_ago(3)
    rows = [
        [first.number, first.name, day.isoformat(), "09:00", "11:30", "2.5", "陪老人读报", "5"],
        [second.number, "", day.isoformat(), "14:00", "16:00", "2", "整理图书", ""],
    ]
    book = openpyxl.Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    sheet.append(RECORD_HEADER)
    # Excel cells: a date and times as Excel stores them.
    sheet.append(
        [first.number, "", datetime.datetime.combine(day, datetime.time()),
         datetime.time(13, 0), datetime.time(14, 0), 1, "陪老人散步", 4]
    )  # fmt: skip
    content = xlsx_file(None, rows, book)
    body = upload(gql, "yunnan", "RECORDS", content, token=s.recorder, project=s.project_id)
    report = body["data"]["importRows"]["report"]
    assert report["committed"] and report["imported"] == 3, report
    with tenant_context(region("yunnan")):
        made = ServiceRecord.objects.filter(volunteer=first)
        assert sorted(str(r.hours) for r in made) == ["1.00", "2.50"]
        # 云南's lifecycle, as for any entry: publicity first (001 §4(4)3).
        assert {r.state for r in made} == {"in_publicity"}
    # A re-run finds every record by its key (volunteer, project, date, start time).
    again = upload(gql, "yunnan", "RECORDS", content, token=s.recorder, project=s.project_id)
    report = again["data"]["importRows"]["report"]
    assert (report["imported"], report["alreadyPresent"], report["failed"]) == (0, 3, 0), report
    # The services' rules hold row by row: an overlap, more hours than the stretch.
    clash = csv_file(
        RECORD_HEADER,
        [
            [first.number, "", day.isoformat(), "10:00", "12:00", "1", "又一次", ""],
            [second.number, "", days_ago(2).isoformat(), "08:00", "09:00", "3", "太长", ""],
            [
                second.number,
                "张冒名",
                days_ago(2).isoformat(),
                "10:00",
                "11:00",
                "1",
                "名字不符",
                "",
            ],
        ],
    )
    body = upload(gql, "yunnan", "RECORDS", clash, token=s.recorder, project=s.project_id)
    report = body["data"]["importRows"]["report"]
    where = {(p["line"], p["column"], p["code"]) for p in report["problems"]}
    assert where == {
        (2, "开始时间", "CONFLICT"),
        (3, "服务时长", "INVALID"),
        (4, "姓名", "INVALID"),
    }
    with tenant_context(region("yunnan")):
        assert ServiceRecord.objects.filter(volunteer__in=[first, second]).count() == 3


def test_who_may_import_what_follows_the_scopes(gql, seed_regions):
    h = hierarchy("chongqing")
    other = hierarchy("chongqing")
    team = gid("chongqing", h.team)
    content = csv_file(["姓名", "性别", "证件号码", "手机号码"],
                       [["郑七", "男", id_number(datetime.date(1990, 9, 9)), phone()]])  # fmt: skip
    _, username = register_volunteer("chongqing")
    s = stage(gql, "chongqing")
    record_rows = csv_file(
        RECORD_HEADER, [[s.volunteers[0][0].number, "", days_ago(1).isoformat(), "09:00",
                         "10:00", "1", "服务", ""]])  # fmt: skip
    refused = [
        ("VOLUNTEERS", content, None, team, None),  # no token
        ("VOLUNTEERS", content, login(gql, "chongqing", username), None, None),  # a volunteer
        ("VOLUNTEERS", content, login(gql, "chongqing", other.admins["team"]), team, None),
        ("MEMBERS", content, login(gql, "chongqing", other.admins["team"]), team, None),
        ("MEMBERS", content, s.recorder, gid("chongqing", s.h.team), None),  # not an admin
        ("RECORDS", record_rows, login(gql, "chongqing", other.admins["team"]), None, s.project_id),
        ("RECORDS", record_rows, authority(gql, "chongqing"), None, s.project_id),
        ("RECORDS", record_rows, login(gql, "yunnan", authority_account("yunnan")), None,
         s.project_id),
    ]  # fmt: skip
    for kind, file, token, group, project in refused:
        body = upload(gql, "chongqing", kind, file, token=token, group=group, project=project)
        code = body["errors"][0]["extensions"]["code"]
        assert code in ("UNAUTHENTICATED", "PERMISSION_DENIED"), (kind, body)
        assert body["data"] is None or body["data"]["importRows"] is None
    assert find("chongqing", content.decode("utf-8-sig").split(",")[-2]) is None
    with tenant_context(region("chongqing")):
        assert not ServiceRecord.objects.filter(volunteer=s.volunteers[0][0]).exists()
    # An authority imports volunteers into its own area only, row by row.
    county = authority(gql, "chongqing", "county")  # 500101
    inside = person(datetime.date(1979, 1, 1))
    outside = person(datetime.date(1979, 1, 2), area="500102", **{"所在县（区）": "500102"})
    file = csv_file(VOLUNTEER_HEADERS, rows_of(VOLUNTEER_HEADERS, [inside, outside]))
    body = upload(gql, "chongqing", "VOLUNTEERS", file, token=county, valid=True)
    report = body["data"]["importRows"]["report"]
    assert report["imported"] == 1, report
    assert [(p["line"], p["column"], p["code"]) for p in report["problems"]] == [
        (3, "所在县（区）", "PERMISSION_DENIED")
    ]
    assert find("chongqing", inside["证件号码"]).division_code == "500101"
    assert find("chongqing", outside["证件号码"]) is None


@pytest.mark.parametrize(
    ("content", "filename", "words"),
    [
        (b"", "empty.csv", "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", ".xls"),
        (b"PK\x03\x04 not really a zip", "fake.xlsx", "XLSX"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "photo.png", "XLSX"),
        ("姓名,年龄\n王,3\n".encode(), "wrong.csv", "年龄"),
        ("\ufeff姓名,性别,证件号码,手机号码\n".encode(), "header-only.csv", "no rows"),
        (b"\xef\xbb\xbf" + b"\n" * 3, "blank.csv", "header"),
    ],
)
def test_bad_files_get_a_clear_typed_error(gql, seed_regions, content, filename, words):
    h = hierarchy("chongqing")
    admin = login(gql, "chongqing", h.admins["team"])
    group = gid("chongqing", h.team)
    body = upload(gql, "chongqing", "VOLUNTEERS", content, token=admin, group=group,
                  filename=filename)  # fmt: skip
    payload = body["data"]["importRows"]
    assert payload["report"] is None, payload
    assert {e["field"] for e in payload["errors"]} == {"file"}
    assert {e["code"] for e in payload["errors"]} == {"INVALID"}
    assert any(words in e["message"] for e in payload["errors"]), payload


def test_a_file_over_the_size_limit_is_refused_before_reading(gql, seed_regions):
    h = hierarchy("chongqing")
    admin = login(gql, "chongqing", h.admins["team"])
    content = csv_file(VOLUNTEER_HEADERS, []) + b"," * settings.UPLOAD_MAX_BYTES
    team = gid("chongqing", h.team)
    body = upload(gql, "chongqing", "VOLUNTEERS", content, token=admin, group=team)
    errors = body["data"]["importRows"]["errors"]
    assert errors[0]["field"] == "file" and "KiB" in errors[0]["message"], errors


def test_the_cli_imports_with_progress_and_a_summary(seed_regions, tmp_path, capsys):
    h = hierarchy("fuxin")
    people = [person(datetime.date(1980, 1, d), area="210902") for d in (1, 2, 3)]
    people.append(person(datetime.date(1980, 1, 4), area="210902", 手机号码="110"))
    path = tmp_path / "people.csv"
    path.write_bytes(csv_file(VOLUNTEER_HEADERS, rows_of(VOLUNTEER_HEADERS, people)))
    argv = ["--region", "210900", "--kind", "volunteers", "--group", str(h.team.id)]
    argv += ["--as", h.admins["team"], str(path)]
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_rows", *argv)
    out = capsys.readouterr()
    assert "line 5, 手机号码 (phone)" in out.out and "nothing committed" in out.out
    assert "4 rows" in out.err  # the progress line
    assert all(find("fuxin", p["证件号码"]) is None for p in people)
    call_command("import_rows", *argv, "--valid-rows")
    out = capsys.readouterr()
    assert "imported 3" in out.out and "committed" in out.out, out.out
    call_command("import_rows", *argv, "--valid-rows")
    assert "already present 3" in capsys.readouterr().out
    # Without --as the operator acts as the region's authority; a group's members
    # need one of its admins.
    with pytest.raises(CommandError, match="not an admin"):
        call_command("import_rows", "--region", "210900", "--kind", "members", "--group",
                     str(h.team.id), str(path))  # fmt: skip


def test_sql_per_row_does_not_grow_with_the_file(seed_regions):
    """Each row costs the same statements, whatever the file's length."""
    h = hierarchy("chongqing")
    target = region("chongqing")

    def statements(n: int) -> int:
        people = [person(datetime.date(1970, 1 + i // 28, 1 + i % 28)) for i in range(n)]
        file = io.BytesIO(csv_file(VOLUNTEER_HEADERS, rows_of(VOLUNTEER_HEADERS, people)))
        with tenant_context(target), CaptureQueriesContext(connection) as captured:
            report = imports.import_rows(
                kind=ImportKind.VOLUNTEERS, stream=file, size=len(file.getvalue()), max_bytes=10**6,
                region=target, policy=target.get_policy(),
                principal=principal_of_account(h.admins["team"]), group_id=h.team.id,
            )  # fmt: skip
        assert report.imported == n, report.problems
        return len(captured.captured_queries)

    four, eight, sixteen = statements(4), statements(8), statements(16)
    per_row = (eight - four) // 4
    assert eight - four == 4 * per_row and sixteen - eight == 8 * per_row, (four, eight, sixteen)
    assert per_row <= 16, per_row


def test_the_readme_describes_the_import_with_a_valid_example():
    from graphql import build_schema, parse, validate

    from schema.region import schema

    section = readme_section("The operators' day").split("### Bulk import\n")[1]
    section = section.split("\n### ")[0]
    assert "/imports/templates/volunteers.xlsx" in section and "001 §4(4)3" in section
    [example] = [block for block in code_blocks(section) if block.startswith("mutation")]
    assert validate(build_schema(schema.as_str()), parse(example)) == []
    [shell] = [block for block in code_blocks(section) if "import_rows" in block]
    assert shell.count("manage.py import_rows") == 3


def test_an_id_number_excel_stored_as_a_number_is_named(gql, seed_regions):
    h = hierarchy("chongqing")
    admin = login(gql, "chongqing", h.admins["team"])
    row = person(datetime.date(1992, 2, 2))
    as_number = [row["姓名"], row["性别"], "", "", int(row["证件号码"][:17] + "0"), row["手机号码"]]
    content = xlsx_file(VOLUNTEER_HEADERS[:6], [as_number])
    body = upload(gql, "chongqing", "VOLUNTEERS", content, token=admin,
                  group=gid("chongqing", h.team), filename="people.xlsx")  # fmt: skip
    [problem] = body["data"]["importRows"]["report"]["problems"]
    assert (problem["line"], problem["column"]) == (2, "证件号码"), problem
    assert "15 digits" in problem["message"]


def test_a_record_row_without_a_service_date_is_a_problem_of_its_row(gql, seed_regions):
    """An empty date cell is reported on its line and column. It used to reach the
    record service as None and fail comparing it with a date (found by mypy: the
    service is typed to take a date)."""
    s = stage(gql, "yunnan", participants=1)
    [(first, _)] = s.volunteers
    content = csv_file(
        RECORD_HEADER,
        [
            [first.number, "", "", "09:00", "10:00", "1", "无日期", ""],
            [first.number, "", days_ago(4).isoformat(), "", "10:00", "1", "无开始时间", ""],
        ],
    )
    body = upload(gql, "yunnan", "RECORDS", content, token=s.recorder, project=s.project_id)
    assert "errors" not in body, body
    report = body["data"]["importRows"]["report"]
    where = {(p["line"], p["column"], p["code"]) for p in report["problems"]}
    assert where == {(2, "服务日期", "INVALID"), (3, "开始时间", "INVALID")}, report
    assert not report["committed"] and report["imported"] == 0
