from django.db import migrations

# The time-bank ledger is append-only (issue 12 point 8): an entry is never changed
# or deleted — an amended or voided record is compensated by a new entry — and the
# table is never truncated (the same rule as the audit log and the records, 000
# Art.23). One statement per list item (Citus forwards a multi-statement string whole).
FORBID_CHANGE = r"""
CREATE OR REPLACE FUNCTION timebank_forbid_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the time-bank ledger is append-only (% on %): add a compensating entry',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
"""


class Migration(migrations.Migration):
    dependencies = [("timebank", "0001_initial")]

    operations = [
        migrations.RunSQL(
            [FORBID_CHANGE], ["DROP FUNCTION IF EXISTS timebank_forbid_change()"]
        ),
        migrations.RunSQL(
            [
                "CREATE TRIGGER timebank_entry_append_only BEFORE UPDATE OR DELETE "
                "ON timebank_timebankentry FOR EACH ROW EXECUTE FUNCTION timebank_forbid_change()"
            ],
            ["DROP TRIGGER IF EXISTS timebank_entry_append_only ON timebank_timebankentry"],
        ),
        migrations.RunSQL(
            [
                "CREATE TRIGGER timebank_entry_no_truncate BEFORE TRUNCATE "
                "ON timebank_timebankentry FOR EACH STATEMENT "
                "EXECUTE FUNCTION timebank_forbid_change()"
            ],
            ["DROP TRIGGER IF EXISTS timebank_entry_no_truncate ON timebank_timebankentry"],
        ),
    ]
