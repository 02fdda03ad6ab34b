"""Authority accounts are bound to a division (issue 10 finding 3).

Existing authority roles are bound to the whole region, which is what they
could do before; a central operator narrows them with ``registry
set-authority-division``.
"""

from django.db import migrations, models

REGION_CODE = "SELECT code FROM public.central_region WHERE schema_name = current_schema()"


def bind_existing_authorities(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    if not Role.objects.filter(kind="authority").exists():
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(REGION_CODE)
        row = cursor.fetchone()
    Role.objects.filter(kind="authority").update(division_code=row[0] if row else "")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.RemoveConstraint(model_name="role", name="role_group_or_authority"),
        migrations.AddField(
            model_name="role",
            name="division_code",
            field=models.CharField(
                blank=True, default="", max_length=6, verbose_name="行政区划代码"
            ),
        ),
        migrations.RunPython(bind_existing_authorities, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="role",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("kind", "authority"),
                        ("group__isnull", True),
                        models.Q(("authority_level", ""), _negated=True),
                        ("division_code__regex", "^[0-9]{6}$"),
                    ),
                    models.Q(
                        models.Q(("kind", "authority"), _negated=True),
                        ("group__isnull", False),
                        ("division_code", ""),
                    ),
                    _connector="OR",
                ),
                name="role_group_or_authority_in_division",
            ),
        ),
    ]
