"""The time bank (时长储蓄, 000 Art.20, 001 §6): counted hours saved in a balance
that groups spend on services to the volunteer (or, where the policy allows, to
a family member).

The ledger (:class:`TimeBankEntry`) is append-only (migration 0001: a trigger
refuses UPDATE, DELETE and TRUNCATE); corrections are compensating entries. The
balance (:class:`TimeBankAccount`) moves only with an entry, under the row lock
of the account, and a CHECK constraint keeps it (and every entry's running
balance) at zero or above, whatever path writes.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.groups.models import VolunteerGroup
from tenants.records.models import ServiceRecord
from tenants.volunteers.models import Volunteer


class EntryKind(models.TextChoices):
    DEPOSIT = "deposit", "存入"  # a record counted here
    ADJUSTMENT = "adjustment", "更正调整"  # a counted record amended (or voided)
    WITHDRAWAL = "withdrawal", "支取"  # a group served the volunteer or their family
    TRANSFER_IN = "transfer_in", "转入"  # the balance brought from another region
    TRANSFER_OUT = "transfer_out", "转出"  # the balance closed here when they left


class Beneficiary(models.TextChoices):
    SELF = "self", "本人"
    FAMILY_MEMBER = "family_member", "家庭成员"


class TimeBankAccount(models.Model):
    """A volunteer's balance of saved hours (时长储蓄余额)."""

    volunteer = models.OneToOneField(
        Volunteer, on_delete=models.PROTECT, primary_key=True, related_name="time_bank"
    )
    balance = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal(0))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("time bank account")
        verbose_name_plural = _("time bank accounts")
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="timebank_balance_nonnegative")
        ]

    def __str__(self) -> str:
        return f"{self.volunteer_id}: {self.balance}h"


class TimeBankEntry(models.Model):
    """One movement of a volunteer's saved hours, with the balance after it. Append-only."""

    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.PROTECT, related_name="time_bank_entries"
    )
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    hours = models.DecimalField(max_digits=10, decimal_places=2)  # signed: + in, − out
    balance_after = models.DecimalField(max_digits=10, decimal_places=2)
    record = models.ForeignKey(
        ServiceRecord, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A withdrawal: the group that served, whom, when, what.
    group = models.ForeignKey(
        VolunteerGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    beneficiary = models.CharField(max_length=16, choices=Beneficiary.choices, blank=True)
    family_member_name = models.CharField(max_length=64, blank=True, default="")
    family_relation = models.CharField(max_length=32, blank=True, default="")
    service_date = models.DateField(null=True, blank=True)
    content = models.CharField(max_length=500, blank=True, default="")
    # A transfer: the other region and the transfer's public id.
    counterpart_region_code = models.CharField(max_length=6, blank=True, default="")
    transfer_reference = models.CharField(max_length=64, blank=True, default="")
    note = models.CharField(max_length=500, blank=True, default="")
    recorded_by = models.CharField(max_length=120)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("time bank entry")
        verbose_name_plural = _("time bank entries")
        ordering = ["id"]
        indexes = [models.Index(fields=["volunteer", "id"]), models.Index(fields=["record"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=EntryKind.values), name="timebank_entry_kind_valid"
            ),
            models.CheckConstraint(condition=~Q(hours=0), name="timebank_entry_not_zero"),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="timebank_entry_balance_nonnegative"
            ),
            # Money-like direction per kind: deposits and arrivals add, spending and
            # departures take; an adjustment goes either way.
            models.CheckConstraint(
                condition=~Q(kind__in=["deposit", "transfer_in"]) | Q(hours__gt=0),
                name="timebank_entry_in_positive",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["withdrawal", "transfer_out"]) | Q(hours__lt=0),
                name="timebank_entry_out_negative",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["deposit", "adjustment"]) | Q(record__isnull=False),
                name="timebank_entry_names_record",
            ),
            models.CheckConstraint(
                condition=~Q(kind="withdrawal")
                | (
                    Q(group__isnull=False, service_date__isnull=False)
                    & ~Q(content="")
                    & Q(beneficiary__in=Beneficiary.values)
                ),
                name="timebank_withdrawal_complete",
            ),
            models.CheckConstraint(
                condition=~Q(beneficiary="family_member")
                | (~Q(family_member_name="") & ~Q(family_relation="")),
                name="timebank_family_member_named",
            ),
            # A record deposits once; later changes are adjustments.
            models.UniqueConstraint(
                fields=["record"],
                condition=Q(kind="deposit"),
                name="timebank_one_deposit_per_record",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.hours}h for {self.volunteer_id} (→ {self.balance_after}h)"
