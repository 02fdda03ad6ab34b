"""Issue 3 §4, §6: groups, liaison rules (002 §3(2)), naming (002 §3(1)), review,
certificate uploads, memberships — through the real GraphQL endpoint."""

from __future__ import annotations

import io
import json

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from tenants.groups.models import Membership, VolunteerGroup
from tests.registry_support import (
    accept_invitations,
    authority,
    hierarchy,
    login,
    region,
    register,
    register_volunteer,
    unique,
)
from tests.support import gid

REGISTER_GROUP = """
mutation($input: RegisterGroupInput!, $certificate: Upload) {
  registerGroup(input: $input, certificate: $certificate) {
    group { id name review permissionGroup powers liaisonGroup { name } hasCertificate }
    errors { field code message }
  }
}
"""


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


PNG = _png()  # a real image: certificates are decoded in full (issue 10 finding 13)
USCC = "91110108551385082Q"  # a valid unified social credit code (GB 32100)


def group_input(
    name,
    kind="NON_HUB",
    level="DISTRICT",
    status="UNREGISTERED",
    liaison=None,
    slug="chongqing",
    **extra,
) -> dict:
    data = {
        "name": name,
        "kind": kind,
        "level": level,
        "registrationStatus": status,
        "responsiblePerson": "王负责",
        "contactPerson": "赵联系",
        "contactPhone": "02361234567",
        "adminUsername": unique("adm"),
        "adminPassword": "Strong-pass-2026",
    }
    if liaison is not None:
        data["liaisonGroupId"] = gid(slug, liaison)
    data.update(extra)
    return data


def group_count(slug: str) -> int:
    with tenant_context(region(slug)):
        return VolunteerGroup.objects.count()


def upload(gql, slug, variables, file_bytes, filename="cert.png", token=None):
    """A GraphQL multipart request (the spec strawberry implements), over real HTTP."""
    operations = {"query": REGISTER_GROUP, "variables": {**variables, "certificate": None}}
    headers = {"Host": f"{slug}.localhost"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = gql.http.post(
        "/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.certificate"]}),
        },
        files={"0": (filename, io.BytesIO(file_bytes), "image/png")},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_hub_chain_and_liaison_rules(gql, seed_regions):
    h = hierarchy("chongqing")
    before = group_count("chongqing")
    tag = unique("")
    cases = [
        # a town hub must hang under the district hub, not the city hub
        (group_input(f"测{tag}镇志愿服务总队", "HUB", "TOWN", liaison=h.city), "liaisonGroupId"),
        # a district-level non-hub group's liaison is the district hub, not the town hub
        (group_input(f"测{tag}局志愿服务队", liaison=h.town), "liaisonGroupId"),
        # a non-hub group must name a liaison
        (group_input(f"测{tag}馆志愿服务队"), "liaisonGroupId"),
        # a legal person has none: its registration authority reviews it
        (
            group_input(
                f"测{tag}基金会",
                status="LEGAL_PERSON",
                liaison=h.district,
                unifiedSocialCreditCode=USCC,
                registrationAuthority="重庆市民政局",
            ),
            "liaisonGroupId",
        ),
        # a branch's liaison is its parent legal person
        (
            group_input(f"测{tag}分会志愿服务队", status="BRANCH", liaison=h.district),
            "liaisonGroupId",
        ),
        # naming (002 §3(1)): a district hub is "…志愿者协会" or "…志愿服务联合会"
        (group_input(f"测{tag}区志愿者俱乐部", "HUB", "DISTRICT", liaison=h.city), "name"),
        # a non-hub is "单位名称+志愿服务队" and must not look like a hub
        (group_input(f"测{tag}医院青年突击队", liaison=h.district), "name"),
        (group_input(f"测{tag}医院志愿服务总队", liaison=h.district), "name"),
        (group_input(h.team.name, liaison=h.district), "name"),
        (
            group_input(f"测{tag}医院志愿服务队", liaison=h.district, responsiblePerson=" "),
            "responsiblePerson",
        ),
        (
            group_input(f"测{tag}医院志愿服务队", liaison=h.district, viewingGroupIds=["999999"]),
            "viewingGroupIds",
        ),
    ]
    for data, field in cases:
        payload = gql.region("chongqing", REGISTER_GROUP, {"input": data})["data"]["registerGroup"]
        assert payload["group"] is None, data
        assert field in {e["field"] for e in payload["errors"]}, (data["name"], payload["errors"])
    assert group_count("chongqing") == before
    good = gql.region(
        "chongqing",
        REGISTER_GROUP,
        {
            "input": group_input(
                f"测{tag}医院志愿服务队",
                liaison=h.district,
                viewingGroupIds=[gid("chongqing", h.city)],
            )
        },
    )
    payload = good["data"]["registerGroup"]
    assert payload["errors"] == []
    assert payload["group"]["review"] == "PENDING"
    assert payload["group"]["permissionGroup"] == "待审团体组"
    assert payload["group"]["powers"] == []
    assert payload["group"]["liaisonGroup"] == {"name": h.district.name}


