from django.db import migrations

# The audit log is append-only: nobody, not even the application, may rewrite it.
FORBID = [
    """
CREATE OR REPLACE FUNCTION audit_forbid_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER audit_entry_append_only
    BEFORE UPDATE OR DELETE ON audit_auditentry
    FOR EACH ROW EXECUTE FUNCTION audit_forbid_change()
""",
]
UNDO = [
    'DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_auditentry',
    'DROP FUNCTION IF EXISTS audit_forbid_change()',
]


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunSQL(FORBID, UNDO)]
