"""Issue 12 point 2: the daily jobs run themselves, once per deployment.

Real scheduler processes (``manage.py schedule --loop``, what ``manage.py up``
runs as its child) against the test database: a record whose publicity (公示,
001 §4(4)3) ended yesterday moves on with nobody typing a command; two
schedulers run the job once; a scheduler killed while holding a job leaves
nothing stuck.
"""

from __future__ import annotations

import datetime
import subprocess
import sys

import psycopg2
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from central.models import Region, ScheduledRun
from central.schedule import LOCK_CLASS
from interop.models import Transfer, TransferState
from tenants.audit.models import AuditEntry
from tenants.records import cards
from tenants.records.models import RecordState, ServiceRecord
from tests.records_support import days_ago, stage
from tests.registry_support import login
from tests.support import REPO, child_env, platform_database_url, stop_process
from tests.test_interop import REQUEST
from tests.test_records import record
from tests.test_time_recording import _at, _scanner

TRANSFER = "query($t: ID!) { transfer(id: $t) { state } }"


def _scheduler(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "schedule", *args],
        cwd=REPO,
        env=child_env(platform_database_url()),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _schedule_once(*args: str) -> subprocess.CompletedProcess:
    """``manage.py schedule`` (one tick, or ``--status``) against the test database."""
    return subprocess.run(
        [sys.executable, "manage.py", "schedule", *args],
        cwd=REPO,
        env=child_env(platform_database_url()),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _backdate_publicity(record_id: int, ends_on: datetime.date) -> None:
    """Pretend the record went up days ago: its publicity is set once and guarded by a
    trigger, so the test steps around the guards (replica mode skips triggers)."""
    yunnan = Region.objects.get(slug="yunnan")
    with tenant_context(yunnan), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE records_servicerecord SET publicity_ends_on = %s WHERE id = %s",
            [ends_on, record_id],
        )


def _state(record_id: int) -> str:
    with tenant_context(Region.objects.get(slug="yunnan")):
        return ServiceRecord.objects.get(id=record_id).state


def _moves(record_id: int) -> int:
    with tenant_context(Region.objects.get(slug="yunnan")):
        return AuditEntry.objects.filter(
            target=str(record_id), actor="system:schedule", action__startswith="record."
        ).count()


def test_publicity_that_ended_yesterday_moves_on_by_itself_once(gql, seed_regions):
    s = stage(gql, "yunnan", participants=2)
    (alice, _), (bob, _) = s.volunteers
    ended = record(gql, s, alice.number, days_ago(3), "09:00", "11:00", 2)["data"]["recordHours"]
    running = record(gql, s, bob.number, days_ago(3), "09:00", "11:00", 2)["data"]["recordHours"]
    assert ended["record"]["state"] == running["record"]["state"] == "IN_PUBLICITY"
    with tenant_context(Region.objects.get(slug="yunnan")):
        ids = list(
            ServiceRecord.objects.filter(volunteer__number__in=[alice.number, bob.number])
            .order_by("volunteer__number")
            .values_list("volunteer__number", "id")
        )
    ended_id = dict(ids)[alice.number]
    running_id = dict(ids)[bob.number]
    today = timezone.localdate()
    ScheduledRun.objects.filter(day=today).delete()  # a run of an earlier test session's day
    _backdate_publicity(ended_id, today - datetime.timedelta(days=1))

    # Two schedulers, as two ``up``s (or containers) on one database would run them;
    # three ticks each.
    loop = ("--loop", "--interval", "1", "--max-rounds", "3")
    first, second = _scheduler(*loop), _scheduler(*loop)
    try:
        for process in (first, second):
            output = process.communicate(timeout=120)[0]
            assert process.returncode == 0, output
            assert "scheduler: every 1s, jobs: close_publicity" in output
    finally:
        stop_process(first), stop_process(second)
    # 001 §4(4)3 in 云南: after publicity, civil affairs confirms.
    assert _state(ended_id) == RecordState.AWAITING_CONFIRMATION
    assert _state(running_id) == RecordState.IN_PUBLICITY  # its publicity goes on
    runs = {run.job: run for run in ScheduledRun.objects.filter(day=today)}
    assert set(runs) == {"close_publicity", "expire_transfers", "close_stale_check_ins"}
    run = runs["close_publicity"]
    assert run.attempts == 1 and run.finished_at is not None and run.failures == []
    assert run.regions == Region.objects.filter(status=Region.Status.ACTIVE).count()
    assert _moves(ended_id) == 1  # one audit entry: moved once, by the scheduler


def test_a_killed_scheduler_leaves_no_job_stuck(seed_regions):
    """A scheduler that dies holding a job (its session's advisory lock) blocks no
    one: the lock goes with the session, and the next scheduler runs the job."""
    day = datetime.date(2020, 1, 6)  # a past day: its runs are its own, nothing is due
    ScheduledRun.objects.filter(day=day).delete()
    holder = psycopg2.connect(platform_database_url())
    holder.autocommit = True
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, hashtext('expire_transfers'))", [LOCK_CLASS])
    once = _schedule_once("--today", day.isoformat())
    assert once.returncode == 0, once.stderr
    assert f"expire_transfers {day}: done already (or running elsewhere)" in once.stdout
    assert f"close_publicity {day}: 0 in" in once.stdout, once.stdout
    assert not ScheduledRun.objects.filter(day=day, job="expire_transfers").exists()
    holder.close()  # the scheduler holding it is gone (kill -9 ends its session alike)
    again = _schedule_once("--today", day.isoformat())
    assert again.returncode == 0, again.stderr
    assert f"expire_transfers {day}: 0 in" in again.stdout, again.stdout
    assert f"close_publicity {day}: done already" in again.stdout
    status = _schedule_once("--status")
    assert f"{day} expire_transfers: finished" in status.stdout, status.stdout


def test_stale_check_ins_and_unconsented_transfers_expire_by_themselves(gql, seed_regions):
    """The other daily jobs: a check-in open past 24 hours is closed with no record (its
    check-out is refused anyway, ``tenants/records/cards.py``), and a transfer the
    volunteer did not consent to in time expires (000 Art.15: no move without consent)."""
    s = stage(gql, "chongqing")
    scan = _scanner(gql, s)
    chongqing = Region.objects.get(slug="chongqing")
    with tenant_context(chongqing):
        stale = cards.check_in(**scan, now=_at(days_ago(3), 9))
    volunteer_token = login(gql, "chongqing", s.volunteers[0][1])
    requested = gql.region("chongqing", REQUEST, {"to": "530000"}, token=volunteer_token)
    transfer_id = requested["data"]["requestTransfer"]["transfer"]["id"]
    with tenant_context(chongqing):
        Transfer.objects.filter(public_id=transfer_id).update(
            expires_at=timezone.now() - datetime.timedelta(minutes=1)
        )
    day = datetime.date(2020, 1, 7)
    ScheduledRun.objects.filter(day=day).delete()
    ran = _schedule_once("--today", day.isoformat())
    assert ran.returncode == 0, ran.stderr
    with tenant_context(chongqing):
        stale.refresh_from_db()
        assert stale.checked_out_at is not None and stale.record is None
        assert AuditEntry.objects.filter(
            action="card.check_in_expired", target=str(stale.id), actor="system:schedule"
        ).exists()
        assert Transfer.objects.get(public_id=transfer_id).state == TransferState.EXPIRED
    shown = gql.region("chongqing", TRANSFER, {"t": transfer_id}, token=volunteer_token)
    assert shown["data"]["transfer"]["state"] == "EXPIRED", shown
