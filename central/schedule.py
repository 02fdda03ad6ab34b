"""The platform's daily jobs (定时任务), run by ``manage.py schedule`` (issue 12 point 2).

``manage.py up`` runs ``schedule --loop`` as its child; production runs the same
command as a service or from a timer (``platform/``). Each tick runs every job
that has not finished for today (the local day, Asia/Shanghai) in every active
region, so a record whose publicity ended yesterday counts after the first tick
of today, with nobody typing a command.

Once per deployment: a scheduler runs a job only while holding the job's
PostgreSQL advisory lock (session-level, so a killed scheduler drops it), and
skips a day whose ``ScheduledRun`` row is finished. Several ``up``s or scheduler
containers on one database therefore run each job once a day; a scheduler that
dies mid-run leaves the row unfinished and the next tick (any scheduler's) runs
the job again, which is safe because every job moves each row once under its
row lock. A region whose run failed is retried at the next tick after
``RETRY_AFTER``.

Interop outbox delivery is not here: it runs continuously (``interop deliver
--loop``, also a child of ``up``), since a transfer should not wait for a day.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django_tenants.utils import tenant_context

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

from central.models import Region, ScheduledRun
from central.tenancy import connection

logger = logging.getLogger("central.schedule")

# After a failed or interrupted attempt, the next one waits this long (a broken
# region should not be hammered every tick).
RETRY_AFTER = datetime.timedelta(minutes=5)
# pg_try_advisory_lock(key1, key2): key1 marks the platform's scheduler locks.
LOCK_CLASS = 0x5C4E


def _close_publicity(region: Region, today: datetime.date) -> int:
    from tenants.records.services import close_publicity

    return close_publicity(region.get_policy(), today=today, actor="system:schedule")


def _expire_transfers(region: Region, today: datetime.date) -> int:
    from interop.services import expire_due_transfers

    return expire_due_transfers()


def _close_stale_check_ins(region: Region, today: datetime.date) -> int:
    from tenants.records.cards import close_stale_check_ins

    return close_stale_check_ins()


@dataclass(frozen=True)
class Job:
    name: str
    description: StrOrPromise
    run_in_region: Callable[[Region, datetime.date], int]


JOBS: tuple[Job, ...] = (
    Job(
        "close_publicity",
        gettext_lazy("records whose publicity ended move on (001 §4(4)3)"),
        _close_publicity,
    ),
    Job(
        "expire_transfers",
        gettext_lazy("transfers the volunteer did not consent to in time expire"),
        _expire_transfers,
    ),
    Job(
        "close_stale_check_ins",
        gettext_lazy("check-ins open longer than 24 hours are closed without a record"),
        _close_stale_check_ins,
    ),
)


@dataclass
class Outcome:
    job: str
    day: datetime.date
    ran: bool = False  # False: finished already today, or another scheduler holds it
    count: int = 0
    regions: int = 0
    failures: list[str] = field(default_factory=list)


def holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_due(
    today: datetime.date | None = None,
    *,
    jobs: tuple[Job, ...] = JOBS,
    on_region: Callable[[Job, int, int, Region], None] | None = None,
) -> list[Outcome]:
    """Run every job not yet finished for ``today``; returns what each did."""
    today = today or timezone.localdate()
    return [_run_job(job, today, on_region) for job in jobs]


def _run_job(job: Job, today: datetime.date, on_region) -> Outcome:
    outcome = Outcome(job.name, today)
    if ScheduledRun.objects.filter(job=job.name, day=today, finished_at__isnull=False).exists():
        return outcome
    if not _try_lock(job):
        return outcome  # another scheduler is running it right now
    try:
        with transaction.atomic():
            run, _created = ScheduledRun.objects.select_for_update().get_or_create(
                job=job.name, day=today
            )
            now = timezone.now()
            if run.finished_at or (run.started_at and run.started_at > now - RETRY_AFTER):
                return outcome  # finished meanwhile, or its last attempt was just now
            run.attempts += 1
            run.started_at, run.held_by = now, holder()
            run.save(update_fields=["attempts", "started_at", "held_by"])
        outcome.ran = True
        regions = list(Region.objects.filter(status=Region.Status.ACTIVE).order_by("code"))
        for index, region in enumerate(regions, start=1):
            if on_region is not None:
                on_region(job, index, len(regions), region)
            try:
                with tenant_context(region):
                    outcome.count += job.run_in_region(region, today)
            except Exception as error:  # one region's fault must not stop the others
                logger.exception("scheduled job %s failed in region %s", job.name, region.code)
                first = (str(error).strip().splitlines() or [""])[0][:200]
                outcome.failures.append(f"{region.code}: {type(error).__name__}: {first}")
                connection.set_schema_to_public()
        outcome.regions = len(regions)
        ScheduledRun.objects.filter(pk=run.pk).update(
            count=outcome.count,
            regions=outcome.regions,
            failures=outcome.failures,
            finished_at=None if outcome.failures else timezone.now(),
        )
        return outcome
    finally:
        _unlock(job)


def _try_lock(job: Job) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [LOCK_CLASS, job.name])
        return cursor.fetchone()[0]


def _unlock(job: Job) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [LOCK_CLASS, job.name])


def recent_runs(limit: int = 30) -> list[ScheduledRun]:
    """The latest runs, the most recently attempted first."""
    latest = F("started_at").desc(nulls_last=True)
    return list(ScheduledRun.objects.order_by(latest, "job")[:limit])
