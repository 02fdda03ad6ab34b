from django.db import migrations

# 1. No two live records of one volunteer overlap in time (and so no day holds
#    more than 24 hours): an exclusion constraint on the day slots. Ranges of
#    the volunteer id make it work with core GiST operator classes (no
#    btree_gist extension needed).
# 2. A counted record is never changed and no record is ever deleted; an
#    amendment is never changed or deleted (000 Art.23).
SQL = [
    """
ALTER TABLE records_dayslot ADD CONSTRAINT dayslot_no_overlap EXCLUDE USING gist (
    int8range(volunteer_id, volunteer_id, '[]') WITH &&,
    tsrange(day + start_time, day + end_time) WITH &&
)
""",
    """
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
""",
    """
CREATE TRIGGER record_protect BEFORE UPDATE OR DELETE ON records_servicerecord
    FOR EACH ROW EXECUTE FUNCTION records_protect_record()
""",
    """
CREATE OR REPLACE FUNCTION records_forbid_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER amendment_append_only BEFORE UPDATE OR DELETE ON records_amendment
    FOR EACH ROW EXECUTE FUNCTION records_forbid_change()
""",
]
UNDO = [
    'DROP TRIGGER IF EXISTS amendment_append_only ON records_amendment',
    'DROP TRIGGER IF EXISTS record_protect ON records_servicerecord',
    'DROP FUNCTION IF EXISTS records_forbid_change()',
    'DROP FUNCTION IF EXISTS records_protect_record()',
    'ALTER TABLE records_dayslot DROP CONSTRAINT IF EXISTS dayslot_no_overlap',
]


class Migration(migrations.Migration):
    dependencies = [("records", "0001_initial")]
    operations = [migrations.RunSQL(SQL, UNDO)]
