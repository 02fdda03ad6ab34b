from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_login_throttle"),
    ]

    operations = [
        migrations.AddField(
            model_name="account",
            name="password_temporary_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
