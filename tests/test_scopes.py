"""Issue 10: who may do what, *where* — each finding reproduced over real HTTP.

A small 重庆 world: the city hub (500000), two district hubs in two districts
(渝中区 500103, 沙坪坝区 500106), a team under each, and authorities of the whole
city and of each district. Each test fails on the code before issue 10 (a flat
authority model, addMember without consent, pending groups with powers).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context
from PIL import Image

from tenants.groups import services as groups
from tests.registry_support import (
    REGISTER_VOLUNTEER,
    accept_invitations,
    approve,
    authority,
    authority_account,
    hierarchy,
    login,
    region,
    register,
    register_volunteer,
    unique,
    volunteer_input,
)
from tests.support import gid

SLUG = "chongqing"
YUZHONG, SHAPINGBA = "500103", "500106"

REVEAL = """mutation($n: String!) { revealPersonalInfo(number: $n, reason: "核对保险") {
  idNumber errors { code message } } }"""
SET_STATUS = """mutation($n: String!) { setVolunteerStatus(number: $n, status: CANCELLED,
  reason: "测试") { volunteer { status } errors { code message } } }"""
REJECT_VERIFICATION = """mutation($n: String!) { reviewVolunteerVerification(number: $n,
  approve: false, reason: "证件不符") { volunteer { verification } errors { code message } } }"""
ADD_MEMBER = """mutation($g: ID!, $n: String!) { addMember(groupId: $g, number: $n) {
  membership { id status } errors { code message } } }"""
RESPOND = """mutation($m: ID!, $a: Boolean!) { respondToInvitation(membershipId: $m, accept: $a) {
  membership { status } errors { code message } } }"""
APPLY = """mutation($g: ID!) { applyToGroup(groupId: $g, share: [SKILLS]) {
  membership { id status } errors { code message } } }"""
APPLICATIONS = """query($g: ID!) { group(id: $g) { applications { status volunteer { number }
  applicant { number name ageBand skills phoneMasked serviceArea } } } }"""
VOLUNTEER = """query($n: String!) { volunteer(number: $n) { number } }"""
VOLUNTEERS = """query { volunteers(first: 100) { edges { node { number } } } }"""
MEMBERS = """query($g: ID!) { group(id: $g) { members { volunteer { number } } } }"""
REVIEW_GROUP = """mutation($g: ID!) { reviewGroup(groupId: $g, approve: true, reason: "") {
  group { review } errors { code message } } }"""


@dataclass
class World:
    city: object
    hub_a: object
    hub_b: object
    team_a: object
    team_b: object
    admins: dict


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def world(server) -> World:
    tag = unique("")
    admins = {}
    city, admins["city"] = register(SLUG, f"域{tag}市志愿服务联合会", "hub", "city")
    city = approve(SLUG, city)
    hub_a, admins["hub_a"] = register(
        SLUG, f"域{tag}甲区志愿者协会", "hub", "district", city, division_code=YUZHONG
    )
    hub_b, admins["hub_b"] = register(
        SLUG, f"域{tag}乙区志愿者协会", "hub", "district", city, division_code=SHAPINGBA
    )
    hub_a, hub_b = approve(SLUG, hub_a), approve(SLUG, hub_b)
    team_a, admins["team_a"] = register(
        SLUG, f"域{tag}甲区图书馆志愿服务队", "non_hub", "district", hub_a
    )
    team_b, admins["team_b"] = register(
        SLUG, f"域{tag}乙区图书馆志愿服务队", "non_hub", "district", hub_b
    )
    return World(city, hub_a, hub_b, approve(SLUG, team_a), approve(SLUG, team_b), admins)


def _member(gql, world: World, team: str, **overrides):
    """A volunteer who accepted ``team``'s invitation; (volunteer, their token)."""
    volunteer, username = register_volunteer(SLUG, **overrides)
    admin = login(gql, SLUG, world.admins[team])
    group = getattr(world, team)
    added = gql.region(
        SLUG, ADD_MEMBER, {"g": gid(SLUG, group), "n": volunteer.number}, token=admin
    )
    assert added["data"]["addMember"]["membership"]["status"] == "INVITED", added
    accept_invitations(SLUG, volunteer.number)
    return volunteer, login(gql, SLUG, username)


def _code(body: dict, name: str | None = None) -> str | None:
    """The error code of a refused query or mutation, or None when it went through."""
    if body.get("errors"):
        return body["errors"][0]["extensions"]["code"]
    errors = body["data"][name]["errors"] if name else []
    return errors[0]["code"] if errors else None


