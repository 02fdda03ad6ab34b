"""Setting up projects and participants for record tests, through the real API."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils import timezone

from tests.registry_support import (
    Hierarchy,
    accept_invitations,
    hierarchy,
    login,
    region,
    register_volunteer,
    unique,
)
from tests.support import gid
from tests.world_support import days_ago

if TYPE_CHECKING:
    from tenants.volunteers.models import Volunteer

CREATE_PROJECT = """mutation($g: ID!, $input: ProjectInput!) { createProject(groupId: $g,
  input: $input) { project { id status } errors { field code message } } }"""
SUBMIT = """mutation($p: ID!) { submitProject(projectId: $p) { project { id status }
  errors { field code message } } }"""
REVIEW_PROJECT = """mutation($p: ID!, $a: Boolean!, $r: String!) { reviewProject(projectId: $p,
  approve: $a, reason: $r) { project { status } errors { code message } } }"""
ADD_MEMBER = """mutation($g: ID!, $n: String!) { addMember(groupId: $g, number: $n)
  { errors { message } } }"""
CREATE_STAFF = """mutation($g: ID!, $u: String!, $c: String!) { createStaffAccount(groupId: $g,
  role: RECORDER, username: $u, password: "Strong-pass-2026", displayName: "记录员",
  recorderCertificate: $c) { username errors { field message } } }"""
RECORD = """mutation($p: ID!, $n: String!, $input: RecordInput!) { recordHours(projectId: $p,
  number: $n, input: $input) { record { id hours state publicityEndsOn mode recorder }
  errors { field code message } } }"""
VOLUNTEER_TOTALS = """query($n: String!) { volunteer(number: $n) { totalHours starLevel
  eligibleStarLevel records(first: 50) { edges { node { id hours originalHours state
  amendments { hours reason } } } } } }"""


def entry(day: datetime.date, start: str, end: str, hours, content="陪伴老人聊天、读报") -> dict:
    return {
        "serviceDate": day.isoformat(),
        "startTime": start,
        "endTime": end,
        "hours": str(hours),
        "content": content,
        "punctuality": 5,
        "attitude": 5,
        "professionalism": 4,
    }


def declaration(day: datetime.date, start: str, end: str, hours, content="陪伴老人聊天、读报"):
    """A volunteer's own declaration (本人申报): no evaluation, the group gives it (000 Art.10)."""
    body = entry(day, start, end, hours, content)
    for name in ("punctuality", "attitude", "professionalism"):
        del body[name]
    return body


@dataclass
class Stage:
    """A hierarchy, an ongoing project of its team, a recorder, and participants."""

    slug: str
    h: Hierarchy
    project_id: str
    admin: str  # the team admin's token
    recorder: str  # a certified recorder's token
    volunteers: list[tuple[Volunteer, str]]  # (volunteer model, username)


def stage(gql, slug: str, participants: int = 1, quota: int = 50) -> Stage:
    h = hierarchy(slug)
    admin = login(gql, slug, h.admins["team"])
    district_admin = login(gql, slug, h.admins["district"])
    project = gql.region(
        slug,
        CREATE_PROJECT,
        {
            "g": gid(slug, h.team),
            "input": {
                "name": unique("敬老院陪伴项目"),
                "category": "ELDERLY_AND_CHILDREN",
                "serviceTargets": "敬老院老人",
                "place": "幸福敬老院",
                "startsOn": days_ago(30).isoformat(),
                "endsOn": (timezone.localdate() + datetime.timedelta(days=30)).isoformat(),
                "quota": quota,
                "riskNotice": "注意防滑，避免与老人发生肢体冲突",
                "contact": "赵联系",
            },
        },
        token=admin,
    )["data"]["createProject"]
    assert project["errors"] == [], project
    project_id = project["project"]["id"]
    submitted = gql.region(slug, SUBMIT, {"p": project_id}, token=admin)["data"]["submitProject"]
    if submitted["project"]["status"] == "PENDING_REVIEW":
        reviewed = gql.region(
            slug, REVIEW_PROJECT, {"p": project_id, "a": True, "r": ""}, token=district_admin
        )
        assert reviewed["data"]["reviewProject"]["project"]["status"] == "ONGOING", reviewed
    recorder_name = unique("rec")
    created = gql.region(
        slug,
        CREATE_STAFF,
        {"g": gid(slug, h.team), "u": recorder_name, "c": "记录员证2026"},
        token=admin,
    )
    assert created["data"]["createStaffAccount"]["errors"] == [], created
    recorder = login(gql, slug, recorder_name)
    people = []
    for _ in range(participants):
        volunteer, username = register_volunteer(slug, **_area(slug))
        gql.region(slug, ADD_MEMBER, {"g": gid(slug, h.team), "n": volunteer.number}, token=admin)
        accept_invitations(slug, volunteer.number)
        people.append((volunteer, username))
    return Stage(slug, h, project_id, admin, recorder, people)


AREAS = {
    "yunnan": "530102",
    "fuxin": "210902",
    "liaoning": "210902",
    "hubei": "110105",
    "suizhou": "110105",
}


def _area(slug: str) -> dict:
    from tests.registry_support import id_number

    if slug not in AREAS:
        return {}
    return {"idNumber": id_number(datetime.date(1990, 5, 17), area=AREAS[slug])}


def card_of(slug: str, number: str) -> str:
    """A fresh code of the volunteer's card (what ``myCard`` shows them), made by the
    service; "" for a number nobody has."""
    from django_tenants.utils import tenant_context

    from tenants.records import cards
    from tenants.volunteers.models import Volunteer

    target = region(slug)
    with tenant_context(target):
        volunteer = Volunteer.objects.filter(number=number).first()
        return cards.card_code(volunteer, target.code)[0] if volunteer else ""
