"""``manage.py generate_data --region CODE --volunteers N --groups G --records-per-volunteer R``:
fill a region with realistic synthetic data (volunteers, groups, memberships,
projects, service records, totals) for load tests and benchmarks.

Running it again adds more. The generation itself is in
:mod:`tenants.generator.data`; progress goes to stderr, the summary to stdout.
"""

from __future__ import annotations

import sys
from typing import TextIO

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from central import services as central_services
from central.errors import RegionSuspended, ServiceError
from tenants.generator.data import Plan, generate


def positive(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return value


class Command(BaseCommand):
    help = "Fill a region with realistic synthetic volunteers, groups, projects and records."

    def add_arguments(self, parser):
        parser.add_argument("--region", required=True, help="the region's division code")
        parser.add_argument("--volunteers", type=positive, default=1000, help="default 1000")
        parser.add_argument("--groups", type=positive, default=50, help="default 50")
        parser.add_argument("--records-per-volunteer", type=positive, default=10, help="default 10")
        parser.add_argument("--seed", type=int, help="random seed (default: a fresh one)")
        parser.add_argument(
            "--chunk-size",
            type=positive,
            default=2000,
            help="volunteers per transaction (default 2000)",
        )

    def handle(self, *args, region, volunteers, groups, records_per_volunteer, **options):
        plan = Plan(
            volunteers=volunteers,
            groups=groups,
            records_per_volunteer=records_per_volunteer,
            seed=options["seed"],
            chunk_size=options["chunk_size"],
        )
        problems = plan.problems()
        if problems:
            raise CommandError("; ".join(problems))
        try:
            target = central_services.get_region(region)
        except ServiceError:
            raise CommandError(
                _("--region: no region with code %(region)s") % {"region": region}
            ) from None
        if target.is_suspended:
            raise CommandError(str(RegionSuspended(target)))
        summary = generate(target, plan, progress=self._progress_printer(options["verbosity"]))
        for line in summary.lines():
            self.stdout.write(line)
        if options["verbosity"] >= 2:
            self.stdout.write("time in COPY per table (summed over the writer connections):")
            for name, seconds in summary.copy_seconds.items():
                self.stdout.write(f"  {name}: {seconds:.1f} s")

    def _progress_printer(self, verbosity: int):
        if verbosity < 1:
            return None
        err: TextIO = getattr(self.stderr, "_out", sys.stderr)  # the stream it wraps
        tty = err.isatty()
        last = [0.0]

        def show(volunteers, volunteers_total, records, records_total, elapsed):
            finished = volunteers >= volunteers_total
            if not tty and not finished and elapsed - last[0] < 5:
                return
            last[0] = elapsed
            share = 100 * records / records_total if records_total else 100
            line = (
                f"records {records}/{records_total} ({share:.1f} %), volunteers "
                f"{volunteers}/{volunteers_total} ({elapsed:.1f} s)"
            )
            err.write(("\r" + line + ("\n" if finished else "")) if tty else line + "\n")
            err.flush()

        return show
