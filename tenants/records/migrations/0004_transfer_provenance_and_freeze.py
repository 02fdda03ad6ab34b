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
FROZEN = r"""
CREATE OR REPLACE FUNCTION records_volunteer_frozen(volunteer bigint) RETURNS boolean AS $$
    SELECT EXISTS (SELECT 1 FROM volunteers_volunteer
                   WHERE id = volunteer AND status = 'transferred')
        OR EXISTS (SELECT 1 FROM interop_transfer
                   WHERE volunteer_id = volunteer AND direction = 'outgoing'
                     AND state = 'exported')
$$ LANGUAGE sql STABLE
"""
GUARD_RECORD = r"""
CREATE OR REPLACE FUNCTION records_guard_transferred_record() RETURNS trigger AS $$
BEGIN
    IF records_volunteer_frozen(NEW.volunteer_id) THEN
        RAISE EXCEPTION 'volunteer % is transferred or consented to a transfer: their records here are frozen', NEW.volunteer_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""
GUARD_AMENDMENT = r"""
CREATE OR REPLACE FUNCTION records_guard_transferred_amendment() RETURNS trigger AS $$
BEGIN
    IF records_volunteer_frozen(
        (SELECT volunteer_id FROM records_servicerecord WHERE id = NEW.record_id)
    ) THEN
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
        migrations.RunSQL([FROZEN], ["DROP FUNCTION IF EXISTS records_volunteer_frozen(bigint)"]),
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
