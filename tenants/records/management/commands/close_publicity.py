"""``manage.py close_publicity``: records whose publicity (公示, 001 §4(4)3) ended
without an open objection move on — to civil-affairs confirmation where the
policy asks for it, else they count.

Safe to run as often as you like (each record moves once, under a row lock),
so schedule it daily, e.g. ``5 0 * * * .venv/bin/python manage.py close_publicity``.
"""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django_tenants.utils import tenant_context

from central.models import Region
from tenants.records.services import close_publicity


class Command(BaseCommand):
    help = "Count (or send for confirmation) records whose publicity has ended."

    def add_arguments(self, parser):
        parser.add_argument("--region", help="one region's code (default: every active region)")
        parser.add_argument("--today", help="YYYY-MM-DD (default: today in Asia/Shanghai)")

    def handle(self, *args, region=None, today=None, **options):
        try:
            day = datetime.date.fromisoformat(today) if today else None
        except ValueError:
            raise CommandError(_("--today: use YYYY-MM-DD")) from None
        regions = Region.objects.filter(status=Region.Status.ACTIVE)
        if region:
            regions = regions.filter(code=region)
            if not regions.exists():
                raise CommandError(_("no active region with code %(region)s") % {"region": region})
        regions = list(regions)
        total = 0
        for index, target in enumerate(regions, start=1):
            with tenant_context(target):
                moved = close_publicity(target.get_policy(), today=day)
            total += moved
            self.stdout.write(f"[{index}/{len(regions)}] {target.code} {target.name}: {moved}")
        self.stdout.write(
            self.style.SUCCESS(
                _("%(total)s records left publicity in %(count)s regions")
                % {"total": total, "count": len(regions)}
            )
        )
