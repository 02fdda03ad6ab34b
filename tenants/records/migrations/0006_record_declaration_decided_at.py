"""Issue 12 ("people are told"): when the group decided a self-declared record.

``decided_at`` joins the workflow columns of ``records_protect_record`` (0003_guards):
it is set when a declared record is accepted or rejected, and never changes in any
other state; every other rule of the trigger is as 0003 made it.
"""

from django.db import migrations, models

PROTECT_RECORD = r"""CREATE OR REPLACE FUNCTION records_protect_record() RETURNS trigger AS $$
DECLARE
    workflow text[] := ARRAY['state', 'state_reason', 'publicity_ends_on', 'confirmed_by',
                             'counted_at', 'recorder', 'decided_at'];
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
    IF NEW.decided_at IS DISTINCT FROM OLD.decided_at AND OLD.state <> 'declared' THEN
        RAISE EXCEPTION 'record % was decided once, when its declaration was', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""
# The function as 0003_guards made it (for the way back).
OLD_PROTECT_RECORD = r"""CREATE OR REPLACE FUNCTION records_protect_record() RETURNS trigger AS $$
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


class Migration(migrations.Migration):
    dependencies = [("records", "0005_model_verbose_names")]

    operations = [
        migrations.AddField(
            model_name="servicerecord",
            name="decided_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunSQL([PROTECT_RECORD], [OLD_PROTECT_RECORD]),
    ]
