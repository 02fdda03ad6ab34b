"""Groups get a division (issue 10 findings 2-3); memberships can be invitations
and carry what an applicant chose to share (finding 1)."""

from django.db import migrations, models

REGION_CODE = "SELECT code FROM public.central_region WHERE schema_name = current_schema()"


def fill_region_code(apps, schema_editor):
    VolunteerGroup = apps.get_model("groups", "VolunteerGroup")
    if not VolunteerGroup.objects.exists():
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(REGION_CODE)
        VolunteerGroup.objects.update(division_code=cursor.fetchone()[0])


class Migration(migrations.Migration):
    dependencies = [("groups", "0002_active_members_index")]

    operations = [
        migrations.RemoveConstraint(model_name="membership", name="membership_one_open_per_group"),
        migrations.AddField(
            model_name="membership",
            name="invited_by",
            field=models.CharField(blank=True, default="", max_length=120),
        ),
        migrations.AddField(
            model_name="membership",
            name="shared_fields",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AlterField(
            model_name="membership",
            name="status",
            field=models.CharField(
                choices=[
                    ("invited", "邀请中"),
                    ("applied", "申请中"),
                    ("active", "在册"),
                    ("declined", "未通过"),
                    ("left", "已退出"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="membership",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["invited", "applied", "active"])),
                fields=("volunteer", "group"),
                name="membership_one_open_per_group_v2",
            ),
        ),
        migrations.AddField(
            model_name="volunteergroup",
            name="division_code",
            field=models.CharField(default="", max_length=6, verbose_name="行政区划代码"),
            preserve_default=False,
        ),
        migrations.RunPython(fill_region_code, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="volunteergroup",
            constraint=models.CheckConstraint(
                condition=models.Q(("division_code__regex", "^[0-9]{6}$")),
                name="group_division_code",
            ),
        ),
    ]
