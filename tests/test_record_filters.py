"""``Volunteer.records(filter:)`` (schema/region/records/filters.py): each filter is
written once, as Django lookups, and SQL applies them on every path a page of
records can take — the ``WHERE`` of the prefetch for a page of volunteers (one
filter), a column per filter marked in SQL when aliases ask for different filters
(``prefetch.marked``/``meeting``), the ``WHERE`` of a resolver's own page (read
backward: not prefetched). For every filter below, over records of every state,
dates at a filter's bounds and an imported record without a project (000 Art.16),
the three paths give the same records, and the ones this test's own reading of the
filter picks: changing one path alone (or the lookups) fails here.
"""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from tests.interop_support import writes_around_the_services
from tests.registry_support import authority
from tests.support import (
    execute_in_process,
    generated_region,
    gid,
    row_key,
    unique_city_code,
)
from tests.test_statistics_cells import transferred_in

CODE = unique_city_code("13")
SLUG = f"filters{CODE}"
STATES = ["DECLARED", "IN_PUBLICITY", "OBJECTED", "AWAITING_CONFIRMATION", "COUNTED"]
STATES += ["REJECTED", "VOID"]


@pytest.fixture(scope="module")
def region(seed_regions):
    from tenants.records.models import RecordState, ServiceRecord
    from tenants.volunteers.models import Volunteer

    target = generated_region(CODE, SLUG, volunteers=12, groups=2, records_per_volunteer=8, seed=11)
    with tenant_context(target):
        # A counted record without a project, as a transfer brings it (000 Art.16),
        # for the first volunteers, on a date other records have too.
        day = ServiceRecord.objects.order_by("id").values_list("service_date", flat=True)[0]
        for n, volunteer in enumerate(Volunteer.objects.order_by("id")[:3]):
            transferred_in(volunteer, day, "3", n)
        # Records of every state (generated ones this old are all counted): a copy of
        # one of the first volunteers' records in each.
        for n, state in enumerate(RecordState.values):
            record = ServiceRecord.objects.exclude(mode="imported").order_by("id")[n * 3]
            record.pk = record.id = None
            record.state = state
            record.start_time, record.end_time = datetime.time(21), datetime.time(22)
            record.counted_at = timezone.now() if state == RecordState.COUNTED else None
            record.state_reason = "核实" if state in ("rejected", "void") else ""
            if state == RecordState.DECLARED:  # not evaluated yet (000 Art.10)
                record.punctuality = record.attitude = record.professionalism = None
            record.save()
    # Not yet through the services: records in every state and imported ones
    # without a project are written here directly, and no totals follow them.
    writes_around_the_services(target, "records of every state copied in the ORM")
    return target


def _filters(region) -> list[dict]:
    """Every field alone and together; dates on the records' own days (the bounds are
    inclusive) and a day no record has."""
    from tenants.records.models import ServiceRecord

    with tenant_context(region):
        days = sorted(set(ServiceRecord.objects.values_list("service_date", flat=True)))
        project = ServiceRecord.objects.filter(project__isnull=False).order_by("id")[0].project
    middle = days[len(days) // 2].isoformat()
    project_id = gid(SLUG, project)
    filters: list[dict] = [{"state": state} for state in STATES]
    filters += [
        {"projectId": project_id},
        {"dateFrom": middle},
        {"dateTo": middle},
        {"dateFrom": middle, "dateTo": middle},
        {"dateFrom": days[0].isoformat()},
        {"dateTo": (days[0] - datetime.timedelta(days=1)).isoformat()},
        {"state": "COUNTED", "dateFrom": middle},
        {"state": "COUNTED", "projectId": project_id, "dateTo": middle},
        {"dateFrom": days[-1].isoformat(), "dateTo": days[0].isoformat()},  # none
    ]
    return filters


def _meets(record, wanted: dict) -> bool:
    """The filter as the field describes it (schema/schema.graphql RecordFilter):
    the record's state, its project, its service date within dateFrom..dateTo."""
    if "state" in wanted and record.state != wanted["state"].lower():
        return False
    if "projectId" in wanted and record.project_id != row_key(wanted["projectId"]):
        return False
    day = record.service_date.isoformat()
    if "dateFrom" in wanted and day < wanted["dateFrom"]:
        return False
    return not ("dateTo" in wanted and day > wanted["dateTo"])


ALONE = """query($f: RecordFilter) { volunteers(first: 20) { edges { node { number
  records(first: 100, filter: $f) { edges { node { id } } } } } } }"""
# Aliases with different filters: every row loaded once, each marked in SQL.
ALIASED = """query($f: RecordFilter) { volunteers(first: 20) { edges { node { number
  all: records(first: 100) { edges { node { id } } }
  records: records(first: 100, filter: $f) { edges { node { id } } } } } } }"""
# Read backward: not prefetched, each volunteer's page read on its own.
OWN_PAGE = """query($f: RecordFilter) { volunteers(first: 20) { edges { node { number
  records(last: 100, filter: $f) { edges { node { id } } } } } } }"""


def _answers(
    query: str, wanted: dict, token: str, alias: str = "records"
) -> tuple[dict[str, list[int]], list[str]]:
    answer, sql = execute_in_process(SLUG, query, {"f": wanted}, token)
    assert "errors" not in answer, answer
    pages = {
        edge["node"]["number"]: [row_key(e["node"]["id"]) for e in edge["node"][alias]["edges"]]
        for edge in answer["data"]["volunteers"]["edges"]
    }
    return pages, [q for q in sql if '"records_servicerecord"' in q]


def test_every_path_reads_what_each_filter_describes(region, gql):
    from tenants.records.models import ServiceRecord

    token = authority(gql, SLUG, level="province")
    with tenant_context(region):
        records = list(ServiceRecord.objects.select_related("volunteer").order_by("id"))
    assert {r.state.upper() for r in records} == set(STATES)
    assert any(r.project_id is None for r in records)
    every: dict[str, list[int]] = {}
    for record in records:
        every.setdefault(record.volunteer.number, []).append(record.id)
    picked = 0
    for wanted in _filters(region):
        alone, alone_sql = _answers(ALONE, wanted, token)
        aliased, aliased_sql = _answers(ALIASED, wanted, token)
        unfiltered, _ = _answers(ALIASED, wanted, token, alias="all")
        own, own_sql = _answers(OWN_PAGE, wanted, token)
        assert len(alone) == 12, alone
        shown = {
            number: [r.id for r in records if r.volunteer.number == number and _meets(r, wanted)]
            for number in alone
        }
        assert alone == shown, wanted
        assert aliased == shown, wanted
        assert own == shown, wanted
        assert unfiltered == {number: every.get(number, []) for number in alone}, wanted
        # Each path as described: one statement for the page of volunteers (the
        # aliases' too), one per volunteer when read backward.
        assert len(alone_sql) == 1 and len(aliased_sql) == 1, (alone_sql, aliased_sql)
        assert len(own_sql) == len(own), own_sql
        picked += sum(map(len, shown.values()))
    # The filters pick some records and leave others: the cases are not all empty.
    assert 0 < picked < len(records) * len(_filters(region))
