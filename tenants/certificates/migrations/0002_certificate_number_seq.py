from django.db import migrations


class Migration(migrations.Migration):
    """The sequence behind certificate numbers (certificates.services.certificate_number)."""

    dependencies = [("certificates", "0001_initial")]
    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE certificate_number_seq START 1",
            "DROP SEQUENCE IF EXISTS certificate_number_seq",
        )
    ]
