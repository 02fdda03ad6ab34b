import datetime

from django.db import migrations, models

# Issue 10 findings 9 and 10.
# 1. A training's or award's date is never before the platform's earliest plausible
#    date (records.models.EARLIEST_SERVICE_DATE); not in the future and not before
#    the volunteer's birth is the services' rule.
# 2. Trainings, awards and complaints are never deleted (0002): nor truncated.
# One statement per list item (Citus forwards a multi-statement string whole).
FORBID_TRUNCATE = r"""
CREATE OR REPLACE FUNCTION recognition_forbid_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE of % refused: its rows are kept for good', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
"""
TABLES = {
    "training_no_truncate": "recognition_training",
    "award_no_truncate": "recognition_award",
    "complaint_no_truncate": "recognition_complaint",
}


class Migration(migrations.Migration):
    dependencies = [
        ("recognition", "0001_squashed_0003_origin"),
    ]

    operations = [
        # NOT VALID: rows already there (a record dated 0001-01-01 was accepted before)
        # must not stop a region's migration; new and changed rows are checked.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    [
                        "ALTER TABLE recognition_training ADD CONSTRAINT training_date_plausible "
                        "CHECK (trained_on >= '1989-01-01') NOT VALID"
                    ],
                    ["ALTER TABLE recognition_training DROP CONSTRAINT IF EXISTS training_date_plausible"],
                )
            ],
            state_operations=[
                migrations.AddConstraint(
                    model_name="training",
                    constraint=models.CheckConstraint(
                        condition=models.Q(trained_on__gte=datetime.date(1989, 1, 1)),
                        name="training_date_plausible",
                    ),
                )
            ],
        ),
        # NOT VALID: rows already there (a record dated 0001-01-01 was accepted before)
        # must not stop a region's migration; new and changed rows are checked.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    [
                        "ALTER TABLE recognition_award ADD CONSTRAINT award_date_plausible "
                        "CHECK (awarded_on >= '1989-01-01') NOT VALID"
                    ],
                    ["ALTER TABLE recognition_award DROP CONSTRAINT IF EXISTS award_date_plausible"],
                )
            ],
            state_operations=[
                migrations.AddConstraint(
                    model_name="award",
                    constraint=models.CheckConstraint(
                        condition=models.Q(awarded_on__gte=datetime.date(1989, 1, 1)),
                        name="award_date_plausible",
                    ),
                )
            ],
        ),
        migrations.RunSQL(
            [
                FORBID_TRUNCATE,
                *[
                    f"CREATE TRIGGER {trigger} BEFORE TRUNCATE ON {table} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION recognition_forbid_truncate()"
                    for trigger, table in TABLES.items()
                ],
            ],
            [
                *[f"DROP TRIGGER IF EXISTS {trigger} ON {table}" for trigger, table in TABLES.items()],
                "DROP FUNCTION IF EXISTS recognition_forbid_truncate()",
            ],
        ),
    ]
