from django.db import migrations

# Issue 12 point 9: a cancelled project has no open application. The service
# (projects.services.cancel_project) moves them all to project_cancelled under the
# project's row lock, and applying holds that row FOR SHARE; this is the backstop:
# an application is never opened (applied/accepted) at a cancelled project, and a
# project is never cancelled while one is still open.
# Every statement is its own list item (Citus forwards a multi-statement string whole).
# The functions name the schema of the row being written (TG_TABLE_SCHEMA), not the
# caller's search_path (as records 0004).
GUARD_APPLICATION = r"""
CREATE OR REPLACE FUNCTION projects_guard_application() RETURNS trigger AS $$
DECLARE cancelled boolean;
BEGIN
    IF NEW.status NOT IN ('applied', 'accepted') THEN
        RETURN NEW;
    END IF;
    EXECUTE format(
        'SELECT EXISTS (SELECT 1 FROM %I.projects_project WHERE id = $1 AND status = ''cancelled'')',
        TG_TABLE_SCHEMA)
        INTO cancelled USING NEW.project_id;
    IF cancelled THEN
        RAISE EXCEPTION 'project % is cancelled: no application is open there', NEW.project_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""
GUARD_PROJECT = r"""
CREATE OR REPLACE FUNCTION projects_guard_cancellation() RETURNS trigger AS $$
DECLARE open_left boolean;
BEGIN
    EXECUTE format(
        'SELECT EXISTS (SELECT 1 FROM %I.projects_projectapplication '
        '               WHERE project_id = $1 AND status IN (''applied'', ''accepted''))',
        TG_TABLE_SCHEMA)
        INTO open_left USING NEW.id;
    IF open_left THEN
        RAISE EXCEPTION 'project % still has open applications: they are told before it is cancelled', NEW.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


class Migration(migrations.Migration):
    dependencies = [("projects", "0003_project_changes")]

    operations = [
        migrations.RunSQL(
            [GUARD_APPLICATION], ["DROP FUNCTION IF EXISTS projects_guard_application()"]
        ),
        migrations.RunSQL(
            [GUARD_PROJECT], ["DROP FUNCTION IF EXISTS projects_guard_cancellation()"]
        ),
        migrations.RunSQL(
            [
                "CREATE TRIGGER application_not_at_cancelled_project BEFORE INSERT OR UPDATE "
                "ON projects_projectapplication FOR EACH ROW "
                "EXECUTE FUNCTION projects_guard_application()"
            ],
            [
                "DROP TRIGGER IF EXISTS application_not_at_cancelled_project "
                "ON projects_projectapplication"
            ],
        ),
        migrations.RunSQL(
            [
                "CREATE TRIGGER project_cancelled_without_open_applications "
                "AFTER UPDATE OF status ON projects_project FOR EACH ROW "
                "WHEN (NEW.status = 'cancelled' AND OLD.status <> 'cancelled') "
                "EXECUTE FUNCTION projects_guard_cancellation()"
            ],
            [
                "DROP TRIGGER IF EXISTS project_cancelled_without_open_applications "
                "ON projects_project"
            ],
        ),
    ]
