"""Bringing region schemas up to the migrations on disk, many at a time (issue 16
point 3: a release must not stall a national deployment of ~3,000 regions).

``migrate_schemas --tenant --schema_name S`` per region was worse than
proportional (3.6 / 8.8 / 48.5 s for 50 / 150 / 370 regions each one migration
behind). Per region it opened a new connection, ran the ``database``-tagged
system checks (the working-day calendar check reads every region: O(N) per
region, O(N²) in all), built a ``MigrationLoader`` and replayed every migration's
state, checked the models against the migrations, emitted ``post_migrate``
(content types, permissions), and listed every visible table through a
``pg_class`` scan (``MigrationRecorder.has_table``: the catalog grows with the
region count, so each scan is O(N) again).

Here the work that does not depend on the schema is done once per process: the
migration graph is read from disk once, and for each distinct set of applied
migrations (after a release, all regions share one) the plan and Django's model
states before and after each operation are computed once and reused for every
schema with that set, as provisioning does for a new schema
(``central.services._create_schema``). Per schema: one connection for all of
them, one ``SELECT`` of its ``django_migrations`` under its own ``search_path``
(issue 14 point 4: no query spans two regions), then each migration's SQL and
one ``INSERT`` recording it, each migration in its own transaction as Django's
executor does. A schema this cannot plan exactly (no ``django_migrations``
table, a squash only partly applied) goes through ``migrate_schemas`` as before.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from django.db.migrations.operations.special import RunPython
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState

from central import compat
from central.tenancy import connection

Key = tuple[str, str]
Steps = list[tuple[Migration, list[tuple[Operation, ProjectState, ProjectState]]]]

_LOCK = threading.Lock()  # the cached states are shared by the process's threads
_plans: dict[frozenset[Key], Steps] = {}


def read_graph() -> None:
    """Read the migrations from disk now (e.g. before forking workers)."""
    _graph()


@functools.cache
def _graph() -> tuple[MigrationLoader, list[Key]]:
    """The migration graph as for a new schema (squashes in place) and the order
    Django would apply every migration in: read from disk once per process."""
    loader = MigrationLoader(None)
    full, seen = [], set()
    for target in loader.graph.leaf_nodes():
        for key in loader.graph.forwards_plan(target):
            if key not in seen:
                seen.add(key)
                full.append(key)
    return loader, full


# Squashes whose replaced migrations have been deleted (issue 15 point 5), with
# what they replaced. Django itself records a squash as applied the first time it
# migrates a schema holding everything the squash replaces; a region that never
# ran ``up`` between the squash and the deletion holds only the old names, so
# ``migrate_schema`` records the squash for it (see ``retired_now_applied``).
RETIRED_SQUASHES: dict[Key, tuple[Key, ...]] = {
    ("records", "0001_squashed_0002_integrity"): (
        ("records", "0001_initial"),
        ("records", "0002_integrity"),
    ),
    ("recognition", "0001_squashed_0003_origin"): (
        ("recognition", "0001_initial"),
        ("recognition", "0002_append_only"),
        ("recognition", "0003_award_origin_group_name_award_origin_record_id_and_more"),
    ),
}


def _squashes() -> list[tuple[Key, tuple[Key, ...]]]:
    loader, _full = _graph()
    live = [(key, tuple(squash.replaces)) for key, squash in loader.replacements.items()]
    return live + list(RETIRED_SQUASHES.items())


def effective_applied(applied: set[Key]) -> frozenset[Key] | None:
    """``applied`` as Django's loader counts it: a squash is applied when everything
    it replaces is. None when a squash is only partly applied (Django then plans
    with the replaced migrations instead; left to ``migrate_schemas``)."""
    result = set(applied)
    for key, replaces in _squashes():
        done = [replaced in applied for replaced in replaces]
        if all(done):
            result.add(key)
        elif any(done) and key not in applied:
            return None
    return frozenset(result)


def retired_now_applied(applied: set[Key]) -> list[Key]:
    """The retired squashes a schema counts as applied (it holds all they replaced)
    without a row of their own: rows to write, so that Django's own ``migrate``
    agrees with ``up``."""
    return [
        key
        for key, replaces in RETIRED_SQUASHES.items()
        if key not in applied and all(replaced in applied for replaced in replaces)
    ]


def rendered_for(operation: Operation, before: ProjectState) -> ProjectState:
    """``before`` as a ``RunPython`` operation will use it, rendered now, once.

    ``RunPython.database_forwards`` drops a delayed state's rendered models and
    renders every model again (0.13 s each time, four times per new region), in
    case an earlier operation left related models stale. Doing that here, once
    per process, and marking the state settled gives the code the same models
    without rendering them again for every schema."""
    if isinstance(operation, RunPython) and before.is_delayed:
        before.clear_delayed_apps_cache()
        before.apps  # noqa: B018  render now, as RunPython would
        before.is_delayed = False
    return before


def plan_for(applied: frozenset[Key]) -> Steps:
    """The migrations a schema with ``applied`` lacks, in Django's order, each with
    the model states before and after each of its operations (as
    ``MigrationExecutor.migrate`` computes them), built once per set and kept."""
    with _LOCK:
        steps = _plans.get(applied)
        if steps is not None:
            return steps
        loader, full = _graph()
        nodes = loader.graph.nodes
        # As MigrationExecutor._create_project_state(with_applied_migrations=True).
        state = ProjectState(real_apps=loader.unmigrated_apps)
        for key in full:
            if key in applied:
                nodes[key].mutate_state(state, preserve=False)
        missing = [nodes[key] for key in full if key not in applied]
        steps = []
        if missing:
            state.apps  # noqa: B018  render once; each operation re-renders what it changes
            for migration in missing:
                operations = []
                for operation in migration.operations:
                    before = rendered_for(operation, state.clone())
                    operation.state_forwards(migration.app_label, state)
                    operations.append((operation, before, state.clone()))
                steps.append((migration, operations))
        _plans[applied] = steps
        return steps


def applied_in(schema: str) -> set[Key] | None:
    """The schema's ``django_migrations`` rows, read under its own ``search_path``
    alone; None when it has no such table."""
    connection.set_schema(schema, include_public=False)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT app, name FROM django_migrations")
            return {(app, name) for app, name in cursor.fetchall()}
    except DatabaseError:
        return None
    finally:
        connection.set_schema_to_public()


def apply_steps(schema: str, steps: Steps, recorder: MigrationRecorder | None = None) -> None:
    """Run ``steps`` in ``schema`` (public on the path, as django-tenants migrates a
    tenant; its router lets only the tenant apps' operations run there) and record
    each, as ``MigrationExecutor.apply_migration`` with the states computed
    beforehand. A squash records what it replaces and itself."""
    recorder = recorder or MigrationRecorder(connection)
    compat.trust_migrations_table(recorder)  # the caller knows it exists: no pg_class scan
    connection.set_schema(schema)
    try:
        for migration, operations in steps:
            keys = [*(migration.replaces or []), (migration.app_label, migration.name)]
            rows = [recorder.Migration(app=app, name=name) for app, name in keys]
            with connection.schema_editor(atomic=migration.atomic) as editor:
                for operation, before, after in operations:
                    # As Migration.apply: an atomic operation in a non-atomic migration
                    # gets its own transaction.
                    if not editor.atomic_migration and (
                        operation.atomic or (migration.atomic and operation.atomic is not False)
                    ):
                        with transaction.atomic(connection.alias):
                            operation.database_forwards(migration.app_label, editor, before, after)
                    else:
                        operation.database_forwards(migration.app_label, editor, before, after)
                recorded = not editor.deferred_sql
                if recorded:
                    recorder.migration_qs.bulk_create(rows)
            if not recorded:  # after the deferred SQL ran, as Django does
                recorder.migration_qs.bulk_create(rows)
    finally:
        connection.set_schema_to_public()


def record_applied(schema: str, keys: list[Key]) -> None:
    """Write ``keys`` into the schema's ``django_migrations`` (under its own path)."""
    connection.set_schema(schema, include_public=False)
    try:
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, now())",
                keys,
            )
    finally:
        connection.set_schema_to_public()


def migrate_schema(schema: str) -> str:
    """Bring one region schema up to the migrations on disk; returns how: "planned"
    (the shared plan), "current" (nothing to do) or "command" (``migrate_schemas``)."""
    applied = applied_in(schema)
    effective = effective_applied(applied) if applied is not None else None
    if applied is not None and effective is not None and (retired := retired_now_applied(applied)):
        record_applied(schema, retired)
    if effective is None:
        call_command(
            "migrate_schemas", tenant=True, schema_name=schema, interactive=False, verbosity=0
        )
        return "command"
    steps = plan_for(effective)
    if not steps:
        return "current"
    apply_steps(schema, steps)
    return "planned"


def migrate_schemas(schemas: list[str], progress: Callable[[int, str], None] | None = None):
    """Each of ``schemas`` in turn, in this process, on one connection."""
    for done, schema in enumerate(schemas, start=1):
        migrate_schema(schema)
        if progress:
            progress(done, schema)
