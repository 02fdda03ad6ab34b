"""A volunteer's division (所在县（区）, issue 10 finding 3); existing volunteers
get the region's own code until they or the authority say where they live."""

from django.db import migrations, models

REGION_CODE = "SELECT code FROM public.central_region WHERE schema_name = current_schema()"


def fill_region_code(apps, schema_editor):
    Volunteer = apps.get_model("volunteers", "Volunteer")
    if not Volunteer.objects.exists():
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(REGION_CODE)
        Volunteer.objects.update(division_code=cursor.fetchone()[0])


class Migration(migrations.Migration):
    dependencies = [("volunteers", "0002_volunteer_number_seq")]

    operations = [
        migrations.AddField(
            model_name="volunteer",
            name="division_code",
            field=models.CharField(default="", max_length=6, verbose_name="行政区划代码"),
            preserve_default=False,
        ),
        migrations.RunPython(fill_region_code, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="volunteer",
            constraint=models.CheckConstraint(
                condition=models.Q(("division_code__regex", "^[0-9]{6}$")),
                name="volunteer_division_code",
            ),
        ),
    ]
