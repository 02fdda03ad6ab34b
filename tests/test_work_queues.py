"""Issue 12 point 1 and "tell people what changed": work queues on ``me``.

One 云南-preset city region (001: 3 working days of publicity, certified recorders,
1–2★ granted by the county authority, 001 §6), through the real API. What waits:

- an application to join the team (decided by its admin, 本团体内志愿者管理);
- a project of the team waiting for review (002 §3(3));
- a record past publicity waiting for the county's confirmation (001 §4(4)3);
- three applications to the team's project and one to another group's project;
- a self-declared record (本人申报, 000 Art.9);
- an objection to a record in publicity (001 §4(4)3);
- two correction requests (记录更正), one past its due date;
- a 1★ application (001 §6: the volunteer's county authority grants it);
- a group registered under the district hub, waiting for review (002 §3(3));
- a transfer request waiting for the volunteer's consent (000 Art.15–16).

Each persona sees exactly what it may decide: the deciders decide what they see;
another group's staff, another county's authority, a volunteer and an anonymous
caller see nothing of it.
"""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from central import services as central_services
from central.divisions import division_level, divisions_within
from central.models import Region
from central.tenancy import connection
from tenants.groups.models import VolunteerGroup
from tenants.records import services as record_services
from tenants.records.models import CorrectionRequest
from tenants.volunteers.models import Volunteer
from tests.records_support import (
    CREATE_PROJECT,
    RECORD,
    SUBMIT,
    Stage,
    days_ago,
    declaration,
    entry,
    stage,
)
from tests.registry_support import authority, login, register, register_volunteer
from tests.support import (
    GraphQLClient,
    city_name,
    execute_in_process,
    gid,
    row_key,
    unique_city_code,
)
from tests.world_support import QUEUES

CODE = unique_city_code("53")
SLUG = f"queues{CODE}"

# What each queue's node shows in these tests.
NODES = {
    "membershipApplications": "id status appliedAt decidedAt applicant { number phoneMasked }",
    "projectReviews": "id name status",
    "recordConfirmations": "state recordedAt volunteer { number } record { id hours }",
    "projectApplications": "id status appliedAt decidedAt volunteer { number } project { name }",
    "declarations": "state declaredAt decidedAt volunteer { number } record { id hours }",
    "objections": "id reason resolution decidedAt volunteer { number } record { id hours }",
    "correctionRequests": "id status dueOn overdue decidedAt volunteer { number } group { name }",
    "starApplications": "id level granter status decidedAt volunteer { number }",
    "groupReviews": "id name review registeredAt",
    "transferRequests": "id state counterpartRegionCode",
}
TASKS = "query { me { tasks { " + " ".join(QUEUES) + " total } } }"

APPLY = """mutation($p: ID!) { applyToProject(projectId: $p) { applicationId errors { code } } }"""
DECLARE = """mutation($p: ID!, $input: RecordInput!) { declareHours(projectId: $p, input: $input)
  { record { id state } errors { code message } } }"""
OBJECT = """mutation($r: ID!) { raiseObjection(recordId: $r, reason: "那天他不在场")
  { objectionId errors { code } } }"""
CORRECTION = """mutation($g: ID!, $d: String!) { requestCorrection(groupId: $g, description: $d)
  { request { id } errors { code } } }"""
STAR = """mutation { applyForStar(level: 1) { application { id granter } errors { code } } }"""
JOIN = """mutation($g: ID!) { applyToGroup(groupId: $g, share: [PHONE]) { membership { id }
  errors { code } } }"""
CONFIRM = (
    """mutation($r: ID!) { confirmRecord(recordId: $r) { record { state } errors { code } } }"""
)
TRANSFER = """mutation { requestTransfer(toRegion: "500000") { transfer { id state }
  errors { code message } } }"""


def queue_query(name: str, args: str = "") -> str:
    call = f"{name}({args})" if args else name
    return (
        f"query {{ me {{ workQueues {{ {call} {{ totalCount edges {{ cursor node {{ "
        f"{NODES[name]} }} }} pageInfo {{ hasNextPage hasPreviousPage endCursor }} }} }} }} }}"
    )


