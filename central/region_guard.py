"""One region per statement (issue 14 point 4).

Under Citus schema-based sharding each region's schema lives on one worker,
and two regions may live on different ones: a statement that reads two regions'
schemas at once is a distributed query between nodes, or is refused. The
platform never sends one: federation statistics, transfers, interop delivery and
/metrics work region by region, each statement under one region's
``search_path`` or naming one region's schema.

:func:`guard` checks that as a Django ``execute_wrapper``: a statement fails
with :class:`CrossRegionStatement` before it reaches PostgreSQL when the region
schemas it can touch -- those on the connection's ``search_path`` plus those it
names as ``schema.table`` -- are more than one, and a ``SET search_path`` fails
when it lists two region schemas. Tests wrap code paths in
:func:`one_region_per_statement`; ``PLATFORM_ONE_REGION_PER_STATEMENT=1`` puts the
guard on every connection of a process (a test server, or a staging deployment
before it moves to Citus).
"""

from __future__ import annotations

import contextlib
import os
import re

from central.models import SCHEMA_PREFIX

ENVIRONMENT = "PLATFORM_ONE_REGION_PER_STATEMENT"

# A schema-qualified name: "region_x"."t" or region_x.t (not central_region.x).
_QUALIFIED = re.compile(
    rf'(?<![\w$"])(?:"({SCHEMA_PREFIX}[^"]+)"|({SCHEMA_PREFIX}[A-Za-z0-9_$]+))\s*\.'
)
_SET_PATH = re.compile(
    r"^\s*SET\s+(?:SESSION\s+|LOCAL\s+)?search_path\s*(?:=|TO)\s*(.*)$", re.I | re.S
)


class CrossRegionStatement(AssertionError):
    """A statement would touch two regions' schemas."""


def named_regions(sql: str) -> set[str]:
    """The region schemas ``sql`` names as a qualifier (``schema.table``)."""
    return {quoted or bare for quoted, bare in _QUALIFIED.findall(sql)}


def path_regions(schemas) -> set[str]:
    return {s for s in schemas or () if s.startswith(SCHEMA_PREFIX)}


def regions_touched(sql: str, search_path) -> set[str]:
    """Region schemas a statement can read or write, run with ``search_path``."""
    setting = _SET_PATH.match(sql)
    if setting:
        return path_regions(_listed(setting))
    return path_regions(search_path) | named_regions(sql)


def _listed(setting: re.Match) -> list[str]:
    return [part.strip().strip('"') for part in setting.group(1).rstrip(" ;").split(",")]


def guard(execute, sql, params, many, context):
    connection = context["connection"]
    # The path the connection really has: the last SET search_path seen here
    # (django-tenants sends it through this wrapper when a cursor is opened after
    # the schema changed), else the one django-tenants says it set.
    path = getattr(connection, "_guarded_search_path", None)
    if path is None:
        path = getattr(connection, "search_path_set_schemas", None)
    touched = regions_touched(sql, path)
    if len(touched) > 1:
        raise CrossRegionStatement(f"statement touches {sorted(touched)}: {sql[:200]}")
    result = execute(sql, params, many, context)
    setting = _SET_PATH.match(sql)
    if setting:
        connection._guarded_search_path = _listed(setting)
    return result


@contextlib.contextmanager
def one_region_per_statement(connection=None):
    """Fail any statement on ``connection`` (default: Django's) that touches two regions."""
    if connection is None:
        from django.db import connection
    # A path set while no guard watched is unknown here: trust django-tenants' record.
    connection._guarded_search_path = None
    try:
        with connection.execute_wrapper(guard):
            yield
    finally:
        connection._guarded_search_path = None


def install_from_environment(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: the guard on every connection when asked for."""
    wanted = os.environ.get(ENVIRONMENT, "").strip().lower() in {"1", "true", "yes", "on"}
    if wanted:
        connection._guarded_search_path = None  # a new session: PostgreSQL's default path
        if guard not in connection.execute_wrappers:
            connection.execute_wrappers.append(guard)
