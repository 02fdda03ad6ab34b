"""The fast tier's fixture (tests/fast/conftest.py) rolls back what a test wrote.

The first test writes a volunteer and sees it; another connection (as the HTTP
tier's server would) does not, because nothing is committed. The second test,
run after it, finds the row gone: it fails if the fixture commits.
"""

from __future__ import annotations

import psycopg2
import pytest

from central.models import Region
from central.tenancy import connection
from tenants.volunteers.models import Volunteer
from tests.registry_support import register_volunteer
from tests.support import platform_database_url

written: dict[str, str] = {}


def _committed_count(region: Region, number: str) -> int:
    """How many volunteers numbered ``number`` another connection sees."""
    with psycopg2.connect(platform_database_url()) as other, other.cursor() as cursor:
        cursor.execute(
            f'SELECT count(*) FROM "{region.schema_name}".volunteers_volunteer WHERE number = %s',
            [number],
        )
        row = cursor.fetchone()
    other.close()
    assert row is not None  # a count answers one row
    return row[0]


def test_a_fast_test_runs_on_the_tiers_region_inside_a_transaction(rolled_back):
    assert connection.schema_name == rolled_back.schema_name
    assert connection.in_atomic_block and not connection.get_autocommit()


def test_a_row_written_here_is_seen_here_and_not_committed(rolled_back):
    volunteer, _username = register_volunteer(rolled_back.slug)
    assert Volunteer.objects.filter(number=volunteer.number).count() == 1
    assert _committed_count(rolled_back, volunteer.number) == 0
    written["number"] = volunteer.number


def test_the_row_is_gone_in_the_next_test(rolled_back):
    if "number" not in written:
        pytest.fail("run with the test above: it writes the row this one looks for")
    assert not Volunteer.objects.filter(number=written["number"]).exists()
    assert _committed_count(rolled_back, written["number"]) == 0
