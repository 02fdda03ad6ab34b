"""Issue 12 point 9 (projects edited before publication, cancelled after;
applications withdrawn) and three of its "Also seen" fixes: hours more precise
than kept are refused, the group evaluates a self-declared record (000 Art.10),
and a record's recorder is a name. Through the real GraphQL endpoint."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.projects.models import Project, ProjectApplication
from tenants.records.models import ServiceRecord
from tests.records_support import (
    CREATE_PROJECT,
    RECORD,
    REVIEW_PROJECT,
    SUBMIT,
    days_ago,
    declaration,
    entry,
    stage,
)
from tests.registry_support import login, region, register_volunteer, unique
from tests.support import GraphQLClient, execute_in_process, gid, row_key
from tests.test_records import AMEND, DECLARE
from tests.test_records_concurrency import together

DECIDE = """mutation($r: ID!, $a: Boolean!, $why: String!, $p: Int, $t: Int, $q: Int) {
  decideDeclaration(recordId: $r, accept: $a, reason: $why, punctuality: $p, attitude: $t,
  professionalism: $q) { record { state punctuality attitude professionalism recorder }
  errors { field code message } } }"""
RECORDS_OF = """query($n: String!) { volunteer(number: $n) { records(first: 20) {
  edges { node { hours recorder punctuality } } } } }"""


def _records_of(number: str, slug: str = "chongqing") -> list[ServiceRecord]:
    """The volunteer's records as stored, with their current values resolved."""
    with tenant_context(region(slug)):
        rows = list(ServiceRecord.objects.filter(volunteer__number=number))
        for row in rows:
            row.current()
        return rows


def _refused_in_sql(statement: str, *params, slug: str = "chongqing") -> None:
    with (
        tenant_context(region(slug)),
        connection.cursor() as cursor,
        pytest.raises(DatabaseError),
        transaction.atomic(),
    ):
        cursor.execute(statement, params)


# --- Also seen: hours are refused beyond the precision kept -----------------------------


# Every case through the services: tests/fast/test_records.py; here one, through the API.
@pytest.mark.parametrize("hours", ["0.333"])
def test_hours_more_precise_than_kept_are_refused_everywhere_they_enter(gql, seed_regions, hours):
    """0.333 was stored as 0.33: now every way hours enter refuses it, naming the precision."""
    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    recorded = gql.region(
        "chongqing",
        RECORD,
        {
            "p": s.project_id,
            "n": volunteer.number,
            "input": entry(days_ago(2), "09:00", "12:00", hours),
        },
        token=s.recorder,
    )["data"]["recordHours"]
    assert recorded["record"] is None
    assert recorded["errors"][0]["field"] == "hours"
    assert recorded["errors"][0]["code"] == "INVALID"
    assert "two decimal places" in recorded["errors"][0]["message"]
    declared = gql.region(
        "chongqing",
        DECLARE,
        {"p": s.project_id, "input": declaration(days_ago(3), "09:00", "12:00", hours)},
        token=login(gql, "chongqing", username),
    )["data"]["declareHours"]
    assert declared["errors"][0]["field"] == "hours", declared
    assert _records_of(volunteer.number) == []  # nothing was stored
    kept = gql.region(
        "chongqing",
        RECORD,
        {
            "p": s.project_id,
            "n": volunteer.number,
            "input": entry(days_ago(2), "09:00", "12:00", "0.33"),
        },
        token=s.recorder,
    )["data"]["recordHours"]
    assert kept["errors"] == [] and kept["record"]["hours"] == "0.33"
    amended = gql.region(
        "chongqing",
        AMEND,
        {"r": kept["record"]["id"], "c": {"hours": hours}, "why": "核对签到表"},
        token=s.recorder,
    )["data"]["amendRecord"]
    assert amended["errors"][0]["field"] == "hours"
    assert amended["errors"][0]["code"] == "INVALID"
    assert [r.current().hours for r in _records_of(volunteer.number)] == [Decimal("0.33")]


# --- Also seen: the group evaluates a self-declared record (000 Art.10) -----------------


