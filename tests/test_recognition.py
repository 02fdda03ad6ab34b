"""Trainings (000 Art.11, 003 Art.14), awards (000 Art.12) and complaints (000 Art.13,
003 Art.22) on a volunteer's record — through the real GraphQL endpoint."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.audit.models import AuditEntry
from tenants.recognition.models import Award, Complaint, Training
from tenants.volunteers.models import Volunteer
from tests.registry_support import (
    Hierarchy,
    accept_invitations,
    authority,
    hierarchy,
    id_number,
    login,
    region,
    register_volunteer,
    unique,
)
from tests.support import GraphQLClient, execute_in_process, gid, row_key

ADD_MEMBER = """mutation($g: ID!, $n: String!) { addMember(groupId: $g, number: $n)
  { errors { message } } }"""
CREATE_STAFF = """mutation($g: ID!, $u: String!, $c: String!) { createStaffAccount(groupId: $g,
  role: RECORDER, username: $u, password: "Strong-pass-2026", displayName: "记录员",
  recorderCertificate: $c) { username errors { field message } } }"""
RECORD_TRAINING = """mutation($input: RecordTrainingInput!) { recordTraining(input: $input) {
  training { id title content trainedOn place hours contact evidence recordedBy group { name } }
  errors { field code message } } }"""
RECORD_AWARD = """mutation($input: RecordAwardInput!) { recordAward(input: $input) {
  award { id title awardingBody level awardedOn recordedBy group { name } }
  errors { field code message } } }"""
FILE_COMPLAINT = """mutation($input: FileComplaintInput!) { fileComplaint(input: $input) {
  complaint { id status complainant content receivedOn volunteerNumber filedBy }
  errors { field code message } } }"""
START = """mutation($c: ID!) { startComplaintInvestigation(complaintId: $c) {
  complaint { id status investigatedBy investigationStartedAt } errors { field code message } } }"""
DECIDE = """mutation($c: ID!, $u: Boolean!, $r: String!) { decideComplaint(complaintId: $c,
  upheld: $u, reason: $r) { complaint { id status decidedBy decidedAt decisionReason }
  errors { field code message } } }"""
RECORD_OF = """query($n: String!) { volunteer(number: $n) {
  trainings { title hours trainedOn place contact evidence group { name } }
  awards { title awardingBody level awardedOn group { name } }
  complaints { id status complainant content decisionReason group { name } } } }"""
GROUP_COMPLAINTS = """query($g: ID, $s: ComplaintStatus) { complaints(groupId: $g, status: $s) {
  id status volunteerNumber decisionReason } }"""


def today() -> datetime.date:
    return timezone.localdate()


def days_ago(n: int) -> str:
    return (today() - datetime.timedelta(days=n)).isoformat()


@dataclass
class Stage:
    slug: str
    h: Hierarchy
    admin: str  # the team admin's token
    recorder: str  # a recorder of the team
    member: Volunteer  # an active member of the team
    member_token: str
    outsider: object  # a volunteer of no group


def make_stage(gql: GraphQLClient, slug: str = "chongqing") -> Stage:
    h = hierarchy(slug)
    admin = login(gql, slug, h.admins["team"])
    name = unique("rec")
    created = gql.region(
        slug, CREATE_STAFF, {"g": gid(slug, h.team), "u": name, "c": "记录员证2026"}, token=admin
    )
    assert created["data"]["createStaffAccount"]["errors"] == [], created
    member, username = register_volunteer(slug)
    added = gql.region(slug, ADD_MEMBER, {"g": gid(slug, h.team), "n": member.number}, token=admin)
    assert added["data"]["addMember"]["errors"] == [], added
    accept_invitations(slug, member.number)
    outsider, _ = register_volunteer(slug)
    return Stage(
        slug, h, admin, login(gql, slug, name), member, login(gql, slug, username), outsider
    )


@pytest.fixture(scope="module")
def stage(server) -> Stage:
    return make_stage(GraphQLClient(server.base_url))


def training_input(stage: Stage, **overrides) -> dict:
    data = {
        "number": stage.member.number,
        "groupId": gid(stage.slug, stage.h.team),
        "title": "应急救护培训",
        "content": "心肺复苏、止血包扎与AED使用",
        "trainedOn": days_ago(3),
        "place": "渝中区红十字会培训室",
        "hours": "3.5",
        "evidence": "结业证书 渝红培2026-118",
    }
    data.update(overrides)
    return data


def award_input(stage: Stage, **overrides) -> dict:
    data = {
        "number": stage.member.number,
        "groupId": gid(stage.slug, stage.h.team),
        "title": "优秀志愿者",
        "awardingBody": "共青团重庆市委员会",
        "level": "MUNICIPAL",
        "awardedOn": days_ago(10),
    }
    data.update(overrides)
    return data


def complaint_input(stage: Stage, **overrides) -> dict:
    data = {
        "number": stage.member.number,
        "groupId": gid(stage.slug, stage.h.team),
        "complainant": "服务对象（敬老院老人家属）",
        "content": "服务时迟到一小时且态度生硬",
        "receivedOn": days_ago(1),
    }
    data.update(overrides)
    return data


def counts(slug: str) -> tuple[int, int, int, int]:
    with tenant_context(region(slug)):
        return (
            Training.objects.count(),
            Award.objects.count(),
            Complaint.objects.count(),
            AuditEntry.objects.count(),
        )


def payload(body: dict, name: str) -> dict:
    assert "errors" not in body, body
    return body["data"][name]


def file_complaint(gql, stage: Stage, token=None, **overrides) -> str:
    body = gql.region(
        stage.slug,
        FILE_COMPLAINT,
        {"input": complaint_input(stage, **overrides)},
        token=token or stage.recorder,
    )
    result = payload(body, "fileComplaint")
    assert result["errors"] == [], result
    assert result["complaint"]["status"] == "OPEN"
    return result["complaint"]["id"]


def test_each_record_is_written_and_read_back(gql, stage):
    before = counts(stage.slug)
    training = payload(
        gql.region(
            stage.slug,
            RECORD_TRAINING,
            {"input": training_input(stage)},
            token=stage.admin,
        ),
        "recordTraining",
    )
    assert training["errors"] == [], training
    assert training["training"]["hours"] == "3.50"
    # 联系人 defaults to the group's contact person (000 Art.11).
    assert training["training"]["contact"] == "赵联系"
    assert training["training"]["group"]["name"] == stage.h.team.name
    assert training["training"]["recordedBy"].endswith(stage.h.admins["team"])
    award = payload(
        gql.region(stage.slug, RECORD_AWARD, {"input": award_input(stage)}, token=stage.recorder),
        "recordAward",
    )
    assert award["errors"] == [], award
    assert award["award"]["level"] == "MUNICIPAL"
    complaint_id = file_complaint(gql, stage)
    assert counts(stage.slug) == tuple(b + d for b, d in zip(before, (1, 1, 1, 3), strict=True))
    with tenant_context(region(stage.slug)):
        actions = list(
            AuditEntry.objects.filter(target=stage.member.number)
            .order_by("-id")
            .values_list("action", flat=True)[:3]
        )
    assert actions == ["complaint.filed", "award.recorded", "training.recorded"]

    # The volunteer reads their own record: the open complaint is not on it yet.
    own = gql.region(stage.slug, RECORD_OF, {"n": stage.member.number}, token=stage.member_token)
    record = own["data"]["volunteer"]
    assert [t["title"] for t in record["trainings"]] == ["应急救护培训"]
    assert record["trainings"][0] == {
        "title": "应急救护培训",
        "hours": "3.50",
        "trainedOn": days_ago(3),
        "place": "渝中区红十字会培训室",
        "contact": "赵联系",
        "evidence": "结业证书 渝红培2026-118",
        "group": {"name": stage.h.team.name},
    }
    assert record["awards"] == [
        {
            "title": "优秀志愿者",
            "awardingBody": "共青团重庆市委员会",
            "level": "MUNICIPAL",
            "awardedOn": days_ago(10),
            "group": {"name": stage.h.team.name},
        }
    ]
    assert record["complaints"] == []
    # The group's staff see the open complaint they must handle.
    staff = gql.region(stage.slug, RECORD_OF, {"n": stage.member.number}, token=stage.recorder)
    assert [c["id"] for c in staff["data"]["volunteer"]["complaints"]] == [complaint_id]
    assert staff["data"]["volunteer"]["complaints"][0]["status"] == "OPEN"


INVALID_TRAININGS = [
    ({"trainedOn": (datetime.date.today() + datetime.timedelta(days=2)).isoformat()}, "trainedOn"),
    ({"hours": "0"}, "hours"),
    ({"hours": "-1"}, "hours"),
    ({"hours": "24.5"}, "hours"),
    ({"hours": "1.005"}, "hours"),
    ({"hours": "NaN"}, "hours"),
    ({"title": "   "}, "title"),
    ({"content": ""}, "content"),
    ({"place": ""}, "place"),
    ({"trainedOn": "1900-01-01"}, "trainedOn"),  # before the volunteer was born
]


@pytest.mark.parametrize(("overrides", "field"), INVALID_TRAININGS)
def test_invalid_training_is_refused_and_writes_nothing(gql, stage, overrides, field):
    before = counts(stage.slug)
    body = gql.region(
        stage.slug, RECORD_TRAINING, {"input": training_input(stage, **overrides)}, stage.admin
    )
    result = payload(body, "recordTraining")
    assert result["training"] is None
    assert [(e["field"], e["code"]) for e in result["errors"]] == [(field, "INVALID")]
    assert counts(stage.slug) == before


def test_every_bad_field_is_reported_at_once(gql, stage):
    before = counts(stage.slug)
    body = gql.region(
        stage.slug,
        RECORD_TRAINING,
        {"input": training_input(stage, title="", hours="25", place="")},
        token=stage.recorder,
    )
    fields = {e["field"] for e in payload(body, "recordTraining")["errors"]}
    assert fields == {"title", "hours", "place"}
    assert counts(stage.slug) == before


@pytest.mark.parametrize(
    ("mutation", "name", "make_input"),
    [
        (RECORD_TRAINING, "recordTraining", training_input),
        (RECORD_AWARD, "recordAward", award_input),
        (FILE_COMPLAINT, "fileComplaint", complaint_input),
    ],
)
def test_only_active_members_of_the_group(gql, stage, mutation, name, make_input):
    before = counts(stage.slug)
    cases = [
        (stage.outsider.number, "CONFLICT"),  # registered, but not a member of the team
        ("50000026999999999", "CONFLICT"),  # nobody's: answered alike (no oracle)
    ]
    for number, code in cases:
        body = gql.region(
            stage.slug, mutation, {"input": make_input(stage, number=number)}, token=stage.admin
        )
        result = payload(body, name)
        assert [(e["field"], e["code"]) for e in result["errors"]] == [("number", code)], result
    unknown_group = gql.region(
        stage.slug,
        mutation,
        {"input": make_input(stage, groupId=gid(stage.slug, 999999, "VolunteerGroup"))},
        token=stage.admin,
    )
    assert payload(unknown_group, name)["errors"][0]["code"] == "NOT_FOUND"
    assert counts(stage.slug) == before


@pytest.mark.parametrize(
    ("mutation", "name", "overrides", "field"),
    [
        (RECORD_AWARD, "recordAward", {"title": ""}, "title"),
        (RECORD_AWARD, "recordAward", {"awardingBody": " "}, "awardingBody"),
        (
            RECORD_AWARD,
            "recordAward",
            {"awardedOn": (datetime.date.today() + datetime.timedelta(days=2)).isoformat()},
            "awardedOn",
        ),
        (FILE_COMPLAINT, "fileComplaint", {"content": ""}, "content"),
        (FILE_COMPLAINT, "fileComplaint", {"complainant": ""}, "complainant"),
        (
            FILE_COMPLAINT,
            "fileComplaint",
            {"receivedOn": (datetime.date.today() + datetime.timedelta(days=2)).isoformat()},
            "receivedOn",
        ),
    ],
)
def test_invalid_award_or_complaint_is_refused(gql, stage, mutation, name, overrides, field):
    before = counts(stage.slug)
    make_input = award_input if name == "recordAward" else complaint_input
    body = gql.region(
        stage.slug, mutation, {"input": make_input(stage, **overrides)}, token=stage.recorder
    )
    result = payload(body, name)
    assert [(e["field"], e["code"]) for e in result["errors"]] == [(field, "INVALID")]
    assert counts(stage.slug) == before


def test_strangers_and_plain_volunteers_are_refused(gql, stage):
    complaint_id = file_complaint(gql, stage)
    district_admin = login(gql, stage.slug, stage.h.admins["district"])  # another group's admin
    before = counts(stage.slug)
    requests = [
        (RECORD_TRAINING, {"input": training_input(stage)}),
        (RECORD_AWARD, {"input": award_input(stage)}),
        (FILE_COMPLAINT, {"input": complaint_input(stage)}),
        (START, {"c": complaint_id}),
        (DECIDE, {"c": complaint_id, "u": True, "r": "核查属实"}),
        (GROUP_COMPLAINTS, {"g": gid(stage.slug, stage.h.team)}),
    ]
    for query, variables in requests:
        for token in (stage.member_token, district_admin):
            body = gql.region(stage.slug, query, variables, token=token)
            assert body["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED", body
        anonymous = gql.region(stage.slug, query, variables)
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", anonymous
    # A recorder records complaints but does not decide them: the group's admins do.
    for query, variables in requests[3:5]:
        body = gql.region(stage.slug, query, variables, token=stage.recorder)
        assert body["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED", body
    # Without a groupId only the authority lists complaints.
    body = gql.region(stage.slug, GROUP_COMPLAINTS, {}, token=stage.admin)
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert counts(stage.slug) == before


def test_complaint_workflow_and_who_sees_what(gql, seed_regions):
    stage = make_stage(gql)
    slug = stage.slug
    # The volunteer also belongs to the community hub, whose staff may see them.
    community_admin = login(gql, slug, stage.h.admins["community"])
    joined = gql.region(
        slug,
        ADD_MEMBER,
        {"g": gid(stage.slug, stage.h.community), "n": stage.member.number},
        token=community_admin,
    )
    assert joined["data"]["addMember"]["errors"] == []
    accept_invitations(slug, stage.member.number)
    upheld_id = file_complaint(gql, stage, content="服务中与服务对象发生争执")
    dismissed_id = file_complaint(gql, stage, content="被指未到岗，实际已签到")
    open_id = file_complaint(gql, stage, content="尚未核查的投诉")

    # A decision needs an investigation first (000 Art.13 核查处理).
    early = payload(
        gql.region(slug, DECIDE, {"c": upheld_id, "u": True, "r": "属实"}, token=stage.admin),
        "decideComplaint",
    )
    assert [(e["field"], e["code"]) for e in early["errors"]] == [("complaintId", "CONFLICT")]
    for complaint_id in (upheld_id, dismissed_id):
        started = payload(
            gql.region(slug, START, {"c": complaint_id}, token=stage.admin),
            "startComplaintInvestigation",
        )
        assert started["errors"] == [] and started["complaint"]["status"] == "INVESTIGATING"
        assert started["complaint"]["investigatedBy"].endswith(stage.h.admins["team"])
    again = payload(
        gql.region(slug, START, {"c": upheld_id}, token=stage.admin),
        "startComplaintInvestigation",
    )
    assert again["errors"][0]["code"] == "CONFLICT"

    before = counts(slug)
    no_reason = payload(
        gql.region(slug, DECIDE, {"c": upheld_id, "u": True, "r": "  "}, token=stage.admin),
        "decideComplaint",
    )
    assert [(e["field"], e["code"]) for e in no_reason["errors"]] == [("reason", "INVALID")]
    assert counts(slug) == before

    upheld = payload(
        gql.region(
            slug,
            DECIDE,
            {"c": upheld_id, "u": True, "r": "经核查属实：回访服务对象与在场志愿者"},
            token=stage.admin,
        ),
        "decideComplaint",
    )
    assert upheld["errors"] == [] and upheld["complaint"]["status"] == "UPHELD"
    assert upheld["complaint"]["decidedAt"] and upheld["complaint"]["decidedBy"]
    # The authority may decide too.
    dismissed = payload(
        gql.region(
            slug,
            DECIDE,
            {"c": dismissed_id, "u": False, "r": "签到记录显示已到岗，投诉不属实"},
            token=authority(gql, slug),
        ),
        "decideComplaint",
    )
    assert dismissed["errors"] == [] and dismissed["complaint"]["status"] == "DISMISSED"
    # Deciding twice is a conflict, whichever way, and changes nothing.
    before = counts(slug)
    for complaint_id, upheld_flag in ((upheld_id, False), (dismissed_id, True)):
        twice = payload(
            gql.region(
                slug, DECIDE, {"c": complaint_id, "u": upheld_flag, "r": "改判"}, token=stage.admin
            ),
            "decideComplaint",
        )
        assert [(e["field"], e["code"]) for e in twice["errors"]] == [("complaintId", "CONFLICT")]
    assert counts(slug) == before
    with tenant_context(region(slug)):
        assert Complaint.objects.get(id=row_key(upheld_id)).status == "upheld"
        assert Complaint.objects.get(id=row_key(dismissed_id)).status == "dismissed"

    def seen_by(token) -> dict[str, str]:
        body = gql.region(slug, RECORD_OF, {"n": stage.member.number}, token=token)
        return {c["id"]: c["status"] for c in body["data"]["volunteer"]["complaints"]}

    # Kept on file (记录在案, 003 Art.22): the upheld one shows to the volunteer and to
    # their other groups' staff; the dismissed one is not part of anyone's record.
    assert seen_by(stage.member_token) == {upheld_id: "UPHELD"}
    assert seen_by(community_admin) == {upheld_id: "UPHELD"}
    # The group's staff and the authority also see what is still open.
    expected_staff = {upheld_id: "UPHELD", open_id: "OPEN"}
    assert seen_by(stage.recorder) == expected_staff
    assert seen_by(authority(gql, slug)) == expected_staff
    # The dismissed complaint stays in the table, for the group's staff to audit.
    listed = gql.region(
        slug,
        GROUP_COMPLAINTS,
        {"g": gid(stage.slug, stage.h.team), "s": "DISMISSED"},
        token=stage.admin,
    )["data"]["complaints"]
    assert listed == [
        {
            "id": dismissed_id,
            "status": "DISMISSED",
            "volunteerNumber": stage.member.number,
            "decisionReason": "签到记录显示已到岗，投诉不属实",
        }
    ]
    everything = gql.region(
        slug, GROUP_COMPLAINTS, {"g": gid(stage.slug, stage.h.team)}, stage.recorder
    )
    assert [c["id"] for c in everything["data"]["complaints"]] == [
        upheld_id,
        dismissed_id,
        open_id,
    ]
    with tenant_context(region(slug)):
        decided = AuditEntry.objects.filter(action="complaint.decided", target=stage.member.number)
        assert sorted(e.detail["upheld"] for e in decided) == [False, True]


def test_yunnan_recorders_need_a_certificate(gql, seed_regions):
    """记录员须持证上岗 (001 §4(4)3): an uncertified admin may not record; the authority may."""
    slug = "yunnan"
    h = hierarchy(slug)
    admin = login(gql, slug, h.admins["team"])
    volunteer, _ = register_volunteer(
        slug, idNumber=id_number(datetime.date(1990, 5, 17), "530102")
    )
    gql.region(slug, ADD_MEMBER, {"g": gid(slug, h.team), "n": volunteer.number}, token=admin)
    accept_invitations(slug, volunteer.number)
    variables = {
        "input": {
            "number": volunteer.number,
            "groupId": gid(slug, h.team),
            "title": "志愿服务理念与礼仪",
            "content": "志愿服务宗旨、理念与服务礼仪 (003 Art.15)",
            "trainedOn": days_ago(1),
            "place": "昆明市志愿服务指导中心",
            "hours": 2,
        }
    }
    refused = gql.region(slug, RECORD_TRAINING, variables, token=admin)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert "001 §4(4)3" in refused["errors"][0]["message"]
    done = gql.region(slug, RECORD_TRAINING, variables, token=authority(gql, slug))
    assert payload(done, "recordTraining")["training"]["hours"] == "2.00"


def _raw(slug: str, sql: str, params=()) -> None:
    with tenant_context(region(slug)), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_the_database_refuses_deletes_and_edits(gql, stage):
    for mutation, name, make_input in (
        (RECORD_TRAINING, "recordTraining", training_input),
        (RECORD_AWARD, "recordAward", award_input),
    ):
        body = gql.region(stage.slug, mutation, {"input": make_input(stage)}, token=stage.admin)
        assert payload(body, name)["errors"] == []
    complaint_id = file_complaint(gql, stage)
    with tenant_context(region(stage.slug)):
        training_id = Training.objects.filter(volunteer=stage.member).latest("id").id
        award_id = Award.objects.filter(volunteer=stage.member).latest("id").id
    refused = [
        ("DELETE FROM recognition_training WHERE id = %s", [training_id]),
        ("DELETE FROM recognition_award WHERE id = %s", [award_id]),
        ("DELETE FROM recognition_complaint WHERE id = %s", [complaint_id]),
        ("UPDATE recognition_training SET hours = 20 WHERE id = %s", [training_id]),
        ("UPDATE recognition_award SET title = '全国优秀志愿者' WHERE id = %s", [award_id]),
        # An open complaint's facts never change, nor does it skip the investigation.
        ("UPDATE recognition_complaint SET content = '改写' WHERE id = %s", [complaint_id]),
        (
            "UPDATE recognition_complaint SET status = 'dismissed', decided_by = 'x', "
            "decided_at = now(), decision_reason = 'x' WHERE id = %s",
            [complaint_id],
        ),
    ]
    for sql, params in refused:
        with pytest.raises(DatabaseError):
            _raw(stage.slug, sql, params)
    # Through the service it moves on; once decided, not even the status changes again.
    assert (
        payload(
            gql.region(stage.slug, START, {"c": complaint_id}, token=stage.admin),
            "startComplaintInvestigation",
        )["errors"]
        == []
    )
    assert (
        payload(
            gql.region(
                stage.slug, DECIDE, {"c": complaint_id, "u": True, "r": "属实"}, stage.admin
            ),
            "decideComplaint",
        )["errors"]
        == []
    )
    for sql in (
        "UPDATE recognition_complaint SET status = 'investigating' WHERE id = %s",
        "UPDATE recognition_complaint SET decision_reason = '改判' WHERE id = %s",
    ):
        with pytest.raises(DatabaseError):
            _raw(stage.slug, sql, [complaint_id])
    with tenant_context(region(stage.slug)):
        assert Training.objects.filter(id=training_id, hours=Decimal("3.5")).exists()
        assert Complaint.objects.get(id=row_key(complaint_id)).status == "upheld"


LIST = """query($g: ID!, $first: Int!) { volunteers(filter: {groupId: $g}, first: $first) {
  edges { node { number
    trainings { title hours group { name } }
    awards { title level group { name } }
    complaints { status volunteerNumber group { name } } } } } }"""


def test_a_page_of_records_costs_the_same_queries_whatever_its_size(gql, seed_regions):
    slug = "liaoning"
    h = hierarchy(slug)
    admin = login(gql, slug, h.admins["team"])
    numbers = []
    for _ in range(5):
        born = datetime.date(1992, 3, 4)
        volunteer, _ = register_volunteer(slug, birth=born, idNumber=id_number(born, "210902"))
        gql.region(slug, ADD_MEMBER, {"g": gid(slug, h.team), "n": volunteer.number}, token=admin)
        accept_invitations(slug, volunteer.number)
        numbers.append(volunteer.number)
        probe = Stage(slug, h, admin, admin, volunteer, "", None)
        for mutation, name, make_input in (
            (RECORD_TRAINING, "recordTraining", training_input),
            (RECORD_AWARD, "recordAward", award_input),
        ):
            body = gql.region(slug, mutation, {"input": make_input(probe)}, token=admin)
            assert payload(body, name)["errors"] == []
        complaint_id = file_complaint(gql, probe, token=admin)
        gql.region(slug, START, {"c": complaint_id}, token=admin)
        gql.region(slug, DECIDE, {"c": complaint_id, "u": True, "r": "属实"}, token=admin)
    authority_token = authority(gql, slug, level="province")
    small, small_sql = execute_in_process(
        slug, LIST, {"g": gid(slug, h.team), "first": 2}, authority_token
    )
    large, large_sql = execute_in_process(
        slug, LIST, {"g": gid(slug, h.team), "first": 5}, authority_token
    )
    assert "errors" not in large, large
    nodes = [e["node"] for e in large["data"]["volunteers"]["edges"]]
    assert [n["number"] for n in nodes] == numbers
    assert all(len(n["trainings"]) == len(n["awards"]) == len(n["complaints"]) == 1 for n in nodes)
    assert nodes[0]["complaints"][0]["volunteerNumber"] == numbers[0]
    assert len(small["data"]["volunteers"]["edges"]) == 2
    assert len(small_sql) == len(large_sql), large_sql
