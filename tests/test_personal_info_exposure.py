"""Issue 10 finding 4: the mask must hide the ID number.

``idNumberMasked`` keeps digits 1–4 and 15–18; digits 7–14 of a resident ID
number are the birth date. Whoever may not reveal a volunteer's personal
information (services.may_reveal) must get neither the birth date nor digits
5–14 from any field of any Volunteer reached through the API — else the ID
number is a handful of guesses away, with no reveal logged.
"""

from __future__ import annotations

import json
import secrets

import pytest
from django_tenants.utils import tenant_context
from graphql import GraphQLNonNull, get_named_type, is_leaf_type

from tenants.volunteers import pii
from tenants.volunteers.models import PersonalInfoAccess
from tests.records_support import stage
from tests.registry_support import (
    REGISTER_VOLUNTEER,
    authority,
    login,
    region,
    register_volunteer,
    volunteer_input,
)
from tests.support import execute_in_process, gid

# Every field of the region API typed Volunteer, and how the walk below reaches it.
COVERED = {
    ("Query", "volunteer"): "volunteer(number:)",
    ("Volunteer", "memberships"): "through Membership.volunteer",
    ("Membership", "volunteer"): "group.members, group.applications, volunteer.memberships",
    ("GroupVolunteerEdge", "node"): "group.volunteers",
    ("VolunteerEdge", "node"): "volunteers",
    ("Me", "volunteer"): "me",
    ("Transfer", "volunteer"): "transfers (refused to group staff)",
    ("VolunteerPayload", "volunteer"): "mutations (refused to whoever may not manage)",
}


def _schema():
    from schema.region import schema

    return schema._schema


def _volunteer_typed_fields() -> set[tuple[str, str]]:
    found = set()
    for name, graphql_type in _schema().type_map.items():
        if name.startswith("__") or not hasattr(graphql_type, "fields"):
            continue
        for field_name, field in graphql_type.fields.items():
            if get_named_type(field.type).name == "Volunteer":
                found.add((name, field_name))
    return found


def _leaves() -> str:
    """Every scalar or enum field of Volunteer that needs no argument (as the schema
    has them now: a field added later is walked too)."""
    fields = _schema().get_type("Volunteer").fields
    return " ".join(
        name
        for name, field in fields.items()
        if is_leaf_type(get_named_type(field.type))
        and not any(isinstance(a.type, GraphQLNonNull) for a in field.args.values())
    )


def _secrets(volunteer) -> tuple[str, list[str]]:
    with tenant_context(region("chongqing")):
        id_number = pii.decrypt(volunteer.id_number_encrypted)
    born = volunteer.birth_date
    return id_number, [id_number[4:14], born.isoformat(), born.strftime("%Y%m%d")]


def _volunteers_in(answer) -> list[dict]:
    """Every object in an answer that has a volunteer's ``number`` and ``birthDate``."""
    found = []

    def walk(value):
        if isinstance(value, dict):
            if "number" in value and "birthDate" in value:
                found.append(value)
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(answer)
    return found


def test_every_volunteer_typed_field_is_walked():
    """A new field typed Volunteer fails here until the walk below covers it."""
    assert _volunteer_typed_fields() | {("Volunteer", "memberships")} == set(COVERED)


