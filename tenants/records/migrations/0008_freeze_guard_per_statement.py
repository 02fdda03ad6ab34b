from django.db import migrations

# Issue 14 point 5: a record's freeze guard (0004, seeds 000 Art.15–16: nothing is
# inserted or changed for a volunteer transferred or consented to a transfer) ran
# per row and built two dynamic statements per row (EXECUTE format(...), never a
# cached plan): ~1 ms a record, 15–25 s per 20,000-record COPY of generate_data,
# which is what brought generation from ~17,000 to ~700 records/s. The same check
# now runs once per statement over its transition table, with static SQL (plans
# cached) that finds its tables through the function's own search_path (SET
# search_path FROM CURRENT: the region's schema when the migration runs), so a
# COPY connection without the region's search_path is still guarded. It raises
# the same error (integrity_constraint_violation) before the statement ends, so
# nothing is written. Amendments keep their row guard (one row per statement).
# Every statement is its own list item (Citus, issue 14 point 1).

GUARD = r"""
CREATE OR REPLACE FUNCTION records_guard_transferred_records() RETURNS trigger AS $$
DECLARE frozen bigint;
BEGIN
    SELECT n.volunteer_id INTO frozen FROM new_rows n
     WHERE EXISTS (SELECT 1 FROM volunteers_volunteer v
                    WHERE v.id = n.volunteer_id AND v.status = 'transferred')
        OR EXISTS (SELECT 1 FROM interop_transfer t
                    WHERE t.volunteer_id = n.volunteer_id AND t.direction = 'outgoing'
                      AND t.state = 'exported')
     LIMIT 1;
    IF frozen IS NOT NULL THEN
        RAISE EXCEPTION 'volunteer % is transferred or consented to a transfer: their records here are frozen', frozen
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql SET search_path FROM CURRENT
"""

ROW_TRIGGER = (
    "CREATE TRIGGER record_frozen_after_consent BEFORE INSERT OR UPDATE "
    "ON records_servicerecord FOR EACH ROW "
    "EXECUTE FUNCTION records_guard_transferred_record()"
)


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0007_merge_evaluation_and_decision_times"),
        ("interop", "0002_encrypt_packages_at_rest"),
    ]

    operations = [
        migrations.RunSQL(
            [GUARD], ["DROP FUNCTION IF EXISTS records_guard_transferred_records()"]
        ),
        migrations.RunSQL(
            ["DROP TRIGGER IF EXISTS record_frozen_after_consent ON records_servicerecord"],
            [ROW_TRIGGER],
        ),
        migrations.RunSQL(
            [
                "CREATE TRIGGER records_frozen_after_consent_ins AFTER INSERT "
                "ON records_servicerecord REFERENCING NEW TABLE AS new_rows "
                "FOR EACH STATEMENT EXECUTE FUNCTION records_guard_transferred_records()"
            ],
            [
                "DROP TRIGGER IF EXISTS records_frozen_after_consent_ins "
                "ON records_servicerecord"
            ],
        ),
        migrations.RunSQL(
            [
                "CREATE TRIGGER records_frozen_after_consent_upd AFTER UPDATE "
                "ON records_servicerecord REFERENCING NEW TABLE AS new_rows "
                "FOR EACH STATEMENT EXECUTE FUNCTION records_guard_transferred_records()"
            ],
            [
                "DROP TRIGGER IF EXISTS records_frozen_after_consent_upd "
                "ON records_servicerecord"
            ],
        ),
    ]
