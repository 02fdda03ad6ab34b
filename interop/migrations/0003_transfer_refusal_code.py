"""A transfer records the typed code of the other region's refusal (issue 11
finding 4), next to its reason."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("interop", "0002_encrypt_packages_at_rest")]

    operations = [
        migrations.AddField(
            model_name="transfer",
            name="refusal_code",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
    ]
