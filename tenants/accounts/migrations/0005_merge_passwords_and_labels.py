# Two branches of issue 13 each added a 0004 (temporary passwords; Chinese
# model labels); neither depends on the other.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_account_temporary_password"),
        ("accounts", "0004_model_verbose_names"),
    ]

    operations = []
