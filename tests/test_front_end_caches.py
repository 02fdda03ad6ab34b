"""Issue 21 findings 3-4: the JavaScript clients front-ends are built with, run from node against
the test server (tests/clients/cache): their normalised caches find each object by
its id, so a mutation's answer updates what a cached page shows."""

from __future__ import annotations

import pytest

from tests.node_support import run_node
from tests.records_support import stage
from tests.support import GraphQLClient, gid

ADD_MEMBER = """mutation($g: ID!, $n: String!) { addMember(groupId: $g, number: $n)
  { errors { message } } }"""


@pytest.fixture
def group_page(server):
    """A group with members, its admin's token, and a member to warn."""
    s = stage(GraphQLClient(server.base_url), "chongqing", participants=2)
    return {
        "BASE_URL": server.base_url,
        "REGION_HOST": "chongqing.localhost",
        "TOKEN": s.admin,
        "GROUP_ID": gid(s.slug, s.h.team),
        "NUMBER": s.volunteers[1][0].number,
    }


@pytest.mark.parametrize("script", ["apollo.mjs", "urql.mjs"])
def test_a_mutation_updates_the_cached_page_without_warnings(group_page, script):
    result = run_node("cache", script, **group_page)
    assert result["before"] == "ACTIVE"
    assert result["after"] == "WARNED"  # read back from the cache, not refetched
    assert result["me"]
    assert result["warnings"] == []


def test_relay_reads_pages_back_paginates_and_refetches_by_node(server):
    s = stage(GraphQLClient(server.base_url), "chongqing", participants=3)
    result = run_node(
        "cache",
        "relay.mjs",
        BASE_URL=server.base_url,
        REGION_HOST="chongqing.localhost",
        TOKEN=s.admin,
        GROUP_ID=gid(s.slug, s.h.team),
    )
    # The store keys objects by id alone: with ids unique across types it gives the
    # nested page back exactly as the server sent it.
    assert result["asSent"] is True
    numbers = result["volunteers"]
    assert len(numbers) == 3
    assert result["firstPage"] == numbers[:2]
    assert result["merged"] == numbers  # @connection appended the next page
    assert result["hasNextPage"] is False
    assert result["refetchedAs"] == "VolunteerGroup" and result["refetchErrors"] == []
    assert result["warnings"] == []
