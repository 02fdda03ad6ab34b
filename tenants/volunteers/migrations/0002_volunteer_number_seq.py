from django.db import migrations


class Migration(migrations.Migration):
    """The sequence behind volunteer numbers (volunteers.services.volunteer_number)."""

    dependencies = [("volunteers", "0001_initial")]
    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE volunteer_number_seq START 1",
            "DROP SEQUENCE IF EXISTS volunteer_number_seq",
        )
    ]
