import datetime

from django.db import migrations, models

# Issue 10 findings 9 and 10.
# 1. A service date is never before the platform's earliest plausible date
#    (models.EARLIEST_SERVICE_DATE): a CHECK constraint. That a record lies within
#    its project's dates and not in the future is the services' rule (it needs the
#    project row and today's date; COPY by generate_data would pay a lookup a row).
# 2. A record moves only along the lifecycle the services make (services.py):
#      declared              → in_publicity | awaiting_confirmation | counted | rejected
#      in_publicity          → objected | awaiting_confirmation | counted
#      objected              → in_publicity | void
#      awaiting_confirmation → counted
#      counted, rejected, void: final, never changed again
#    Its facts (volunteer, project, date, times, hours, place, content, evaluation,
#    mode, provenance…: every column but the workflow ones) never change in any
#    state — corrections are amendments (000 Art.23). Of the workflow columns the
#    recorder changes only while declared (the group decides the declaration), the
#    reason only on rejection or voiding, the publicity end only once, on entering
#    publicity, and when/by whom it counted only when it counts.
# 3. No TRUNCATE of records or amendments (000 Art.15: 长期妥善保存).
# Every statement is its own list item (Citus forwards a multi-statement string whole).
PROTECT_RECORD = r"""
CREATE OR REPLACE FUNCTION records_protect_record() RETURNS trigger AS $$
DECLARE
    workflow text[] := ARRAY['state', 'state_reason', 'publicity_ends_on', 'confirmed_by',
                             'counted_at', 'recorder'];
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'service records are never deleted (record %)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.state = 'counted' THEN
        RAISE EXCEPTION 'record % is counted: it is never changed, add an amendment', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.state IN ('rejected', 'void') THEN
        RAISE EXCEPTION 'record % is %: that is final, it is never changed', OLD.id, OLD.state
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NOT (NEW.state = OLD.state
            OR (OLD.state = 'declared' AND NEW.state IN
                ('in_publicity', 'awaiting_confirmation', 'counted', 'rejected'))
            OR (OLD.state = 'in_publicity' AND NEW.state IN
                ('objected', 'awaiting_confirmation', 'counted'))
            OR (OLD.state = 'objected' AND NEW.state IN ('in_publicity', 'void'))
            OR (OLD.state = 'awaiting_confirmation' AND NEW.state = 'counted')) THEN
        RAISE EXCEPTION 'record % cannot go from % to %', OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (to_jsonb(NEW) - workflow) IS DISTINCT FROM (to_jsonb(OLD) - workflow) THEN
        RAISE EXCEPTION 'the facts of record % (date, times, hours, content…) are never changed: add an amendment', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.recorder IS DISTINCT FROM OLD.recorder AND OLD.state <> 'declared' THEN
        RAISE EXCEPTION 'the recorder of record % changes only when its declaration is decided', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.state_reason IS DISTINCT FROM OLD.state_reason
       AND NEW.state NOT IN ('rejected', 'void') THEN
        RAISE EXCEPTION 'the reason of record % is given only when it is rejected or voided', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.publicity_ends_on IS DISTINCT FROM OLD.publicity_ends_on
       AND NOT (NEW.state = 'in_publicity' AND OLD.publicity_ends_on IS NULL) THEN
        RAISE EXCEPTION 'the publicity of record % is set once, when it starts', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (NEW.counted_at, NEW.confirmed_by) IS DISTINCT FROM (OLD.counted_at, OLD.confirmed_by)
       AND NEW.state <> 'counted' THEN
        RAISE EXCEPTION 'record % is confirmed or counted only when it counts', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.state = 'counted' AND NEW.counted_at IS NULL THEN
        RAISE EXCEPTION 'record % counts: say when (counted_at)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""
# The function as 0002_integrity made it (for the way back).
OLD_PROTECT_RECORD = r"""
CREATE OR REPLACE FUNCTION records_protect_record() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'service records are never deleted (record %)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.state = 'counted' THEN
        RAISE EXCEPTION 'record % is counted: it is never changed, add an amendment', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""
FORBID_TRUNCATE = r"""
CREATE OR REPLACE FUNCTION records_forbid_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE of % refused: its rows are kept for good', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
"""
TABLES = {"record_no_truncate": "records_servicerecord", "amendment_no_truncate": "records_amendment"}


class Migration(migrations.Migration):
    dependencies = [("records", "0001_squashed_0002_integrity")]

    operations = [
        # NOT VALID: rows already there (a record dated 0001-01-01 was accepted before)
        # must not stop a region's migration; new and changed rows are checked.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    [
                        "ALTER TABLE records_servicerecord ADD CONSTRAINT record_service_date_plausible "
                        "CHECK (service_date >= '1989-01-01') NOT VALID"
                    ],
                    ["ALTER TABLE records_servicerecord DROP CONSTRAINT IF EXISTS record_service_date_plausible"],
                )
            ],
            state_operations=[
                migrations.AddConstraint(
                    model_name="servicerecord",
                    constraint=models.CheckConstraint(
                        condition=models.Q(service_date__gte=datetime.date(1989, 1, 1)),
                        name="record_service_date_plausible",
                    ),
                )
            ],
        ),
        migrations.RunSQL([PROTECT_RECORD], [OLD_PROTECT_RECORD]),
        migrations.RunSQL(
            [FORBID_TRUNCATE], ["DROP FUNCTION IF EXISTS records_forbid_truncate()"]
        ),
        *[
            migrations.RunSQL(
                [
                    f"CREATE TRIGGER {trigger} BEFORE TRUNCATE ON {table} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION records_forbid_truncate()"
                ],
                [f"DROP TRIGGER IF EXISTS {trigger} ON {table}"],
            )
            for trigger, table in TABLES.items()
        ],
    ]
