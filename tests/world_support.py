"""Building a test world in the test process through the platform's services.

Shared by the fast tier (``tests/fast/staging.py``, rolled back) and the HTTP
tier's worlds set up in process (``tests/test_who_may_do_what.py``, committed):
a project taken through draft, submission and review, and counted hours given
the way the platform counts them — service records entered by a recorder, so a
volunteer's totals stay the sum of their counted records (the federation
invariant's ``TOTALS_MISMATCH``, interop/invariant.py, which ``tests/conftest.py``
checks after every module). No world writes totals or other derived columns
itself.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from central.policy import RegionPolicy
from tenants.accounts import services as accounts
from tenants.accounts.models import RoleKind
from tenants.accounts.principal import Principal
from tenants.accounts.services import OperatorPrincipal
from tenants.projects import services as projects
from tenants.projects.models import Project, ProjectStatus
from tenants.records import services as records
from tenants.records.models import Amendment, RecordState, ServiceRecord
from tenants.volunteers.models import Volunteer
from tests.registry_support import unique

# A whole day's record: 00:00–20:00, 20 hours (at most 24 a day, 000 Art.9).
DAY_HOURS = 20


def days_ago(n: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=n)


def project_draft(
    name: str, starts_on: datetime.date, ends_on: datetime.date, **more: object
) -> projects.ProjectDraft:
    """A complete draft; ``more`` overrides any other field."""
    fields: dict = {
        "category": "community_service",
        "service_targets": "社区居民",
        "place": "解放碑",
        "quota": 50,
        "risk_notice": "注意交通安全",
        "contact": "王老师",
    }
    return projects.ProjectDraft(name=name, starts_on=starts_on, ends_on=ends_on, **fields | more)


def published_project(
    *,
    group_id: int,
    draft: projects.ProjectDraft,
    admin: Principal,
    policy: RegionPolicy,
    reviewer: Principal | None = None,
) -> Project:
    """The group's admin creates and submits the project; where the region reviews
    projects (002 §3(3)), ``reviewer`` (by default a central operator) approves it."""
    project = projects.create_project(group_id=group_id, draft=draft, principal=admin)
    project = projects.submit_project(project_id=project.id, principal=admin, policy=policy)
    if project.status == ProjectStatus.PENDING_REVIEW:
        project = projects.review_project(
            project_id=project.id,
            approve=True,
            reason="",
            principal=reviewer or OperatorPrincipal("test"),
            policy=policy,
        )
    return project


def counted_hours(
    *,
    project: Project,
    volunteer: Volunteer,
    hours: int,
    recorder: Principal,
    policy: RegionPolicy,
) -> list[ServiceRecord]:
    """Give ``volunteer`` ``hours`` counted hours at ``project``: whole-day records
    (:data:`DAY_HOURS` each, the last one shorter) from the project's first day on,
    entered by ``recorder`` under ``policy``, which must count them at once (no
    publicity, no confirmation: 重庆's). A day the volunteer already has service on
    is refused by the platform (``CONFLICT``), so a world that also records from
    today backwards keeps well clear of the project's first days."""
    made = []
    day, left = project.starts_on, hours
    while left > 0:
        chunk = min(DAY_HOURS, left)
        assert day <= timezone.localdate(), "the project began too recently for these hours"
        record = records.record_hours(
            project_id=project.id,
            number=volunteer.number,
            entry=records.RecordEntry(
                day, datetime.time(0), datetime.time(chunk), Decimal(chunk), "全天值守服务"
            ),
            principal=recorder,
            policy=policy,
        )
        assert record.state == RecordState.COUNTED, f"{policy} does not count at once"
        made.append(record)
        day += datetime.timedelta(days=1)
        left -= chunk
    return made


def amended(
    record: ServiceRecord, *, reason: str, policy: RegionPolicy, **changes: object
) -> Amendment:
    """``record`` amended (``changes``: hours, place…) through ``amend_record`` by a
    certified recorder of its group, made for the call: generated groups have no
    accounts. The volunteer's counted hours follow, as they do in production."""
    assert record.project is not None, "a record brought by a transfer: the authority amends it"
    recorder = accounts.create_account(unique("rec"), "Strong-pass-2026", "记录员", actor="test")
    accounts.grant_role(
        recorder,
        RoleKind.RECORDER,
        group=record.project.group,
        recorder_certificate="记录员证2026",
        actor="test",
    )
    return records.amend_record(
        record_id=record.id,
        changes=changes,
        reason=reason,
        principal=accounts.principal_for(recorder),
        policy=policy,
    )


# The work queues' fields of ``WorkQueues`` (me.tasks), in the schema's order: the
# queue tests and the argument sweep each keep a row for every one.
QUEUES = (
    "membershipApplications",
    "projectReviews",
    "recordConfirmations",
    "projectApplications",
    "declarations",
    "objections",
    "correctionRequests",
    "starApplications",
    "groupReviews",
    "transferRequests",
)
