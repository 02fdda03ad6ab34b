"""Issue 2 §10, issue 3 §9: what one region writes, another region's host never reads."""

from __future__ import annotations

from tests.registry_support import (
    REGISTER_VOLUNTEER,
    authority,
    hierarchy,
    register_volunteer,
    volunteer_input,
)
from tests.support import gid


def test_a_volunteer_written_in_one_region_is_invisible_from_another(gql, seed_regions):
    own, _ = register_volunteer("yunnan")  # so 云南's list is not empty whatever ran before
    data = volunteer_input()
    written = gql.region("chongqing", REGISTER_VOLUNTEER, {"input": data})["data"]
    number = written["registerVolunteer"]["volunteer"]["number"]
    query = "query($n: String!) { volunteer(number: $n) { number name } }"
    chongqing = authority(gql, "chongqing", level="province")
    yunnan = authority(gql, "yunnan", level="province")
    assert gql.region("chongqing", query, {"n": number}, token=chongqing)["data"] == {
        "volunteer": {"number": number, "name": data["name"]}
    }
    assert gql.region("yunnan", query, {"n": number}, token=yunnan)["data"] == {"volunteer": None}
    listing = """{ volunteers(first: 100) { totalCount edges { node { number } } } }"""
    numbers = {
        e["node"]["number"]
        for e in gql.region("yunnan", listing, token=yunnan)["data"]["volunteers"]["edges"]
    }
    assert numbers and number not in numbers
    mine = gql.region("yunnan", query, {"n": own.number}, token=yunnan)["data"]["volunteer"]
    assert mine["number"] == own.number


def test_groups_of_one_region_are_not_listed_in_another(gql, seed_regions):
    h = hierarchy("fuxin")
    query = "{ groups(first: 100) { edges { node { id name } } } }"
    fuxin = {e["node"]["name"] for e in gql.region("fuxin", query)["data"]["groups"]["edges"]}
    suizhou = {e["node"]["name"] for e in gql.region("suizhou", query)["data"]["groups"]["edges"]}
    assert h.team.name in fuxin
    assert h.team.name not in suizhou
    by_id = gql.region(
        "suizhou", "query($id: ID!) { group(id: $id) { name } }", {"id": gid("fuxin", h.team)}
    )["data"]["group"]
    assert by_id is None or by_id["name"] != h.team.name
