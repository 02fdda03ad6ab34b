"""``manage.py documents ACTION``: a region's trusted documents (issue 21 finding 5).

- ``register FILE --region SLUG|CODE`` registers each operation of FILE (a
  ``.graphql`` document, or an Apollo persisted-query manifest in JSON) and
  prints its sha256; registering again is harmless;
- ``list --region SLUG|CODE`` prints what the region has registered.

Turning the rule on is a policy change:
``manage.py region set-policy <code> '{"trustedDocumentsOnly": true}'``.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from central import documents
from central.errors import ServiceError
from central.models import TrustedDocument


class Command(BaseCommand):
    help = "Register or list the operations a region's API trusts."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["register", "list"])
        parser.add_argument("file", nargs="?", help="with register: .graphql or manifest .json")
        parser.add_argument("--region", required=True, help="the region's slug or code")

    def handle(self, *args, action, file, region, **options):
        if action == "list":
            for document in TrustedDocument.objects.filter(
                region__slug=region
            ) | TrustedDocument.objects.filter(region__code=region):
                self.stdout.write(f"{document.sha256}  {document.operation_name}")
            return
        if not file:
            raise CommandError(_("give the file of operations to register"))
        try:
            text = Path(file).read_text(encoding="utf-8")
            registered = documents.register_documents(region, text, actor="cli")
        except OSError as error:
            raise CommandError(str(error)) from None
        except ServiceError as error:
            raise CommandError(str(error)) from None
        for document in registered:
            self.stdout.write(f"{document.sha256}  {document.operation_name}")
        self.stdout.write(
            self.style.SUCCESS(_("%(count)s operation(s) registered") % {"count": len(registered)})
        )
