"""What ``GET /readyz`` checks (``central.middleware.ProbeMiddleware``), and the
working-day calendar's system check (``central.checks``).

Three checks, each ``"ok"`` or what is wrong:

- ``database``: PostgreSQL answers (asked on every probe);
- ``migrations``: the public schema and every region's schema have every
  migration on disk applied — one statement per schema, none reading two
  (``schemas_behind``);
- ``calendar``: publicity periods (公示, 001 §4(4)3) are counted in working
  days from ``chinesecalendar``, which knows a year only once the State Council
  has published its holidays and a release carries them; for a year it does not
  know, every weekday counts as a working day (``tenants/records/workdays.py``).
  The check fails when an active region's publicity period put up today (or
  ``CALENDAR_READY_DAYS`` ahead) reaches a year the library does not know and
  the region's policy lists none of that year's days (``extraHolidays`` /
  ``extraWorkdays``): from then on the platform would date records by a guess.
  A region without publicity (0 working days) needs no calendar.

The migrations and calendar answers are kept ``CACHE_SECONDS`` per process, so a
load balancer probing every second costs one ``SELECT 1`` most of the time.
"""

from __future__ import annotations

import datetime
import functools
import threading
import time
from collections.abc import Iterable
from importlib.metadata import version

from django.conf import settings
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django.utils.translation import gettext as _

from central.models import Region
from central.policy import PolicyError, RegionPolicy, validate_policy
from central.tenancy import connection
from tenants.records.workdays import add_working_days, year_known, years_listed

OK = "ok"
# extensions.code of each failing check in /readyz's answer.
CODES = {
    "database": "DATABASE_UNAVAILABLE",
    "migrations": "MIGRATIONS_PENDING",
    "calendar": "CALENDAR_INCOMPLETE",
}


@functools.cache
def _migrations_on_disk() -> tuple[frozenset, tuple]:
    """The migration graph as for a new schema (squashes in place), and each squash
    with what it replaces: read from disk once per process (a deploy restarts it)."""
    loader = MigrationLoader(None)
    squashes = tuple((key, frozenset(m.replaces)) for key, m in loader.replacements.items())
    return frozenset(loader.graph.nodes), squashes


# Digest of a schema's django_migrations rows -> whether they lack a migration on
# disk. Kept per process, like the migrations on disk it was judged against.
_verdicts: dict[str, bool] = {}


def schemas_behind(schemas: list[str]) -> list[str]:
    """The ``schemas`` whose ``django_migrations`` lack a migration on disk; a
    schema without that table is behind.

    Issue 14 point 4: no statement may read two regions' schemas (under Citus
    they may live on different workers), so each schema's table is read by its
    own statement, on one connection: a digest of its rows (one short row per
    schema). After a release every region has the same rows, so the rows behind
    a digest are read and judged once per process (``_verdicts``).

    A squashed migration counts as applied when everything it replaces is, as
    Django's loader decides.
    """
    expected, squashes = _migrations_on_disk()
    behind = []
    # The public path alone: a probe may come on a connection a region's request
    # left on that region's path.
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        # The catalog alone, no region's table: which schemas have the table.
        cursor.execute(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'django_migrations' AND c.relkind = 'r' AND n.nspname = ANY(%s)",
            [schemas],
        )
        with_table = {row[0] for row in cursor.fetchall()}
        for schema in schemas:
            if schema not in with_table:
                behind.append(schema)
                continue
            table = f"{connection.ops.quote_name(schema)}.django_migrations"
            cursor.execute(
                f"SELECT md5(string_agg(app || '.' || name, ',' ORDER BY app, name)) FROM {table}"
            )
            digest = cursor.fetchone()[0] or ""
            verdict = _verdicts.get(digest)
            if verdict is None:
                cursor.execute(f"SELECT app, name FROM {table}")
                done = {(app, name) for app, name in cursor.fetchall()}
                done |= {key for key, replaces in squashes if replaces <= done}
                verdict = _verdicts[digest] = not expected <= done
            if verdict:
                behind.append(schema)
    return behind


def migrations_problem() -> str | None:
    regions = Region.objects.order_by("schema_name").values_list("schema_name", flat=True)
    schemas = ["public", *regions]
    behind = schemas_behind(schemas)
    if not behind:
        return None
    shown = ", ".join(behind[:10]) + (" …" if len(behind) > 10 else "")
    return _(
        "%(behind)d of %(total)d schemas lack migrations (manage.py up or migrate_schemas "
        "applies them): %(schemas)s"
    ) % {"behind": len(behind), "total": len(schemas), "schemas": shown}


def calendar_gaps(
    regions: Iterable[tuple[str, RegionPolicy]], today: datetime.date, ahead_days: int
) -> dict[int, list[str]]:
    """The years ``chinesecalendar`` does not know that some region needs, each with
    those regions (by ``label``). A region needs every year from ``today``'s to
    the end of a publicity period put up today, or ``ahead_days`` ahead if that is
    later, unless its policy lists days of that year itself."""
    gaps: dict[int, list[str]] = {}
    for label, policy in regions:
        if policy.publicity_working_days == 0:
            continue  # no publicity period: the region never counts working days
        lists = {"extra_holidays": policy.extra_holidays, "extra_workdays": policy.extra_workdays}
        end = max(
            today + datetime.timedelta(days=max(ahead_days, 0)),
            add_working_days(today, policy.publicity_working_days, **lists),
        )
        listed = years_listed(policy.extra_holidays, policy.extra_workdays)
        for year in range(today.year, end.year + 1):
            if not year_known(year) and year not in listed:
                gaps.setdefault(year, []).append(label)
    return gaps


def active_region_policies() -> list[tuple[str, RegionPolicy]]:
    found = []
    rows = Region.objects.filter(status=Region.Status.ACTIVE).values_list("name", "code", "policy")
    for name, code, policy in rows:
        try:
            found.append((f"{name} ({code})", validate_policy(policy)))
        except PolicyError:
            continue  # a policy that no longer validates is the policy check's concern
    return found


def describe_gaps(gaps: dict[int, list[str]]) -> str:
    return "; ".join(
        _(
            "chinesecalendar %(version)s has no holidays for %(year)d, and these regions' "
            "publicity periods reach into it without their own list of its days off: "
            "%(regions)s"
        )
        % {"version": version("chinesecalendar"), "year": year, "regions": "、".join(regions)}
        for year, regions in sorted(gaps.items())
    )


def calendar_problem(ahead_days: int) -> str | None:
    gaps = calendar_gaps(active_region_policies(), timezone.localdate(), ahead_days)
    return describe_gaps(gaps) if gaps else None


_cache_lock = threading.Lock()
_cached: tuple[float, dict[str, str]] | None = None


def slow_checks() -> dict[str, str]:
    """``migrations`` and ``calendar``, kept ``CACHE_SECONDS`` (the database errors
    of either propagate: the caller answers that the database is unavailable)."""
    global _cached
    ttl = settings.READINESS["CACHE_SECONDS"]
    with _cache_lock:
        if _cached is not None and time.monotonic() - _cached[0] < ttl:
            return _cached[1]
    ready_days = int(settings.READINESS["CALENDAR_READY_DAYS"])
    checks = {"migrations": migrations_problem() or OK}
    if ready_days >= 0:  # a negative number leaves the calendar out of readiness
        checks["calendar"] = calendar_problem(ready_days) or OK
    with _cache_lock:
        _cached = (time.monotonic(), checks)
    return checks


def database_answers() -> None:
    """Raises the driver's error when PostgreSQL does not answer."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
