"""Issue 12 point 3: publicity is visible (001 §4(4)3 公示, 接受社会监督).

Records under publicity are listed per project and per group, with the last day
of publicity, to exactly whoever the region's policy lets object
(``objectionRaisers``: any account logged in to the region, or the group's
members and staff and the authority of its area), showing no more of the
volunteer than a public notice does: the name masked, never an ID number or a
phone. Through the real GraphQL endpoint."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django_tenants.utils import tenant_context

from central import services as central_services
from tenants.records import services as records
from tenants.records.models import ServiceRecord
from tenants.volunteers.pii import mask_name
from tests.records_support import RECORD, _area, days_ago, entry, stage
from tests.registry_support import authority, login, region, register_volunteer
from tests.support import city_name, execute_in_process, gid, row_key, unique_city_code
from tests.test_records import OBJECT

PUBLICITY = """query($p: ID, $g: ID, $first: Int, $after: String) { publicity(projectId: $p,
  groupId: $g, first: $first, after: $after) { edges { cursor node { id volunteerName
  projectName groupName serviceDate startTime endTime hours state publicityEndsOn } }
  pageInfo { hasNextPage endCursor } } }"""
ENTRY_FIELDS = """query { __type(name: "PublicityEntry") { fields { name } } }"""


def recorded(gql, s, number: str, day: int) -> dict:
    body = gql.region(
        s.slug,
        RECORD,
        {"p": s.project_id, "n": number, "input": entry(days_ago(day), "09:00", "10:30", "1.5")},
        token=s.recorder,
    )["data"]["recordHours"]
    assert body["errors"] == [], body
    return body["record"]


def listed(gql, slug: str, token, **variables) -> dict:
    return gql.region(slug, PUBLICITY, variables, token=token)


def code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


def newcomer(gql, slug: str) -> str:
    """A volunteer of the region who belongs to no group: only logged in."""
    return login(gql, slug, register_volunteer(slug, **_area(slug))[1])


def test_anyone_logged_in_sees_a_projects_and_a_groups_publicity(gql, seed_regions):
    s = stage(gql, "yunnan", participants=2)
    (first, _), (second, _) = s.volunteers
    one = recorded(gql, s, first.number, 2)
    two = recorded(gql, s, second.number, 3)
    assert one["state"] == "IN_PUBLICITY"
    elsewhere = stage(gql, "yunnan")  # another group's record is not on this notice
    recorded(gql, elsewhere, elsewhere.volunteers[0][0].number, 2)
    stranger = newcomer(gql, "yunnan")
    by_project = listed(gql, "yunnan", stranger, p=s.project_id)["data"]["publicity"]
    by_group = listed(gql, "yunnan", stranger, g=gid("yunnan", s.h.team))["data"]["publicity"]
    for page in (by_project, by_group):
        nodes = [e["node"] for e in page["edges"]]
        assert [n["id"] for n in nodes] == [one["id"], two["id"]]
        assert [n["volunteerName"] for n in nodes] == [
            mask_name(first.name),
            mask_name(second.name),
        ]
        assert first.name not in str(page) and first.number not in str(page)
        assert {n["publicityEndsOn"] for n in nodes} == {one["publicityEndsOn"]}
        assert nodes[0]["hours"] == "1.50" and nodes[0]["state"] == "IN_PUBLICITY"
        assert nodes[0]["serviceDate"] == days_ago(2).isoformat()
        assert nodes[0]["startTime"] == "09:00:00" and nodes[0]["endTime"] == "10:30:00"
        assert nodes[0]["groupName"] == s.h.team.name
    # The notice has nothing else of the volunteer to give: no number, ID or phone field.
    fields = {f["name"] for f in gql.region("yunnan", ENTRY_FIELDS)["data"]["__type"]["fields"]}
    assert fields == {
        "id",
        "volunteerName",
        "projectName",
        "groupName",
        "serviceDate",
        "startTime",
        "endTime",
        "hours",
        "state",
        "publicityEndsOn",
    }
    # What the list shows, the same account can object to; the record then shows OBJECTED.
    objected = gql.region("yunnan", OBJECT, {"r": one["id"], "why": "当天不在场"}, token=stranger)
    assert objected["data"]["raiseObjection"]["errors"] == []
    states = [
        e["node"]["state"]
        for e in listed(gql, "yunnan", stranger, p=s.project_id)["data"]["publicity"]["edges"]
    ]
    assert states == ["OBJECTED", "IN_PUBLICITY"]
    # Once publicity is over the record leaves the notice; the objected one stays on it.
    with tenant_context(region("yunnan")):
        later = timezone.localdate() + datetime.timedelta(days=30)
        records.close_publicity(region("yunnan").get_policy(), today=later)
        assert ServiceRecord.objects.get(id=row_key(two["id"])).state == "awaiting_confirmation"
    left = listed(gql, "yunnan", stranger, p=s.project_id)["data"]["publicity"]["edges"]
    assert [e["node"]["id"] for e in left] == [one["id"]]


def test_publicity_is_refused_to_those_who_may_not_object(gql, seed_regions):
    s = stage(gql, "yunnan")
    recorded(gql, s, s.volunteers[0][0].number, 2)
    # Without a token, or with another region's: UNAUTHENTICATED.
    assert code(listed(gql, "yunnan", None, p=s.project_id)) == "UNAUTHENTICATED"
    foreign = newcomer(gql, "chongqing")
    assert code(listed(gql, "yunnan", foreign, p=s.project_id)) == "UNAUTHENTICATED"
    # Exactly one of projectId and groupId; an unknown one is NOT_FOUND.
    token = newcomer(gql, "yunnan")
    both = listed(gql, "yunnan", token, p=s.project_id, g=gid("yunnan", s.h.team))
    assert code(both) == "INVALID"
    assert code(listed(gql, "yunnan", token)) == "INVALID"
    missing = listed(gql, "yunnan", token, p=gid("yunnan", 10**9, "Project"))
    assert code(missing) == "NOT_FOUND"
    other_region = listed(gql, "yunnan", token, g=gid("chongqing", 1, "VolunteerGroup"))
    assert code(other_region) == "NOT_FOUND"


def test_where_only_members_object_only_members_see_publicity(gql, seed_regions):
    code_ = unique_city_code("53")
    strict = central_services.provision_region(
        central_services.RegionSpec(
            code_,
            city_name(code_),
            "city",
            f"publicity{code_}",
            parent_code="530000",
            preset="yunnan",
            policy_overrides={"objectionRaisers": "group_members"},
        ),
        actor="test",
    )
    s = stage(gql, strict.slug, participants=2)
    (volunteer, _), (_, member_user) = s.volunteers
    record = recorded(gql, s, volunteer.number, 2)
    other_group = stage(gql, strict.slug, participants=0)
    for token in (newcomer(gql, strict.slug), other_group.admin):
        for variables in ({"p": s.project_id}, {"g": gid(strict.slug, s.h.team)}):
            assert code(listed(gql, strict.slug, token, **variables)) == "PERMISSION_DENIED"
    for token in (
        login(gql, strict.slug, member_user),
        s.recorder,
        s.admin,
        authority(gql, strict.slug),
    ):
        page = listed(gql, strict.slug, token, p=s.project_id)["data"]["publicity"]
        assert [e["node"]["id"] for e in page["edges"]] == [record["id"]]


def test_a_publicity_page_costs_the_same_statements_whatever_its_size(gql, seed_regions):
    s = stage(gql, "yunnan", participants=5)
    ids = [recorded(gql, s, v.number, 2)["id"] for v, _ in s.volunteers]
    token = newcomer(gql, "yunnan")
    small, small_sql = execute_in_process(
        "yunnan", PUBLICITY, {"p": s.project_id, "first": 1}, token
    )
    large, large_sql = execute_in_process(
        "yunnan", PUBLICITY, {"p": s.project_id, "first": 4}, token
    )
    assert len(small["data"]["publicity"]["edges"]) == 1
    assert len(large["data"]["publicity"]["edges"]) == 4
    assert len(small_sql) == len(large_sql), large_sql
    assert len(large_sql) <= 8, large_sql
    rest = listed(
        gql,
        "yunnan",
        token,
        p=s.project_id,
        first=4,
        after=large["data"]["publicity"]["pageInfo"]["endCursor"],
    )["data"]["publicity"]
    assert [e["node"]["id"] for e in rest["edges"]] == ids[4:]
    assert rest["pageInfo"]["hasNextPage"] is False
