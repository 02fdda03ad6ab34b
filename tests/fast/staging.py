"""Setting up a scene for fast tests through the services, in the test process:
the same steps as ``tests/records_support.stage`` takes over HTTP, without the
server, the logins or the commits (tests/fast/conftest.py rolls them back). The
project is made as the who-may-do-what world makes its own
(``tests/world_support.py``)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from central.models import Region
from central.policy import RegionPolicy
from tenants.accounts.services import AccountPrincipal
from tenants.groups import services as groups
from tenants.projects.models import Project
from tenants.records import services as records
from tenants.records.models import RecordMode, ServiceRecord
from tenants.volunteers.models import Volunteer
from tests.registry_support import (
    Hierarchy,
    accept_invitations,
    hierarchy,
    register_volunteer,
    unique,
)
from tests.registry_support import (
    principal_of_account as principal,  # what the API's token stands for
)
from tests.world_support import days_ago, project_draft, published_project


@dataclass
class Scene:
    """A hierarchy, an ongoing project of its team, a recorder and participants."""

    region: Region
    h: Hierarchy
    project: Project
    admin: AccountPrincipal  # the team's admin
    recorder: AccountPrincipal  # a certified recorder of the team
    volunteers: list[Volunteer]
    usernames: list[str]  # the volunteers' own accounts, in the same order


def scene(region: Region, participants: int = 1) -> Scene:
    policy = region.get_policy()
    h = hierarchy(region.slug)
    admin = principal(h.admins["team"])
    project = published_project(
        group_id=h.team.id,
        draft=project_draft(
            unique("敬老院陪伴项目"),
            days_ago(30),
            timezone.localdate() + datetime.timedelta(days=30),
            category="elderly_and_children",
            service_targets="敬老院老人",
            place="幸福敬老院",
            risk_notice="注意防滑，避免与老人发生肢体冲突",
            contact="赵联系",
        ),
        admin=admin,
        policy=policy,
        reviewer=principal(h.admins["district"]),
    )
    recorder_name = unique("rec")
    groups.create_staff_account(
        group_id=h.team.id,
        kind="recorder",
        username=recorder_name,
        password="Strong-pass-2026",
        display_name="记录员",
        recorder_certificate="记录员证2026",
        principal=admin,
        policy=policy,
    )
    people, usernames = [], []
    for _ in range(participants):
        volunteer, username = register_volunteer(region.slug)
        usernames.append(username)
        groups.add_member(
            group_id=h.team.id, number=volunteer.number, principal=admin, policy=policy
        )
        accept_invitations(region.slug, volunteer.number)
        people.append(volunteer)
    return Scene(region, h, project, admin, principal(recorder_name), people, usernames)


def entry(day: datetime.date, start: str, end: str, hours, **more) -> records.RecordEntry:
    return records.RecordEntry(
        service_date=day,
        start_time=datetime.time.fromisoformat(start),
        end_time=datetime.time.fromisoformat(end),
        hours=str(hours),
        content="陪伴老人聊天、读报",
        **{"punctuality": 5, "attitude": 5, "professionalism": 4, **more},
    )


def record(
    s: Scene, volunteer: Volunteer, body: records.RecordEntry, policy: RegionPolicy
) -> ServiceRecord:
    """The scene's recorder records ``body`` for ``volunteer`` (记录员录入)."""
    return records.record_hours(
        project_id=s.project.id,
        number=volunteer.number,
        entry=body,
        principal=s.recorder,
        policy=policy,
        mode=RecordMode.MANUAL,
    )
