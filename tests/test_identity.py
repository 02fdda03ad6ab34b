"""Issue 21 findings 3 and 4: global object identity, node(id:)/nodes(ids:), and
connections that page both ways, over real HTTP."""

from __future__ import annotations

import base64

import pytest

from tests.records_support import RECORD, days_ago, entry, stage
from tests.registry_support import login
from tests.support import gid, row_key

PAGE = """query($g: ID!) { group(id: $g) { id name
  projects { id name }
  members { id status volunteer { id number } }
  volunteers(first: 100) { edges { node { id number
    records(first: 5) { edges { node { id } } } } } } } }"""
NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on VolunteerGroup { name } ... on Volunteer { number } ... on ServiceRecord { hours }
  ... on Membership { status } ... on Project { name } } }"""
NODES = """query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"""
VOLUNTEER = """query($n: String!) { volunteer(number: $n) { id number } }"""


@pytest.fixture(scope="module")
def world(server):
    from tests.support import GraphQLClient

    gql = GraphQLClient(server.base_url)
    s = stage(gql, "chongqing", participants=3)
    volunteer = s.volunteers[0][0]
    done = gql.region(
        "chongqing",
        RECORD,
        {
            "p": s.project_id,
            "n": volunteer.number,
            "input": entry(days_ago(1), "09:00", "11:00", 2),
        },
        token=s.recorder,
    )
    assert done["data"]["recordHours"]["errors"] == [], done
    return s


def _page(gql, s):
    answer = gql.region(s.slug, PAGE, {"g": gid(s.slug, s.h.team)}, token=s.admin)
    assert "errors" not in answer, answer
    return answer["data"]["group"]


def _all_ids(group) -> dict[str, str]:
    ids = {group["id"]: "VolunteerGroup"}
    ids |= {p["id"]: "Project" for p in group["projects"]}
    ids |= {m["id"]: "Membership" for m in group["members"]}
    for edge in group["volunteers"]["edges"]:
        ids[edge["node"]["id"]] = "Volunteer"
        ids |= {r["node"]["id"]: "ServiceRecord" for r in edge["node"]["records"]["edges"]}
    return ids


def test_ids_are_opaque_stable_and_unique_across_types_and_regions(gql, world):
    s = world
    first, again = _page(gql, s), _page(gql, s)
    assert first == again  # deterministic: a cache finds the same object again
    ids = _all_ids(first)
    assert "ServiceRecord" in ids.values() and "Project" in ids.values()
    numbers = {e["node"]["number"] for e in first["volunteers"]["edges"]}
    for api_id, kind in ids.items():
        key = row_key(api_id)
        assert api_id != str(key)
        padded = api_id + "=" * (-len(api_id) % 4)
        sealed = base64.urlsafe_b64decode(padded)
        # Nothing readable inside: not the row key, the type, or a volunteer's number.
        assert kind.encode() not in sealed and f":{key}".encode() not in sealed
        assert not any(number in api_id or number.encode() in sealed for number in numbers)
        assert gid(s.slug, key, kind) == api_id
    # The same row number is a different id in another type and in another region.
    assert len({gid(s.slug, 1, kind) for kind in ("VolunteerGroup", "Project", "Membership")}) == 3
    assert gid("chongqing", 1, "VolunteerGroup") != gid("yunnan", 1, "VolunteerGroup")
    # Arguments take the ids the API gives, of the right type only.
    project_id = first["projects"][0]["id"]
    wrong_type = gql.region(s.slug, PAGE, {"g": project_id}, token=s.admin)
    assert wrong_type["errors"][0]["extensions"]["code"] == "INVALID"
    raw = gql.region(s.slug, PAGE, {"g": str(s.h.team.id)}, token=s.admin)
    assert raw["errors"][0]["extensions"] == {"code": "INVALID", "field": "id"}


def test_node_refetches_each_object_as_its_field_showed_it(gql, world):
    s = world
    group = _page(gql, s)
    for api_id, kind in _all_ids(group).items():
        node = gql.region(s.slug, NODE, {"id": api_id}, token=s.admin)
        assert "errors" not in node, node
        assert node["data"]["node"]["__typename"] == kind
        assert node["data"]["node"]["id"] == api_id
    node = gql.region(s.slug, NODE, {"id": group["id"]}, token=s.admin)["data"]["node"]
    assert node["name"] == group["name"]
    everything = list(_all_ids(group))
    listed = gql.region(s.slug, NODES, {"ids": everything}, token=s.admin)
    assert [n["id"] for n in listed["data"]["nodes"]] == everything
    # Me, the region and the card: the caller's own.
    me = gql.region(
        s.slug,
        "{ me { id } region { id } myCard { id } }",
        token=login(gql, s.slug, s.volunteers[0][1]),
    )["data"]
    for api_id in me.values():
        own = gql.region(
            s.slug, NODES, {"ids": [api_id["id"]]}, token=login(gql, s.slug, s.volunteers[0][1])
        )
        assert own["data"]["nodes"][0]["id"] == api_id["id"], own
    others = gql.region(s.slug, NODES, {"ids": [me["me"]["id"], me["myCard"]["id"]]}, s.admin)
    assert others["data"]["nodes"] == [None, None] and "errors" not in others


def test_node_refuses_what_the_original_field_refuses(gql, world):
    s = world
    (one, one_name), (other, _), _ = s.volunteers
    caller = login(gql, s.slug, one_name)  # a volunteer: sees themself, not other members
    other_id = gid(s.slug, other)
    original = gql.region(s.slug, VOLUNTEER, {"n": other.number}, token=caller)
    refetched = gql.region(s.slug, NODE, {"id": other_id}, token=caller)
    assert original["data"]["volunteer"] is None and refetched["data"]["node"] is None
    assert original["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert refetched["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    anonymous = gql.region(s.slug, NODE, {"id": other_id})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (
        gql.region(s.slug, VOLUNTEER, {"n": other.number})["errors"][0]["extensions"]["code"]
        == "UNAUTHENTICATED"
    )
    # Their own: the same object the volunteer field gives.
    own = gql.region(s.slug, VOLUNTEER, {"n": one.number}, token=caller)["data"]["volunteer"]
    mine = gql.region(s.slug, NODE, {"id": own["id"]}, token=caller)["data"]["node"]
    assert mine == {"__typename": "Volunteer", "id": own["id"], "number": one.number}
    # nodes(ids:): each refusal at its own position, the rest answered.
    mixed = gql.region(s.slug, NODES, {"ids": [own["id"], other_id]}, token=caller)
    assert mixed["data"]["nodes"] == [{"__typename": "Volunteer", "id": own["id"]}, None]
    assert [(e["path"], e["extensions"]["code"]) for e in mixed["errors"]] == [
        (["nodes", 1], "PERMISSION_DENIED")
    ]


def test_another_regions_ids_are_not_here(gql, world):
    s = world
    group_id = gid(s.slug, s.h.team)
    # The same row number in 云南 is another object; chongqing's id finds nothing there.
    elsewhere = gql.region("yunnan", NODE, {"id": group_id})
    assert elsewhere == {"data": {"node": None}}
    by_field = gql.region("yunnan", "query($g: ID!) { group(id: $g) { id } }", {"g": group_id})
    assert by_field == {"data": {"group": None}}
    forged = gql.region(s.slug, NODE, {"id": group_id[:-2] + "AA"})
    assert forged["errors"][0]["extensions"] == {"code": "INVALID", "field": "id"}
    too_many = gql.region(s.slug, NODES, {"ids": [group_id] * 101})
    assert too_many["errors"][0]["extensions"] == {"code": "INVALID", "field": "ids"}


VOLUNTEERS = """query($g: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  group(id: $g) { volunteers(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { number } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""


def test_a_groups_volunteers_page_forward_and_backward(gql, world):
    s = world
    g = gid(s.slug, s.h.team)

    def page(**arguments):
        answer = gql.region(s.slug, VOLUNTEERS, {"g": g, **arguments}, token=s.admin)
        assert "errors" not in answer, answer
        return answer["data"]["group"]["volunteers"]

    everyone = page(first=100)
    numbers = [e["node"]["number"] for e in everyone["edges"]]
    assert len(numbers) == 3
    assert everyone["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": everyone["edges"][0]["cursor"],
        "endCursor": everyone["edges"][-1]["cursor"],
    }
    tail = page(last=2)
    assert [e["node"]["number"] for e in tail["edges"]] == numbers[1:]
    assert tail["pageInfo"]["hasPreviousPage"] is True
    assert tail["pageInfo"]["startCursor"] == tail["edges"][0]["cursor"]
    head = page(last=2, before=tail["pageInfo"]["startCursor"])
    assert [e["node"]["number"] for e in head["edges"]] == numbers[:1]
    assert head["pageInfo"]["hasPreviousPage"] is False
    middle = page(first=1, after=everyone["edges"][0]["cursor"], before=tail["edges"][-1]["cursor"])
    assert [e["node"]["number"] for e in middle["edges"]] == numbers[1:2]
    for arguments, field in (({"last": 101}, "last"), ({"first": 2, "last": 2}, "last")):
        refused = gql.region(s.slug, VOLUNTEERS, {"g": g, **arguments}, token=s.admin)
        assert refused["errors"][0]["extensions"] == {"code": "INVALID", "field": field}
    bad = gql.region(s.slug, VOLUNTEERS, {"g": g, "last": 1, "before": "bm9wZQ=="}, s.admin)
    assert bad["errors"][0]["extensions"] == {"code": "INVALID", "field": "before"}


CENTRAL_NODES = """query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
  ... on Region { code } ... on DirectoryRegion { code } } }"""


def test_central_refetches_regions_and_directory_entries(gql, central_admin):
    directory = gql.central("{ federationDirectory { id code } }")["data"]["federationDirectory"]
    entry = next(e for e in directory if e["code"] == "500000")
    region = gql.region("chongqing", "{ region { id code } }")["data"]["region"]
    ids = [entry["id"], region["id"]]
    assert entry["id"] != region["id"]
    # A region's id is the same on central and on the region's own API.
    admin = gql.central(CENTRAL_NODES, {"ids": ids}, token=central_admin["token"])
    assert admin["data"]["nodes"] == [
        {"__typename": "DirectoryRegion", "id": entry["id"], "code": "500000"},
        {"__typename": "Region", "id": region["id"], "code": "500000"},
    ]
    # Regions are for central admins (as region(code:)); the directory is public.
    anyone = gql.central(CENTRAL_NODES, {"ids": ids})
    assert anyone["data"]["nodes"][0]["code"] == "500000"
    assert anyone["data"]["nodes"][1] is None
    assert anyone["errors"][0]["path"] == ["nodes", 1]
    denied = gql.central("""{ region(code: "500000") { id } }""")
    assert anyone["errors"][0]["extensions"]["code"] == denied["errors"][0]["extensions"]["code"]
