from django.db import migrations

# Issue 10 finding 10: a row trigger (0002) does not see TRUNCATE, which wiped the
# whole log; a statement trigger refuses it. A function of its own, so that 0002's
# function can be dropped and re-made on its own (tests/test_up.py does).
# One statement per list item (Citus forwards a multi-statement string whole).
FORBID_TRUNCATE = r"""
CREATE OR REPLACE FUNCTION audit_forbid_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE of % refused: the audit log is append-only', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only")]
    operations = [
        migrations.RunSQL(
            [
                FORBID_TRUNCATE,
                "CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_auditentry "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_forbid_truncate()",
            ],
            [
                "DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_auditentry",
                "DROP FUNCTION IF EXISTS audit_forbid_truncate()",
            ],
        )
    ]
