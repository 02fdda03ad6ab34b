"""``manage.py interop …``: transfers between regions from the shell.

- ``deliver [--loop] [--interval S]``: send due outbox messages to peers (safe to
  run repeatedly or continuously; ``manage.py up`` runs ``--loop`` as its child,
  production as a service: ``platform/README.md``). With ``--loop`` it survives
  any error of a round (a database restart, a peer's odd answer): one line on
  stderr, the connection dropped, and the next round reconnects (issue 11
  finding 6);
- ``export --region CODE --transfer ID --out FILE``: write an exported package
  to a file for offline delivery;
- ``import FILE``: import a package file into the region it is addressed to; from
  another deployment, its signed receipt goes back to the source by the outbox;
- ``receipt --region CODE --transfer ID --out FILE`` / ``acknowledge FILE``: the same
  receipt as a file, written at the destination and applied at the source, for
  deployments with no network path between them (issue 11 finding 2);
- ``peer add --code C --name N --public-key K --inbox-url U [--exchange-key X]`` /
  ``peer fetch URL`` / ``peer list``: the remote part of the federation directory;
  keys are pinned: a changed key needs a rotation signed by the pinned key, or
  ``peer trust --code C --fingerprint F`` by a central admin (issue 11 finding 10);
- ``home-hashes``: give home-region rows from before issue 11 their federation hash;
- ``keys``: this deployment's regions, their public keys and fingerprints;
  ``keys rotate --region C``: new keys, with a rotation statement signed by the old.
- ``audit [--peers]``: the federation invariant (every hour counted in exactly one
  region; ``interop.invariant``): a summary, each problem, and exit status 1 on any;
  ``--peers`` also asks every peer region about the transfers with it.
"""

from __future__ import annotations

import json

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import tenant_context

from central.errors import ServiceError
from central.models import HomeRegion, Region
from central.worker_loop import run_rounds
from interop import at_rest, peers, signing
from interop.delivery import deliver_pending
from interop.federation import federation_hash
from interop.models import Transfer, TransferState
from interop.package import PackageRejected
from interop.services import acknowledge, acknowledgement, import_package
from tenants.audit.services import record as audit
from tenants.volunteers import pii
from tenants.volunteers.models import Volunteer


