"""Issue 14 point 5: a region of ten million records is generated in bounded time.

``generate_data`` COPYs 20,000 records a statement. The freeze guard on records
(seeds 000 Art.15–16: nothing is written for a volunteer transferred or consented
to a transfer; records 0004) ran once per row with two dynamic statements each
(~1 ms a record, generation ~20× slower); it now runs once per statement
(records 0008). These tests count the guard's calls in the statement's own
transaction (``pg_stat_xact_user_functions``), so they fail on the per-row guard,
and check that a bulk statement touching one frozen volunteer is still refused
whole, and that the generated region's statistics cells equal the rows.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django_tenants.utils import tenant_context

from tenants.records.models import ServiceRecord
from tenants.volunteers.models import Volunteer, VolunteerStatus
from tests.support import generated_region, unique_city_code
from tests.test_statistics_cells import assert_cells_equal_rows

# States whose workflow columns may still change (records 0003_guards).
OPEN = ["in_publicity", "objected", "awaiting_confirmation", "declared"]
GUARDS = (
    "records_guard_transferred_records",
    "records_guard_transferred_record",
    "records_volunteer_frozen",
)


@pytest.fixture(scope="module")
def region(seed_regions):
    code = unique_city_code("53")
    return generated_region(
        code, f"bulk{code}", preset="yunnan", chunk_size=25,
        volunteers=60, groups=4, records_per_volunteer=5, seed=26,
    )  # fmt: skip


def copy_records(cursor, n: int, volunteer_ids: list[int] | None = None) -> str:
    """The SQL of an INSERT of ``n`` copies of existing records under new ids (the
    guard and the statistics triggers see them as a COPY's rows)."""
    cursor.execute(
        "SELECT string_agg(column_name, ', ' ORDER BY ordinal_position) "
        "FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = 'records_servicerecord' AND column_name <> 'id'"
    )
    columns = cursor.fetchone()[0]
    where = "WHERE volunteer_id = ANY(%s)" if volunteer_ids else ""
    cursor.execute(
        f"INSERT INTO records_servicerecord (id, {columns}) "
        f"SELECT nextval(pg_get_serial_sequence('records_servicerecord', 'id')), {columns} "
        f"FROM records_servicerecord {where} ORDER BY id LIMIT {n}",
        [volunteer_ids] if volunteer_ids else [],
    )
    return columns


def guard_calls(cursor) -> dict[str, int]:
    cursor.execute(
        "SELECT funcname, calls FROM pg_stat_xact_user_functions "
        "WHERE schemaname = current_schema() AND funcname = ANY(%s)",
        [list(GUARDS)],
    )
    return {name: calls for name, calls in cursor.fetchall()}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}


@pytest.mark.parametrize("rows", [1, 250])
def test_the_freeze_guard_runs_once_per_statement_whatever_its_rows(region, rows):
    with tenant_context(region), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL track_functions = 'pl'")
        before = ServiceRecord.objects.count()
        # Counts not yet flushed from earlier transactions show too: compare deltas.
        calls = guard_calls(cursor)
        copy_records(cursor, rows)
        assert ServiceRecord.objects.count() == before + rows
        # Once for the statement; the per-row guard (records 0004) ran `rows` times
        # and called records_volunteer_frozen each time.
        assert delta(calls, guard_calls(cursor)) == {"records_guard_transferred_records": 1}
        # Counted and final records never change (records 0003): update the open ones.
        cursor.execute(
            "UPDATE records_servicerecord SET recorder = recorder WHERE state = ANY(%s)", [OPEN]
        )
        assert delta(calls, guard_calls(cursor)) == {"records_guard_transferred_records": 2}
        transaction.set_rollback(True)


def test_a_bulk_statement_with_one_frozen_volunteer_is_refused_whole(region):
    with tenant_context(region):
        open_ = ServiceRecord.objects.filter(state__in=OPEN)
        ids = sorted(set(open_.values_list("volunteer_id", flat=True)))[:3]
        assert len(ids) == 3
        frozen = ids[1]
        before = ServiceRecord.objects.count()
        with transaction.atomic():
            Volunteer.objects.filter(id=frozen).update(status=VolunteerStatus.TRANSFERRED)
            # An INSERT of the three volunteers' records: refused, nothing written.
            refused = pytest.raises(IntegrityError, match=f"volunteer {frozen} is transferred")
            with refused, transaction.atomic(), connection.cursor() as cursor:
                copy_records(cursor, 100, ids)
            assert ServiceRecord.objects.count() == before
            # An UPDATE touching the frozen volunteer's records among others: refused.
            refused = pytest.raises(IntegrityError, match=f"volunteer {frozen} is transferred")
            with refused, transaction.atomic():
                open_.filter(volunteer_id__in=ids).update(state_reason=F("state_reason"))
            # The others' records are not frozen.
            others = open_.filter(volunteer_id__in=[ids[0], ids[2]])
            assert others.update(state_reason=F("state_reason")) > 0
            transaction.set_rollback(True)


def test_the_generated_region_has_exact_cells(region):
    figures = assert_cells_equal_rows(region)
    assert figures["volunteers"] == 60 and figures["records"] > 0
