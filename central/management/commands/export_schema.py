"""``manage.py export_schema``: write the GraphQL SDL files that are checked in.

``schema/schema.graphql`` is the region API (what regional front-ends call);
``schema/central.graphql`` is the central API. A test fails when either drifts
from the code; run this command after changing the API.
"""

from django.core.management.base import BaseCommand

from schema.export import SDL_FILES, render_sdl


class Command(BaseCommand):
    help = "Write schema/schema.graphql and schema/central.graphql from the code."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="fail if a file is stale")

    def handle(self, *args, check=False, **options):
        stale = []
        for path, text in render_sdl().items():
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current == text:
                continue
            stale.append(path.name)
            if not check:
                path.write_text(text, encoding="utf-8")
                self.stdout.write(f"wrote {path}")
        if check and stale:
            raise SystemExit(f"stale: {', '.join(stale)}; run manage.py export_schema")
        if not stale:
            self.stdout.write(f"{', '.join(p.name for p in SDL_FILES.values())} up to date")