def test_group_staff_who_may_not_reveal_get_no_birth_date_and_no_hidden_digits(gql, seed_regions):
    s = stage(gql, "chongqing", participants=2)
    (volunteer, username), (other, _) = s.volunteers
    applicant, applicant_name = register_volunteer("chongqing")
    apply = """mutation($g: ID!) { applyToGroup(groupId: $g) { errors { message } } }"""
    applied = gql.region(
        "chongqing",
        apply,
        {"g": gid(s.slug, s.h.team)},
        token=login(gql, "chongqing", applicant_name),
    )
    assert applied["data"]["applyToGroup"]["errors"] == []
    leaves = _leaves()
    assert "birthDate" in leaves and "idNumberMasked" in leaves
    queries = {
        "volunteer": (
            f"""query($n: String!) {{ volunteer(number: $n) {{ {leaves}
              memberships {{ volunteer {{ {leaves} }} }} }} }}""",
            {"n": volunteer.number},
        ),
        "volunteers": (
            f"""query($g: ID!) {{ volunteers(first: 50, filter: {{groupId: $g}}) {{
              edges {{ node {{ {leaves} }} }} }} }}""",
            {"g": gid(s.slug, s.h.team)},
        ),
        "group": (
            f"""query($g: ID!) {{ group(id: $g) {{ members {{ volunteer {{ {leaves} }} }}
              applications {{ volunteer {{ {leaves} }} applicant {{ number ageBand }} }}
              volunteers(first: 50) {{ edges {{ node {{ {leaves} }} }} }} }} }}""",
            {"g": gid(s.slug, s.h.team)},
        ),
        "me": (f"{{ me {{ volunteer {{ {leaves} }} }} }}", {}),
        "transfers": (f"{{ transfers {{ volunteer {{ {leaves} }} }} }}", {}),
        "payload": (
            f"""mutation($n: String!) {{ reviewVolunteerVerification(number: $n, approve: true,
              reason: "") {{ volunteer {{ {leaves} }} errors {{ message }} }} }}""",
            {"n": volunteer.number},
        ),
    }
    people = {p.number: p for p in (volunteer, other, applicant)}
    with tenant_context(region("chongqing")):
        logged = PersonalInfoAccess.objects.count()
    seen = set()
    for name, (query, variables) in queries.items():
        answer = gql.region("chongqing", query, variables, token=s.recorder)
        text = json.dumps(answer, ensure_ascii=False)
        for number, person in people.items():
            _, hidden = _secrets(person)
            for secret in hidden:
                assert secret not in text, (name, number, secret)
        for shown in _volunteers_in(answer):
            assert shown["birthDate"] is None, (name, shown)
            assert shown["ageBand"] == "35-59" and "*" in shown["idNumberMasked"], shown
            seen.add((name, shown["number"]))
    # The walk did reach every volunteer where the recorder may see them.
    assert {(n, v.number) for n in ("volunteer", "group") for v in (volunteer,)} <= seen
    assert ("volunteers", volunteer.number) in seen
    # An applicant is not a member: the group gets the applicant's card (an age band),
    # not the volunteer (issue 10 finding 1).
    group_page = gql.region("chongqing", *queries["group"], token=s.recorder)["data"]["group"]
    (shown,) = [
        a for a in group_page["applications"] if a["applicant"]["number"] == applicant.number
    ]
    assert shown["volunteer"] is None and shown["applicant"]["ageBand"] == "35-59"
    with tenant_context(region("chongqing")):
        assert PersonalInfoAccess.objects.count() == logged  # nothing revealed, nothing logged

    # Whoever may reveal gets the date: the group's admin (本团体内志愿者管理), a
    # county authority, and the volunteer themself.
    page = """query($g: ID!) { group(id: $g) { volunteers(first: 50) { edges { node {
      number birthDate ageBand } } } } }"""
    for token in (s.admin, authority(gql, "chongqing", "county")):
        answer = gql.region("chongqing", page, {"g": gid(s.slug, s.h.team)}, token=token)
        dates = {
            e["node"]["number"]: e["node"]["birthDate"]
            for e in answer["data"]["group"]["volunteers"]["edges"]
        }
        assert dates[volunteer.number] == volunteer.birth_date.isoformat()
    own = gql.region(
        "chongqing", "{ me { volunteer { birthDate } } }", token=login(gql, "chongqing", username)
    )
    assert own["data"]["me"]["volunteer"]["birthDate"] == volunteer.birth_date.isoformat()


PAGE = """query($g: ID!, $first: Int!) { group(id: $g) {
  volunteers(first: $first) { edges { node { number birthDate } } }
  members { volunteer { number birthDate } } } }"""


def test_birth_dates_cost_no_query_per_row(gql, seed_regions):
    """may_reveal for each volunteer of a page reads what the page loaded: the
    statement count does not grow with the page, for the admin (who may reveal
    through the volunteers' memberships) and the recorder (who may not)."""
    s = stage(gql, "chongqing", participants=4)
    group = gid(s.slug, s.h.team)
    for token, reveals in ((s.admin, True), (s.recorder, False)):
        _, small_sql = execute_in_process("chongqing", PAGE, {"g": group, "first": 1}, token)
        large, large_sql = execute_in_process("chongqing", PAGE, {"g": group, "first": 4}, token)
        assert "errors" not in large, large
        nodes = [e["node"] for e in large["data"]["group"]["volunteers"]["edges"]]
        nodes += [m["volunteer"] for m in large["data"]["group"]["members"]]
        assert len(nodes) == 8
        assert all((n["birthDate"] is not None) == reveals for n in nodes), nodes
        assert len(small_sql) == len(large_sql), (small_sql, large_sql)


