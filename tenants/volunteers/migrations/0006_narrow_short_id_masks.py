from django.db import migrations

# A stored mask of an ID number shorter than 15 characters (a passport, a
# 港澳/台湾 permit) showed four characters at each end: one of a 9-character
# number hidden. It now shows two (volunteers.pii.mask_id_number, SHORT_ID);
# the stored masks are narrowed in place, from the mask alone (no key needed).
NARROW = r"""
UPDATE volunteers_volunteer
   SET id_number_masked = left(id_number_masked, 2)
       || repeat('*', length(id_number_masked) - 4)
       || right(id_number_masked, 2)
 WHERE length(id_number_masked) BETWEEN 9 AND 14
"""


class Migration(migrations.Migration):
    dependencies = [("volunteers", "0005_model_verbose_names")]
    operations = [migrations.RunSQL(NARROW, migrations.RunSQL.noop)]