def test_add_member_is_an_invitation_that_gives_no_power_until_accepted(gql, world):
    """Finding 1: a group's powers start only when the volunteer chose to be a member."""
    stranger, username = register_volunteer(SLUG, divisionCode=YUZHONG)
    admin = login(gql, SLUG, world.admins["team_a"])
    invited = gql.region(
        SLUG, ADD_MEMBER, {"g": gid(SLUG, world.team_a), "n": stranger.number}, token=admin
    )
    membership = invited["data"]["addMember"]["membership"]
    assert membership["status"] == "INVITED"
    # Nothing yet: no reveal, no cancelling, no rejecting their verification, no profile.
    for query, name in (
        (REVEAL, "revealPersonalInfo"),
        (SET_STATUS, "setVolunteerStatus"),
        (REJECT_VERIFICATION, "reviewVolunteerVerification"),
        (VOLUNTEER, None),
    ):
        body = gql.region(SLUG, query, {"n": stranger.number}, token=admin)
        assert _code(body, name) == "PERMISSION_DENIED", (query, body)
    # Nobody but the volunteer answers the invitation, and others cannot tell it exists.
    _, other_username = register_volunteer(SLUG)
    other_token = login(gql, SLUG, other_username)
    foreign = gql.region(SLUG, RESPOND, {"m": membership["id"], "a": True}, token=other_token)
    assert _code(foreign, "respondToInvitation") == "NOT_FOUND"
    by_admin = gql.region(SLUG, RESPOND, {"m": membership["id"], "a": True}, token=admin)
    assert _code(by_admin, "respondToInvitation") == "NOT_FOUND"
    # The volunteer accepts: now the group's admin may act.
    mine = login(gql, SLUG, username)
    accepted = gql.region(SLUG, RESPOND, {"m": membership["id"], "a": True}, token=mine)
    assert accepted["data"]["respondToInvitation"]["membership"]["status"] == "ACTIVE"
    shown = gql.region(SLUG, REVEAL, {"n": stranger.number}, token=admin)
    assert shown["data"]["revealPersonalInfo"]["errors"] == []


def test_an_application_shows_the_group_only_what_the_applicant_shared(gql, world):
    """Finding 1: an applicant is not a member; the group sees what they chose, masked."""
    applicant, username = register_volunteer(SLUG, skills=["急救", "手语"])
    token = login(gql, SLUG, username)
    applied = gql.region(SLUG, APPLY, {"g": gid(SLUG, world.team_b)}, token=token)
    assert applied["data"]["applyToGroup"]["membership"]["status"] == "APPLIED"
    admin = login(gql, SLUG, world.admins["team_b"])
    body = gql.region(SLUG, APPLICATIONS, {"g": gid(SLUG, world.team_b)}, token=admin)
    assert "errors" not in body, body
    seen = next(
        a
        for a in body["data"]["group"]["applications"]
        if a["applicant"]["number"] == applicant.number
    )
    assert seen["volunteer"] is None  # not the volunteer's profile
    assert seen["applicant"] == {
        "number": applicant.number,
        "name": applicant.name,
        "ageBand": "35-59",  # born 1990: never the birth date (finding 4)
        "skills": ["急救", "手语"],  # shared
        "phoneMasked": None,  # not shared
        "serviceArea": None,
    }
    for query, name in ((REVEAL, "revealPersonalInfo"), (SET_STATUS, "setVolunteerStatus")):
        body = gql.region(SLUG, query, {"n": applicant.number}, token=admin)
        assert _code(body, name) == "PERMISSION_DENIED"


def test_region_wide_volunteer_management_is_the_hubs_own_area(gql, world):
    """Finding 2: 区域内志愿者管理 reaches the members of groups in the hub's division only."""
    mine, _ = _member(gql, world, "team_a")
    theirs, _ = _member(gql, world, "team_b")
    hub_a = login(gql, SLUG, world.admins["hub_a"])
    own = gql.region(SLUG, REVEAL, {"n": mine.number}, token=hub_a)
    assert _code(own, "revealPersonalInfo") is None
    for query, name in ((REVEAL, "revealPersonalInfo"), (SET_STATUS, "setVolunteerStatus")):
        body = gql.region(SLUG, query, {"n": theirs.number}, token=hub_a)
        assert _code(body, name) == "PERMISSION_DENIED", body
    listed = gql.region(SLUG, VOLUNTEERS, token=hub_a)["data"]["volunteers"]["edges"]
    numbers = {e["node"]["number"] for e in listed}
    assert mine.number in numbers and theirs.number not in numbers


def test_authority_accounts_act_in_their_own_division(gql, world):
    """Finding 3: a county authority acts in its county; the city's authority everywhere."""
    in_a, _ = _member(gql, world, "team_a", divisionCode=YUZHONG)
    in_b, _ = _member(gql, world, "team_b", divisionCode=SHAPINGBA)
    county_a = authority(gql, SLUG, "county", division=YUZHONG, name="重庆市渝中区民政局")
    city = authority(gql, SLUG)
    own = gql.region(SLUG, REVEAL, {"n": in_a.number}, token=county_a)
    assert _code(own, "revealPersonalInfo") is None
    for query, name in ((REVEAL, "revealPersonalInfo"), (SET_STATUS, "setVolunteerStatus")):
        body = gql.region(SLUG, query, {"n": in_b.number}, token=county_a)
        assert _code(body, name) == "PERMISSION_DENIED", body
    everywhere = gql.region(SLUG, REVEAL, {"n": in_b.number}, token=city)
    assert _code(everywhere, "revealPersonalInfo") is None
    # Groups: a pending group in 沙坪坝 is reviewed by 沙坪坝's authority, not 渝中's.
    pending, _ = register(
        SLUG, f"域{unique('')}乙区医院志愿服务队", "non_hub", "district", world.hub_b
    )
    refused = gql.region(SLUG, REVIEW_GROUP, {"g": gid(SLUG, pending)}, token=county_a)
    assert _code(refused, "reviewGroup") == "PERMISSION_DENIED"
    county_b = authority(gql, SLUG, "county", division=SHAPINGBA, name="重庆市沙坪坝区民政局")
    done = gql.region(SLUG, REVIEW_GROUP, {"g": gid(SLUG, pending)}, token=county_b)
    assert done["data"]["reviewGroup"]["group"]["review"] == "APPROVED"


