"""Transfers (转移接续) as each region sees them, and the outbox of messages to peers.

These tables live in every region's schema (``interop`` is a tenant app). A
transfer appears once in the source region (``outgoing``) and once in the
destination (``incoming``); the package id ties them together and is unique
among a region's incoming transfers, which is what makes an import happen
exactly once.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.volunteers.models import Volunteer


class Direction(models.TextChoices):
    OUTGOING = "outgoing", "转出"
    INCOMING = "incoming", "转入"


class TransferState(models.TextChoices):
    REQUESTED = "requested", "已申请"  # waiting for the volunteer's consent
    EXPORTED = "exported", "已导出"  # consented, package signed, on its way
    COMPLETED = "completed", "已完成"  # imported at the destination
    REFUSED = "refused", "已拒绝"
    EXPIRED = "expired", "已过期"


class TransferBatch(models.Model):
    """Issue 11: the members of one group moving together (a district reorganised),
    asked for at once by the authority of the area holding the group. Each member
    still consents or refuses on their own (000 Art.15): the batch is the request and
    a view of its progress, the transfers are the usual rows, linked here."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    group_id = models.PositiveIntegerField()
    group_name = models.CharField(max_length=200)
    # The group's division when asked: whose authority sees the batch.
    division_code = models.CharField(max_length=12)
    counterpart_region_code = models.CharField(max_length=6)
    requested_by = models.CharField(max_length=120)
    requested_at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=500)
    # The volunteers who could not be asked: [{"number": ..., "reason": ...}].
    refused = models.JSONField(default=list, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        verbose_name = _("transfer batch")
        verbose_name_plural = _("transfer batches")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"batch {self.group_name} → {self.counterpart_region_code}"


class Transfer(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    direction = models.CharField(max_length=16, choices=Direction.choices)
    state = models.CharField(max_length=16, choices=TransferState.choices)
    volunteer = models.ForeignKey(
        Volunteer, null=True, blank=True, on_delete=models.PROTECT, related_name="transfers"
    )
    volunteer_number = models.CharField(max_length=20)
    counterpart_region_code = models.CharField(max_length=6)
    requested_by = models.CharField(max_length=120)
    requested_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    consented_by = models.CharField(max_length=120, blank=True, default="")
    reason = models.CharField(max_length=500, blank=True, default="")
    # The typed code of a refusal by the other region (issue 11 finding 4), e.g.
    # CONFLICT; empty unless the other side refused.
    refusal_code = models.CharField(max_length=32, blank=True, default="")
    package_id = models.UUIDField(null=True, blank=True)
    package = models.JSONField(null=True, blank=True)  # the signed envelope
    delivery = models.CharField(max_length=16, default="direct")  # direct / outbox / offline
    # When ``interop export`` first wrote the package to a file: from then on an
    # offline transfer to another deployment cannot be cancelled (the file may be
    # imported there), it completes on the destination's signed receipt.
    package_written_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    batch = models.ForeignKey(
        TransferBatch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfers",
    )

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["package_id"],
                condition=Q(direction="incoming"),
                name="transfer_package_imported_once",
            ),
            models.UniqueConstraint(
                fields=["volunteer_number"],
                condition=Q(direction="outgoing", state__in=["requested", "exported"]),
                name="transfer_one_open_outgoing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.volunteer_number} ↔ {self.counterpart_region_code}"


class OutboxMessage(models.Model):
    """A message to another deployment, written in the same transaction as the
    change it announces, and delivered (with retries) by ``manage.py interop deliver``."""

    # "package", "transfer_request", or "acknowledgement" (the destination's receipt
    # for an offline package, on its way back to the source).
    kind = models.CharField(max_length=32)
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="outbox")
    destination_code = models.CharField(max_length=6)
    inbox_url = models.URLField(max_length=300)
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    # A package larger than one inbox message travels in parts (issue 11 finding 7):
    # how many the destination has signed for, so a later attempt goes on from there.
    parts_acknowledged = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("outgoing message")
        verbose_name_plural = _("outgoing messages")
        ordering = ["id"]
        indexes = [models.Index(fields=["delivered_at", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.kind} → {self.destination_code} ({self.attempts} attempts)"


class InboxPart(models.Model):
    """One part of a package too large for one inbox message (issue 11 finding 7),
    kept at the destination until every part has arrived; then the parts are joined,
    checked against the digest every part names, and imported as one package."""

    package_id = models.UUIDField()
    # SHA-256 of the whole envelope's bytes: parts of different builds never mix.
    envelope_digest = models.CharField(max_length=64)
    index = models.PositiveIntegerField()
    count = models.PositiveIntegerField()
    source_code = models.CharField(max_length=6)
    data = models.BinaryField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("incoming package part")
        verbose_name_plural = _("incoming package parts")
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(
                fields=["package_id", "envelope_digest", "index"], name="inbox_part_once"
            ),
            models.CheckConstraint(
                condition=Q(index__lt=models.F("count")), name="inbox_part_index_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"part {self.index + 1}/{self.count} of {self.package_id}"
