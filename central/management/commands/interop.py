"""``manage.py interop …``: transfers between regions from the shell.

- ``deliver [--loop] [--interval S]``: send due outbox messages to peers (safe to
  run repeatedly or continuously; schedule it or run it as a service);
- ``export --region CODE --transfer ID --out FILE``: write an exported package
  to a file for offline delivery;
- ``import FILE``: import a package file into the region it is addressed to;
- ``peer add --code C --name N --public-key K --inbox-url U`` / ``peer fetch URL``
  / ``peer list``: the remote part of the federation directory;
- ``keys``: this deployment's regions and their public keys;
- ``audit``: the federation invariant (every hour counted in exactly one region;
  ``interop.invariant``): a summary, each problem, and exit status 1 on any.
"""

from __future__ import annotations

import json
import time

import httpx
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_tenants.utils import tenant_context

from central.errors import ServiceError
from central.models import Region, RemoteRegion
from interop import at_rest, signing
from interop.delivery import deliver_pending
from interop.models import Transfer, TransferState
from interop.package import PackageRejected
from interop.services import import_package
from tenants.audit.services import record as audit


class Command(BaseCommand):
    help = "Deliver, export and import transfer packages; manage peers."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        deliver = sub.add_parser("deliver", help="send due outbox messages")
        deliver.add_argument("--loop", action="store_true", help="keep running")
        deliver.add_argument("--interval", type=float, default=5.0)
        deliver.add_argument("--max-rounds", type=int, default=0, help="stop after N (loop)")
        export = sub.add_parser("export", help="write an exported package to a file")
        export.add_argument("--region", required=True)
        export.add_argument("--transfer", required=True)
        export.add_argument("--out", required=True)
        imp = sub.add_parser("import", help="import a package file")
        imp.add_argument("file")
        peer = sub.add_parser("peer", help="remote regions")
        peer_sub = peer.add_subparsers(dest="peer_action", required=True)
        add = peer_sub.add_parser("add")
        add.add_argument("--code", required=True)
        add.add_argument("--name", required=True)
        add.add_argument("--public-key", required=True)
        add.add_argument("--inbox-url", required=True)
        fetch = peer_sub.add_parser("fetch", help="add every region a peer's directory lists")
        fetch.add_argument("url", help="the peer's /interop/directory URL")
        peer_sub.add_parser("list")
        sub.add_parser("keys", help="this deployment's regions and public keys")
        sub.add_parser("audit", help="check that every hour is counted in exactly one region")

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except (ServiceError, PackageRejected) as error:
            raise CommandError(str(error)) from None

    def _deliver(self, loop, interval, max_rounds, **_):
        rounds = 0
        while True:
            report = deliver_pending()
            rounds += 1
            self.stdout.write(
                f"delivered {report.delivered}, retrying {report.retrying}, "
                f"refused {report.refused}"
            )
            if not loop or (max_rounds and rounds >= max_rounds):
                return
            time.sleep(interval)

    def _export(self, region, transfer, out, **_):
        target = Region.objects.filter(code=region).first()
        if target is None:
            raise CommandError(f"no region with code {region}")
        with tenant_context(target):
            found = (
                Transfer.objects.filter(public_id=transfer).first() if _is_uuid(transfer) else None
            )
            if found is None or found.package is None:
                raise CommandError(
                    "no exported transfer with that id in this region "
                    "(the volunteer consents first)"
                )
            if found.state not in (TransferState.EXPORTED, TransferState.COMPLETED):
                # Issue 11 finding 3: a refused, cancelled or expired transfer's package
                # never leaves again.
                raise CommandError(
                    f"the transfer is {found.state} ({found.reason}): its package is not exported"
                )
            # The file is how an offline package travels: decrypted (the signature
            # covers the clear content) only now, and the export audited.
            with open(out, "w", encoding="utf-8") as handle:
                json.dump(at_rest.clear(found.package), handle, ensure_ascii=False, indent=1)
            audit("cli:interop", "transfer.package_exported", str(found.public_id), file=str(out))
        self.stdout.write(self.style.SUCCESS(f"wrote {out}"))

    def _import(self, file, **_):
        try:
            with open(file, encoding="utf-8") as handle:
                envelope = json.load(handle)
        except (OSError, ValueError) as error:
            raise CommandError(f"{file}: {error}") from None
        code = (
            (envelope.get("package") or {}).get("destination", {}).get("regionCode")
            if isinstance(envelope, dict)
            else None
        )
        region = Region.objects.filter(code=code).first()
        if region is None:
            raise CommandError(f"the package is for region {code}, which is not served here")
        with tenant_context(region):  # a suspended region: RegionSuspended, nothing written
            transfer, fresh = import_package(envelope, region)
        state = "imported" if fresh else "already imported: nothing changed"
        self.stdout.write(
            self.style.SUCCESS(f"{transfer.volunteer_number} → {region.name}: {state}")
        )

    def _peer(self, peer_action, **options):
        if peer_action == "list":
            for entry in signing.directory():
                where = "local" if entry.local else entry.inbox_url
                self.stdout.write(f"{entry.code} {entry.name} {entry.public_key} {where}")
            return
        if peer_action == "fetch":
            try:
                listed = httpx.get(options["url"], timeout=10).json()["regions"]
            except (httpx.HTTPError, ValueError, KeyError) as error:
                raise CommandError(f"could not read the directory: {error}") from None
        else:
            listed = [
                {
                    "code": options["code"],
                    "name": options["name"],
                    "publicKey": options["public_key"],
                    "inboxUrl": options["inbox_url"],
                }
            ]
        with transaction.atomic():
            for item in listed:
                if Region.objects.filter(code=item["code"]).exists():
                    raise CommandError(f"{item['code']} is served by this deployment")
                RemoteRegion.objects.update_or_create(
                    code=item["code"],
                    defaults={
                        "name": item["name"],
                        "public_key": item["publicKey"],
                        "inbox_url": item["inboxUrl"],
                    },
                )
                self.stdout.write(f"peer {item['code']} {item['name']} at {item['inboxUrl']}")

    def _audit(self, **_):
        from interop.invariant import audit

        report = audit()
        for problem in report.problems:
            self.stdout.write(str(problem))
        self.stdout.write(report.summary())
        if not report.clean:
            raise CommandError(f"{len(report.problems)} problems: see above")

    def _keys(self, **_):
        for entry in signing.directory():
            if entry.local:
                self.stdout.write(f"{entry.code} {entry.name} {entry.public_key}")


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False