def test_an_authority_is_bound_to_a_real_division_of_its_level(world):
    from central.errors import ServiceError
    from tenants.accounts import services as accounts

    target = region(SLUG)
    cases = [
        ("county", "500000", "a county authority's division is a county"),
        ("county", "530102", "outside this region"),
        ("county", "500199", "not a current division code"),
        ("province", YUZHONG, "the region's own code"),
    ]
    with tenant_context(target):
        for level, division, message in cases:
            with pytest.raises(ServiceError) as raised:
                accounts.create_authority_account(
                    unique("auth"),
                    "Strong-pass-2026",
                    "干部",
                    level,
                    "某民政局",
                    division_code=division,
                    region_code=target.code,
                    actor="test",
                )
            problem = raised.value.problems[0]
            assert (problem.field, message in problem.message) == ("division", True), problem


def test_a_group_that_is_not_approved_holds_no_powers(gql, world):
    """Finding 6: a rejected (or pending) group creates no project, adds no staff or member."""
    group, username = register(
        SLUG, f"域{unique('')}甲区剧院志愿服务队", "non_hub", "district", world.hub_a
    )
    with tenant_context(region(SLUG)):
        from tenants.accounts.services import OperatorPrincipal

        target = region(SLUG)
        target.policy_obj = target.get_policy()
        groups.review_group(
            group_id=group.id,
            approve=False,
            reason="材料不全",
            principal=OperatorPrincipal("t"),
            policy=target.get_policy(),
        )
    admin = login(gql, SLUG, username)
    volunteer, _ = register_volunteer(SLUG)
    project = gql.region(
        SLUG,
        """mutation($g: ID!) { createProject(groupId: $g, input: {name: "剧院引导",
        category: COMMUNITY_SERVICE, serviceTargets: "观众", place: "剧院",
        startsOn: "2026-12-20", endsOn: "2026-12-21", quota: 3, riskNotice: "注意安全",
        contact: "王"})
        { project { id } errors { code message } } }""",
        {"g": gid(SLUG, group)},
        token=admin,
    )
    assert _code(project, "createProject") == "PERMISSION_DENIED", project
    errors = project.get("errors") or project["data"]["createProject"]["errors"]
    assert "not approved" in errors[0]["message"]
    staff = gql.region(
        SLUG,
        """mutation($g: ID!) { createStaffAccount(groupId: $g, role: RECORDER, username: "x"""
        + unique("r")
        + """", password: "Strong-pass-2026", displayName: "记录员") { errors { code } } }""",
        {"g": gid(SLUG, group)},
        token=admin,
    )
    assert _code(staff, "createStaffAccount") == "PERMISSION_DENIED"
    invite = gql.region(
        SLUG, ADD_MEMBER, {"g": gid(SLUG, group), "n": volunteer.number}, token=admin
    )
    assert _code(invite, "addMember") in ("PERMISSION_DENIED", "CONFLICT")


def test_viewing_groups_see_members_read_only(gql, world):
    """002 §3(2) 查看团体: the viewing group's staff see members, and act on nobody."""
    viewed, admin_username = register(
        SLUG,
        f"域{unique('')}甲区档案馆志愿服务队",
        "non_hub",
        "district",
        world.hub_a,
        viewing_group_ids=[world.team_b.id],
    )
    viewed = approve(SLUG, viewed)
    world.admins["viewed"] = admin_username
    world.viewed = viewed
    member, _ = _member(gql, world, "viewed")
    viewer = login(gql, SLUG, world.admins["team_b"])
    members = gql.region(SLUG, MEMBERS, {"g": gid(SLUG, viewed)}, token=viewer)
    assert member.number in {m["volunteer"]["number"] for m in members["data"]["group"]["members"]}
    assert gql.region(SLUG, VOLUNTEER, {"n": member.number}, token=viewer)["data"]["volunteer"]
    for query, name in ((REVEAL, "revealPersonalInfo"), (SET_STATUS, "setVolunteerStatus")):
        body = gql.region(SLUG, query, {"n": member.number}, token=viewer)
        assert _code(body, name) == "PERMISSION_DENIED"
    # A group that is not a viewing group sees nothing.
    outsider = login(gql, SLUG, world.admins["hub_b"])
    refused = gql.region(SLUG, MEMBERS, {"g": gid(SLUG, viewed)}, token=outsider)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"