def test_registration_and_transfers_store_personal_info_one_way():
    """The stored forms of an ID number and a phone come from one function
    (``pii.protected_fields``), registration's and a transfer import's alike: each
    value normalised first, so spaces or a lowercase x in a package change nothing."""
    stored = pii.protected_fields(" 11010519491231002x ", "138 1234 5678")
    assert stored == pii.protected_fields("11010519491231002X", "13812345678") | {
        "id_number_encrypted": stored["id_number_encrypted"],
        "phone_encrypted": stored["phone_encrypted"],
    }
    assert pii.decrypt(stored["id_number_encrypted"]) == "11010519491231002X"
    assert pii.decrypt(stored["phone_encrypted"]) == "13812345678"
    assert stored["id_number_masked"] == "1101**********002X"
    assert stored["phone_masked"] == "138****5678"
    assert stored["phone_hash"] == pii.keyed_hash("phone", "13812345678")


def _shown(masked: str, number: str) -> int:
    """How many characters of ``number`` the mask shows."""
    assert len(masked) == len(number), (masked, number)
    return sum(1 for m, c in zip(masked, number, strict=True) if m != "*" and m == c)


# Every case through the service: tests/fast/test_volunteers.py; here one, through the API.
@pytest.mark.parametrize(("id_type", "prefix"), [("PASSPORT", "E")])
def test_a_short_id_number_stays_mostly_hidden(gql, seed_regions, id_type, prefix):
    """000 Art.3 (不得侵犯志愿者个人隐私) and README "Personal information": the mask
    must leave thousands of candidates. Four characters at each end of a
    9-character passport or 港澳通行证 number left one hidden — ten guesses, to
    any group staff who may not reveal, on the public certificate page too. Now
    a number shorter than 15 shows two at each end (five or more hidden)."""
    s = stage(gql, "chongqing")
    number = prefix + "".join(secrets.choice("0123456789") for _ in range(8))
    data = volunteer_input(idType=id_type, idNumber=number, username="", password="")
    done = gql.region(
        "chongqing",
        REGISTER_VOLUNTEER,
        {"input": data, "groupId": gid(s.slug, s.h.team)},
        token=s.admin,
    )["data"]["registerVolunteer"]
    assert done["errors"] == [], done
    seen = gql.region(
        "chongqing",
        "query($n: String!) { volunteer(number: $n) { idNumberMasked birthDate } }",
        {"n": done["volunteer"]["number"]},
        token=s.recorder,  # sees the team's members, may not reveal them
    )["data"]["volunteer"]
    assert seen["birthDate"] is None
    masked = seen["idNumberMasked"]
    assert _shown(masked, number) <= 4 and masked.count("*") >= 5, masked
    assert masked == number[:2] + "*****" + number[-2:]
    # A resident ID number keeps its mask (digits 1–4 and 15–18: never the date).
    assert pii.mask_id_number("11010519491231002X") == "1101**********002X"


def test_masks_stored_before_are_narrowed(seed_regions):
    """The migration narrows masks stored the old way; a mask made now is unchanged
    (what verification shows of an older certificate goes through the same)."""
    from importlib import import_module

    from django.db import connection

    from tests.registry_support import register_volunteer as registered

    narrow = import_module("tenants.volunteers.migrations.0006_narrow_short_id_masks").NARROW
    volunteer, _ = registered("chongqing")
    with tenant_context(region("chongqing")):
        from tenants.volunteers.models import Volunteer

        Volunteer.objects.filter(id=volunteer.id).update(id_number_masked="E123*5678")
        with connection.cursor() as cursor:
            cursor.execute(narrow)
        assert Volunteer.objects.get(id=volunteer.id).id_number_masked == "E1*****78"
        Volunteer.objects.filter(id=volunteer.id).update(
            id_number_masked=pii.mask_id_number(pii.decrypt(volunteer.id_number_encrypted))
        )
    assert pii.narrow_mask("E123*5678") == "E1*****78"
    assert pii.narrow_mask("E1*****78") == "E1*****78"
    assert pii.narrow_mask("1101**********002X") == "1101**********002X"