class World:
    """The region, the people and what waits for them."""

    # What ``world`` sets up, in order (none is known at construction).
    region: Region
    s: Stage  # the team's hierarchy, project, recorder and three participants
    other: Stage  # another group (and hierarchy), same county
    v1: Volunteer
    v2: Volunteer
    v3: Volunteer
    applicant: Volunteer
    tokens: dict[str, str | None]  # persona -> token (None: anonymous)
    declared_id: str
    recorded_id: str
    late_correction: str
    pending_group: VolunteerGroup
    review_project_id: str
    confirm_id: str

    def __init__(self, gql: GraphQLClient):
        self.gql = gql

    def send(self, token, query, variables=None):
        return self.gql.region(SLUG, query, variables or {}, token=token)

    def queue(self, token, name: str, args: str = "", variables=None) -> dict:
        body = self.send(token, queue_query(name, args), variables)
        assert "errors" not in body, body
        return body["data"]["me"]["workQueues"][name]

    def tasks(self, token) -> dict:
        body = self.send(token, TASKS)
        assert "errors" not in body, body
        return body["data"]["me"]["tasks"]

    def ok(self, token, query, field, variables=None) -> dict:
        body = self.send(token, query, variables)
        assert "errors" not in body, body
        payload = body["data"][field]
        assert not payload.get("errors"), payload
        return payload