def test_a_legal_person_is_reviewed_by_its_registration_authority(gql, world):
    """002 §3(3): 法人组织 by its 登记机关, not by any authority account."""
    target = region(SLUG)
    with tenant_context(target):
        data = groups.GroupRegistration(
            name=f"重庆市{unique('')}公益基金会",
            kind="non_hub",
            level="district",
            registration_status="legal_person",
            responsible_person="王",
            contact_person="赵",
            contact_phone="02361234567",
            registration_authority="重庆市渝中区民政局",
            unified_social_credit_code="91110000802100433B",
            division_code=YUZHONG,
            admin_username=unique("lp"),
            admin_password="Strong-pass-2026",
        )
        group = groups.register_group(
            data=data,
            principal=None,
            policy=target.get_policy(),
            certificate_upload=SimpleUploadedFile("c.png", _png(), "image/png"),
        )
    other = authority(gql, SLUG, "county", division=YUZHONG, name="重庆市渝中区文明办")
    refused = gql.region(SLUG, REVIEW_GROUP, {"g": gid(SLUG, group)}, token=other)
    assert _code(refused, "reviewGroup") == "PERMISSION_DENIED"
    city = authority(gql, SLUG)  # the whole region, but not this group's 登记机关
    by_city = gql.region(SLUG, REVIEW_GROUP, {"g": gid(SLUG, group)}, token=city)
    assert _code(by_city, "reviewGroup") == "PERMISSION_DENIED"
    own = authority(gql, SLUG, "county", division=YUZHONG, name="重庆市渝中区民政局")
    done = gql.region(SLUG, REVIEW_GROUP, {"g": gid(SLUG, group)}, token=own)
    assert done["data"]["reviewGroup"]["group"]["review"] == "APPROVED"


MY_REVEALS = """query { myPersonalInfoAccesses { accessor reason fields volunteerNumber } }"""
AREA_REVEALS = """query($n: String!) { personalInfoAccesses(filter: {volunteerNumber: $n}) {
  accessor reason } }"""
AUDIT = """query { auditLog(first: 5, filter: {action: "volunteer.pii_revealed"}) { actor action
  target } }"""


