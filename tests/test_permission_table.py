"""Issue 3 §5: walk 002's annex table — every permission group × every power —
through the real API.

For each of the nine permission groups a town-level hub is put in that group
(by the authority), then its admin tries one action per power; the action must
succeed exactly when the table has a √.
"""

from __future__ import annotations

import pytest

from central.policy import ANNEX_PERMISSION_TABLE, Power
from tests.registry_support import (
    approve,
    authority,
    hierarchy,
    join_group,
    login,
    register,
    register_volunteer,
    unique,
)
from tests.support import gid

SET_GROUP = """mutation($g: ID!, $p: String!) { setPermissionGroup(groupId: $g, permissionGroup: $p)
  { group { permissionGroup powers } errors { field code message } } }"""
ADD_MEMBER = """mutation($g: ID!, $n: String!) { addMember(groupId: $g, number: $n)
  { membership { status } errors { code message } } }"""
REGISTER_SUBGROUP = """mutation($input: RegisterGroupInput!) { registerGroup(input: $input)
  { group { id } errors { field code message } } }"""
REVIEW = """mutation($g: ID!) { reviewGroup(groupId: $g, approve: true, reason: "")
  { group { review } errors { code message } } }"""
VERIFY = """mutation($n: String!) { reviewVolunteerVerification(number: $n, approve: true,
  reason: "") { volunteer { verification } errors { code message } } }"""


def succeeded(body: dict, name: str) -> bool:
    """True if the mutation did its work; False if it was refused for lack of power."""
    if body.get("errors"):
        assert body["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED", body
        return False
    payload = body["data"][name]
    if payload["errors"]:
        assert payload["errors"][0]["code"] == "PERMISSION_DENIED", payload
        return False
    return True


@pytest.fixture(scope="module")
def setting(gql_module):
    gql = gql_module
    h = hierarchy("chongqing")
    return gql, h, authority(gql, "chongqing")


@pytest.fixture(scope="module")
def gql_module(server):
    from tests.support import GraphQLClient

    return GraphQLClient(server.base_url)


@pytest.mark.parametrize("permission_group", list(ANNEX_PERMISSION_TABLE))
def test_annex_row(setting, permission_group):
    gql, h, authority_token = setting
    expected = set(ANNEX_PERMISSION_TABLE[permission_group])
    tag = unique("")
    subject, subject_admin_name = register(
        "chongqing", f"测{tag}街道志愿服务总队", "hub", "town", h.district
    )
    subject = approve("chongqing", subject)
    # A lower hub waiting for review, registered while the subject could still accept it.
    pending, _ = register("chongqing", f"测{tag}甲社区志愿服务大队", "hub", "community", subject)
    body = gql.region(
        "chongqing",
        SET_GROUP,
        {"g": gid("chongqing", subject), "p": permission_group},
        token=authority_token,
    )
    group = body["data"]["setPermissionGroup"]["group"]
    assert group["permissionGroup"] == permission_group
    assert {Power[p] for p in group["powers"]} == expected
    admin = login(gql, "chongqing", subject_admin_name)
    observed = set()

    # 本团体内志愿者管理: add a registered volunteer to the group.
    volunteer, _ = register_volunteer("chongqing")
    if succeeded(
        gql.region(
            "chongqing",
            ADD_MEMBER,
            {"g": gid("chongqing", subject), "n": volunteer.number},
            token=admin,
        ),
        "addMember",
    ):
        observed.add(Power.MANAGE_OWN_VOLUNTEERS)

    # 发布项目无须审核: shown in the group's powers (projects publish by it, issue 4).
    if Power.PUBLISH_WITHOUT_REVIEW.name in group["powers"]:
        observed.add(Power.PUBLISH_WITHOUT_REVIEW)

    # 允许下级团体注册: a lower hub registers with this group as its liaison.
    sub = {
        "name": f"测{tag}乙社区志愿服务大队",
        "kind": "HUB",
        "level": "COMMUNITY",
        "registrationStatus": "UNREGISTERED",
        "liaisonGroupId": gid("chongqing", subject),
        "responsiblePerson": "王",
        "contactPerson": "赵",
        "contactPhone": "02360000000",
        "adminUsername": unique("adm"),
        "adminPassword": "Strong-pass-2026",
    }
    if succeeded(gql.region("chongqing", REGISTER_SUBGROUP, {"input": sub}), "registerGroup"):
        observed.add(Power.ALLOW_SUBGROUP_REGISTRATION)

    # 对下级团体快审: the group's admin approves the pending lower hub.
    if succeeded(
        gql.region("chongqing", REVIEW, {"g": gid("chongqing", pending)}, token=admin),
        "reviewGroup",
    ):
        observed.add(Power.FAST_REVIEW_SUBGROUPS)

    # 区域内志愿者管理: verify a volunteer who is in none of this group's lists but an
    # active member of a group in its area (issue 10 finding 2: the hub's own area).
    stranger, _ = register_volunteer("chongqing")
    join_group("chongqing", h.community, stranger.number, h.admins["community"])
    if succeeded(
        gql.region("chongqing", VERIFY, {"n": stranger.number}, token=admin),
        "reviewVolunteerVerification",
    ):
        observed.add(Power.MANAGE_REGION_VOLUNTEERS)

    assert observed == expected


def test_who_may_change_a_permission_group(setting):
    """002 §3(4): a hub is set by the hub above; a non-hub by the district or city hub."""
    gql, h, _ = setting
    city_admin = login(gql, "chongqing", h.admins["city"])
    district_admin = login(gql, "chongqing", h.admins["district"])
    town_admin = login(gql, "chongqing", h.admins["town"])
    team_admin = login(gql, "chongqing", h.admins["team"])

    def attempt(group, token):
        body = gql.region(
            "chongqing", SET_GROUP, {"g": gid("chongqing", group), "p": "中级团体组"}, token=token
        )
        return succeeded(body, "setPermissionGroup")

    assert attempt(h.district, city_admin)  # 区/县协会 by 市联合会
    assert not attempt(h.district, town_admin)
    assert attempt(h.town, district_admin)  # 镇/街道总队 by 区/县协会
    assert not attempt(h.town, city_admin)  # not two levels up
    assert attempt(h.community, town_admin)  # 社区大队 by 镇/街道总队
    assert attempt(h.team, district_admin)  # a non-hub: by the district hub …
    assert attempt(h.team, city_admin)  # … or the city hub
    assert not attempt(h.team, team_admin)  # not by itself
    assert not attempt(h.city, city_admin)  # the top hub: only the authority
    unknown = gql.region(
        "chongqing",
        SET_GROUP,
        {"g": gid("chongqing", h.team), "p": "超级团体组"},
        token=district_admin,
    )["data"]["setPermissionGroup"]
    assert unknown["errors"][0]["field"] == "permissionGroup"