def test_suizhou_naming_rule(gql, seed_regions):
    # 随州 (004): non-hub names are "单位名称+志愿服务队"; no hub naming rules.
    h = hierarchy("suizhou")
    bad = gql.region(
        "suizhou",
        REGISTER_GROUP,
        {"input": group_input("随州测试读书会", liaison=h.district, slug="suizhou")},
    )["data"]["registerGroup"]
    assert bad["errors"][0]["field"] == "name"
    assert "志愿服务队" in bad["errors"][0]["message"]


def test_liaison_without_subgroup_registration_power_refuses(gql, seed_regions):
    h = hierarchy("chongqing")
    authority_token = authority(gql, "chongqing")
    set_group = """mutation($g: ID!, $p: String!) { setPermissionGroup(groupId: $g,
        permissionGroup: $p) { group { permissionGroup } errors { field code message } } }"""
    body = gql.region(
        "chongqing",
        set_group,
        {"g": gid("chongqing", h.district), "p": "基本团体组"},
        token=authority_token,
    )
    assert body["data"]["setPermissionGroup"]["group"]["permissionGroup"] == "基本团体组"
    refused = gql.region(
        "chongqing",
        REGISTER_GROUP,
        {"input": group_input(f"测{unique('')}局志愿服务队", liaison=h.district)},
    )["data"]["registerGroup"]
    assert refused["errors"][0]["code"] == "PERMISSION_DENIED"
    assert "允许下级团体注册" in refused["errors"][0]["message"]


REVIEW = """mutation($g: ID!, $a: Boolean!, $r: String!) { reviewGroup(groupId: $g, approve: $a,
  reason: $r) { group { review reviewReason permissionGroup powers } errors { field code } } }"""


def test_review_by_fast_reviewing_liaison_and_default_permission_groups(gql, seed_regions):
    h = hierarchy("chongqing")
    # 002 §3(4) defaults for approved hubs and non-hubs
    assert [g.permission_group for g in (h.city, h.district, h.town, h.community, h.team)] == [
        "高级团体组（快审）",
        "高级团体组（快审）",
        "中级团体组（快审）",
        "初级团体组（快审）",
        "基本团体组",
    ]
    group, _ = register(
        "chongqing", f"测{unique('')}社区医院志愿服务队", "non_hub", "community", h.community
    )
    community_admin = login(gql, "chongqing", h.admins["community"])
    town_admin = login(gql, "chongqing", h.admins["town"])
    # Only the liaison (with 快审) reviews, not another hub's admin.
    denied = gql.region(
        "chongqing", REVIEW, {"g": gid("chongqing", group), "a": True, "r": ""}, token=town_admin
    )
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    no_reason = gql.region(
        "chongqing",
        REVIEW,
        {"g": gid("chongqing", group), "a": False, "r": ""},
        token=community_admin,
    )["data"]["reviewGroup"]
    assert no_reason["errors"] == [{"field": "reason", "code": "INVALID"}]
    approved = gql.region(
        "chongqing",
        REVIEW,
        {"g": gid("chongqing", group), "a": True, "r": ""},
        token=community_admin,
    )["data"]["reviewGroup"]
    assert approved["group"]["review"] == "APPROVED"
    assert approved["group"]["permissionGroup"] == "基本团体组"
    assert approved["group"]["powers"] == ["MANAGE_OWN_VOLUNTEERS"]
    twice = gql.region(
        "chongqing",
        REVIEW,
        {"g": gid("chongqing", group), "a": True, "r": ""},
        token=community_admin,
    )["data"]["reviewGroup"]
    assert twice["errors"][0]["code"] == "CONFLICT"


