"""``manage.py rotate_pii_keys``: re-encrypt personal information under the first
key of ``PLATFORM_PII_KEYS``.

Rotation: put a new Fernet key first in ``PLATFORM_PII_KEYS`` (keep the old one
after it), run this command, then remove the old key. It re-encrypts every
volunteer's ID number and phone in every region, the ID numbers and phones in
stored transfer packages and outbox messages (``interop/at_rest.py``), and the
regions' signing keys, region by region, each in its own transaction, showing progress. Safe to
run again: rows already under the first key are simply rewritten.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.translation import gettext as _
from django_tenants.utils import tenant_context

from central.models import Region, RegionKey
from interop import at_rest
from interop.models import OutboxMessage, Transfer
from tenants.volunteers import pii
from tenants.volunteers.models import Volunteer


class Command(BaseCommand):
    help = "Re-encrypt personal information and signing keys under the newest key."

    def handle(self, *args, **options):
        started = time.monotonic()
        regions = list(Region.objects.order_by("code"))
        total = 0
        for index, region in enumerate(regions, start=1):
            with tenant_context(region), transaction.atomic():
                count = 0
                for volunteer in (
                    Volunteer.objects.select_for_update()
                    .only("id", "id_number_encrypted", "phone_encrypted")
                    .iterator(chunk_size=2000)
                ):
                    Volunteer.objects.filter(id=volunteer.id).update(
                        id_number_encrypted=pii.rotate(volunteer.id_number_encrypted),
                        phone_encrypted=pii.rotate(volunteer.phone_encrypted),
                    )
                    count += 1
                packages = 0
                for model, column in ((Transfer, "package"), (OutboxMessage, "body")):
                    rows = (
                        model.objects.select_for_update()
                        .filter(**{f"{column}__isnull": False})
                        .only("id", column)
                    )
                    for row in rows.iterator(chunk_size=500):
                        model.objects.filter(id=row.id).update(
                            **{column: at_rest.rotated(getattr(row, column))}
                        )
                        packages += 1
            total += count
            self.stdout.write(
                _(
                    "[%(index)s/%(count)s] %(code)s %(name)s: %(count2)s "
                    "volunteers, %(packages)s transfer packages and outbox "
                    "messages"
                )
                % {
                    "index": index,
                    "count": len(regions),
                    "code": region.code,
                    "name": region.name,
                    "count2": count,
                    "packages": packages,
                }
            )
        with transaction.atomic():
            keys = 0
            for key in RegionKey.objects.select_for_update():
                key.private_key_encrypted = pii.rotate(key.private_key_encrypted)
                # Issue 11 finding 9: the exchange keys, current and retired, too.
                key.exchange_private_key_encrypted = pii.rotate(key.exchange_private_key_encrypted)
                key.retired_exchange_keys = [pii.rotate(t) for t in key.retired_exchange_keys]
                key.save(
                    update_fields=[
                        "private_key_encrypted",
                        "exchange_private_key_encrypted",
                        "retired_exchange_keys",
                    ]
                )
                keys += 1
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "re-encrypted %(total)s volunteers in %(count)s regions and "
                    "%(keys)s signing keys in %(number)ss"
                )
                % {
                    "total": total,
                    "count": len(regions),
                    "keys": keys,
                    "number": format(time.monotonic() - started, ".1f"),
                }
            )
        )