class Command(BaseCommand):
    help = "Deliver, export and import transfer packages; manage peers."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        deliver = sub.add_parser("deliver", help="send due outbox messages")
        deliver.add_argument("--loop", action="store_true", help="keep running")
        deliver.add_argument("--interval", type=float, default=5.0)
        deliver.add_argument("--max-rounds", type=int, default=0, help="stop after N (loop)")
        deliver.add_argument(
            "--parent", type=int, default=0, help="exit when process PID is gone (manage.py up)"
        )
        export = sub.add_parser("export", help="write an exported package to a file")
        export.add_argument("--region", required=True)
        export.add_argument("--transfer", required=True)
        export.add_argument("--out", required=True)
        imp = sub.add_parser("import", help="import a package file")
        receipt = sub.add_parser(
            "receipt", help="write the signed receipt for a package imported from a file"
        )
        receipt.add_argument("--region", required=True, help="the destination region's code")
        receipt.add_argument("--transfer", required=True, help="the incoming transfer's id")
        receipt.add_argument("--out", required=True)
        ack = sub.add_parser("acknowledge", help="apply a destination's receipt file")
        ack.add_argument("file")
        imp.add_argument("file")
        peer = sub.add_parser("peer", help="remote regions")
        peer_sub = peer.add_subparsers(dest="peer_action", required=True)
        add = peer_sub.add_parser("add")
        add.add_argument("--code", required=True)
        add.add_argument("--name", required=True)
        add.add_argument("--public-key", required=True)
        add.add_argument("--inbox-url", required=True)
        add.add_argument("--exchange-key", default="", help="its X25519 key (base64)")
        fetch = peer_sub.add_parser("fetch", help="add every region a peer's directory lists")
        fetch.add_argument("url", help="the peer's /interop/directory URL")
        trust = peer_sub.add_parser("trust", help="accept a peer's refused key change")
        trust.add_argument("--code", required=True)
        trust.add_argument("--fingerprint", required=True, help="SHA-256 of the new key (hex)")
        peer_sub.add_parser("list")
        sub.add_parser("home-hashes", help="give older home-region rows their federation hash")
        keys = sub.add_parser("keys", help="this deployment's regions and public keys")
        keys_sub = keys.add_subparsers(dest="keys_action", required=False)
        rotate = keys_sub.add_parser("rotate", help="new keys for a region, signed by the old")
        rotate.add_argument("--region", required=True)
        audit_parser = sub.add_parser(
            "audit", help="check that every hour is counted in exactly one region"
        )
        audit_parser.add_argument(
            "--peers", action="store_true", help="compare with the other side of every transfer"
        )

    def handle(self, *args, action, **options):
        try:
            getattr(self, "_" + action.replace("-", "_"))(**options)
        except (ServiceError, PackageRejected) as error:
            raise CommandError(str(error)) from None

    def _deliver(self, loop, interval, max_rounds, parent, **_options):
        if not loop:
            try:
                report = deliver_pending()
            except DatabaseError as error:
                raise CommandError(
                    _("database: %(strip)s") % {"strip": str(error).strip()[:300]}
                ) from None
            self._report(report)
            return

        def round_once():
            report = deliver_pending()
            if report.delivered or report.retrying or report.refused:
                self._report(report)

        run_rounds(
            round_once,
            name=_("interop deliver"),
            interval=interval,
            parent=parent,
            max_rounds=max_rounds,
            say_error=self.stderr.write,
        )

    def _report(self, report) -> None:
        self.stdout.write(
            _("delivered %(delivered)s, retrying %(retrying)s, refused %(refused)s")
            % {
                "delivered": report.delivered,
                "retrying": report.retrying,
                "refused": report.refused,
            }
        )
        self.stdout.flush()

    def _export(self, region, transfer, out, **_options):
        target = Region.objects.filter(code=region).first()
        if target is None:
            raise CommandError(_("no region with code %(region)s") % {"region": region})
        with tenant_context(target):
            found = (
                Transfer.objects.filter(public_id=transfer).first() if _is_uuid(transfer) else None
            )
            if found is None or found.package is None:
                raise CommandError(
                    _(
                        "no exported transfer with that id in this region (the "
                        "volunteer consents first)"
                    )
                )
            if found.state not in (TransferState.EXPORTED, TransferState.COMPLETED):
                # Issue 11 finding 3: a refused, cancelled or expired transfer's package
                # never leaves again.
                raise CommandError(
                    _("the transfer is %(state)s (%(reason)s): its package is not exported")
                    % {"state": found.state, "reason": found.reason}
                )
            # The file is how an offline package travels: decrypted (the signature
            # covers the clear content) only now, and the export audited.
            with open(out, "w", encoding="utf-8") as handle:
                json.dump(at_rest.clear(found.package), handle, ensure_ascii=False, indent=1)
            if found.package_written_at is None:
                Transfer.objects.filter(id=found.id).update(package_written_at=timezone.now())
            audit("cli:interop", "transfer.package_exported", str(found.public_id), file=str(out))
        self.stdout.write(self.style.SUCCESS(_("wrote %(out)s") % {"out": out}))

    def _import(self, file, **_options):
        try:
            with open(file, encoding="utf-8") as handle:
                envelope = json.load(handle)
        except (OSError, ValueError) as error:
            raise CommandError(_("%(file)s: %(error)s") % {"file": file, "error": error}) from None
        code = (
            (envelope.get("package") or {}).get("destination", {}).get("regionCode")
            if isinstance(envelope, dict)
            else None
        )
        region = Region.objects.filter(code=code).first()
        if region is None:
            raise CommandError(
                _("the package is for region %(code)s, which is not served here") % {"code": code}
            )
        with tenant_context(region):  # a suspended region: RegionSuspended, nothing written
            transfer, fresh = import_package(envelope, region, offline=True)
        state = "imported" if fresh else "already imported: nothing changed"
        self.stdout.write(
            self.style.SUCCESS(f"{transfer.volunteer_number} → {region.name}: {state}")
        )

    def _receipt(self, region, transfer, out, **_options):
        """For a destination with no network path back to the source: the receipt the
        outbox would have sent, as a file the source applies with ``acknowledge``."""
        target = Region.objects.filter(code=region).first()
        if target is None:
            raise CommandError(_("no region with code %(region)s") % {"region": region})
        with tenant_context(target):
            found = (
                Transfer.objects.filter(
                    public_id=transfer, direction="incoming", package__isnull=False
                ).first()
                if _is_uuid(transfer)
                else None
            )
            if found is None:
                raise CommandError(_("no imported transfer with that id in this region"))
            package = at_rest.clear(found.package)["package"]
            message = acknowledgement(found, package, target)
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(message, handle, ensure_ascii=False, indent=1)
        self.stdout.write(self.style.SUCCESS(_("wrote %(out)s") % {"out": out}))

    def _acknowledge(self, file, **_options):
        try:
            with open(file, encoding="utf-8") as handle:
                message = json.load(handle)
        except (OSError, ValueError) as error:
            raise CommandError(_("%(file)s: %(error)s") % {"file": file, "error": error}) from None
        if not isinstance(message, dict) or not isinstance(message.get("acknowledgement"), dict):
            raise CommandError(
                _("%(file)s is not an acknowledgement (interop receipt --out)") % {"file": file}
            )
        try:
            transfer = acknowledge(message["acknowledgement"])
        except PackageRejected as error:
            raise CommandError(
                _("%(code)s: %(reason)s") % {"code": error.code, "reason": error.reason}
            ) from None
        self.stdout.write(
            self.style.SUCCESS(
                _("%(volunteer_number)s: transfer %(state)s")
                % {"volunteer_number": transfer.volunteer_number, "state": transfer.state}
            )
        )

    def _peer(self, peer_action, **options):
        actor = "cli:interop"
        if peer_action == "list":
            for entry in signing.directory():
                where = "local" if entry.local else entry.inbox_url
                self.stdout.write(
                    f"{entry.code} {entry.name} {signing.fingerprint(entry.public_key)} {where}"
                )
            return
        if peer_action == "trust":
            remote = peers.trust(options["code"], options["fingerprint"], actor)
            self.stdout.write(
                self.style.SUCCESS(
                    _("peer %(code)s now pinned to the new key") % {"code": remote.code}
                )
            )
            return
        if peer_action == "add":
            fields = {
                "code": options["code"],
                "name": options["name"],
                "publicKey": options["public_key"],
                "exchangeKey": options["exchange_key"],
                "inboxUrl": options["inbox_url"],
            }
            outcome = peers.add_manually(fields, actor)
            self.stdout.write(
                _("peer %(code)s %(outcome)s at %(inboxurl)s")
                % {"code": fields["code"], "outcome": outcome, "inboxurl": fields["inboxUrl"]}
            )
            return
        url = signing.check_peer_url(options["url"], field="url")
        try:
            listed = httpx.get(url, timeout=10).json()["regions"]
            if not isinstance(listed, list):
                raise ValueError("regions is not a list")
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            raise CommandError(
                _("could not read the directory: %(error)s") % {"error": error}
            ) from None
        refused = []
        for item in listed:  # each entry on its own: a refusal is audited, not rolled back
            try:
                outcome = peers.apply_entry(item, actor)
            except ServiceError as error:
                refused.append(str(error))
                continue
            self.stdout.write(
                _("peer %(code)s %(name)s: %(outcome)s")
                % {"code": item["code"], "name": item["name"], "outcome": outcome}
            )
        if refused:
            raise CommandError("refused: " + " | ".join(refused))

    def _audit(self, peers=False, **_options):
        from interop.invariant import audit

        report = audit(peers=peers)
        for problem in report.problems:
            self.stdout.write(str(problem))
        self.stdout.write(report.summary())
        if not report.clean:
            raise CommandError(_("%(count)s problems: see above") % {"count": len(report.problems)})

    def _home_hashes(self, **_options):
        """Issue 11 finding 11: rows registered before the federation hash existed
        get it from the volunteer's (decrypted) ID number, so peers' questions about
        them are answered. Safe to run again."""
        if not settings.FEDERATION_HASH_KEY:
            raise CommandError(_("PLATFORM_FEDERATION_HASH_KEY is not set"))
        done = 0
        for target in Region.objects.order_by("code"):
            with tenant_context(target):
                missing = set(
                    HomeRegion.objects.filter(federation_hash="").values_list(
                        "id_number_hash", flat=True
                    )
                )
                for volunteer in Volunteer.objects.filter(id_number_hash__in=missing):
                    shared = federation_hash(pii.decrypt(volunteer.id_number_encrypted))
                    done += HomeRegion.objects.filter(
                        id_number_hash=volunteer.id_number_hash, federation_hash=""
                    ).update(federation_hash=shared)
        self.stdout.write(
            self.style.SUCCESS(
                _("%(done)s home-region rows hashed for the federation") % {"done": done}
            )
        )

    def _keys(self, keys_action=None, region=None, **_options):
        if keys_action == "rotate":
            target = Region.objects.filter(code=region).first()
            if target is None:
                raise CommandError(
                    _("no region with code %(region)s is served here") % {"region": region}
                )
            signed = signing.rotate(target, "cli:interop")
            new = signed["statement"]["newPublicKey"]
            self.stdout.write(
                self.style.SUCCESS(
                    _(
                        "%(code)s rotated to %(fingerprint)s; the rotation statement "
                        "is published at /interop/directory"
                    )
                    % {"code": target.code, "fingerprint": signing.fingerprint(new)}
                )
            )
            return
        for entry in signing.directory():
            if entry.local:
                fingerprint = signing.fingerprint(entry.public_key)
                self.stdout.write(f"{entry.code} {entry.name} {entry.public_key} {fingerprint}")


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False
