"""Issue 3 §2–3, §7: the volunteer registry through the real GraphQL endpoint."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from stdnum.iso7064 import mod_11_2

from central.models import HomeRegion
from tenants.audit.models import AuditEntry
from tenants.volunteers.models import PersonalInfoAccess, Volunteer
from tenants.volunteers.services import volunteer_number
from tests.registry_support import (
    REGISTER_VOLUNTEER,
    accept_invitations,
    authority,
    hierarchy,
    id_number,
    login,
    region,
    register_volunteer,
    unique,
    volunteer_input,
)
from tests.support import execute_in_process, gid


def counts(slug: str) -> tuple[int, int, int]:
    with tenant_context(region(slug)):
        # A refusal writes nothing but its own audit entry (audit round 3: every
        # "already registered" refusal is logged, tests/test_oracles_round3.py).
        audited = AuditEntry.objects.exclude(action="volunteer.registration_refused")
        return (Volunteer.objects.count(), audited.count(), HomeRegion.objects.count())


def test_self_registration_assigns_a_number_and_masks_personal_info(gql, seed_regions):
    data = volunteer_input()
    body = gql.region("chongqing", REGISTER_VOLUNTEER, {"input": data})
    payload = body["data"]["registerVolunteer"]
    assert payload["errors"] == []
    volunteer = payload["volunteer"]
    number = volunteer["number"]
    # 志愿者编号: division code + two-digit year + 8-digit sequence + MOD 11-2 check.
    assert number.startswith("500000" + f"{timezone.localdate().year % 100:02d}")
    assert len(number) == 17 and mod_11_2.is_valid(number)
    assert volunteer["idNumberMasked"] == data["idNumber"][:4] + "*" * 10 + data["idNumber"][-4:]
    assert volunteer["phoneMasked"] == data["phone"][:3] + "****" + data["phone"][-4:]
    assert (volunteer["verification"], volunteer["status"]) == ("PENDING", "ACTIVE")
    # At rest: neither the ID number nor the phone appears in plain text anywhere in the row.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT row_to_json(v)::text FROM region_chongqing.volunteers_volunteer v "
            "WHERE number = %s",
            [number],
        )
        row = cursor.fetchone()[0]
    assert data["idNumber"] not in row and data["phone"] not in row
    assert data["idNumber"][6:14] not in row.replace(data["birthDate"].replace("-", ""), "")


def test_volunteer_number_format_is_documented():
    assert volunteer_number("500000", 2026, 1) == "5000002600000001" + mod_11_2.calc_check_digit(
        "5000002600000001"
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"idNumber": "500101199005171230"[:-1] + "5"}, "idNumber"),  # bad check digit
        ({"idNumber": "12345"}, "idNumber"),
        ({"idNumber": id_number(datetime.date(1990, 5, 17), area="990101")}, "idNumber"),
        ({"birthDate": "1991-05-17"}, "birthDate"),  # disagrees with the ID number
        ({"birthDate": "2999-01-01"}, "birthDate"),
        ({"phone": "12345"}, "phone"),
        ({"name": ""}, "name"),
        ({"idType": "PASSPORT", "idNumber": "??"}, "idNumber"),
        ({"username": "x"}, "username"),
        ({"password": "short"}, "password"),
        ({"skills": [""]}, "skills"),
    ],
)
def test_bad_registration_is_refused_and_writes_nothing(gql, seed_regions, overrides, field):
    before = counts("chongqing")
    body = gql.region("chongqing", REGISTER_VOLUNTEER, {"input": volunteer_input(**overrides)})
    payload = body["data"]["registerVolunteer"]
    assert payload["volunteer"] is None
    assert field in {e["field"] for e in payload["errors"]}, payload["errors"]
    assert counts("chongqing") == before


def test_minor_needs_guardian_consent_where_the_policy_says_so(gql, seed_regions):
    # 003 Art.7 (阜新): under 18 only with a guardian's consent.
    today = timezone.localdate()
    birth = datetime.date(today.year - 16, 3, 1)
    minor = volunteer_input(birth=birth, idNumber=id_number(birth, area="210902"))
    before = counts("fuxin")
    refused = gql.region("fuxin", REGISTER_VOLUNTEER, {"input": minor})["data"]
    assert refused["registerVolunteer"]["errors"][0]["field"] == "guardianConsent"
    assert "003 Art.7" in refused["registerVolunteer"]["errors"][0]["message"]
    assert counts("fuxin") == before
    consented = {**minor, "guardianName": "李父", "guardianConsent": True}
    body = gql.region("fuxin", REGISTER_VOLUNTEER, {"input": consented})["data"]
    assert body["registerVolunteer"]["errors"] == []
    # 重庆 has no such rule: the same minor registers without consent.
    other = volunteer_input(birth=birth, idNumber=id_number(birth))
    body = gql.region("chongqing", REGISTER_VOLUNTEER, {"input": other})["data"]
    assert body["registerVolunteer"]["errors"] == []


def test_one_home_region_per_person(gql, seed_regions):
    data = volunteer_input()
    first = gql.region("chongqing", REGISTER_VOLUNTEER, {"input": data})["data"]
    assert first["registerVolunteer"]["errors"] == []
    again = gql.region(
        "chongqing", REGISTER_VOLUNTEER, {"input": {**data, "username": unique("vol")}}
    )["data"]
    assert again["registerVolunteer"]["errors"][0]["code"] == "CONFLICT"
    before = counts("yunnan")
    elsewhere = gql.region(
        "yunnan", REGISTER_VOLUNTEER, {"input": {**data, "username": unique("vol")}}
    )["data"]
    error = elsewhere["registerVolunteer"]["errors"][0]
    assert error["code"] == "CONFLICT" and error["field"] == "idNumber"
    assert "转移接续" in error["message"]
    assert first["registerVolunteer"]["volunteer"]["number"] not in error["message"]
    assert counts("yunnan") == before


def test_the_home_region_refusal_names_no_region_but_to_the_authority(gql, seed_regions):
    """Issue 10 finding 11: anyone may try an ID number, so an anonymous
    self-registration learns only "already registered; ask for a transfer" — not
    where, and not even whether it is this region; the region's authority
    registering someone is told where the person is."""
    data = volunteer_input()
    first = gql.region("chongqing", REGISTER_VOLUNTEER, {"input": data})["data"]
    assert first["registerVolunteer"]["errors"] == []
    staff = authority(gql, "yunnan", "province")
    before = counts("yunnan"), counts("chongqing")

    def refusal(slug: str, token: str | None = None) -> dict:
        body = gql.region(
            slug, REGISTER_VOLUNTEER, {"input": {**data, "username": unique("vol")}}, token=token
        )
        [error] = body["data"]["registerVolunteer"]["errors"]
        assert (error["code"], error["field"]) == ("CONFLICT", "idNumber")
        return error["message"]

    elsewhere, here = refusal("yunnan"), refusal("chongqing")
    for message in (elsewhere, here):
        assert "转移接续" in message
        for hint in ("重庆", "500000", "Chongqing", "chongqing", "in this region"):
            assert hint not in message, message
    assert elsewhere == here  # the same answer wherever the person is registered
    # The region's authority is told where.
    told = refusal("yunnan", staff)
    assert "重庆市" in told and "转移接续" in told
    assert (counts("yunnan"), counts("chongqing")) == before
    # The authority registers a new person: their account is a new one, not the authority's.
    fresh = volunteer_input(birth=datetime.date(1991, 3, 9))
    registered = gql.region("yunnan", REGISTER_VOLUNTEER, {"input": fresh}, token=staff)["data"]
    assert registered["registerVolunteer"]["errors"] == []
    assert login(gql, "yunnan", fresh["username"])
    me = gql.region("yunnan", "{ me { volunteer { number } } }", token=staff)
    assert me["data"]["me"]["volunteer"] is None, me


def test_group_registers_a_volunteer_directly_into_the_group(gql, seed_regions):
    h = hierarchy("chongqing")
    token = login(gql, "chongqing", h.admins["team"])
    data = volunteer_input(username="", password="")
    body = gql.region(
        "chongqing",
        REGISTER_VOLUNTEER,
        {"input": data, "groupId": gid("chongqing", h.team)},
        token=token,
    )
    payload = body["data"]["registerVolunteer"]
    assert payload["errors"] == []
    assert payload["volunteer"]["memberships"] == [
        {"status": "ACTIVE", "group": {"name": h.team.name}}
    ]
    # Without a token the group route is refused as an access error.
    refused = gql.region(
        "chongqing",
        REGISTER_VOLUNTEER,
        {"input": volunteer_input(), "groupId": gid("chongqing", h.team)},
    )
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


REVEAL = """mutation($n: String!, $r: String!) { revealPersonalInfo(number: $n, reason: $r) {
  idNumber phone errors { field code message } } }"""


def test_reveal_is_allowed_to_the_right_roles_and_logged(gql, seed_regions):
    h = hierarchy("chongqing")
    data = volunteer_input()
    team_admin = login(gql, "chongqing", h.admins["team"])
    volunteer = gql.region("chongqing", REGISTER_VOLUNTEER, {"input": data})["data"][
        "registerVolunteer"
    ]["volunteer"]
    number = volunteer["number"]
    # Not a member of the team yet: its admin may not see the ID number.
    denied = gql.region("chongqing", REVEAL, {"n": number, "r": "核对"}, token=team_admin)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    add = """mutation($g: ID!, $n: String!) { addMember(groupId: $g, number: $n) {
        membership { status } errors { message } } }"""
    added = gql.region(
        "chongqing", add, {"g": gid("chongqing", h.team), "n": number}, token=team_admin
    )
    assert added["data"]["addMember"]["membership"] == {"status": "INVITED"}
    # An invitation gives the group nothing over the volunteer (issue 10 finding 1).
    early = gql.region("chongqing", REVEAL, {"n": number, "r": "核对"}, token=team_admin)
    assert early["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    accept_invitations("chongqing", number)
    shown = gql.region("chongqing", REVEAL, {"n": number, "r": "保险投保核对"}, token=team_admin)
    assert shown["data"]["revealPersonalInfo"] == {
        "idNumber": data["idNumber"],
        "phone": data["phone"],
        "errors": [],
    }
    # The volunteer sees their own; another volunteer does not.
    own = login(gql, "chongqing", data["username"])
    assert (
        gql.region("chongqing", REVEAL, {"n": number, "r": "本人查看"}, token=own)["data"][
            "revealPersonalInfo"
        ]["idNumber"]
        == data["idNumber"]
    )
    _, stranger = register_volunteer("chongqing")
    other = gql.region(
        "chongqing", REVEAL, {"n": number, "r": "好奇"}, token=login(gql, "chongqing", stranger)
    )
    assert other["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    no_reason = gql.region("chongqing", REVEAL, {"n": number, "r": " "}, token=team_admin)
    assert no_reason["data"]["revealPersonalInfo"]["errors"][0]["field"] == "reason"
    with tenant_context(region("chongqing")):
        log = list(
            PersonalInfoAccess.objects.filter(volunteer__number=number)
            .order_by("id")
            .values_list("accessor", "reason")
        )
    assert [reason for _, reason in log] == ["保险投保核对", "本人查看"]
    assert h.admins["team"] in log[0][0]


VERIFY = """mutation($n: String!, $a: Boolean!, $r: String!) {
  reviewVolunteerVerification(number: $n, approve: $a, reason: $r) {
    volunteer { verification verificationReason } errors { field code message } } }"""


def test_real_name_verification_workflow(gql, seed_regions):
    authority_token = authority(gql, "chongqing")
    volunteer, username = register_volunteer("chongqing")
    own = login(gql, "chongqing", username)
    denied = gql.region("chongqing", VERIFY, {"n": volunteer.number, "a": True, "r": ""}, token=own)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    no_reason = gql.region(
        "chongqing", VERIFY, {"n": volunteer.number, "a": False, "r": ""}, token=authority_token
    )["data"]["reviewVolunteerVerification"]
    assert no_reason["errors"][0]["field"] == "reason"
    rejected = gql.region(
        "chongqing",
        VERIFY,
        {"n": volunteer.number, "a": False, "r": "证件照片不清晰"},
        token=authority_token,
    )["data"]["reviewVolunteerVerification"]
    assert rejected["volunteer"] == {
        "verification": "REJECTED",
        "verificationReason": "证件照片不清晰",
    }
    again = gql.region(
        "chongqing", VERIFY, {"n": volunteer.number, "a": True, "r": ""}, token=authority_token
    )["data"]["reviewVolunteerVerification"]
    assert again["errors"][0]["code"] == "CONFLICT"
    other, _ = register_volunteer("chongqing")
    verified = gql.region(
        "chongqing", VERIFY, {"n": other.number, "a": True, "r": ""}, token=authority_token
    )["data"]["reviewVolunteerVerification"]
    assert verified["volunteer"]["verification"] == "VERIFIED"


def test_status_changes(gql, seed_regions):
    authority_token = authority(gql, "chongqing")
    volunteer, _ = register_volunteer("chongqing")
    mutation = """mutation($n: String!, $s: VolunteerStatus!, $r: String!) {
      setVolunteerStatus(number: $n, status: $s, reason: $r) {
        volunteer { status statusReason } errors { field code } } }"""
    warned = gql.region(
        "chongqing",
        mutation,
        {"n": volunteer.number, "s": "WARNED", "r": "多次无故缺席"},
        token=authority_token,
    )
    assert warned["data"]["setVolunteerStatus"]["volunteer"] == {
        "status": "WARNED",
        "statusReason": "多次无故缺席",
    }
    transferred = gql.region(
        "chongqing",
        mutation,
        {"n": volunteer.number, "s": "TRANSFERRED", "r": "x"},
        token=authority_token,
    )
    assert transferred["data"]["setVolunteerStatus"]["errors"] == [
        {"field": "status", "code": "INVALID"}
    ]
    missing = gql.region(
        "chongqing", mutation, {"n": "nope", "s": "WARNED", "r": "x"}, token=authority_token
    )
    assert missing["data"]["setVolunteerStatus"]["errors"] == [
        {"field": "number", "code": "NOT_FOUND"}
    ]


VOLUNTEERS = """query($f: VolunteerFilter, $first: Int!, $after: String) {
  volunteers(filter: $f, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { number name skills memberships { status group { name } } } }
  } }"""


def test_volunteer_list_pagination_filters_and_access(gql, seed_regions):
    authority_token = authority(gql, "yunnan", level="province")
    area = unique("测试区")
    numbers = []
    for index in range(5):
        volunteer, _ = register_volunteer(
            "yunnan",
            idNumber=id_number(datetime.date(1990, 5, 17), area="530102"),
            serviceArea=area,
            skills=["急救" if index % 2 == 0 else "翻译"],
        )
        numbers.append(volunteer.number)
    seen, after = [], None
    while True:
        page = gql.region(
            "yunnan",
            VOLUNTEERS,
            {"f": {"serviceArea": area}, "first": 2, "after": after},
            token=authority_token,
        )["data"]["volunteers"]
        assert page["totalCount"] == 5
        seen += [edge["node"]["number"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == numbers
    skilled = gql.region(
        "yunnan",
        VOLUNTEERS,
        {"f": {"serviceArea": area, "skill": "翻译"}, "first": 10},
        token=authority_token,
    )["data"]["volunteers"]
    assert [e["node"]["number"] for e in skilled["edges"]] == numbers[1::2]
    today = timezone.localdate().isoformat()
    dated = gql.region(
        "yunnan",
        VOLUNTEERS,
        {
            "f": {
                "serviceArea": area,
                "registeredFrom": today,
                "registeredTo": today,
                "status": "ACTIVE",
                "verification": "PENDING",
            },
            "first": 10,
        },
        token=authority_token,
    )["data"]["volunteers"]
    assert dated["totalCount"] == 5
    # A plain volunteer may not list; a bad cursor and page size are clear errors.
    _, username = register_volunteer(
        "yunnan", idNumber=id_number(datetime.date(1990, 5, 17), "530102")
    )
    denied = gql.region("yunnan", VOLUNTEERS, {"first": 5}, token=login(gql, "yunnan", username))
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    anonymous = gql.region("yunnan", VOLUNTEERS, {"first": 5})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    bad_cursor = gql.region(
        "yunnan", VOLUNTEERS, {"first": 5, "after": "bm9wZQ=="}, token=authority_token
    )
    assert bad_cursor["errors"][0]["extensions"] == {"code": "INVALID", "field": "after"}
    too_big = gql.region("yunnan", VOLUNTEERS, {"first": 1000}, token=authority_token)
    assert too_big["errors"][0]["extensions"]["field"] == "first"


def test_query_counts_do_not_grow_with_page_size(gql, seed_regions):
    authority_token = authority(gql, "liaoning", level="province")
    h = hierarchy("liaoning")
    team_admin = login(gql, "liaoning", h.admins["team"])
    for _ in range(6):
        volunteer, _ = register_volunteer(
            "liaoning",
            birth=datetime.date(1988, 1, 9),
            idNumber=id_number(datetime.date(1988, 1, 9), area="210902"),
        )
        gql.region(
            "liaoning",
            """mutation($g: ID!, $n: String!) { addMember(groupId: $g,
            number: $n) { errors { message } } }""",
            {"g": gid("liaoning", h.team), "n": volunteer.number},
            token=team_admin,
        )
        accept_invitations("liaoning", volunteer.number)
    filter_ = {"groupId": gid("liaoning", h.team)}
    small, small_sql = execute_in_process(
        "liaoning", VOLUNTEERS, {"f": filter_, "first": 2}, authority_token
    )
    large, large_sql = execute_in_process(
        "liaoning", VOLUNTEERS, {"f": filter_, "first": 6}, authority_token
    )
    assert len(small["data"]["volunteers"]["edges"]) == 2
    assert len(large["data"]["volunteers"]["edges"]) == 6
    assert len(small_sql) == len(large_sql), large_sql
    # host lookup, token, roles, page, count, memberships with their groups
    assert len(large_sql) <= 6, large_sql


def test_encryption_key_rotation(seed_regions, capsys):
    from cryptography.fernet import Fernet
    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings

    from tenants.volunteers import pii

    given = id_number(datetime.date(1990, 5, 17), "110105")
    volunteer, _ = register_volunteer("hubei", idNumber=given)
    old = list(settings.PII_ENCRYPTION_KEYS)
    new = Fernet.generate_key().decode()
    try:
        with override_settings(PII_ENCRYPTION_KEYS=[new, *old]):
            call_command("rotate_pii_keys")
            assert "re-encrypted" in capsys.readouterr().out
        with override_settings(PII_ENCRYPTION_KEYS=[new]), tenant_context(region("hubei")):
            row = Volunteer.objects.get(id=volunteer.id)
            # The helper moves the area code on past 1,000 numbers: compare the whole number.
            assert pii.decrypt(row.id_number_encrypted) == given  # new key alone
        with override_settings(PII_ENCRYPTION_KEYS=old), tenant_context(region("hubei")):
            row = Volunteer.objects.get(id=volunteer.id)
            with pytest.raises(RuntimeError, match="cannot be decrypted"):
                pii.decrypt(row.id_number_encrypted)  # the old key no longer opens it
    finally:
        # And back, for the rest of the suite, even when an assertion above failed:
        # otherwise every later test meets rows it cannot decrypt.
        with override_settings(PII_ENCRYPTION_KEYS=[*old, new]):
            call_command("rotate_pii_keys")
    with tenant_context(region("hubei")):
        assert pii.decrypt(Volunteer.objects.get(id=volunteer.id).id_number_encrypted)
