"""The fast tier: service and selector tests in the test process, each inside a
transaction rolled back at its end.

One region is provisioned for the tier once per session (committed, like every
other test's region: its schema and tables). Every test here then runs with
that region's schema on the connection, inside ``transaction.atomic()``, and
everything it wrote is rolled back when it ends; the services' own
``atomic()`` blocks become savepoints inside it. No server is started: the
``server`` and ``gql`` fixtures fail here, so a test that needs HTTP belongs in
the HTTP tier (``tests/test_*.py``). ``pytest tests/fast`` (or ``pytest -m
fast``) runs the tier alone; ``tests/fast/test_rollback.py`` proves the
rollback.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import transaction

from central.models import Region
from central.tenancy import connection


@pytest.fixture(scope="session")
def fast_region(platform_db) -> Region:
    """A city region of the tier's own, provisioned once (default preset)."""
    from central import services
    from tests.support import city_name, unique_city_code

    code = unique_city_code("13")
    return services.provision_region(
        services.RegionSpec(code, city_name(code), "city", f"fast{code}"), actor="test"
    )


@pytest.fixture(autouse=True)
def rolled_back(fast_region: Region) -> Iterator[Region]:
    """The test runs on ``fast_region``'s schema inside a transaction that is
    rolled back when it ends, whatever it wrote (and whether it passed)."""
    assert connection.get_autocommit() and not connection.in_atomic_block, (
        "a fast test must start outside any transaction"
    )
    with transaction.atomic():
        connection.set_tenant(fast_region)
        try:
            yield fast_region
        finally:
            transaction.set_rollback(True)
            connection.set_schema_to_public()
    assert not connection.in_atomic_block


@pytest.fixture(scope="session")
def server():
    pytest.fail("the fast tier starts no server: a test that needs HTTP belongs in tests/test_*.py")


@pytest.fixture
def gql():
    pytest.fail("the fast tier starts no server: a test that needs HTTP belongs in tests/test_*.py")
