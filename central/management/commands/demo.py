"""``manage.py demo [--region CODE …]``: sample groups, volunteers, projects and
records in the seed regions (or the ones named), and logins to try them with
(``central/demo.py``). ``manage.py up --demo`` runs the same. Safe to run again:
it adds nothing twice and prints the same logins."""

from __future__ import annotations

from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from central import demo
from central.errors import ServiceError
from central.models import Region
from central.services import SEED_REGIONS


def role_label(role: str) -> str:
    return {
        "authority": _("authority"),
        "group_admin": _("group admin"),
        "volunteer": _("volunteer"),
    }[role]


class Command(BaseCommand):
    help = "Fill the seed regions with sample data and print logins to try it with."

    def add_arguments(self, parser):
        parser.add_argument(
            "--region",
            action="append",
            default=[],
            help="a region's division code (repeatable; default: every seed region)",
        )

    def handle(self, *args, region, **options):
        codes = region or [spec.code for spec in SEED_REGIONS]
        found = {r.code: r for r in Region.objects.filter(code__in=codes)}
        missing = [code for code in codes if code not in found]
        if missing:
            raise CommandError(
                _("--region: no region with code %(codes)s") % {"codes": ", ".join(missing)}
            )
        try:
            run(self._say, [found[code] for code in codes])
        except ServiceError as error:
            raise CommandError(str(error)) from None

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()


def run(say: Callable[[str], None], regions: list[Region]) -> list[demo.DemoRegion]:
    """Load the demo into ``regions`` with a line per region, then the logins."""
    demo.refuse_in_production()
    say(_("demo data:"))

    def progress(index: int, total: int, done: demo.DemoRegion) -> None:
        state = (
            _("added: %(volunteers)s volunteers, %(records)s records")
            % {"volunteers": done.volunteers, "records": done.records}
            if done.generated
            else _("present")
        )
        say(f"  [{index}/{total}] {done.region.code} {done.region.name} … {state}")

    results = demo.load_all(regions, progress)
    added = sum(1 for done in results if done.generated)
    say(
        _("demo ready: %(regions)s regions (%(added)s filled now); logins (demo passwords):")
        % {"regions": len(results), "added": added}
    )
    for done in results:
        host = done.region.domains.order_by("-is_primary", "id").first()
        say(f"  {done.region.name} ({host.domain if host else done.region.code})")
        for login in done.logins:
            label = role_label(login.role)
            say(f"    {label:<12} {login.username} / {login.password}   {login.about}")
    return results
