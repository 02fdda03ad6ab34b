"""System checks of the platform that read the database. Django runs such checks
(tag ``database``) only when asked: ``manage.py check --database default``,
``migrate``, and ``manage.py up``, which runs them once it has migrated and
provisioned; every other command (the delivery worker, ``close_publicity`` …)
starts without them.

``central.W001``: the working-day calendar lacks a year that a region will count
publicity periods (公示, 001 §4(4)3) in within ``CALENDAR_WARN_DAYS`` (61: from
about 1 November, when the State Council publishes next year's holidays), and the
region lists none of that year's days itself. Without either, every weekday of
that year counts as a working day (``tenants/records/workdays.py``) — 1 January
included — and publicity periods end too early. ``/readyz`` fails on the same
gap once a period put up today reaches it (``central/readiness.py``).
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.db import DatabaseError
from django.utils import timezone
from django.utils.translation import gettext as _


@checks.register(checks.Tags.database)
def working_day_calendar(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    if not databases:
        return []  # not asked to look at the database (as Django's own database checks)
    from central import readiness

    try:
        regions = readiness.active_region_policies()
    except DatabaseError:
        return []  # no database or not migrated yet: `up` checks again after migrating
    ahead = int(settings.READINESS["CALENDAR_WARN_DAYS"])
    gaps = readiness.calendar_gaps(regions, timezone.localdate(), ahead)
    return [
        checks.Warning(
            readiness.describe_gaps({year: labels}),
            hint=_(
                "List %(year)d's days off and 调休 working days in each of these regions' "
                "policy (extraHolidays, extraWorkdays: updateRegionPolicy or "
                "manage.py region set-policy), or upgrade chinesecalendar to a release that knows "
                "%(year)d (requirements.lock)."
            )
            % {"year": year},
            id="central.W001",
        )
        for year, labels in sorted(gaps.items())
    ]
