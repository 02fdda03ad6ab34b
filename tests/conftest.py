"""Test fixtures: a real PostgreSQL, a real server process, real HTTP.

pytest-django creates the test database (on the throwaway embedded server the
test settings start, or on ``DATABASE_URL``) and migrates the public schema.
The whole session then runs in autocommit, like production: tests commit what
they write, and a separate gunicorn process serves the same database over
HTTP, so every API test goes through host routing, middleware and CSRF exactly
as a front-end's request would. Tests keep out of each other's way by using
their own regions or their own rows, never by rolling back.

The one exception is the fast tier, ``tests/fast`` (``pytest -m fast``): service
and selector tests in this process, each rolled back (tests/fast/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import GraphQLClient, PlatformServer, platform_database_url

FAST_TIER = Path(__file__).resolve().parent / "fast"


def pytest_collection_modifyitems(config, items):
    """Every test under ``tests/fast`` is marked ``fast`` (``pytest -m fast``)."""
    for item in items:
        if FAST_TIER in item.path.parents:
            item.add_marker(pytest.mark.fast)


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """Create the test database for every session (pytest-django would only for marked tests);
    under pytest-xdist each worker's is named for it (``test_…_gw0``)."""
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    from tests import citus_support

    with django_db_blocker.unblock():
        config = setup_databases(verbosity=0, interactive=False, aliases={"default": True})
        # On a Citus coordinator (DATABASE_URL): the extension and the nodes in the
        # test database; nothing on plain PostgreSQL (tests/citus_support.py).
        settings = dict(connection.settings_dict)
        workers = citus_support.prepare(connection)
    yield
    with django_db_blocker.unblock():
        from django.db import connections

        connections.close_all()
        citus_support.drop_worker_copies(settings, workers)  # before the coordinator's
        teardown_databases(config, verbosity=0)


@pytest.fixture(scope="session", autouse=True)
def platform_db(django_db_setup, django_db_blocker):
    """Open database access for the whole session (committed, like production)."""
    django_db_blocker.unblock()
    yield
    django_db_blocker.restore()


@pytest.fixture(autouse=True)
def english_in_process():
    """Services called in the test process speak English, as the suites assert; the
    platform's own default is zh-Hans (tests/test_languages.py checks both)."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(scope="session")
def seed_regions(platform_db):
    from central.services import ensure_seed_regions

    return {region.slug: region for region, _ in ensure_seed_regions(actor="test")}


@pytest.fixture(scope="session")
def server(seed_regions):
    """A gunicorn process serving the test database on a free loopback port."""
    with PlatformServer(database_url=platform_database_url()) as running:
        yield running


@pytest.fixture
def gql(server) -> GraphQLClient:
    return GraphQLClient(server.base_url)


@pytest.fixture(scope="session")
def central_admin(platform_db):
    """A central admin and a live token for the central API."""
    import datetime

    from django.contrib.auth import get_user_model

    from central.models import CentralApiToken

    user, _ = get_user_model().objects.get_or_create(
        username="test-central-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    user.set_password("correct horse battery")
    user.save()
    _, raw = CentralApiToken.issue(user, datetime.timedelta(hours=1))
    return {"user": user, "token": raw, "password": "correct horse battery"}


@pytest.fixture
def federation_invariant():
    """Issue 11: every hour counted in exactly one region after each transfer
    scenario (``tests/interop_support.py``); interop modules use it for every test."""
    from tests.interop_support import assert_audit_clean

    yield
    assert_audit_clean()


@pytest.fixture(scope="session")
def invariant_problems(platform_db):
    """The invariant's problems found so far; at the session's end, the federation
    invariant (``interop.invariant.audit``, what the transfer tests assert after
    each test) over every region the suite made, whichever module broke it."""
    found: set[str] = set()
    yield found
    from tests.interop_support import audit_problems

    def who(problem: str) -> tuple[str, str]:  # (code, volunteer number)
        code, number = problem.split()[:2]
        return code, number.rstrip(":")

    seen = {who(problem) for problem in found}  # a module's end reported these
    new = [problem for problem in audit_problems() if who(problem) not in seen]
    assert not new, new


@pytest.fixture(scope="module", autouse=True)
def invariant_kept(request, invariant_problems):
    """After every module of the HTTP tier, in every region: each volunteer's totals
    are the sum of their counted records and their saved hours the sum of their
    ledger, for everyone the region holds, not only a transfer's volunteers
    (``tests/interop_support.everyone_mismatches``: one statement a region). A
    module whose world breaks that (a derived column written by hand) fails at its
    own end with what it broke — a later module answers only for what it adds —
    instead of whichever transfer test happens to sort after it. The fast tier
    rolls back what it writes."""
    yield
    if FAST_TIER in request.path.parents:
        return
    from tests.interop_support import everyone_mismatches

    new = set(everyone_mismatches()) - invariant_problems
    invariant_problems |= new
    assert not new, sorted(new)
