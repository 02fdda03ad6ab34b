"""Citus (distributed PostgreSQL, schema-based sharding): what the platform sets
on its own connections, so that running on a Citus coordinator needs no manual
step (issue 14 point 2; operators: ``platform/CITUS.md``).

On every new connection Django opens, :func:`configure_connection` asks once per
process and database whether the ``citus`` extension is installed (one catalog
read on the first connection; nothing at all afterwards on plain PostgreSQL).
On Citus it sends :func:`session_statements` on that connection:

- ``citus.enable_unsafe_triggers = on``: Citus refuses triggers on distributed
  tables unless told the triggers are safe. Ours are (:data:`REGION_TRIGGERS`):
  most only *refuse* a change (raise) and write nothing; the statistics triggers
  (``statistics_*``) add each statement's changes to the region's statistics
  cells. Each reads and writes at most tables of the schema of the row being
  written, never the public schema nor another region's, and a region's tables
  all live on one node (one colocation group per distributed schema), so every
  read and write is local. The statistics triggers are statement-level triggers
  with transition tables; that Citus runs those on a single-shard table as plain
  PostgreSQL does is documented by Citus but was not checked on a cluster here
  (``platform/CITUS.md``, known limits).
- ``citus.enable_schema_based_sharding = on``: every ``CREATE SCHEMA`` the
  platform sends creates a distributed schema, and the tables migrations then
  create in it become single-shard tables placed together on one worker. The
  platform creates schemas only for regions (``central.services._create_schema``,
  django-tenants' ``create_schema``), so provisioning needs no hook of its own:
  each new region lands on a worker, and the rebalancer can move it
  (``citus_schema_move``). The public schema, created before, stays on the
  coordinator.

Both are ordinary session settings: statements issued through Django's cursor
wrapper are left alone (query counts do not change); the SET statements go over
the raw DB-API connection right after it opens.
"""

from __future__ import annotations

import threading

# The settings, in the order sent. Values are literals: nothing here comes from input.
SESSION_SETTINGS: tuple[tuple[str, str], ...] = (
    ("citus.enable_unsafe_triggers", "on"),
    ("citus.enable_schema_based_sharding", "on"),
)

# Every trigger a region's schema has (tests/test_citus.py compares this with the
# catalog of a new region), and what it does. Each refuses a change, or keeps the
# statistics cells, touching at most tables of its own schema: safe under Citus
# with every table of the region on the same node. A new trigger must be judged
# and added here.
_CELLS = "adds the statement's changes to the statistics cells (same schema)"
REGION_TRIGGERS: dict[str, str] = {
    "audit_entry_append_only": "refuses UPDATE/DELETE of an audit entry (its own row)",
    "audit_entry_no_truncate": "refuses TRUNCATE of the audit log",
    "personal_info_access_append_only": "refuses UPDATE/DELETE of a reveal log row",
    "personal_info_access_no_truncate": "refuses TRUNCATE of the reveal log",
    "record_protect": "refuses changing a counted record's own fields (its own row)",
    "amendment_append_only": "refuses UPDATE/DELETE of an amendment (its own row)",
    # records 0008: once per statement over its transition table (was per row).
    "records_frozen_after_consent_ins": "refuses inserting a record of a frozen volunteer "
    "(reads the volunteer and transfer rows of the same schema)",
    "records_frozen_after_consent_upd": "refuses changing a record of a frozen volunteer "
    "(reads the volunteer and transfer rows of the same schema)",
    "amendment_frozen_after_consent": "refuses amending a frozen volunteer's record "
    "(reads the same schema)",
    "record_no_truncate": "refuses TRUNCATE",
    "amendment_no_truncate": "refuses TRUNCATE",
    "application_not_at_cancelled_project": "refuses opening an application at a cancelled "
    "project (reads the project row of the same schema)",
    "project_cancelled_without_open_applications": "refuses cancelling a project with open "
    "applications (reads the same schema)",
    "training_append_only": "refuses UPDATE/DELETE of a training (its own row)",
    "award_append_only": "refuses UPDATE/DELETE of an award (its own row)",
    "complaint_protect": "refuses changing a decided complaint (its own row)",
    "training_no_truncate": "refuses TRUNCATE",
    "award_no_truncate": "refuses TRUNCATE",
    "complaint_no_truncate": "refuses TRUNCATE",
    "timebank_entry_append_only": "refuses UPDATE/DELETE of a ledger entry (its own row)",
    "timebank_entry_no_truncate": "refuses TRUNCATE of the ledger",
    # tenants/statistics 0002: statement-level, REFERENCING transition tables.
    "statistics_records_ins": _CELLS,
    "statistics_records_upd": _CELLS,
    "statistics_amendments_ins": _CELLS,
    "statistics_groups_upd": _CELLS,
    "statistics_projects_upd": _CELLS,
    "statistics_volunteers_ins": _CELLS,
    "statistics_volunteers_upd": _CELLS,
    "statistics_volunteers_del": _CELLS,
    "statistics_totals_ins": _CELLS,
    "statistics_totals_upd": _CELLS,
    "statistics_totals_del": _CELLS,
}

DETECT = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')"

# (host, port, database) -> has the citus extension; filled on the first
# connection to each database in this process.
_detected: dict[tuple[str, str, str], bool] = {}
_lock = threading.Lock()


def session_statements() -> list[str]:
    """What a connection to a Citus coordinator is sent, one statement per item."""
    return [f"SET {name} = {value}" for name, value in SESSION_SETTINGS]


def _key(settings_dict: dict) -> tuple[str, str, str]:
    return (
        str(settings_dict.get("HOST") or ""),
        str(settings_dict.get("PORT") or ""),
        str(settings_dict.get("NAME") or ""),
    )


def is_citus(connection) -> bool:
    """Whether ``connection``'s database has the citus extension (cached per process)."""
    key = _key(connection.settings_dict)
    with _lock:
        known = _detected.get(key)
    if known is None:
        with connection.connection.cursor() as cursor:
            cursor.execute(DETECT)
            known = bool(cursor.fetchone()[0])
        with _lock:
            _detected[key] = known
    return known


def forget() -> None:
    """Detect again on the next connection (after ``CREATE EXTENSION citus``)."""
    with _lock:
        _detected.clear()


def configure_connection(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: on Citus, send :func:`session_statements`."""
    if connection.vendor != "postgresql" or not is_citus(connection):
        return
    # The raw DB-API cursor: no search_path handling, no query logging. Django has
    # already put the connection in autocommit, so the settings last for the session.
    with connection.connection.cursor() as cursor:
        for statement in session_statements():
            cursor.execute(statement)
