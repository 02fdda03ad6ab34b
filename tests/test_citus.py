"""Issue 14 point 2: on a Citus coordinator the platform sets what it needs on
its own connections; on plain PostgreSQL it sets nothing and nothing changes.

Citus cannot be installed here, so the Citus path is checked as far as plain
PostgreSQL allows: its statements are single statements, PostgreSQL accepts
them (a dotted setting name is a placeholder until an extension claims it), a
connection told it is on Citus sends them, and a region provisioned on such a
connection is built as usual. platform/CITUS.md has the command that runs the
whole suite on a real coordinator.
"""

from __future__ import annotations

import pytest
import sqlparse
from django.db import connection
from django.test.utils import CaptureQueriesContext

from central import citus, services
from tests import citus_support
from tests.support import city_name, tables_in, unique_city_code

SETTINGS = [name for name, _value in citus.SESSION_SETTINGS]


def current(name: str):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [name])
        return cursor.fetchone()[0]


def reconnect() -> list[str]:
    """A fresh connection of Django's; the statements its wrapper saw while opening."""
    connection.close()
    with CaptureQueriesContext(connection) as captured:
        connection.ensure_connection()
    return [q["sql"] for q in captured.captured_queries]


@pytest.fixture
def as_if_on_citus():
    """This process believes the test database has the citus extension."""
    key = citus._key(connection.settings_dict)
    citus.forget()
    citus._detected[key] = True
    yield
    citus.forget()
    connection.close()  # the next connection detects again


def test_only_a_citus_database_gets_the_settings_and_regions_are_built(seed_regions):
    """Plain PostgreSQL (CI): nothing set, nothing asked after the first connection.
    On a Citus coordinator (platform/CITUS.md): both set, each region distributed."""
    citus.forget()
    assert reconnect() == []
    on_citus = citus.is_citus(connection)
    assert on_citus is citus_support.citus_available(connection)
    expected = "on" if on_citus else None
    assert all(current(name) == expected for name in SETTINGS)
    code = unique_city_code("32")
    region = services.provision_region(
        services.RegionSpec(code, city_name(code), "city", f"plain{code}"), actor="test"
    )
    assert "records_servicerecord" in tables_in(region.schema_name)
    assert all(current(name) == expected for name in SETTINGS)
    if on_citus:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_dist_schema WHERE schemaid = %s::regnamespace",
                [region.schema_name],
            )
            assert cursor.fetchone()[0] == 1
    # Detection happened once for this database: later connections ask nothing.
    assert reconnect() == []
    assert citus._detected[citus._key(connection.settings_dict)] is on_citus


def test_the_citus_statements_are_single_settings():
    statements = citus.session_statements()
    assert len(statements) == len(citus.SESSION_SETTINGS) == 2
    for statement, (name, value) in zip(statements, citus.SESSION_SETTINGS, strict=True):
        assert len(sqlparse.split(statement)) == 1
        assert statement == f"SET {name} = {value}"
        assert name.startswith("citus.") and value == "on"
    assert set(SETTINGS) == {"citus.enable_unsafe_triggers", "citus.enable_schema_based_sharding"}


def test_a_connection_to_citus_sends_them_and_regions_are_still_built(seed_regions, as_if_on_citus):
    # Sent over the raw connection: query counts and captured SQL do not change.
    assert reconnect() == []
    assert all(current(name) == "on" for name in SETTINGS)
    code = unique_city_code("32")
    region = services.provision_region(
        services.RegionSpec(code, city_name(code), "city", f"citus{code}"), actor="test"
    )
    assert "audit_auditentry" in tables_in(region.schema_name)
    # Still in force after the transaction (session settings, not SET LOCAL).
    assert all(current(name) == "on" for name in SETTINGS)


def test_every_trigger_of_a_region_is_judged_safe_for_citus(seed_regions):
    """enable_unsafe_triggers is safe only for the triggers central/citus.py lists;
    a new trigger fails this until someone judges it and adds it there."""
    schema = seed_regions["chongqing"].schema_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND NOT t.tgisinternal",
            [schema],
        )
        found = {row[0] for row in cursor.fetchall()}
    assert found == set(citus.REGION_TRIGGERS)


def test_the_suite_sets_citus_up_only_where_the_server_offers_it(seed_regions):
    """tests/conftest.py: on plain PostgreSQL no extension and no nodes, on Citus
    both; the statements it sends a coordinator are single statements."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'citus'")
        installed = cursor.fetchone()[0]
    if citus_support.citus_available(connection):
        assert installed == 1
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_dist_node")
            assert cursor.fetchone()[0] >= 1
    else:
        assert installed == 0 and citus_support.prepare(connection) == []
    assert citus_support.nodes(" w1:5432, 10.0.0.2:6432 ,") == [("w1", 5432), ("10.0.0.2", 6432)]
    sent = list(citus_support.coordinator_statements(("c", 5432), [("w1", 5432), ("w2", 5432)]))
    assert [s for s, _ in sent][:2] == [
        "CREATE EXTENSION IF NOT EXISTS citus",
        "SELECT citus_set_coordinator_host(%s, %s)",
    ]
    assert sum("citus_add_node" in s for s, _ in sent) == 2
    alone = list(citus_support.coordinator_statements(("c", 5432), []))
    assert any("shouldhaveshards" in s for s, _ in alone)
    for statement, _params in sent + alone:
        assert len(sqlparse.split(statement)) == 1