@pytest.fixture(scope="module")
def world(server):
    gql = GraphQLClient(server.base_url)
    target = central_services.provision_region(
        central_services.RegionSpec(
            CODE,
            city_name(CODE),
            "city",
            SLUG,
            parent_code="530000",
            preset="yunnan",
            policy_overrides={"starThresholds": [1, 2, 3, 4, 5]},
        ),
        actor="test",
    )
    w = World(gql)
    w.region = target
    counties = sorted(c for c in divisions_within(CODE) if division_level(c) == "county")
    s = stage(gql, SLUG, participants=3)
    other = stage(gql, SLUG, participants=0)  # another group (and hierarchy), same county
    w.s, w.other = s, other
    (v1, u1), (v2, u2), (v3, u3) = s.volunteers
    w.v1, w.v2, w.v3 = v1, v2, v3
    applicant, applicant_name = register_volunteer(SLUG)
    w.applicant = applicant
    w.tokens = {
        "admin": s.admin,  # the team's admin: no recorder's certificate
        "recorder": s.recorder,  # the team's certified recorder (001 §4(4)3)
        "hub": login(gql, SLUG, s.h.admins["district"]),  # the liaison, 对下级团体快审
        "county": authority(gql, SLUG, "county", division=counties[0]),
        "city": authority(gql, SLUG, "city"),
        "other_admin": other.admin,
        "other_recorder": other.recorder,
        "other_county": authority(gql, SLUG, "county", division=counties[1]),
        "v1": login(gql, SLUG, u1),
        "v2": login(gql, SLUG, u2),
        "v3": login(gql, SLUG, u3),
        "applicant": login(gql, SLUG, applicant_name),
        "anonymous": None,
    }
    t = w.tokens
    # Applications: three to the team's project, one to the other group's.
    for who in ("applicant", "v1", "v2"):
        w.ok(t[who], APPLY, "applyToProject", {"p": s.project_id})
    w.ok(t["applicant"], APPLY, "applyToProject", {"p": other.project_id})
    # A declaration (本人申报).
    declared = w.ok(
        t["v1"],
        DECLARE,
        "declareHours",
        {"p": s.project_id, "input": declaration(days_ago(3), "09:00", "11:00", 2)},
    )
    w.declared_id = declared["record"]["id"]
    # A record in publicity, objected to by someone logged in.
    recorded = w.ok(
        t["recorder"],
        RECORD,
        "recordHours",
        {"p": s.project_id, "n": v2.number, "input": entry(days_ago(2), "09:00", "10:00", 1)},
    )
    w.recorded_id = recorded["record"]["id"]
    w.ok(t["applicant"], OBJECT, "raiseObjection", {"r": w.recorded_id})
    # Two correction requests; the first is past its due date.
    team = gid(SLUG, s.h.team)
    late = w.ok(t["v3"], CORRECTION, "requestCorrection", {"g": team, "d": "上月的服务没有记录"})
    w.ok(t["v3"], CORRECTION, "requestCorrection", {"g": team, "d": "本月的时长少记一小时"})
    with tenant_context(target):
        first = CorrectionRequest.objects.filter(volunteer=v3).order_by("id").first()
        assert first is not None
        CorrectionRequest.objects.filter(id=first.id).update(
            due_on=timezone.localdate() - datetime.timedelta(days=1)
        )
    # Counted hours enough for 1★ (thresholds lowered for the test region), as the
    # platform counts them: recorded, past publicity (an hour after the last day),
    # confirmed by the county (001 §4(4)3). The objected record stays in publicity.
    counted = w.ok(
        t["recorder"],
        RECORD,
        "recordHours",
        {"p": s.project_id, "n": v3.number, "input": entry(days_ago(4), "09:00", "10:00", 1)},
    )["record"]["id"]
    with tenant_context(target):
        record_services.close_publicity(
            target.get_policy(), today=timezone.localdate() + datetime.timedelta(days=30)
        )
    w.ok(t["county"], CONFIRM, "confirmRecord", {"r": counted})
    w.late_correction = late["request"]["id"]
    w.ok(t["v3"], STAR, "applyForStar")
    # A group under the district hub, waiting for review.
    w.pending_group, _ = register(
        SLUG, f"测{CODE}新团体志愿服务队", "non_hub", "district", s.h.district
    )
    # The applicant asks to join the team; the team drafts a project for review.
    w.ok(t["applicant"], JOIN, "applyToGroup", {"g": team})
    draft = w.ok(
        t["admin"],
        CREATE_PROJECT,
        "createProject",
        {
            "g": team,
            "input": {
                "name": "社区读书会",
                "category": "EDUCATION",
                "serviceTargets": "社区儿童",
                "place": "社区图书室",
                "startsOn": days_ago(-7).isoformat(),
                "endsOn": days_ago(-14).isoformat(),
                "quota": 10,
                "riskNotice": "注意用电安全",
                "contact": "赵联系",
            },
        },
    )
    submitted = w.ok(t["admin"], SUBMIT, "submitProject", {"p": draft["project"]["id"]})
    assert submitted["project"]["status"] == "PENDING_REVIEW"  # 基本团体组: reviewed first
    w.review_project_id = draft["project"]["id"]
    # A record whose publicity has ended waits for the county's confirmation.
    w.confirm_id = w.ok(
        t["recorder"],
        RECORD,
        "recordHours",
        {"p": s.project_id, "n": v1.number, "input": entry(days_ago(5), "14:00", "15:00", 1)},
    )["record"]["id"]
    with tenant_context(target):
        record_services.close_publicity(
            target.get_policy(), today=timezone.localdate() + datetime.timedelta(days=30)
        )
    # v3 asks to move to 重庆: waits for their consent.
    w.ok(t["v3"], TRANSFER, "requestTransfer")
    return w


# Who sees how many items in each queue: exactly what they may decide.
EXPECTED = {
    # group staff decide applications; declarations need a certified recorder (001
    # §4(4)3); objections the group's admins; corrections its staff.
    "admin": {
        "membershipApplications": 1,
        "projectApplications": 3,
        "objections": 1,
        "correctionRequests": 2,
    },
    "recorder": {"projectApplications": 3, "declarations": 1, "correctionRequests": 2},
    # the liaison holding 对下级团体快审 reviews the new group (002 §3(3))
    "hub": {"groupReviews": 1, "projectReviews": 1},
    # the authority of the county: objections and corrections of the area, the 1★
    # (001 §6), the group's review, and the transfer of a member of a group there
    "county": {
        "projectReviews": 1,
        "recordConfirmations": 1,
        "objections": 1,
        "correctionRequests": 2,
        "starApplications": 1,
        "groupReviews": 1,
        "transferRequests": 1,
    },
    # the city's authority: the same area, but 1★ is the county's
    "city": {
        "projectReviews": 1,
        "recordConfirmations": 1,
        "objections": 1,
        "correctionRequests": 2,
        "groupReviews": 1,
        "transferRequests": 1,
    },
    "other_admin": {"projectApplications": 1},
    "other_recorder": {"projectApplications": 1},
    "other_county": {},
    "v1": {},
    "v2": {},
    "v3": {"transferRequests": 1},  # their own transfer waits for their consent
    "applicant": {},
}


