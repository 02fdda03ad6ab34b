"""Both 0006 migrations replaced ``records_protect_record`` whole (issue 12, built in
parallel): the group evaluates a declaration when deciding it (0006_group_evaluates_
declarations) and that decision's time is set once (0006_record_declaration_decided_at).
Whichever ran last would have dropped the other's rule, so this defines the function
with both."""

from django.db import migrations

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
    -- 000 Art.10: the group evaluates a declared record when it decides it.
    IF OLD.state = 'declared' THEN
        workflow := workflow || ARRAY['punctuality', 'attitude', 'professionalism'];
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
$$ LANGUAGE plpgsql"""


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0006_group_evaluates_declarations"),
        ("records", "0006_record_declaration_decided_at"),
    ]

    operations = [migrations.RunSQL([PROTECT_RECORD], migrations.RunSQL.noop)]
