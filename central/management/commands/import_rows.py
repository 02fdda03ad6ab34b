"""``manage.py import_rows --region CODE --kind volunteers FILE``: bulk import
(批量导入) from XLSX or CSV through the same service as the API's ``importRows``
(``tenants/imports/services.py``), with progress and a summary.

Without ``--as`` it acts as a central operator with the authority's powers over
the whole region (audited ``cli:<operator>``), who imports volunteers; members
and records are imported for a group, so ``--as`` names an account of that
group's admins or recorders, whose powers (and only those) are used.
``--template FILE`` writes the kind's template (.xlsx or .csv) instead.
"""

from __future__ import annotations

import getpass
import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django_tenants.utils import tenant_context

from central import services as central_services
from central.errors import ServiceError
from tenants.accounts import services as accounts
from tenants.accounts.models import Account
from tenants.imports import services as imports
from tenants.imports.columns import ImportKind
from tenants.imports.templates import template

# Larger than an upload may be (PLATFORM_UPLOAD_MAX_BYTES): the file is read from disk.
DEFAULT_MAX_BYTES = 512 * 1024 * 1024


class Command(BaseCommand):
    help = "Import volunteers, group members or service records from an XLSX or CSV file."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the XLSX or CSV file (with --template: where to write)")
        parser.add_argument("--kind", required=True, choices=[k.value for k in ImportKind])
        parser.add_argument("--template", action="store_true", help="write the template to FILE")
        parser.add_argument("--region", help="the region's division code")
        parser.add_argument("--group", help="the group (row id or API id): volunteers, members")
        parser.add_argument("--project", help="the project (row id or API id): records")
        parser.add_argument(
            "--as", dest="username", help="act as this account of the region (group staff)"
        )
        parser.add_argument(
            "--valid-rows",
            action="store_true",
            help="commit the valid rows and report the others (default: all or nothing)",
        )
        parser.add_argument("--operator", default=getpass.getuser(), help="who runs this")
        parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES)

    def handle(self, *args, file, kind, **options):
        kind = ImportKind(kind)
        if options["template"]:
            fmt = "csv" if file.lower().endswith(".csv") else "xlsx"
            with open(file, "wb") as out:
                out.write(template(kind, fmt))
            self.stdout.write(
                _("wrote the %(kind)s template to %(file)s") % {"kind": kind.value, "file": file}
            )
            return
        if not options["region"]:
            raise CommandError(_("--region: the region's division code"))
        try:
            size = os.path.getsize(file)
            handle = open(file, "rb")  # noqa: SIM115 - closed below, after the import
        except OSError as error:
            raise CommandError(f"{file}: {error.strerror}") from None
        started = time.monotonic()
        try:
            region = central_services.get_region(options["region"])
            with tenant_context(region), handle:
                principal = self._principal(options)
                report = imports.import_rows(
                    kind=kind,
                    stream=handle,
                    size=size,
                    max_bytes=options["max_bytes"],
                    region=region,
                    policy=region.get_policy(),
                    principal=principal,
                    group_id=self._key(options["group"], "VolunteerGroup", "groupId"),
                    project_id=self._key(options["project"], "Project", "projectId"),
                    valid_rows_only=options["valid_rows"],
                    progress=self._progress(started),
                    progress_every=1000,
                )
        except ServiceError as error:
            raise CommandError(str(error)) from None
        self._summary(report, time.monotonic() - started)
        if not report.committed:
            raise CommandError(
                _("nothing was imported: %(failed)s rows have problems") % {"failed": report.failed}
            )

    def _principal(self, options):
        username = options["username"]
        if not username:
            return accounts.OperatorPrincipal(name=options["operator"])
        account = Account.objects.filter(username=username, is_active=True).first()
        if account is None:
            raise CommandError(_("--as: no active account %(username)s") % {"username": username})
        return accounts.principal_for(account)

    @staticmethod
    def _key(value, kind: str, field: str) -> int | None:
        if not value:
            return None
        if value.isdigit():
            return int(value)
        from schema.region.auth import parse_id

        return parse_id(value, kind, field)

    def _progress(self, started: float):
        live = sys.stderr.isatty()

        def show(report: imports.ImportReport, expected: int | None) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            done = f"{report.rows:,}" + (f" / {expected:,}" if expected else "")
            share = f" {min(report.rows / expected, 1):4.0%}" if expected else ""
            line = _(
                "%(done)s rows%(share)s  %(rate)s rows/s  imported %(imported)s  "
                "present %(present)s  with problems %(failed)s"
            ) % {
                "done": done,
                "share": share,
                "rate": f"{report.rows / elapsed:,.0f}",
                "imported": f"{report.imported:,}",
                "present": f"{report.already_present:,}",
                "failed": f"{report.failed:,}",
            }
            self.stderr.write(("\r" + line) if live else line, ending="" if live else "\n")

        return show

    def _summary(self, report: imports.ImportReport, seconds: float) -> None:
        if sys.stderr.isatty():
            self.stderr.write("")
        for problem in report.problems:
            column = f"{problem.column} ({problem.field})" if problem.column else problem.field
            where = _("line %(line)s") % {"line": problem.line}
            if column:
                where = f"{where}, {column}"
            self.stdout.write(f"{where}: {problem.message} [{problem.code}]")
        if report.problems_omitted:
            self.stdout.write(
                _("… and %(count)s more problems") % {"count": report.problems_omitted}
            )
        summary = _(
            "%(kind)s: %(rows)s rows in %(seconds).1f s; imported %(imported)s, already "
            "present %(present)s, with problems %(failed)s; %(outcome)s"
        ) % {
            "kind": report.kind.value,
            "rows": report.rows,
            "seconds": seconds,
            "imported": report.imported,
            "present": report.already_present,
            "failed": report.failed,
            "outcome": _("committed") if report.committed else _("nothing committed"),
        }
        style = self.style.SUCCESS if report.committed else self.style.ERROR
        self.stdout.write(style(summary))