@pytest.mark.parametrize("persona", sorted(EXPECTED))
def test_each_queue_shows_exactly_what_the_caller_decides(world, persona):
    token = world.tokens[persona]
    expected = {name: EXPECTED[persona].get(name, 0) for name in QUEUES}
    seen = {name: world.queue(token, name) for name in QUEUES}
    assert {name: page["totalCount"] for name, page in seen.items()} == expected
    assert {name: len(page["edges"]) for name, page in seen.items()} == expected
    # myTasks: the counts equal the lists.
    tasks = world.tasks(token)
    assert {name: tasks[name] for name in QUEUES} == expected
    assert tasks["total"] == sum(expected.values())


def test_anonymous_has_no_queues(world):
    body = world.send(None, queue_query("projectApplications"))
    assert body["data"] == {"me": None}
    assert world.send(None, TASKS)["data"] == {"me": None}


def test_another_regions_token_and_ids_are_refused(world):
    """An attacker's tools: a token issued by another region, another region's ids in
    a filter, an id of the wrong kind. Typed errors, no data."""
    foreign = authority(world.gql, "chongqing", "city")
    body = world.send(foreign, queue_query("objections"))
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert world.send(foreign, TASKS)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    query = """query($f: QueueFilter) { me { workQueues { objections(filter: $f)
      { totalCount } } } }"""
    elsewhere = stage(world.gql, "chongqing")
    wrong_region = world.send(
        world.tokens["admin"], query, {"f": {"groupId": gid("chongqing", elsewhere.h.team)}}
    )
    assert wrong_region["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    wrong_kind = world.send(world.tokens["admin"], query, {"f": {"groupId": world.s.project_id}})
    assert wrong_kind["errors"][0]["extensions"]["code"] == "INVALID"


def test_items_show_who_and_what_but_no_personal_information(world):
    t = world.tokens
    applications = world.queue(t["admin"], "projectApplications")["edges"]
    numbers = [edge["node"]["volunteer"]["number"] for edge in applications]
    assert numbers == [world.applicant.number, world.v1.number, world.v2.number]  # oldest first
    assert {edge["node"]["status"] for edge in applications} == {"APPLIED"}
    full = world.send(
        t["admin"],
        "query { me { workQueues { projectApplications { edges { node { volunteer "
        "{ number name ageBand phoneMasked skills } } } } } } }",
    )["data"]["me"]["workQueues"]["projectApplications"]["edges"][0]["node"]["volunteer"]
    assert full["phoneMasked"] is None and full["skills"] is None
    declarations = world.queue(t["recorder"], "declarations")["edges"]
    assert [edge["node"]["record"]["id"] for edge in declarations] == [world.declared_id]
    assert declarations[0]["node"]["volunteer"]["number"] == world.v1.number
    corrections = world.queue(t["county"], "correctionRequests")["edges"]
    assert [edge["node"]["overdue"] for edge in corrections] == [True, False]
    assert corrections[0]["node"]["id"] == world.late_correction
    stars = world.queue(t["county"], "starApplications")["edges"]
    assert [(e["node"]["level"], e["node"]["granter"]) for e in stars] == [(1, "COUNTY")]
    groups = world.queue(t["hub"], "groupReviews")["edges"]
    assert [e["node"]["name"] for e in groups] == [world.pending_group.name]
    # The objector sees their objection, not whose record it is.
    mine = world.send(
        t["applicant"],
        "query { me { objections { edges { node { reason resolution volunteer { number } } } } } }",
    )
    node = mine["data"]["me"]["objections"]["edges"][0]["node"]
    assert (node["resolution"], node["volunteer"]) == ("OPEN", None)
    objections = world.queue(t["admin"], "objections")["edges"]
    assert objections[0]["node"]["volunteer"]["number"] == world.v2.number


def test_queues_are_filtered_and_refuse_filters_they_do_not_take(world):
    t = world.tokens
    s, other = world.s, world.other
    query = """query($f: QueueFilter) { me { workQueues { projectApplications(filter: $f)
      { totalCount } } } }"""

    def count(token, queue_filter):
        body = world.send(token, query, {"f": queue_filter})
        assert "errors" not in body, body
        return body["data"]["me"]["workQueues"]["projectApplications"]["totalCount"]

    assert count(t["admin"], {"projectId": s.project_id}) == 3
    assert count(t["admin"], {"projectId": other.project_id}) == 0
    assert count(t["other_admin"], {"projectId": other.project_id}) == 1
    assert count(t["admin"], {"groupId": gid(SLUG, s.h.team)}) == 3
    today = timezone.localdate()
    assert count(t["admin"], {"since": today.isoformat()}) == 3
    assert count(t["admin"], {"since": (today + datetime.timedelta(days=1)).isoformat()}) == 0
    assert count(t["admin"], {"until": (today - datetime.timedelta(days=1)).isoformat()}) == 0
    refused = world.send(t["admin"], query, {"f": {"overdue": True}})
    assert refused["errors"][0]["extensions"]["code"] == "INVALID"
    assert refused["errors"][0]["extensions"]["field"] == "overdue"
    bad_id = world.send(t["admin"], query, {"f": {"projectId": gid(SLUG, s.h.team)}})
    assert bad_id["errors"][0]["extensions"]["code"] == "INVALID"
    overdue = """query($o: Boolean) { me { workQueues { correctionRequests(filter:
      {overdue: $o}) { edges { node { id overdue } } } } } }"""
    late = world.send(t["admin"], overdue, {"o": True})["data"]["me"]["workQueues"]
    assert [e["node"]["id"] for e in late["correctionRequests"]["edges"]] == [world.late_correction]
    in_time = world.send(t["admin"], overdue, {"o": False})["data"]["me"]["workQueues"]
    assert [e["node"]["overdue"] for e in in_time["correctionRequests"]["edges"]] == [False]
    level = """query($l: Int) { me { workQueues { starApplications(filter: {level: $l})
      { totalCount } } } }"""
    assert (
        world.send(t["county"], level, {"l": 1})["data"]["me"]["workQueues"]["starApplications"][
            "totalCount"
        ]
        == 1
    )
    assert (
        world.send(t["county"], level, {"l": 2})["data"]["me"]["workQueues"]["starApplications"][
            "totalCount"
        ]
        == 0
    )


def test_queues_are_paged_by_keyset_cursors(world):
    token = world.tokens["admin"]
    first = world.queue(token, "projectApplications", "first: 2")
    assert len(first["edges"]) == 2 and first["pageInfo"]["hasNextPage"] is True
    rest = world.queue(
        token,
        "projectApplications",
        f'first: 2, after: "{first["pageInfo"]["endCursor"]}"',
    )
    assert [e["node"]["volunteer"]["number"] for e in rest["edges"]] == [world.v2.number]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["totalCount"] == 3
    newest = world.queue(token, "projectApplications", "last: 1")
    assert [e["node"]["volunteer"]["number"] for e in newest["edges"]] == [world.v2.number]
    assert newest["pageInfo"]["hasPreviousPage"] is True
    # A cursor of another list is refused; so is a page past the limit.
    foreign = world.send(
        token,
        queue_query("objections", f'after: "{first["pageInfo"]["endCursor"]}"'),
    )
    assert foreign["errors"][0]["extensions"]["code"] == "INVALID"
    too_big = world.send(token, queue_query("projectApplications", "first: 101"))
    assert too_big["errors"][0]["extensions"]["code"] == "INVALID"


@pytest.mark.parametrize(
    ("persona", "name"),
    [
        ("admin", "membershipApplications"),
        ("admin", "projectApplications"),
        ("county", "projectReviews"),
        ("county", "recordConfirmations"),
        ("admin", "correctionRequests"),
        ("county", "objections"),
        ("county", "groupReviews"),
        ("county", "transferRequests"),
    ],
)
def test_statements_per_page_do_not_grow_with_the_page(world, persona, name):
    token = world.tokens[persona]
    _small, small_sql = execute_in_process(SLUG, queue_query(name, "first: 1"), {}, token)
    large, large_sql = execute_in_process(SLUG, queue_query(name, "first: 50"), {}, token)
    assert "errors" not in large, large
    assert len(small_sql) == len(large_sql), large_sql
    # host, token, roles, (area subqueries in the same statement) the page, its count,
    # and at most one prefetch (records, with their amendments only where amended)
    assert len(large_sql) <= 7, large_sql


def test_tasks_cost_one_count_per_queue(world):
    answer, sql = execute_in_process(SLUG, TASKS, {}, world.tokens["county"])
    assert answer["data"]["me"]["tasks"]["total"] == 8
    assert len(sql) <= 3 + len(QUEUES), sql


MINE = """query { me {
  projectApplications { edges { node { status decidedAt project { name } } } }
  declarations { edges { node { state decidedAt reason record { decidedAt } } } }
  correctionRequests { edges { node { status decidedAt overdue } } }
  starApplications { edges { node { status decidedAt } } }
  objections { edges { node { resolution decidedAt } } } } }"""


def test_deciders_decide_and_the_volunteer_sees_the_decision_and_its_time(world):
    t = world.tokens
    before = timezone.now()
    waiting = world.send(t["applicant"], MINE)["data"]["me"]
    assert [e["node"]["status"] for e in waiting["projectApplications"]["edges"]] == [
        "APPLIED",
        "APPLIED",
    ]
    assert all(e["node"]["decidedAt"] is None for e in waiting["projectApplications"]["edges"])
    # Each decider takes the first item of its queue and decides it.
    application = world.queue(t["admin"], "projectApplications")["edges"][0]["node"]
    world.ok(
        t["admin"],
        """mutation($a: ID!) { decideProjectApplication(applicationId: $a, accept: true)
        { status errors { code } } }""",
        "decideProjectApplication",
        {"a": application["id"]},
    )
    refused = world.send(
        t["admin"],
        """mutation($r: ID!) { decideDeclaration(recordId: $r, accept: true)
        { errors { code } } }""",
        {"r": world.declared_id},
    )
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    world.ok(
        t["recorder"],
        """mutation($r: ID!) { decideDeclaration(recordId: $r, accept: false, reason: "当天未排班")
        { record { state } errors { code } } }""",
        "decideDeclaration",
        {"r": world.declared_id},
    )
    objection = world.queue(t["admin"], "objections")["edges"][0]["node"]
    world.ok(
        t["admin"],
        """mutation($o: ID!) { resolveObjection(objectionId: $o, upheld: false,
        reason: "签到表可证") { errors { code } } }""",
        "resolveObjection",
        {"o": objection["id"]},
    )
    world.ok(
        t["admin"],
        """mutation($q: ID!) { declineCorrection(requestId: $q, reason: "当天未签到")
        { errors { code } } }""",
        "declineCorrection",
        {"q": world.late_correction},
    )
    star = world.queue(t["county"], "starApplications")["edges"][0]["node"]
    world.ok(
        t["county"],
        """mutation($a: ID!) { decideStarApplication(applicationId: $a, grant: true)
        { errors { code } } }""",
        "decideStarApplication",
        {"a": star["id"]},
    )
    group = world.queue(t["hub"], "groupReviews")["edges"][0]["node"]
    world.ok(
        t["hub"],
        """mutation($g: ID!) { reviewGroup(groupId: $g, approve: true, reason: "")
        { errors { code } } }""",
        "reviewGroup",
        {"g": group["id"]},
    )
    transfer = world.queue(t["v3"], "transferRequests")["edges"][0]["node"]
    world.ok(
        t["v3"],
        """mutation($x: ID!) { rejectTransfer(transferId: $x, reason: "暂不转移")
        { errors { code } } }""",
        "rejectTransfer",
        {"x": transfer["id"]},
    )
    membership = world.queue(t["admin"], "membershipApplications")["edges"][0]["node"]
    assert membership["applicant"]["number"] == world.applicant.number
    assert membership["applicant"]["phoneMasked"]  # shared with the group that decides
    world.ok(
        t["admin"],
        """mutation($m: ID!) { decideMembership(membershipId: $m, approve: true)
        { errors { code } } }""",
        "decideMembership",
        {"m": membership["id"]},
    )
    review = world.queue(t["hub"], "projectReviews")["edges"][0]["node"]
    assert review["id"] == world.review_project_id
    world.ok(
        t["hub"],
        """mutation($p: ID!) { reviewProject(projectId: $p, approve: true, reason: "")
        { errors { code } } }""",
        "reviewProject",
        {"p": review["id"]},
    )
    confirmation = world.queue(t["county"], "recordConfirmations")["edges"][0]["node"]
    assert confirmation["record"]["id"] == world.confirm_id
    world.ok(
        t["county"],
        """mutation($r: ID!) { confirmRecord(recordId: $r) { errors { code } } }""",
        "confirmRecord",
        {"r": world.confirm_id},
    )
    # The queues shrink; decided items are still there by status.
    assert world.tasks(t["admin"])["membershipApplications"] == 0
    assert world.tasks(t["county"])["projectReviews"] == 0
    assert world.tasks(t["city"])["recordConfirmations"] == 0
    assert world.tasks(t["admin"])["projectApplications"] == 2
    assert world.tasks(t["admin"])["objections"] == 0
    assert world.tasks(t["admin"])["correctionRequests"] == 1
    assert world.tasks(t["recorder"])["declarations"] == 0
    assert world.tasks(t["county"])["starApplications"] == 0
    assert world.tasks(t["hub"])["groupReviews"] == 0
    assert world.tasks(t["v3"])["transferRequests"] == 0
    accepted = world.queue(t["admin"], "projectApplications", "status: ACCEPTED")["edges"]
    assert [e["node"]["id"] for e in accepted] == [application["id"]]
    # The hub's approved groups: the town hub and the team it reviewed before, and this one.
    approved = world.queue(t["hub"], "groupReviews", "status: APPROVED")["edges"]
    assert [e["node"]["id"] for e in approved][-1] == group["id"]
    after = timezone.now()

    def when(value: str) -> datetime.datetime:
        moment = datetime.datetime.fromisoformat(value)
        assert before <= moment <= after, (before, moment, after)
        return moment

    # Each volunteer sees the decision and its time.
    mine = world.send(t["applicant"], MINE)["data"]["me"]
    decided = mine["projectApplications"]["edges"][0]["node"]
    assert decided["status"] == "ACCEPTED" and when(decided["decidedAt"])
    assert mine["projectApplications"]["edges"][1]["node"]["decidedAt"] is None
    resolved = mine["objections"]["edges"][0]["node"]
    assert resolved["resolution"] == "DISMISSED" and when(resolved["decidedAt"])
    v1 = world.send(t["v1"], MINE)["data"]["me"]
    declaration = v1["declarations"]["edges"][0]["node"]
    assert (declaration["state"], declaration["reason"]) == ("REJECTED", "当天未排班")
    assert when(declaration["decidedAt"]) == when(declaration["record"]["decidedAt"])
    v3 = world.send(t["v3"], MINE)["data"]["me"]
    corrections = [e["node"] for e in v3["correctionRequests"]["edges"]]
    assert [c["status"] for c in corrections] == ["DECLINED", "OPEN"]
    assert when(corrections[0]["decidedAt"]) and corrections[1]["decidedAt"] is None
    assert corrections[0]["overdue"] is False  # answered: no longer overdue
    stars = v3["starApplications"]["edges"][0]["node"]
    assert stars["status"] == "GRANTED" and when(stars["decidedAt"])
    # Staff have no applications of their own: empty lists, not errors.
    staff = world.send(t["admin"], MINE)
    assert "errors" not in staff, staff
    assert staff["data"]["me"]["projectApplications"]["edges"] == []


def test_the_decision_time_changes_only_with_the_decision(world):
    """The record trigger (records 0006) counts ``decided_at`` among the workflow
    columns and lets it change only while the record is declared: plain SQL cannot
    date a decision on a record in publicity."""
    with (
        tenant_context(world.region),
        pytest.raises(IntegrityError, match="decided once"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE records_servicerecord SET decided_at = now() WHERE id = %s",
            [row_key(world.recorded_id)],
        )
    connection.set_schema_to_public()
