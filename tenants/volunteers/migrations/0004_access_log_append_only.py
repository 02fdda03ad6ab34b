from django.db import migrations

# Issue 10 finding 10: the log of who revealed a volunteer's personal information
# (PersonalInfoAccess) is append-only like the audit log: no UPDATE, DELETE or
# TRUNCATE (a row trigger, and a statement trigger, which no row trigger sees).
# One statement per list item (Citus forwards a multi-statement string whole).
FORBID = r"""
CREATE OR REPLACE FUNCTION volunteers_forbid_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
"""
FORBID_TRUNCATE = r"""
CREATE OR REPLACE FUNCTION volunteers_forbid_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE of % refused: the access log is append-only', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
"""
TABLE = "volunteers_personalinfoaccess"


class Migration(migrations.Migration):
    dependencies = [("volunteers", "0003_volunteer_division")]
    operations = [
        migrations.RunSQL(
            [
                FORBID,
                FORBID_TRUNCATE,
                f"CREATE TRIGGER personal_info_access_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
                "FOR EACH ROW EXECUTE FUNCTION volunteers_forbid_change()",
                f"CREATE TRIGGER personal_info_access_no_truncate BEFORE TRUNCATE ON {TABLE} "
                "FOR EACH STATEMENT EXECUTE FUNCTION volunteers_forbid_truncate()",
            ],
            [
                f"DROP TRIGGER IF EXISTS personal_info_access_no_truncate ON {TABLE}",
                f"DROP TRIGGER IF EXISTS personal_info_access_append_only ON {TABLE}",
                "DROP FUNCTION IF EXISTS volunteers_forbid_truncate()",
                "DROP FUNCTION IF EXISTS volunteers_forbid_change()",
            ],
        )
    ]
