"""The federation invariant after every transfer scenario (issue 11).

Every interop test module has an autouse fixture that calls
:func:`assert_audit_clean` when each test ends: ``manage.py interop audit``
over every region of this deployment (and, where a real second deployment
takes part, ``--peers``: both sides of each transfer compared). A scenario that
leaves an hour counted twice or nowhere fails, whatever it asserted itself.
"""

from __future__ import annotations

import io

from django.core.management import call_command
from django_tenants.utils import tenant_context

from interop.invariant import audit


def assert_audit_clean(peers: bool | set[str] = False) -> None:
    report = audit(peers=peers)
    assert report.clean, [str(problem) for problem in report.problems]
    if not peers:
        call_command("interop", "audit", stdout=io.StringIO())  # the operator's command too


# Every volunteer a region holds (not transferred away), not only those of a
# transfer: their totals against their counted records (each at its current
# hours, the latest amendment that sets them), their saved hours against their
# ledger. The audit's TOTALS_MISMATCH and TIME_BANK_MISMATCH, over everyone.
EVERYONE_SQL = """
SELECT v.number, 'TOTALS_MISMATCH',
       t.counted_hours || ' h in ' || t.counted_records || ' records, counted: '
       || coalesce(s.hours, 0) || ' h in ' || coalesce(s.n, 0)
FROM {totals} t
JOIN {volunteer} v ON v.id = t.volunteer_id
LEFT JOIN (
    SELECT r.volunteer_id, count(*) AS n, sum(coalesce((
        SELECT a.hours FROM {amendment} a
        WHERE a.record_id = r.id AND a.hours IS NOT NULL ORDER BY a.id DESC LIMIT 1
    ), r.hours)) AS hours
    FROM {record} r WHERE r.state = %(counted)s GROUP BY r.volunteer_id
) s ON s.volunteer_id = t.volunteer_id
WHERE v.status <> %(transferred)s
  AND (t.counted_hours, t.counted_records) <> (coalesce(s.hours, 0), coalesce(s.n, 0))
UNION ALL
SELECT v.number, 'TIME_BANK_MISMATCH',
       b.balance || ' h saved, the ledger ' || coalesce(l.hours, 0) || ' h'
FROM {account} b
JOIN {volunteer} v ON v.id = b.volunteer_id
LEFT JOIN (SELECT volunteer_id, sum(hours) AS hours FROM {entry} GROUP BY volunteer_id) l
    ON l.volunteer_id = b.volunteer_id
WHERE b.balance <> coalesce(l.hours, 0)
"""


# Regions whose module writes records around the services (the ORM or SQL past
# them), by code, with why; the everyone check leaves them out. Each is a world
# that cannot be reached through the services (writes the cells' triggers must
# follow) or has not been yet (README "Tests" names it).
AROUND_THE_SERVICES: dict[str, str] = {}


def writes_around_the_services(region, why: str) -> None:
    """Leave ``region`` out of the everyone check: its module writes records or
    amendments past the services, so its totals follow no service (``why``)."""
    AROUND_THE_SERVICES[region.code] = why


def everyone_mismatches() -> list[str]:
    """What :data:`EVERYONE_SQL` finds in every region of this deployment."""
    from django.db import connection

    from central.models import Region
    from tenants.records.models import Amendment, RecordState, ServiceRecord, VolunteerTotals
    from tenants.timebank.models import TimeBankAccount, TimeBankEntry
    from tenants.volunteers.models import Volunteer, VolunteerStatus

    sql = EVERYONE_SQL.format(
        totals=VolunteerTotals._meta.db_table,
        volunteer=Volunteer._meta.db_table,
        amendment=Amendment._meta.db_table,
        record=ServiceRecord._meta.db_table,
        account=TimeBankAccount._meta.db_table,
        entry=TimeBankEntry._meta.db_table,
    )
    found = []
    for region in Region.objects.exclude(code__in=AROUND_THE_SERVICES).order_by("code"):
        with tenant_context(region), connection.cursor() as cursor:
            cursor.execute(
                sql, {"counted": RecordState.COUNTED, "transferred": VolunteerStatus.TRANSFERRED}
            )
            found += [f"{code} {number} at {region.code}: {what}" for number, code, what in cursor]
    return found


def audit_problems() -> list[str]:
    """The federation invariant's problems over every region of this deployment
    (tests/conftest.py asks at the session's end; the everyone check of
    :func:`everyone_mismatches` runs after every module)."""
    return [str(problem) for problem in audit().problems]