def test_legal_person_uploads_its_certificate(gql, seed_regions):
    tag = unique("")
    data = group_input(
        f"重庆市测{tag}公益基金会",
        status="LEGAL_PERSON",
        unifiedSocialCreditCode=USCC,
        registrationAuthority="重庆市民政局",
    )
    before = group_count("chongqing")
    missing = gql.region("chongqing", REGISTER_GROUP, {"input": data})["data"]["registerGroup"]
    assert "certificate" in {e["field"] for e in missing["errors"]}
    bad_code = upload(gql, "chongqing", {"input": {**data, "unifiedSocialCreditCode": "123"}}, PNG)
    assert bad_code["data"]["registerGroup"]["errors"][0]["field"] == "unifiedSocialCreditCode"
    not_image = upload(gql, "chongqing", {"input": data}, b"%PDF-1.4 not an image", "x.png")
    assert not_image["data"]["registerGroup"]["errors"] == [
        {"field": "certificate", "code": "INVALID", "message": "must be a PNG or JPEG image"}
    ]
    too_big = upload(gql, "chongqing", {"input": data}, PNG + b"\x00" * settings.UPLOAD_MAX_BYTES)
    assert too_big["data"]["registerGroup"]["errors"][0]["field"] == "certificate"
    assert group_count("chongqing") == before
    stored_dir = settings.MEDIA_ROOT / "regions" / "region_chongqing" / "group-certificates"
    files_before = set(stored_dir.glob("*")) if stored_dir.exists() else set()
    good = upload(gql, "chongqing", {"input": data}, PNG)["data"]["registerGroup"]
    assert good["errors"] == []
    assert good["group"]["hasCertificate"] and good["group"]["liaisonGroup"] is None
    new_files = set(stored_dir.glob("*")) - files_before
    assert len(new_files) == 1 and new_files.pop().read_bytes() == PNG
    group_id = good["group"]["id"]
    # The legal person is reviewed by the authority and starts as 中级团体组 (002 §3(4)).
    authority_token = authority(gql, "chongqing")
    approved = gql.region(
        "chongqing", REVIEW, {"g": group_id, "a": True, "r": ""}, token=authority_token
    )["data"]["reviewGroup"]
    assert approved["group"]["permissionGroup"] == "中级团体组"
    # The image is served to the group's own admin on its own host, never to another region.
    admin = login(gql, "chongqing", data["adminUsername"])
    own = gql.http.get(
        f"/groups/{group_id}/certificate",
        headers={"Host": "chongqing.localhost", "Authorization": f"Bearer {admin}"},
    )
    assert own.status_code == 200 and own.content == PNG
    anonymous = gql.http.get(
        f"/groups/{group_id}/certificate", headers={"Host": "chongqing.localhost"}
    )
    assert anonymous.status_code == 401
    yunnan_authority = authority(gql, "yunnan")
    elsewhere = gql.http.get(
        f"/groups/{group_id}/certificate",
        headers={"Host": "yunnan.localhost", "Authorization": f"Bearer {yunnan_authority}"},
    )
    assert elsewhere.status_code == 404
    # Inside the region it is the keepers' alone (groups.selectors.kept_by_q): the city's
    # authority sees it; a volunteer is refused, and is not told which groups have a
    # certificate at all (a group without one answers the same 403).
    city = gql.http.get(
        f"/groups/{group_id}/certificate",
        headers={"Host": "chongqing.localhost", "Authorization": f"Bearer {authority_token}"},
    )
    assert city.status_code == 200 and city.content == PNG
    volunteer_token = login(gql, "chongqing", register_volunteer("chongqing")[1])
    without = gid("chongqing", hierarchy("chongqing").team)
    for some_group in (group_id, without):
        refused = gql.http.get(
            f"/groups/{some_group}/certificate",
            headers={"Host": "chongqing.localhost", "Authorization": f"Bearer {volunteer_token}"},
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "PERMISSION_DENIED"


MEMBERSHIP = "membership { id status volunteer { number } } errors { field code message }"


def test_membership_apply_decide_leave_and_several_groups(gql, seed_regions):
    h = hierarchy("chongqing")
    volunteer, username = register_volunteer("chongqing")
    token = login(gql, "chongqing", username)
    apply = f"mutation($g: ID!) {{ applyToGroup(groupId: $g) {{ {MEMBERSHIP} }} }}"
    applied = gql.region("chongqing", apply, {"g": gid("chongqing", h.team)}, token=token)
    membership = applied["data"]["applyToGroup"]["membership"]
    assert membership["status"] == "APPLIED"
    twice = gql.region("chongqing", apply, {"g": gid("chongqing", h.team)}, token=token)
    assert twice["data"]["applyToGroup"]["errors"][0]["code"] == "CONFLICT"
    decide = (
        "mutation($m: ID!, $a: Boolean!) { decideMembership(membershipId: $m, approve: $a) "
        f"{{ {MEMBERSHIP} }} }}"
    )
    not_admin = gql.region("chongqing", decide, {"m": membership["id"], "a": True}, token=token)
    assert not_admin["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    team_admin = login(gql, "chongqing", h.admins["team"])
    decided = gql.region("chongqing", decide, {"m": membership["id"], "a": True}, token=team_admin)
    assert decided["data"]["decideMembership"]["membership"]["status"] == "ACTIVE"
    # A second group: the volunteer belongs to both.
    second = gql.region("chongqing", apply, {"g": gid("chongqing", h.community)}, token=token)
    community_admin = login(gql, "chongqing", h.admins["community"])
    gql.region(
        "chongqing",
        decide,
        {"m": second["data"]["applyToGroup"]["membership"]["id"], "a": True},
        token=community_admin,
    )
    mine = gql.region(
        "chongqing",
        "query($n: String!) { volunteer(number: $n) { memberships { status group { name } } } }",
        {"n": volunteer.number},
        token=token,
    )
    assert {
        m["group"]["name"]
        for m in mine["data"]["volunteer"]["memberships"]
        if m["status"] == "ACTIVE"
    } == {h.team.name, h.community.name}
    leave = f"mutation($g: ID!) {{ leaveGroup(groupId: $g) {{ {MEMBERSHIP} }} }}"
    left = gql.region("chongqing", leave, {"g": gid("chongqing", h.team)}, token=token)
    assert left["data"]["leaveGroup"]["membership"]["status"] == "LEFT"
    again = gql.region("chongqing", leave, {"g": gid("chongqing", h.team)}, token=token)
    assert again["data"]["leaveGroup"]["errors"][0]["code"] == "NOT_FOUND"
    with tenant_context(region("chongqing")):
        assert Membership.objects.filter(volunteer=volunteer, status="active").count() == 1


NESTED = """query($id: ID!) { group(id: $id) { name subgroups { name subgroups { name
  members { volunteer { number name idNumberMasked } } } } members { volunteer { number } } } }"""


def test_nested_groups_members_and_their_visibility(gql, seed_regions):
    h = hierarchy("chongqing")
    community_admin = login(gql, "chongqing", h.admins["community"])
    volunteer, _ = register_volunteer("chongqing")
    gql.region(
        "chongqing",
        """mutation($g: ID!, $n: String!) { addMember(groupId: $g,
        number: $n) { errors { message } } }""",
        {"g": gid("chongqing", h.community), "n": volunteer.number},
        token=community_admin,
    )
    accept_invitations("chongqing", volunteer.number)
    authority_token = authority(gql, "chongqing")
    body = gql.region(
        "chongqing", NESTED, {"id": gid("chongqing", h.district)}, token=authority_token
    )
    group = body["data"]["group"]
    town = next(g for g in group["subgroups"] if g["name"] == h.town.name)
    community = next(g for g in town["subgroups"] if g["name"] == h.community.name)
    assert community["members"][0]["volunteer"]["number"] == volunteer.number
    assert "*" in community["members"][0]["volunteer"]["idNumberMasked"]
    # Anonymous callers see the public tree, but members are refused with a typed error.
    public = gql.region("chongqing", NESTED, {"id": gid("chongqing", h.district)})
    assert public["data"]["group"]["name"] == h.district.name
    codes = {e["extensions"]["code"] for e in public["errors"]}
    assert codes == {"PERMISSION_DENIED"}


@pytest.mark.parametrize("recorder_certificate", ["", "滇记字2026001"])
def test_recorders_need_a_certificate_in_yunnan(gql, seed_regions, recorder_certificate):
    h = (
        hierarchy("yunnan")
        if not hasattr(test_recorders_need_a_certificate_in_yunnan, "h")
        else test_recorders_need_a_certificate_in_yunnan.h
    )
    test_recorders_need_a_certificate_in_yunnan.h = h
    admin = login(gql, "yunnan", h.admins["team"])
    mutation = """mutation($g: ID!, $u: String!, $c: String!) { createStaffAccount(groupId: $g,
      role: RECORDER, username: $u, password: "Strong-pass-2026", displayName: "记录员",
      recorderCertificate: $c) { username errors { field message } } }"""
    body = gql.region(
        "yunnan",
        mutation,
        {"g": gid("yunnan", h.team), "u": unique("rec"), "c": recorder_certificate},
        token=admin,
    )
    payload = body["data"]["createStaffAccount"]
    if recorder_certificate:
        assert payload["errors"] == [] and payload["username"]
    else:
        assert payload["errors"][0]["field"] == "recorderCertificate"
        assert "001 §4(4)3" in payload["errors"][0]["message"]
