from django.db import migrations, models

# Issue 11 findings 2 and 12.
# 1. The rest of a transferred record's provenance: the origin region's name, the
#    hours first recorded there, when it counted there and who confirmed it.
# 2. Nothing changes at the source after consent (seeds 000 Art.15–16): a record
#    of a volunteer who is transferred, or whose outgoing transfer is consented
#    and on its way (interop_transfer.state = 'exported'), is never inserted or
#    changed, and no amendment is added to it. The services refuse first, with a
#    typed CONFLICT (interop.services.require_not_frozen); this is the backstop.
#    A volunteer coming back is reopened (status active) before their records are
#    written, so an import is not refused.
# Every statement is its own list item (Citus forwards a multi-statement string whole).
# The functions name the schema of the row being written (TG_TABLE_SCHEMA), not
# the caller's search_path: a bulk writer (generate_data's COPY connections) or an
# operator's psql session need not have the region's schema first.
FROZEN = r"""
CREATE OR REPLACE FUNCTION records_volunteer_frozen(region_schema text, volunteer bigint)
RETURNS boolean AS $$
DECLARE frozen boolean;
BEGIN
    EXECUTE format(
        'SELECT EXISTS (SELECT 1 FROM %1$I.volunteers_volunteer '
        '               WHERE id = $1 AND status = ''transferred'') '
        '    OR EXISTS (SELECT 1 FROM %1$I.interop_transfer '
        '               WHERE volunteer_id = $1 AND direction = ''outgoing'' '
        '                 AND state = ''exported'')',
        region_schema)
        INTO frozen USING volunteer;
    RETURN frozen;
END;
$$ LANGUAGE plpgsql STABLE
"""
GUARD_RECORD = r"""
CREATE OR REPLACE FUNCTION records_guard_transferred_record() RETURNS trigger AS $$
DECLARE frozen boolean;
BEGIN
    EXECUTE format('SELECT %I.records_volunteer_frozen($1, $2)', TG_TABLE_SCHEMA)
        INTO frozen USING TG_TABLE_SCHEMA, NEW.volunteer_id;
    IF frozen THEN
        RAISE EXCEPTION 'volunteer % is transferred or consented to a transfer: their records here are frozen', NEW.volunteer_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""
GUARD_AMENDMENT = r"""
CREATE OR REPLACE FUNCTION records_guard_transferred_amendment() RETURNS trigger AS $$
DECLARE frozen boolean;
BEGIN
    EXECUTE format(
        'SELECT %1$I.records_volunteer_frozen($1, '
        '(SELECT volunteer_id FROM %1$I.records_servicerecord WHERE id = $2))',
        TG_TABLE_SCHEMA)
        INTO frozen USING TG_TABLE_SCHEMA, NEW.record_id;
    IF frozen THEN
        RAISE EXCEPTION 'record % belongs to a volunteer transferred or consented to a transfer: it is frozen', NEW.record_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0003_guards"),
        ("interop", "0002_encrypt_packages_at_rest"),
        ("volunteers", "0004_access_log_append_only"),
    ]

    operations = [
        migrations.AddField(
            model_name="servicerecord",
            name="origin_region_name",
            field=models.CharField(blank=True, default="", max_length=120),
        ),
        migrations.AddField(
            model_name="servicerecord",
            name="origin_hours",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=4, null=True),
        ),
        migrations.AddField(
            model_name="servicerecord",
            name="origin_counted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="servicerecord",
            name="origin_confirmed_by",
            field=models.CharField(blank=True, default="", max_length=120),
        ),
        migrations.RunSQL(
            [FROZEN], ["DROP FUNCTION IF EXISTS records_volunteer_frozen(text, bigint)"]
        ),
        migrations.RunSQL(
            [GUARD_RECORD], ["DROP FUNCTION IF EXISTS records_guard_transferred_record()"]
        ),
        migrations.RunSQL(
            [GUARD_AMENDMENT], ["DROP FUNCTION IF EXISTS records_guard_transferred_amendment()"]
        ),
        migrations.RunSQL(
            [
                "CREATE TRIGGER record_frozen_after_consent BEFORE INSERT OR UPDATE "
                "ON records_servicerecord FOR EACH ROW "
                "EXECUTE FUNCTION records_guard_transferred_record()"
            ],
            ["DROP TRIGGER IF EXISTS record_frozen_after_consent ON records_servicerecord"],
        ),
        migrations.RunSQL(
            [
                "CREATE TRIGGER amendment_frozen_after_consent BEFORE INSERT "
                "ON records_amendment FOR EACH ROW "
                "EXECUTE FUNCTION records_guard_transferred_amendment()"
            ],
            ["DROP TRIGGER IF EXISTS amendment_frozen_after_consent ON records_amendment"],
        ),
    ]