def test_the_reveal_log_is_read_by_the_volunteer_and_the_authority_of_their_area(gql, world):
    volunteer, own_token = _member(gql, world, "team_a", divisionCode=YUZHONG)
    admin = login(gql, SLUG, world.admins["team_a"])
    gql.region(SLUG, REVEAL, {"n": volunteer.number}, token=admin)
    mine = gql.region(SLUG, MY_REVEALS, token=own_token)["data"]["myPersonalInfoAccesses"]
    assert len(mine) == 1 and mine[0]["reason"] == "核对保险"
    assert mine[0]["accessor"].endswith(world.admins["team_a"])
    county_a = authority(gql, SLUG, "county", division=YUZHONG, name="重庆市渝中区民政局")
    county_b = authority(gql, SLUG, "county", division=SHAPINGBA, name="重庆市沙坪坝区民政局")
    seen = gql.region(SLUG, AREA_REVEALS, {"n": volunteer.number}, token=county_a)
    assert [r["reason"] for r in seen["data"]["personalInfoAccesses"]] == ["核对保险"]
    elsewhere = gql.region(SLUG, AREA_REVEALS, {"n": volunteer.number}, token=county_b)
    assert elsewhere["data"]["personalInfoAccesses"] == []
    # The audit log: the whole region's authority reads it; a county does not.
    audit = gql.region(SLUG, AUDIT, token=authority(gql, SLUG))["data"]["auditLog"]
    assert audit and all(e["action"] == "volunteer.pii_revealed" for e in audit)
    assert gql.region(SLUG, AUDIT, token=county_a)["errors"][0]["extensions"]["code"] == (
        "PERMISSION_DENIED"
    )
    # Another volunteer's log is not theirs to read.
    _, other_username = register_volunteer(SLUG)
    others = gql.region(SLUG, MY_REVEALS, token=login(gql, SLUG, other_username))
    assert others["data"]["myPersonalInfoAccesses"] == []
    stranger_rows = gql.region(SLUG, AREA_REVEALS, {"n": volunteer.number}, token=admin)
    assert stranger_rows["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"


PROVISION = """mutation($input: ProvisionRegionInput!) { provisionRegion(input: $input) {
  region { code } errors { field code message } } }"""


@pytest.mark.parametrize(
    ("code", "name", "field"),
    [("538300", "某市", "code"), ("530100", "昆明地区", "name")],
)
def test_made_up_division_codes_and_names_are_refused(gql, central_admin, code, name, field):
    """Finding 12: 538300 under 云南 was provisioned; codes and names follow GB/T 2260."""
    body = gql.central(
        PROVISION,
        {
            "input": {
                "code": code,
                "name": name,
                "level": "CITY",
                "slug": f"fake{code}",
                "parentCode": "530000",
            }
        },
        token=central_admin["token"],
    )
    payload = body["data"]["provisionRegion"]
    assert payload["region"] is None
    assert field in {e["field"] for e in payload["errors"]}, payload


SET_DIVISION = """mutation($n: String!, $d: String!) { setVolunteerDivision(number: $n,
  divisionCode: $d) { volunteer { number } errors { field code message } } }"""


def test_a_volunteer_says_where_they_live_and_the_county_follows(gql, world):
    """所在县（区） decides the authority's area (001 §6); the region lists its divisions."""
    divisions = gql.region(SLUG, "{ region { divisions { code name level } } }")
    listed = {d["code"]: d for d in divisions["data"]["region"]["divisions"]}
    assert listed[YUZHONG] == {"code": YUZHONG, "name": "渝中区", "level": "COUNTY"}
    assert "500100" not in listed  # 市辖区 is a container, not a place
    volunteer, username = register_volunteer(SLUG)
    county_a = authority(gql, SLUG, "county", division=YUZHONG, name="重庆市渝中区民政局")
    before = gql.region(SLUG, REVEAL, {"n": volunteer.number}, token=county_a)
    assert _code(before, "revealPersonalInfo") == "PERMISSION_DENIED"
    stranger = login(gql, SLUG, world.admins["team_b"])
    refused = gql.region(SLUG, SET_DIVISION, {"n": volunteer.number, "d": YUZHONG}, token=stranger)
    assert _code(refused, "setVolunteerDivision") == "PERMISSION_DENIED"
    mine = login(gql, SLUG, username)
    bad = gql.region(SLUG, SET_DIVISION, {"n": volunteer.number, "d": "530102"}, token=mine)
    assert bad["data"]["setVolunteerDivision"]["errors"][0]["field"] == "divisionCode"
    done = gql.region(SLUG, SET_DIVISION, {"n": volunteer.number, "d": YUZHONG}, token=mine)
    assert done["data"]["setVolunteerDivision"]["errors"] == []
    after = gql.region(SLUG, REVEAL, {"n": volunteer.number}, token=county_a)
    assert _code(after, "revealPersonalInfo") is None


def test_an_authority_registers_volunteers_only_in_its_own_area(gql, world):
    """003 第四条 (本行政区域内): a county authority registers into its county; another
    county's code is refused and writes nothing; with no code given the volunteer
    lives in the authority's own county, not the region's container code."""
    from tenants.volunteers.models import Volunteer

    county_a = authority(gql, SLUG, "county", division=YUZHONG, name="重庆市渝中区民政局")
    outside = volunteer_input(divisionCode=SHAPINGBA, username="", password="")
    refused = gql.region(SLUG, REGISTER_VOLUNTEER, {"input": outside}, token=county_a)
    assert _code(refused, "registerVolunteer") == "PERMISSION_DENIED", refused
    assert refused["errors"][0]["message"].startswith("divisionCode: 500106"), refused
    with tenant_context(region(SLUG)):
        assert not Volunteer.objects.filter(id_number_hash=_id_hash(outside["idNumber"])).exists()
    # The same person inside the area goes through: nothing was left half-written.
    inside = dict(outside, divisionCode=YUZHONG)
    done = gql.region(SLUG, REGISTER_VOLUNTEER, {"input": inside}, token=county_a)
    assert done["data"]["registerVolunteer"]["errors"] == [], done
    unsaid = volunteer_input(divisionCode="", username="", password="")
    own = gql.region(SLUG, REGISTER_VOLUNTEER, {"input": unsaid}, token=county_a)
    assert own["data"]["registerVolunteer"]["errors"] == [], own
    number = own["data"]["registerVolunteer"]["volunteer"]["number"]
    with tenant_context(region(SLUG)):
        assert Volunteer.objects.get(number=number).division_code == YUZHONG
    # An authority holding two counties must say which one.
    both = authority_account(SLUG, "county", division=SHAPINGBA, name="重庆市沙坪坝区民政局")
    with tenant_context(region(SLUG)):
        _add_authority_role(both, YUZHONG)
    ask = gql.region(
        SLUG,
        REGISTER_VOLUNTEER,
        {"input": volunteer_input(divisionCode="", username="", password="")},
        token=login(gql, SLUG, both),
    )
    assert ask["data"]["registerVolunteer"]["errors"][0]["field"] == "divisionCode", ask
    # The city's authority covers both counties and the region's own code.
    city = authority(gql, SLUG)
    anywhere = gql.region(
        SLUG,
        REGISTER_VOLUNTEER,
        {"input": volunteer_input(divisionCode=SHAPINGBA, username="", password="")},
        token=city,
    )
    assert anywhere["data"]["registerVolunteer"]["errors"] == [], anywhere


def _id_hash(id_number: str) -> str:
    from tenants.volunteers import pii

    return pii.keyed_hash("id", id_number)


def _add_authority_role(username: str, division: str) -> None:
    """A second authority role for the same account (a 民政干部 covering two counties)."""
    from tenants.accounts.models import Account, Role

    account = Account.objects.get(username=username)
    first = account.roles.get()
    Role.objects.create(
        account=account,
        kind=first.kind,
        authority_level=first.authority_level,
        authority_name="重庆市渝中区民政局",
        division_code=division,
    )


SET_PERMISSION_GROUP = """mutation($g: ID!, $p: String!) { setPermissionGroup(groupId: $g,
  permissionGroup: $p) { group { permissionGroup } errors { code message } } }"""


def test_a_hub_gives_no_more_powers_than_it_holds(gql):
    """002 §3(4): the town hub (中级团体组（快审）) sets its community hub's group, but
    cannot hand it 区域内志愿者管理, which it lacks; the authority can."""
    h = hierarchy(SLUG)
    town = login(gql, SLUG, h.admins["town"])
    variables = {"g": gid(SLUG, h.community)}
    beyond = gql.region(SLUG, SET_PERMISSION_GROUP, {**variables, "p": "高级团体组"}, token=town)
    assert _code(beyond, "setPermissionGroup") == "PERMISSION_DENIED", beyond
    within = gql.region(SLUG, SET_PERMISSION_GROUP, {**variables, "p": "中级团体组"}, token=town)
    assert within["data"]["setPermissionGroup"]["group"]["permissionGroup"] == "中级团体组"
    city = authority(gql, SLUG)
    done = gql.region(SLUG, SET_PERMISSION_GROUP, {**variables, "p": "高级团体组"}, token=city)
    assert done["data"]["setPermissionGroup"]["group"]["permissionGroup"] == "高级团体组"


REGISTER_HUB = """mutation($input: RegisterGroupInput!) { registerGroup(input: $input) {
  group { id divisionCode } errors { field code message } } }"""
SET_GROUP_DIVISION = """mutation($g: ID!, $d: String!) { setGroupDivision(groupId: $g,
  divisionCode: $d) { group { divisionCode } errors { field code message } } }"""


def _hub_input(name: str, liaison, **extra) -> dict:
    return {
        "name": name,
        "kind": "HUB",
        "level": "DISTRICT",
        "registrationStatus": "UNREGISTERED",
        "liaisonGroupId": gid(SLUG, liaison),
        "responsiblePerson": "王",
        "contactPerson": "赵",
        "contactPhone": "02361234567",
        "adminUsername": unique("adm"),
        "adminPassword": "Strong-pass-2026",
        **extra,
    }


def test_a_district_hub_sits_in_its_county_and_a_migrated_one_reaches_nobody(gql, world):
    """Review of finding 2: a district hub inheriting the city's 500000 would manage the
    whole region; it must name its county. One left at the region's code (as the
    migration leaves existing hubs) reaches nobody until an authority places it."""
    name = f"域{unique('')}丙区志愿者协会"
    refused = gql.region(SLUG, REGISTER_HUB, {"input": _hub_input(name, world.city)})
    errors = refused["data"]["registerGroup"]["errors"]
    assert "divisionCode" in {e["field"] for e in errors}, errors
    # As migrated: a district hub at the region's own code, with 高级团体组（快审）.
    hub, admin_name = register(
        SLUG, f"域{unique('')}丁区志愿者协会", "hub", "district", world.city,
        division_code=YUZHONG,
    )  # fmt: skip
    hub = approve(SLUG, hub)
    with tenant_context(region(SLUG)):
        type(hub).objects.filter(id=hub.id).update(division_code="500000")
    member, _ = _member(gql, world, "team_b")  # a 沙坪坝 team's member
    admin = login(gql, SLUG, admin_name)
    body = gql.region(SLUG, REVEAL, {"n": member.number}, token=admin)
    assert _code(body, "revealPersonalInfo") == "PERMISSION_DENIED"
    # Placing it: not by another county's authority; by the city's, within the liaison.
    county_b = authority(gql, SLUG, "county", division=SHAPINGBA, name="重庆市沙坪坝区民政局")
    variables = {"g": gid(SLUG, hub), "d": SHAPINGBA}
    denied = gql.region(SLUG, SET_GROUP_DIVISION, variables, token=county_b)
    assert _code(denied, "setGroupDivision") == "PERMISSION_DENIED"
    city = authority(gql, SLUG)
    placed = gql.region(SLUG, SET_GROUP_DIVISION, variables, token=city)
    assert placed["data"]["setGroupDivision"]["group"] == {"divisionCode": SHAPINGBA}
    body = gql.region(SLUG, REVEAL, {"n": member.number}, token=admin)
    assert _code(body, "revealPersonalInfo") is None  # now its own area: 沙坪坝


def test_an_invitee_shows_nothing_and_others_see_only_active_memberships(gql, world):
    """Review of finding 1: an invitation tells the inviting group nothing about the
    person; a volunteer's applications elsewhere stay between them and that group."""
    stranger, _ = register_volunteer(SLUG)
    admin_b = login(gql, SLUG, world.admins["team_b"])
    invite = """mutation($g: ID!, $n: String!) { addMember(groupId: $g, number: $n) {
      membership { status applicant { name } volunteer { name } } errors { code } } }"""
    body = gql.region(SLUG, invite, {"g": gid(SLUG, world.team_b), "n": stranger.number},
                      token=admin_b)  # fmt: skip
    assert body["data"]["addMember"]["membership"] == {
        "status": "INVITED",
        "applicant": None,
        "volunteer": None,
    }
    member, token = _member(gql, world, "team_a")
    gql.region(SLUG, APPLY, {"g": gid(SLUG, world.team_b)}, token=token)  # shares SKILLS
    admin_a = login(gql, SLUG, world.admins["team_a"])
    seen = gql.region(
        SLUG,
        """query($n: String!) { volunteer(number: $n) { memberships { status
        group { id } applicant { skills } } } }""",
        {"n": member.number},
        token=admin_a,
    )["data"]["volunteer"]["memberships"]
    assert [m["status"] for m in seen] == ["ACTIVE"]
    own = gql.region(SLUG, "{ me { volunteer { memberships { status } } } }", token=token)
    statuses = {m["status"] for m in own["data"]["me"]["volunteer"]["memberships"]}
    assert statuses == {"ACTIVE", "APPLIED"}
    # The group's overseers (here the city's authority) see the application, not what
    # the applicant shared with the group.
    city = authority(gql, SLUG)
    overseen = gql.region(SLUG, APPLICATIONS, {"g": gid(SLUG, world.team_b)}, token=city)
    (row,) = [
        a
        for a in overseen["data"]["group"]["applications"]
        if a["applicant"]["number"] == member.number
    ]
    assert row["applicant"]["skills"] is None


def test_pending_viewing_groups_are_not_shown(gql, world):
    """Review: a pending group named as a viewing group stayed readable through it.
    Since audit round 4 a registration looks its viewing groups up as
    ``group(id:)`` shows them: a pending group is refused as no group is (the
    same NOT_FOUND, so the refusal does not tell that the pending group exists),
    and a group registered with approved viewing groups shows just those."""
    from central.errors import NotFound

    pending, _ = register(SLUG, f"域{unique('')}甲区博物馆志愿服务队", "non_hub", "district",
                          world.hub_a)  # fmt: skip
    refusals = []
    for named in (pending.id, 10**9):  # a pending group, then an id with no group
        with pytest.raises(NotFound) as refused:
            register(
                SLUG,
                f"域{unique('')}甲区科技馆志愿服务队",
                "non_hub",
                "district",
                world.hub_a,
                viewing_group_ids=[named, world.team_a.id],
            )
        refusals.append([(p.field, p.message) for p in refused.value.problems])
    assert refusals[0] == refusals[1] == [("viewingGroupIds", "no such group")]
    viewed, _ = register(
        SLUG,
        f"域{unique('')}甲区科技馆志愿服务队",
        "non_hub",
        "district",
        world.hub_a,
        viewing_group_ids=[world.team_a.id],
    )
    viewed = approve(SLUG, viewed)
    body = gql.region(SLUG, "query($g: ID!) { group(id: $g) { viewingGroups { name } } }",
                      {"g": gid(SLUG, viewed)})  # fmt: skip
    names = [g["name"] for g in body["data"]["group"]["viewingGroups"]]
    assert names == [world.team_a.name]


ISSUE_CERTIFICATE = """mutation($n: String!, $g: ID!) { issueCertificate(number: $n, groupId: $g)
  { certificate { totalHours rows { hours originRegion } } errors { code message } } }"""


def test_a_group_certifies_transferred_records_only_of_its_own_members(gql, seed_regions):
    """000 Art.15 (不向第三方提供) and Art.17 (本人加入或经常参加活动的志愿团体): the
    records a volunteer brought in by a transfer belong to no group here, and any
    group's admin could certify them — a 云南 team with no tie to a newcomer from
    重庆 got their name, masked ID number and every imported row in a sealed PDF
    it may download. Refused now (PERMISSION_DENIED, nothing written); once the
    newcomer is the team's active member, its admin issues as before."""
    from tenants.certificates import services as certificates
    from tenants.certificates.models import Certificate
    from tenants.certificates.pdf import render_seal_placeholder_png
    from tests.test_interop import CONSENT, REQUEST, moving_volunteer

    _, volunteer, token = moving_volunteer(gql, hours=(2,))
    asked = gql.region("chongqing", REQUEST, {"to": "530000"}, token=token)
    transfer = asked["data"]["requestTransfer"]["transfer"]["id"]
    gql.region("chongqing", CONSENT, {"t": transfer, "offline": False}, token=token)
    h = hierarchy("yunnan")
    with tenant_context(region("yunnan")):
        from tests.test_interop import _admin_of

        certificates.upload_seal(
            group_id=h.team.id,
            upload=SimpleUploadedFile("seal.png", render_seal_placeholder_png(h.team.name)),
            principal=_admin_of(h.team),
        )
    admin = login(gql, "yunnan", h.admins["team"])
    variables = {"n": volunteer.number, "g": gid("yunnan", h.team)}
    refused = gql.region("yunnan", ISSUE_CERTIFICATE, variables, token=admin)
    assert "errors" in refused, refused  # was: issued, imported rows and all
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED", refused
    assert volunteer.number in refused["errors"][0]["message"]
    with tenant_context(region("yunnan")):
        assert not Certificate.objects.filter(volunteer__number=volunteer.number).exists()
    # Its member now (an invitation the newcomer accepts): the team certifies.
    invited = gql.region("yunnan", ADD_MEMBER, variables, token=admin)
    assert invited["data"]["addMember"]["errors"] == [], invited
    accept_invitations("yunnan", volunteer.number)
    issued = gql.region("yunnan", ISSUE_CERTIFICATE, variables, token=admin)
    certificate = issued["data"]["issueCertificate"]
    assert certificate["errors"] == [], issued
    assert certificate["certificate"]["rows"] == [{"hours": "1.50", "originRegion": "重庆市"}]


MY_OBJECTIONS = """{ me { objections { edges { node { resolution volunteer { number }
  record { id content contact punctuality attitude professionalism } } } } } }"""


def test_an_objector_sees_the_notice_not_the_record(gql, seed_regions):
    """001 §4(4)3 lets anyone logged in object to a record in publicity; the notice
    shows the name masked, the project, date, times and hours. ``me.objections``
    then gave the objector the whole record — what was done, the contact, the
    group's evaluation of the volunteer (守时程度, 服务态度, 专业水平) — which goes
    to no third party without the volunteer's consent (000 Art.15). The objector
    gets null now; the group that resolves it still sees the record."""
    from tests.records_support import RECORD, days_ago, entry, stage

    YUNNAN = "yunnan"  # ≥3 working days of publicity (001 §4(4)3)

    s = stage(gql, YUNNAN)
    volunteer, _ = s.volunteers[0]
    recorded = gql.region(
        YUNNAN,
        RECORD,
        {
            "p": s.project_id,
            "n": volunteer.number,
            "input": {**entry(days_ago(2), "08:00", "11:00", 3), "punctuality": 2},
        },
        token=s.recorder,
    )["data"]["recordHours"]["record"]
    assert recorded["state"] == "IN_PUBLICITY", recorded
    _, objector_name = register_volunteer(YUNNAN)
    objector = login(gql, YUNNAN, objector_name)
    raised = gql.region(
        YUNNAN,
        """mutation($r: ID!) { raiseObjection(recordId: $r, reason: "当天未见此人") {
          errors { code } } }""",
        {"r": recorded["id"]},
        token=objector,
    )
    assert raised["data"]["raiseObjection"]["errors"] == [], raised
    mine = gql.region(YUNNAN, MY_OBJECTIONS, token=objector)
    assert "errors" not in mine, mine
    (node,) = [e["node"] for e in mine["data"]["me"]["objections"]["edges"]]
    assert node["resolution"] == "OPEN" and node["volunteer"] is None
    assert node["record"] is None, node
    queue = gql.region(
        YUNNAN,
        "{ me { workQueues { objections { edges { node { record { id punctuality } } } } } } }",
        token=s.admin,
    )["data"]["me"]["workQueues"]["objections"]["edges"]
    assert {"id": recorded["id"], "punctuality": 2} in [e["node"]["record"] for e in queue]


REQUEST_CORRECTION = """mutation($g: ID!) { requestCorrection(groupId: $g,
  description: "少记了一次服务") { request { id } errors { code } } }"""
RECORD_MISSING = """mutation($q: ID!, $p: ID!, $input: RecordInput!) {
  recordMissingForCorrection(requestId: $q, projectId: $p, input: $input) {
  request { status } errors { field code message } } }"""


def test_a_correction_is_recorded_at_a_project_of_the_group_asked(gql, seed_regions):
    """A correction request (记录更正) goes to one group; its staff answer it. The
    project the missing service is recorded at was not checked against the request:
    an admin of the team asked who also records for another team (two roles, one
    account) answered the first team's request with the second team's project — a
    record written for a group that was not asked, the request marked done. INVALID
    now and nothing written; the team's own project goes through."""
    from tenants.accounts.models import Account, Role
    from tenants.records.models import CorrectionRequest, ServiceRecord
    from tests.records_support import days_ago, entry, stage
    from tests.registry_support import join_group

    asked = stage(gql, SLUG)
    other = stage(gql, SLUG, participants=0)
    volunteer, username = asked.volunteers[0]
    join_group(SLUG, other.h.team, volunteer.number, other.h.admins["team"])
    with tenant_context(region(SLUG)):
        account = Account.objects.get(username=asked.h.admins["team"])
        Role.objects.create(account=account, kind="recorder", group=other.h.team)
    request = gql.region(
        SLUG,
        REQUEST_CORRECTION,
        {"g": gid(SLUG, asked.h.team)},
        token=login(gql, SLUG, username),
    )["data"]["requestCorrection"]["request"]["id"]
    variables = {
        "q": request,
        "p": other.project_id,
        "input": entry(days_ago(5), "08:00", "10:00", 2),
    }
    admin = login(gql, SLUG, asked.h.admins["team"])  # its new role in the token's principal
    refused = gql.region(SLUG, RECORD_MISSING, variables, token=admin)
    answer = refused["data"]["recordMissingForCorrection"]
    assert answer["errors"], refused  # was: recorded at the other team, request done
    assert answer["errors"][0]["code"] == "INVALID", refused
    assert answer["errors"][0]["field"] == "projectId"
    with tenant_context(region(SLUG)):
        assert not ServiceRecord.objects.filter(volunteer=volunteer, group=other.h.team).exists()
        assert CorrectionRequest.objects.filter(status="open", volunteer=volunteer).count() == 1
    done = gql.region(SLUG, RECORD_MISSING, variables | {"p": asked.project_id}, token=admin)
    assert done["data"]["recordMissingForCorrection"]["errors"] == [], done
    assert done["data"]["recordMissingForCorrection"]["request"]["status"] == "AMENDED"