def test_the_group_not_the_volunteer_evaluates_a_declaration(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    own = login(gql, "chongqing", username)
    self_rated = gql.region(
        "chongqing",
        DECLARE,
        {"p": s.project_id, "input": entry(days_ago(4), "09:00", "11:00", 2)},
        token=own,
    )["data"]["declareHours"]
    assert self_rated["record"] is None
    assert {e["field"] for e in self_rated["errors"]} == {
        "punctuality",
        "attitude",
        "professionalism",
    }
    assert {e["code"] for e in self_rated["errors"]} == {"INVALID"}
    assert _records_of(volunteer.number) == []
    declared = gql.region(
        "chongqing",
        DECLARE,
        {"p": s.project_id, "input": declaration(days_ago(4), "09:00", "11:00", 2)},
        token=own,
    )["data"]["declareHours"]
    record_id = declared["record"]["id"]
    # The database holds it too: a declaration waiting for the group has no evaluation.
    _refused_in_sql(
        "UPDATE records_servicerecord SET punctuality = 5 WHERE id = %s", row_key(record_id)
    )
    decide = {"r": record_id, "a": True, "why": "", "p": 4, "t": 5, "q": 3}
    for bad in ({"p": 6}, {"t": 0}):
        refused = gql.region("chongqing", DECIDE, {**decide, **bad}, token=s.recorder)
        assert refused["data"]["decideDeclaration"]["errors"][0]["code"] == "INVALID"
    # The volunteer still cannot decide (and so rate) their own declaration.
    own_try = gql.region("chongqing", DECIDE, decide, token=own)
    assert own_try["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert _records_of(volunteer.number)[0].punctuality is None
    accepted = gql.region("chongqing", DECIDE, decide, token=s.recorder)["data"]
    record = accepted["decideDeclaration"]["record"]
    assert record["state"] == "COUNTED"
    assert (record["punctuality"], record["attitude"], record["professionalism"]) == (4, 5, 3)
    # Once decided the evaluation never changes (000 Art.23), as before.
    _refused_in_sql(
        "UPDATE records_servicerecord SET punctuality = 1 WHERE id = %s", row_key(record_id)
    )
    # A rejection gives no evaluation.
    second = gql.region(
        "chongqing",
        DECLARE,
        {"p": s.project_id, "input": declaration(days_ago(5), "09:00", "11:00", 2)},
        token=own,
    )["data"]["declareHours"]
    rejected = gql.region(
        "chongqing",
        DECIDE,
        {"r": second["record"]["id"], "a": False, "why": "当天无此活动", "p": 3},
        token=s.recorder,
    )["data"]["decideDeclaration"]
    assert rejected["errors"][0]["field"] == "punctuality"
    states = sorted(r.state for r in _records_of(volunteer.number))
    assert states == ["counted", "declared"]


# --- Also seen: the recorder is a name, never the internal actor key ---------------------


def test_a_records_recorder_is_a_name_and_costs_no_statement_per_record(gql, seed_regions):
    s = stage(gql, "chongqing")
    volunteer, username = s.volunteers[0]
    recorded = gql.region(
        "chongqing",
        RECORD,
        {
            "p": s.project_id,
            "n": volunteer.number,
            "input": entry(days_ago(2), "09:00", "10:00", 1),
        },
        token=s.recorder,
    )["data"]["recordHours"]["record"]
    assert recorded["recorder"] == "记录员"  # the staff account's display name
    declared = gql.region(
        "chongqing",
        DECLARE,
        {"p": s.project_id, "input": declaration(days_ago(3), "09:00", "10:00", 1)},
        token=login(gql, "chongqing", username),
    )["data"]["declareHours"]["record"]
    answer, one = execute_in_process("chongqing", RECORDS_OF, {"n": volunteer.number}, s.admin)
    names = [e["node"]["recorder"] for e in answer["data"]["volunteer"]["records"]["edges"]]
    assert sorted(names) == sorted(["记录员", "the volunteer (self-declared, 本人申报)"])
    assert not any("account:" in name for name in names)
    decided = gql.region(
        "chongqing", DECIDE, {"r": declared["id"], "a": True, "why": ""}, token=s.recorder
    )["data"]["decideDeclaration"]
    assert decided["record"]["recorder"] == "记录员"
    for day in (4, 5, 6):
        gql.region(
            "chongqing",
            RECORD,
            {
                "p": s.project_id,
                "n": volunteer.number,
                "input": entry(days_ago(day), "09:00", "10:00", 1),
            },
            token=s.recorder,
        )
    answer, five = execute_in_process("chongqing", RECORDS_OF, {"n": volunteer.number}, s.admin)
    names = [e["node"]["recorder"] for e in answer["data"]["volunteer"]["records"]["edges"]]
    assert names == ["记录员"] * 5
    assert len(five) == len(one)
    # In Chinese, the self-declared label too.
    assert "account:" not in str(answer)


# --- Point 9: projects edited before publication, cancelled after ------------------------

UPDATE_PROJECT = """mutation($p: ID!, $input: ProjectInput!) { updateProject(projectId: $p,
  input: $input) { project { name quota status startsOn } errors { field code message } } }"""
CANCEL = """mutation($p: ID!, $why: String!) { cancelProject(projectId: $p, reason: $why) {
  project { status cancellationReason cancelledAt } errors { field code message } } }"""
APPLY = """mutation($p: ID!) { applyToProject(projectId: $p) { applicationId status
  errors { field code message } } }"""
DECIDE_APPLICATION = """mutation($a: ID!, $yes: Boolean!) { decideProjectApplication(
  applicationId: $a, accept: $yes) { status errors { field code message } } }"""
WITHDRAW = """mutation($a: ID!) { withdrawApplication(applicationId: $a) { applicationId status
  errors { field code message } } }"""
MY_APPLICATIONS = """query($first: Int, $after: String) { me { projectApplications(
  first: $first, after: $after) { edges { cursor node { id status decidedAt project { name
  status cancellationReason } } } pageInfo { hasNextPage endCursor } } } }"""


def code_of(body: dict, mutation: str) -> str | None:
    """The typed code of a refusal: in the payload's errors, or the request's."""
    if body.get("errors"):
        return body["errors"][0]["extensions"]["code"]
    errors = body["data"][mutation]["errors"]
    return errors[0]["code"] if errors else None


def project_input(starts_in: int = 10, **changes) -> dict:
    today = timezone.localdate()
    return {
        "name": unique("社区助老项目"),
        "category": "ELDERLY_AND_CHILDREN",
        "serviceTargets": "社区老人",
        "place": "幸福社区",
        "startsOn": (today + datetime.timedelta(days=starts_in)).isoformat(),
        "endsOn": (today + datetime.timedelta(days=starts_in + 20)).isoformat(),
        "quota": 2,
        "riskNotice": "注意防滑，避免与老人发生肢体冲突",
        "contact": "赵联系",
        **changes,
    }


def draft(gql, s, **changes) -> str:
    body = gql.region(
        s.slug,
        CREATE_PROJECT,
        {"g": gid(s.slug, s.h.team), "input": project_input(**changes)},
        token=s.admin,
    )["data"]["createProject"]
    assert body["errors"] == [], body
    return body["project"]["id"]


def publish(gql, s, project_id: str) -> None:
    submitted = gql.region(s.slug, SUBMIT, {"p": project_id}, token=s.admin)["data"]
    if submitted["submitProject"]["project"]["status"] == "PENDING_REVIEW":
        district = login(gql, s.slug, s.h.admins["district"])
        gql.region(s.slug, REVIEW_PROJECT, {"p": project_id, "a": True, "r": ""}, token=district)


def applicant(gql, slug: str = "chongqing") -> str:
    return login(gql, slug, register_volunteer(slug)[1])


def apply(gql, project_id: str, token: str, slug: str = "chongqing") -> str:
    body = gql.region(slug, APPLY, {"p": project_id}, token=token)["data"]["applyToProject"]
    assert body["errors"] == [], body
    return body["applicationId"]


def test_a_project_is_edited_until_it_is_published(gql, seed_regions):
    s = stage(gql, "chongqing", participants=0)
    project_id = draft(gql, s)
    changed = project_input(name="社区助老项目（修订）", quota=5)
    edited = gql.region(
        "chongqing", UPDATE_PROJECT, {"p": project_id, "input": changed}, token=s.admin
    )["data"]["updateProject"]
    assert edited["errors"] == []
    assert edited["project"] == {
        "name": "社区助老项目（修订）",
        "quota": 5,
        "status": "DRAFT",
        "startsOn": changed["startsOn"],
    }
    # The same checks as createProject, every problem at once; nothing changes.
    bad = project_input(
        name=" ",
        quota=0,
        endsOn=(timezone.localdate() - datetime.timedelta(days=400)).isoformat(),
        category="EMERGENCY_RESCUE",
        riskNotice="",
    )
    refused = gql.region(
        "chongqing", UPDATE_PROJECT, {"p": project_id, "input": bad}, token=s.admin
    )["data"]["updateProject"]
    assert refused["project"] is None
    assert {e["field"] for e in refused["errors"]} == {
        "name",
        "quota",
        "endsOn",
        "riskNotice",
        "insured",
    }
    assert {e["code"] for e in refused["errors"]} == {"INVALID"}
    with tenant_context(region("chongqing")):
        stored = Project.objects.get(id=row_key(project_id))
        assert (stored.name, stored.quota) == ("社区助老项目（修订）", 5)
    # Only the group's admins (who may create it): not its recorder, not another
    # group's admin, not a volunteer, not without a token.
    other_group = stage(gql, "chongqing", participants=0)
    for token, code in (
        (s.recorder, "PERMISSION_DENIED"),
        (other_group.admin, "PERMISSION_DENIED"),
        (applicant(gql), "PERMISSION_DENIED"),
        (None, "UNAUTHENTICATED"),
    ):
        body = gql.region(
            "chongqing", UPDATE_PROJECT, {"p": project_id, "input": changed}, token=token
        )
        assert code_of(body, "updateProject") == code, body
    missing = gql.region(
        "chongqing",
        UPDATE_PROJECT,
        {"p": gid("chongqing", 10**9, "Project"), "input": changed},
        token=s.admin,
    )
    assert code_of(missing, "updateProject") == "NOT_FOUND"
    # Published, volunteers apply to what it says: it is no longer edited.
    publish(gql, s, project_id)
    late = gql.region(
        "chongqing", UPDATE_PROJECT, {"p": project_id, "input": changed}, token=s.admin
    )
    assert code_of(late, "updateProject") == "CONFLICT"


def test_cancelling_a_project_tells_its_applicants(gql, seed_regions):
    s = stage(gql, "chongqing", participants=0)
    project_id = draft(gql, s, quota=1)
    publish(gql, s, project_id)
    accepted_one, pending_one = applicant(gql), applicant(gql)
    accepted_id = apply(gql, project_id, accepted_one)
    pending_id = apply(gql, project_id, pending_one)
    body = gql.region("chongqing", DECIDE_APPLICATION, {"a": accepted_id, "yes": True}, s.admin)
    assert body["data"]["decideProjectApplication"]["status"] == "ACCEPTED"
    for why, token, code in (
        (" ", s.admin, "INVALID"),  # a reason is required
        ("场地不可用", s.recorder, "PERMISSION_DENIED"),
        ("场地不可用", accepted_one, "PERMISSION_DENIED"),
        ("场地不可用", None, "UNAUTHENTICATED"),
    ):
        body = gql.region("chongqing", CANCEL, {"p": project_id, "why": why}, token=token)
        assert code_of(body, "cancelProject") == code, body
    cancelled = gql.region(
        "chongqing", CANCEL, {"p": project_id, "why": "场地不可用"}, token=s.admin
    )["data"]["cancelProject"]
    assert cancelled["errors"] == []
    assert cancelled["project"]["status"] == "CANCELLED"
    assert cancelled["project"]["cancellationReason"] == "场地不可用"
    assert cancelled["project"]["cancelledAt"]
    # Each applicant sees it in their own applications, with the reason.
    for token in (accepted_one, pending_one):
        mine = gql.region("chongqing", MY_APPLICATIONS, {}, token=token)["data"]
        (edge,) = mine["me"]["projectApplications"]["edges"]
        assert edge["node"]["status"] == "PROJECT_CANCELLED"
        assert edge["node"]["decidedAt"]
        assert edge["node"]["project"]["status"] == "CANCELLED"
        assert edge["node"]["project"]["cancellationReason"] == "场地不可用"
    # Nothing more happens at a cancelled project.
    late = gql.region("chongqing", APPLY, {"p": project_id}, token=applicant(gql))
    assert code_of(late, "applyToProject") == "CONFLICT"
    again = gql.region("chongqing", CANCEL, {"p": project_id, "why": "重复"}, token=s.admin)
    assert code_of(again, "cancelProject") == "CONFLICT"
    withdrawn = gql.region("chongqing", WITHDRAW, {"a": pending_id}, token=pending_one)
    assert code_of(withdrawn, "withdrawApplication") == "CONFLICT"
    edited = gql.region(
        "chongqing", UPDATE_PROJECT, {"p": project_id, "input": project_input()}, token=s.admin
    )
    assert code_of(edited, "updateProject") == "CONFLICT"
    with tenant_context(region("chongqing")):
        statuses = set(
            ProjectApplication.objects.filter(project_id=row_key(project_id)).values_list(
                "status", flat=True
            )
        )
    assert statuses == {"project_cancelled"}
    # The database holds it too: no application reopens at a cancelled project.
    _refused_in_sql(
        "UPDATE projects_projectapplication SET status = 'applied' WHERE id = %s",
        row_key(pending_id),
    )


def test_a_project_where_service_was_recorded_is_not_cancelled(gql, seed_regions):
    """Records are never withdrawn with their project (000 Art.23): it ends instead."""
    s = stage(gql, "chongqing")
    volunteer, _ = s.volunteers[0]
    body = gql.region(
        "chongqing",
        RECORD,
        {
            "p": s.project_id,
            "n": volunteer.number,
            "input": entry(days_ago(2), "09:00", "10:00", 1),
        },
        token=s.recorder,
    )
    assert body["data"]["recordHours"]["errors"] == []
    refused = gql.region("chongqing", CANCEL, {"p": s.project_id, "why": "经费不足"}, s.admin)
    assert code_of(refused, "cancelProject") == "CONFLICT"
    assert "recorded" in refused["data"]["cancelProject"]["errors"][0]["message"]
    with tenant_context(region("chongqing")):
        assert Project.objects.get(id=row_key(s.project_id)).status == "published"


def test_a_volunteer_withdraws_and_the_place_is_free_again(gql, seed_regions):
    s = stage(gql, "chongqing", participants=0)
    project_id = draft(gql, s, quota=1)
    publish(gql, s, project_id)
    first, second = applicant(gql), applicant(gql)
    first_id, second_id = apply(gql, project_id, first), apply(gql, project_id, second)
    gql.region("chongqing", DECIDE_APPLICATION, {"a": first_id, "yes": True}, s.admin)
    full = gql.region("chongqing", DECIDE_APPLICATION, {"a": second_id, "yes": True}, s.admin)
    assert code_of(full, "decideProjectApplication") == "CONFLICT"
    # Only the applicant withdraws: not another volunteer (to whom someone else's
    # application is no application, as an id with none: audit round 3), not the
    # group's staff.
    for token, code in (
        (second, "NOT_FOUND"),
        (s.admin, "PERMISSION_DENIED"),
        (None, "UNAUTHENTICATED"),
    ):
        body = gql.region("chongqing", WITHDRAW, {"a": first_id}, token=token)
        assert code_of(body, "withdrawApplication") == code, body
    missing = gql.region(
        "chongqing", WITHDRAW, {"a": gid("chongqing", 10**9, "ProjectApplication")}, token=first
    )
    assert code_of(missing, "withdrawApplication") == "NOT_FOUND"
    withdrawn = gql.region("chongqing", WITHDRAW, {"a": first_id}, token=first)["data"]
    assert withdrawn["withdrawApplication"]["status"] == "WITHDRAWN"
    twice = gql.region("chongqing", WITHDRAW, {"a": first_id}, token=first)
    assert code_of(twice, "withdrawApplication") == "CONFLICT"
    # The place it held is free: the second volunteer is accepted now.
    now_accepted = gql.region(
        "chongqing", DECIDE_APPLICATION, {"a": second_id, "yes": True}, s.admin
    )["data"]["decideProjectApplication"]
    assert now_accepted["status"] == "ACCEPTED"
    mine = gql.region("chongqing", MY_APPLICATIONS, {}, token=first)["data"]["me"][
        "projectApplications"
    ]
    assert [e["node"]["status"] for e in mine["edges"]] == ["WITHDRAWN"]
    # The first may apply again, and withdraw the pending application.
    again = apply(gql, project_id, first)
    body = gql.region("chongqing", WITHDRAW, {"a": again}, token=first)
    assert body["data"]["withdrawApplication"]["status"] == "WITHDRAWN"
    page = gql.region("chongqing", MY_APPLICATIONS, {"first": 1}, token=first)["data"]
    assert page["me"]["projectApplications"]["pageInfo"]["hasNextPage"] is True
    rest = gql.region(
        "chongqing",
        MY_APPLICATIONS,
        {"first": 1, "after": page["me"]["projectApplications"]["pageInfo"]["endCursor"]},
        token=first,
    )["data"]["me"]["projectApplications"]
    assert [e["node"]["id"] for e in rest["edges"]] == [again]
    # The database refuses cancelling a project whose applicants were not told.
    _refused_in_sql(
        "UPDATE projects_project SET status = 'cancelled', cancellation_reason = '暴雨', "
        "cancelled_at = now() WHERE id = %s",
        row_key(project_id),
    )
    # Staff have no applications of their own to list: none, never someone else's.
    staff = gql.region("chongqing", MY_APPLICATIONS, {}, token=s.admin)["data"]["me"]
    assert staff["projectApplications"]["edges"] == []


def test_an_accepted_place_is_kept_once_the_project_has_started(gql, seed_regions):
    s = stage(gql, "chongqing", participants=0)  # its project started 30 days ago
    volunteer = applicant(gql)
    application = apply(gql, s.project_id, volunteer)
    gql.region("chongqing", DECIDE_APPLICATION, {"a": application, "yes": True}, s.admin)
    body = gql.region("chongqing", WITHDRAW, {"a": application}, token=volunteer)
    assert code_of(body, "withdrawApplication") == "CONFLICT"
    other = applicant(gql)
    pending = apply(gql, s.project_id, other)
    body = gql.region("chongqing", WITHDRAW, {"a": pending}, token=other)
    assert body["data"]["withdrawApplication"]["status"] == "WITHDRAWN"


def test_cancelling_while_volunteers_apply_and_are_accepted_leaves_none_open(gql, seed_regions):
    """Cancellation, applications and acceptances at the same moment: whatever the
    order, no application stays open at a cancelled project, and the quota holds."""
    s = stage(gql, "chongqing", participants=0)
    project_id = draft(gql, s, quota=1)
    publish(gql, s, project_id)
    tokens = [applicant(gql) for _ in range(3)]
    pending = [apply(gql, project_id, t) for t in tokens[:2]]
    late = applicant(gql)
    clients = [GraphQLClient(gql.base_url) for _ in range(4)]
    together(
        [
            lambda: clients[0].region(
                "chongqing", CANCEL, {"p": project_id, "why": "暴雨"}, s.admin
            ),
            lambda: clients[1].region(
                "chongqing", DECIDE_APPLICATION, {"a": pending[0], "yes": True}, s.admin
            ),
            lambda: clients[2].region(
                "chongqing", DECIDE_APPLICATION, {"a": pending[1], "yes": True}, s.admin
            ),
            lambda: clients[3].region("chongqing", APPLY, {"p": project_id}, token=late),
        ]
    )
    with tenant_context(region("chongqing")):
        assert Project.objects.get(id=row_key(project_id)).status == "cancelled"
        statuses = list(
            ProjectApplication.objects.filter(project_id=row_key(project_id)).values_list(
                "status", flat=True
            )
        )
    assert "applied" not in statuses and "accepted" not in statuses, statuses
    assert statuses.count("project_cancelled") == len(statuses)
