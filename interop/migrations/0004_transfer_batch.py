"""Issue 11: a batch transfer — the members of one group moving together, each
still consenting on their own; the transfers link to their batch."""

import django.db.models.deletion
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('interop', '0003_transfer_refusal_code'),
    ]

    operations = [
        migrations.CreateModel(
            name='TransferBatch',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('public_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('group_id', models.PositiveIntegerField()),
                ('group_name', models.CharField(max_length=200)),
                ('division_code', models.CharField(max_length=12)),
                ('counterpart_region_code', models.CharField(max_length=6)),
                ('requested_by', models.CharField(max_length=120)),
                ('requested_at', models.DateTimeField(auto_now_add=True)),
                ('reason', models.CharField(max_length=500)),
                ('refused', models.JSONField(blank=True, default=list)),
                ('cancelled_at', models.DateTimeField(blank=True, null=True)),
                ('cancelled_by', models.CharField(blank=True, default='', max_length=120)),
            ],
            options={
                'ordering': ['-id'],
            },
        ),
        migrations.AddField(
            model_name='transfer',
            name='batch',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='transfers', to='interop.transferbatch'),
        ),
    ]
