"""``manage.py schedule``: the platform's daily jobs (``central/schedule.py``).

- ``schedule``: run every job not finished today, once, and say what each did
  (what a systemd timer or cron calls; safe to call as often as you like);
- ``schedule --loop [--interval S]``: keep doing that (what ``manage.py up`` runs
  as its child, and the compose service ``scheduler``); it outlives a database
  restart; ``--parent PID`` makes it leave with ``up``;
- ``schedule --status``: the latest runs;
- ``--today YYYY-MM-DD`` runs the jobs for another day (catching up by hand).
"""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils.translation import gettext as _

from central import schedule
from central.worker_loop import run_rounds


class Command(BaseCommand):
    help = "Run the platform's daily jobs (closing publicity, expiring transfers and check-ins)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep running")
        parser.add_argument("--interval", type=float, default=60.0, help="seconds between ticks")
        parser.add_argument("--max-rounds", type=int, default=0, help="stop after N (loop)")
        parser.add_argument(
            "--parent", type=int, default=0, help="exit when process PID is gone (manage.py up)"
        )
        parser.add_argument("--today", help="YYYY-MM-DD (default: today in Asia/Shanghai)")
        parser.add_argument("--status", action="store_true", help="show the latest runs")

    def handle(self, *args, loop, interval, max_rounds, parent, today, status, **options):
        if status:
            return self._status()
        try:
            day = datetime.date.fromisoformat(today) if today else None
        except ValueError:
            raise CommandError(_("--today: use YYYY-MM-DD")) from None
        if not loop:
            try:
                self._tick(day, quiet=False)
            except DatabaseError as error:
                raise CommandError(
                    _("database: %(strip)s") % {"strip": str(error).strip()[:300]}
                ) from None
            return
        self.stdout.write(
            _("scheduler: every %(interval)ss, jobs: %(jobs)s")
            % {
                "interval": format(interval, "g"),
                "jobs": ", ".join(job.name for job in schedule.JOBS),
            }
        )
        self.stdout.flush()
        run_rounds(
            lambda: self._tick(day, quiet=True),
            name=_("scheduler"),
            interval=interval,
            parent=parent,
            max_rounds=max_rounds,
            say_error=self.stderr.write,
        )

    def _tick(self, day: datetime.date | None, *, quiet: bool) -> None:
        def progress(job, index, total, region):
            if not quiet and total > 1:
                self.stdout.write(f"  {job.name} [{index}/{total}] {region.code} {region.name}")

        for outcome in schedule.run_due(day, on_region=progress):
            if not outcome.ran:
                if not quiet:
                    self.stdout.write(
                        _("%(job)s %(day)s: done already (or running elsewhere)")
                        % {"job": outcome.job, "day": outcome.day}
                    )
                continue
            line = _("%(job)s %(day)s: %(count)s in %(regions)s regions") % {
                "job": outcome.job,
                "day": outcome.day,
                "count": outcome.count,
                "regions": outcome.regions,
            }
            if outcome.failures:
                self.stderr.write(
                    line
                    + " "
                    + _("(failed in %(failures)s; retried later)")
                    % {"failures": "; ".join(outcome.failures)}
                )
            else:
                self.stdout.write(self.style.SUCCESS(line))
        self.stdout.flush()

    def _status(self) -> None:
        runs = schedule.recent_runs()
        if not runs:
            self.stdout.write(_("no scheduled runs yet"))
        for run in runs:
            state = _("finished") if run.finished_at else _("unfinished")
            self.stdout.write(
                f"{run.day} {run.job}: {state}, {run.count} "
                + _("in %(regions)s regions, %(attempts)s attempts")
                % {"regions": run.regions, "attempts": run.attempts}
                + (f" ({'; '.join(run.failures)})" if run.failures else "")
            )
