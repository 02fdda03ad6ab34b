"""Encrypt the ID numbers and phones of stored transfer packages and outbox
messages (issue 10 finding 5; ``interop/at_rest.py``). Rows written before
were in clear; reading accepts both forms, so this may run while transfers are
in flight. Reversible: backwards decrypts them again."""

from django.db import migrations

PREFIX = "pii:fernet:"
SEALED = ("idNumber", "phone")
COLUMNS = (("Transfer", "package"), ("OutboxMessage", "body"))


def _volunteer(envelope):
    package = envelope.get("package") if isinstance(envelope, dict) else None
    volunteer = package.get("volunteer") if isinstance(package, dict) else None
    return volunteer if isinstance(volunteer, dict) else None


def _convert(apps, change):
    for model_name, column in COLUMNS:
        model = apps.get_model("interop", model_name)
        for row in model.objects.filter(**{f"{column}__isnull": False}).only("id", column):
            envelope = getattr(row, column)
            volunteer = _volunteer(envelope)
            if volunteer is None:
                continue
            if change(volunteer):
                model.objects.filter(id=row.id).update(**{column: envelope})


def encrypt(apps, schema_editor):
    from tenants.volunteers import pii

    def change(volunteer):
        changed = False
        for key in SEALED:
            value = volunteer.get(key)
            if isinstance(value, str) and value and not value.startswith(PREFIX):
                volunteer[key] = PREFIX + pii.encrypt(value)
                changed = True
        return changed

    _convert(apps, change)


def decrypt(apps, schema_editor):
    from tenants.volunteers import pii

    def change(volunteer):
        changed = False
        for key in SEALED:
            value = volunteer.get(key)
            if isinstance(value, str) and value.startswith(PREFIX):
                volunteer[key] = pii.decrypt(value[len(PREFIX) :])
                changed = True
        return changed

    _convert(apps, change)


class Migration(migrations.Migration):
    dependencies = [("interop", "0001_initial")]

    operations = [migrations.RunPython(encrypt, decrypt)]
