"""Issue 14 point 5: the statistics page reads pre-aggregated cells, not every
counted record and volunteer, and the cells always equal the figures computed
straight from the rows (``selectors.recompute``, the computation the page used
before), whatever writes the rows: generated data, amendments, counting, voiding,
records transferred in without a project, volunteers who move, groups that move,
star levels, several writers at once; and a region that existed before the cells
gets them from the migration (backfill).
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from central import services
from central.divisions import area_prefix
from tenants.groups.models import VolunteerGroup
from tenants.projects.models import Project
from tenants.records.models import Amendment, RecordState, ServiceRecord, VolunteerTotals
from tenants.statistics import selectors
from tenants.statistics.models import HoursCell, VolunteerBirthday, VolunteerCell
from tenants.volunteers.models import Volunteer
from tests.interop_support import writes_around_the_services
from tests.registry_support import authority, register_volunteer
from tests.support import city_name, execute_in_process, unique_city_code
from tests.test_statistics import STATISTICS


@pytest.fixture(scope="module")
def region(seed_regions):
    code = unique_city_code("43")
    region = services.provision_region(
        services.RegionSpec(code, city_name(code), "city", f"cells{code}", preset="yunnan"),
        actor="test",
    )
    generate(code, volunteers=150, seed=21)
    # The cells must follow any write, so the tests write rows in SQL: no service
    # keeps these volunteers' totals (tests/conftest.py's check leaves them out).
    writes_around_the_services(region, "cells follow writes made around the services")
    return region


def generate(code: str, volunteers: int, seed: int) -> None:
    call_command(
        "generate_data",
        *("--region", code, "--volunteers", str(volunteers), "--groups", "6"),
        *("--records-per-volunteer", "6", "--seed", str(seed), "--chunk-size", "40"),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )


def normal(stats) -> dict:
    """The figures as plain data; categories with equal hours in a fixed order."""
    data = dataclasses.asdict(stats)
    data["hours_by"]["category"].sort(key=lambda row: (-row["hours"], row["key"]))
    return data


def assert_cells_equal_rows(region, today: datetime.date | None = None) -> dict:
    """Cells and rows give the same figures for the region and for each of its counties."""
    policy = region.get_policy()
    with tenant_context(region):
        counties = sorted(set(Volunteer.objects.values_list("division_code", flat=True)))
        checked = None
        for prefixes in [None, *[[area_prefix(c)] for c in counties]]:
            cells = normal(selectors.compute(policy, prefixes=prefixes, today=today, top_groups=50))
            rows = normal(
                selectors.recompute(policy, prefixes=prefixes, today=today, top_groups=50)
            )
            assert cells == rows, prefixes
            checked = checked or cells
    assert checked is not None  # the region's own figures at least
    return checked


def counted_record(**filters) -> ServiceRecord:
    record = ServiceRecord.objects.filter(state="counted", **filters).order_by("id").first()
    assert record is not None, filters
    return record


def transferred_in(volunteer: Volunteer, day: datetime.date, hours: str, n: int) -> ServiceRecord:
    """A counted record without a project, as a transfer brings it (000 Art.16)."""
    return ServiceRecord.objects.create(
        volunteer=volunteer,
        project_name="原地区项目",
        service_date=day,
        start_time=datetime.time(9),
        end_time=datetime.time(12),
        hours=Decimal(hours),
        place="原地区",
        service_target="群众",
        content="转入的服务记录",
        contact="原地区联系人",
        mode="imported",
        recorder="test",
        state=RecordState.COUNTED,
        counted_at=timezone.now(),
        origin_region_code="110000",
        origin_record_id=f"cells-{volunteer.id}-{n}",
    )


def test_generated_data_fills_the_cells(region):
    figures = assert_cells_equal_rows(region)
    assert figures["records"] > 0 and figures["volunteers"] == 150
    with tenant_context(region):
        assert HoursCell.objects.exists() and VolunteerCell.objects.exists()
        # Far fewer cells than rows: that is the point.
        assert HoursCell.objects.count() < ServiceRecord.objects.filter(state="counted").count()


def test_cells_follow_every_kind_of_write(region):
    now = timezone.now()
    with tenant_context(region):
        # Amendments: two on one record (the latest counts), one without hours,
        # three records amended in one statement.
        first = counted_record()
        for hours in ("1.25", "2.50"):
            Amendment.objects.create(
                record=first, hours=Decimal(hours), reason="时长记错", amended_by="t"
            )
        Amendment.objects.create(record=first, place="另一地点", reason="地点", amended_by="t")
        more = list(ServiceRecord.objects.filter(state="counted").order_by("-id")[:3])
        Amendment.objects.bulk_create(
            [
                Amendment(record=r, hours=Decimal("0.50"), reason="批量", amended_by="t")
                for r in more
            ]
        )
        # An amendment before the record counts, then counting (one statement, many rows).
        waiting = list(ServiceRecord.objects.filter(state="in_publicity").order_by("id"))
        assert len(waiting) >= 3
        Amendment.objects.create(
            record=waiting[0], hours=Decimal("3.75"), reason="公示期更正", amended_by="t"
        )
        ServiceRecord.objects.filter(id__in=[r.id for r in waiting[:-1]]).update(
            state="counted", counted_at=now, confirmed_by="t"
        )
        # Revoked: objected, then void; a declaration rejected.
        ServiceRecord.objects.filter(id=waiting[-1].id).update(state="objected")
        ServiceRecord.objects.filter(id=waiting[-1].id).update(
            state="void", state_reason="异议成立"
        )
        declared = ServiceRecord.objects.filter(state="declared").first()
        if declared:
            ServiceRecord.objects.filter(id=declared.id).update(
                state="rejected", state_reason="不实"
            )
    assert_cells_equal_rows(region)

    with tenant_context(region):
        # Transferred in (no project), then the volunteer moves county: the hours follow.
        counties = sorted(set(Volunteer.objects.values_list("division_code", flat=True)))
        mover = Volunteer.objects.order_by("id").first()
        assert mover is not None
        elsewhere = next(c for c in counties if c != mover.division_code)
        imported = [
            transferred_in(mover, datetime.date(2019, 5, d), h, d)
            for d, h in ((3, "2.00"), (4, "3.00"), (20, "1.50"))
        ]
        Amendment.objects.create(
            record=imported[0], hours=Decimal("4.00"), reason="核对原记录", amended_by="t"
        )
        before = assert_cells_equal_rows(region)
        Volunteer.objects.filter(id=mover.id).update(division_code=elsewhere)
        # Status, verification, gender, birth date and star level change.
        others = list(Volunteer.objects.exclude(id=mover.id).order_by("id")[:4])
        Volunteer.objects.filter(id=others[0].id).update(
            status="cancelled", status_reason="本人申请注销"
        )
        Volunteer.objects.filter(id=others[1].id).update(status="transferred", status_reason="转出")
        Volunteer.objects.filter(id=others[2].id).update(
            verification="rejected",
            verification_reason="证件照片模糊",
            gender="female",
            birth_date=datetime.date(1960, 2, 29),
        )
        VolunteerTotals.objects.filter(volunteer_id=others[3].id).update(star_level=5)
        # A group moves county and a project changes category: read at query time.
        project = Project.objects.filter(records__state="counted").order_by("id").first()
        assert project is not None
        VolunteerGroup.objects.filter(id=project.group_id).update(division_code=elsewhere)
        Project.objects.filter(id=project.id).update(category="legal_aid")
    after = assert_cells_equal_rows(region)
    assert after["hours_by"]["division"] != before["hours_by"]["division"]
    # A volunteer registered through the service is counted at once.
    register_volunteer(region.slug)
    assert assert_cells_equal_rows(region)["volunteers"] == after["volunteers"] + 1


@pytest.mark.parametrize("years", [18, 35, 60])
def test_age_bands_on_the_day_a_volunteer_turns_18_35_60(region, years):
    """The birth month decides the band except in the month of the birthday: then
    the cells ask the day (``statistics_volunteerbirthday``)."""
    with tenant_context(region):
        births = list(
            Volunteer.objects.exclude(birth_date__month=2, birth_date__day=29)
            .order_by("id")
            .values_list("birth_date", flat=True)[:3]
        )
    for born in births:
        birthday = born.replace(year=born.year + years)
        eve, day = (
            assert_cells_equal_rows(region, today)["volunteers_by"]["age_band"]
            for today in (birthday - datetime.timedelta(days=1), birthday)
        )
        assert eve != day  # whoever was born that day changed bands overnight


def test_concurrent_writers_lose_no_count(region):
    """Amendments of one record, and a move of the volunteer whose records came
    without a project, at the same moment from separate connections."""
    with tenant_context(region):
        volunteer = Volunteer.objects.order_by("-id").first()
        assert volunteer is not None
        record = transferred_in(volunteer, datetime.date(2020, 7, 1), "2.00", 99)
        counties = sorted(set(Volunteer.objects.values_list("division_code", flat=True)))
    target = next(c for c in counties if c != volunteer.division_code)
    barrier = threading.Barrier(5)
    errors = []

    def amend(hours: str):
        try:
            with tenant_context(region), transaction.atomic():
                barrier.wait(10)
                Amendment.objects.create(
                    record_id=record.id, hours=Decimal(hours), reason="并发", amended_by="t"
                )
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    def move():
        try:
            with tenant_context(region), transaction.atomic():
                barrier.wait(10)
                Volunteer.objects.filter(id=volunteer.id).update(division_code=target)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=amend, args=(h,)) for h in ("1.00", "1.50", "5.00", "7.25")]
    threads.append(threading.Thread(target=move))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert_cells_equal_rows(region)


def test_statements_per_request_do_not_grow_with_the_records(region, gql):
    """The statistics request issues the same statements at 150 and at 250 volunteers
    (1,500 records): none reads the records or volunteers tables."""
    token = authority(gql, region.slug)
    answer, before = execute_in_process(region.slug, STATISTICS, {"top": 100}, token)
    generate(region.code, volunteers=100, seed=22)
    larger, after = execute_in_process(region.slug, STATISTICS, {"top": 100}, token)
    assert "errors" not in answer and "errors" not in larger
    assert len(before) == len(after) == 11
    for sql in after:
        assert "records_servicerecord" not in sql and "FROM volunteers_volunteer" not in sql, sql
    assert (
        larger["data"]["statistics"]["hours"]["records"]
        > (answer["data"]["statistics"]["hours"]["records"])
    )
    figures = assert_cells_equal_rows(region)
    assert larger["data"]["statistics"]["volunteers"]["total"] == figures["volunteers"]
    assert Decimal(larger["data"]["statistics"]["hours"]["total"]) == figures["hours"]


def test_the_migration_backfills_a_region_that_had_data(region):
    """Back to the migration before the cells, forward again: the cells are built
    from the rows already there."""
    expected = assert_cells_equal_rows(region)
    for target in ("0001_initial", "0002_counted_cells"):
        call_command(
            "migrate_schemas",
            "statistics",
            target,
            schema_name=region.schema_name,
            interactive=False,
            verbosity=0,
            stdout=io.StringIO(),
        )
    with tenant_context(region):
        assert VolunteerBirthday.objects.exists()
    assert assert_cells_equal_rows(region) == expected
