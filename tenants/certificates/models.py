"""Certificates of service (志愿服务记录证明) and the group seals they carry.

000 Art.17 and 003 Art.25: a volunteer may ask for a certificate of their
recorded service; the organisation issues it free and truthfully, sealed.
民发〔2015〕149号: whoever records certifies — a group certifies the hours it
recorded. What the certificate states is kept in :attr:`Certificate.snapshot`
exactly as issued, so the public verification page shows the issued content
even after a record is later amended.

Number format: ``ZS-<region code>-<yyyy>-<seq>``, e.g. ``ZS-500000-2026-000042``:
the issuing region's GB/T 2260 division code, the year of issue, and a
six-digit (or longer) value of the region schema's ``certificate_number_seq``
(migration 0002), unique across the federation because the code is.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.groups.models import VolunteerGroup
from tenants.volunteers.models import Volunteer


class GroupSeal(models.Model):
    """The group's official seal (公章) as a PNG, printed on its certificates."""

    group = models.OneToOneField(VolunteerGroup, on_delete=models.PROTECT, related_name="seal")
    file_name = models.CharField(max_length=255)
    uploaded_at = models.DateTimeField()
    uploaded_by = models.CharField(max_length=120)

    class Meta:
        verbose_name = _("group seal")
        verbose_name_plural = _("group seals")

    def __str__(self) -> str:
        return f"seal of group {self.group_id}"


class Certificate(models.Model):
    number = models.CharField("证明编号", max_length=40, unique=True)
    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="certificates")
    group = models.ForeignKey(VolunteerGroup, on_delete=models.PROTECT, related_name="certificates")
    issued_at = models.DateTimeField(db_index=True)
    handler_actor = models.CharField(max_length=120)  # the account that asked for it
    handler_name = models.CharField("经办人", max_length=64)
    notes = models.CharField("备注", max_length=500, blank=True, default="")
    verification_code = models.CharField(max_length=16, unique=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=500, blank=True, default="")
    revoked_by = models.CharField(max_length=120, blank=True, default="")
    # Exactly what the certificate states, as issued (see services.issue_certificate).
    snapshot = models.JSONField()
    pdf_file = models.CharField(max_length=255)

    class Meta:
        verbose_name = _("certificate of service")
        verbose_name_plural = _("certificates of service")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | ~Q(revoked_reason=""),
                name="certificate_revocation_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def total_hours(self) -> Decimal:
        return Decimal(self.snapshot["totalHours"])
