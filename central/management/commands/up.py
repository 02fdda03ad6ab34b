"""``manage.py up``: everything from an empty machine to a running platform.

Starts (or reuses) the database, migrates the public schema and every region,
provisions the seed regions that are missing, creates the first central admin
(printing its password once), then serves the app until Ctrl-C. Safe to run
again: every step skips what is already done.
"""

from __future__ import annotations

import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

from central import services
from central.models import Region

# With more regions than this, they are migrated in parallel (a count and a
# summary instead of a line per region).
PARALLEL_FROM = 20


class Command(BaseCommand):
    help = "Set up the database and seed regions, then serve the platform."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2, help="WSGI worker processes")
        parser.add_argument("--threads", type=int, default=4, help="threads per worker")
        parser.add_argument("--no-serve", action="store_true", help="set everything up, then exit")
        parser.add_argument("--no-seed", action="store_true", help="skip the seed regions")

    def handle(self, *args, host, port, workers, threads, no_serve, no_seed, **options):
        started = time.monotonic()
        db = settings.DATABASES["default"]
        self.stdout.write(f"database: {db['NAME']} on {db['HOST'] or 'localhost'}")

        self.stdout.write("migrating the public schema …")
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        self._migrate_regions()

        self.stdout.write("seed regions:")

        def progress(index, total, spec, created):
            state = "created" if created else "present"
            self.stdout.write(f"  [{index}/{total}] {spec.code} {spec.name} … {state}")

        results = [] if no_seed else services.ensure_seed_regions(on_progress=progress)
        admin, password = services.ensure_central_admin()
        created = sum(1 for _, was_created in results if was_created)
        self.stdout.write(
            self.style.SUCCESS(
                f"ready in {time.monotonic() - started:.1f}s: {Region.objects.count()} regions "
                f"({created} created now)"
            )
        )
        if password:
            self.stdout.write(
                self.style.WARNING(
                    f"central admin created: username {admin.username!r}, password {password!r}\n"
                    "  (shown only this once; change it with manage.py changepassword)"
                )
            )
        else:
            self.stdout.write(f"central admin: {admin.username!r} (password set earlier)")
        if no_serve:
            return
        self._print_urls(host, port)
        connections.close_all()  # never share a connection with forked workers
        serve(host=host, port=port, workers=workers, threads=threads)

    def _migrate_regions(self) -> None:
        schemas = list(Region.objects.values_list("schema_name", flat=True))
        if len(schemas) > PARALLEL_FROM:
            # django-tenants' multiprocessing executor: a pool of
            # TENANT_MULTIPROCESSING_MAX_PROCESSES forked workers (default 2), one
            # connection each. 370 regions with nothing to apply on 2 cores: 35-53 s
            # against 46-72 s one by one (x0.74-0.79, bench/regions.py); PostgreSQL's
            # catalog scans, not Django, are most of the work.
            processes = getattr(settings, "TENANT_MULTIPROCESSING_MAX_PROCESSES", 2)
            self.stdout.write(f"  migrating {len(schemas)} regions in {processes} processes …")
            started = time.monotonic()
            call_command(
                "migrate_schemas",
                tenant=True,
                executor="multiprocessing",
                interactive=False,
                verbosity=0,
            )
            self.stdout.write(
                f"  migrated {len(schemas)} regions in {time.monotonic() - started:.1f}s"
            )
            return
        for index, schema in enumerate(schemas, start=1):
            self.stdout.write(
                f"\r  migrating regions [{index}/{len(schemas)}] {schema:<30}", ending=""
            )
            call_command(
                "migrate_schemas", tenant=True, schema_name=schema, interactive=False, verbosity=0
            )
        if schemas:
            self.stdout.write(f"\r  migrated {len(schemas)} regions{' ' * 30}")

    def _print_urls(self, host: str, port: int) -> None:
        shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
        self.stdout.write(f"central API:   http://{shown}:{port}/graphql")
        self.stdout.write(f"central admin: http://{shown}:{port}/admin/")
        for region in services.regions():
            primary = region.domains.all()[0].domain if region.domains.all() else None
            if primary:
                self.stdout.write(f"{region.name:<6} API: http://{primary}:{port}/graphql")
        self.stdout.write("Ctrl-C stops the server.")
        sys.stdout.flush()


def serve(*, host: str, port: int, workers: int, threads: int) -> None:
    """Serve the WSGI app with gunicorn (threaded workers, persistent DB connections)."""
    from gunicorn.app.base import BaseApplication

    from central import gunicorn_conf
    from central.wsgi import application

    class PlatformServer(BaseApplication):
        def load_config(self):
            for name in ("worker_class", "accesslog", "graceful_timeout", "post_fork"):
                self.cfg.set(name, getattr(gunicorn_conf, name))
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)

        def load(self):
            return application

    PlatformServer().run()
