"""The time bank (时长储蓄): 000 Art.20 鼓励…建立健全志愿服务时长储蓄制度; 001 §6
使志愿者可以在自己积累的志愿服务时数内得到他人的无偿服务.

Where the region's policy has ``time_bank_enabled``:
- a record deposits its hours when it becomes counted here (direct counting,
  publicity closing, civil-affairs confirmation: ``records.services._count``);
- an amendment of a deposited record, or its voiding, writes a compensating
  ``adjustment`` (never an edit); what was already spent cannot be taken back, so
  a reduction takes at most the balance and the rest is noted;
- the staff of a group that serves the volunteer (or, with
  ``time_bank_family_members``, a member of their family) record a withdrawal.

A transfer carries the balance (``interop``): the source closes it with a
``transfer_out`` entry when the transfer completes, the destination opens it
with ``transfer_in``. Records counted at the source arrive counted and deposit
nothing again (their hours are in the balance that travels). A destination
without a time bank keeps and shows that opening entry but spends nothing.

Every movement locks the volunteer's account row; a CHECK constraint keeps the
balance and every entry's running balance at zero or above.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from central.errors import Conflict, NotFound, PermissionDenied, ProblemCollector, locked_row
from central.policy import RegionPolicy
from central.tenancy import connection
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.audit.services import record as audit
from tenants.groups.models import Review, VolunteerGroup
from tenants.records import cards
from tenants.records.models import EARLIEST_SERVICE_DATE, RecordState, ServiceRecord
from tenants.records.services import parse_hours, require_not_frozen
from tenants.timebank import permissions
from tenants.timebank.models import Beneficiary, EntryKind, TimeBankAccount, TimeBankEntry

ZERO = Decimal("0.00")


class TimeBankDisabled(Conflict):
    """The region's policy has no time bank: every time-bank write is refused."""

    default_code = "DISABLED_BY_POLICY"


def require_enabled(policy: RegionPolicy) -> None:
    if not policy.time_bank_enabled:
        raise TimeBankDisabled(
            _("this region has no time bank (时长储蓄): its policy does not enable one")
        )


def _locked_account(volunteer_id: int) -> TimeBankAccount:
    """The account row, created if missing, locked ``FOR UPDATE`` till the transaction ends."""
    return locked_row(TimeBankAccount.objects, missing=None, create=True, volunteer_id=volunteer_id)


def _post(account: TimeBankAccount, kind: str, hours: Decimal, actor: str, **fields):
    """Append one entry and move the balance (the caller holds the account's lock)."""
    account.balance += hours
    entry = TimeBankEntry.objects.create(
        volunteer_id=account.volunteer_id,
        kind=kind,
        hours=hours,
        balance_after=account.balance,
        recorded_by=actor,
        **fields,
    )
    account.save(update_fields=["balance", "updated_at"])
    audit(
        actor,
        f"timebank.{kind}",
        str(entry.id),
        volunteer=account.volunteer_id,
        hours=str(hours),
        balance=str(account.balance),
    )
    return entry


def balance_of(volunteer_id: int) -> Decimal:
    account = TimeBankAccount.objects.filter(volunteer_id=volunteer_id).first()
    return account.balance if account is not None else ZERO


# --- deposits and their corrections (called by tenants.records.services) ---------


def deposit_counted(record: ServiceRecord, policy: RegionPolicy, actor: str):
    """A record has just counted here: save its hours, once, where the policy says."""
    if not policy.time_bank_enabled:
        return None
    if TimeBankEntry.objects.filter(record=record).exists():
        return None
    hours = record.current().hours
    return _post(
        _locked_account(record.volunteer_id), EntryKind.DEPOSIT, hours, actor, record=record
    )


def adjust_for_record(record: ServiceRecord, actor: str, reason: str):
    """A deposited record was amended or voided: bring what it holds in the bank to
    its current counted hours (0 when no longer counted) by a compensating entry.
    Follows a deposit even where the policy has since turned the bank off."""
    held = TimeBankEntry.objects.filter(record=record).aggregate(total=Sum("hours"))["total"]
    if held is None:
        return None  # never deposited here (counted elsewhere, or no bank then)
    target = record.current().hours if record.state == RecordState.COUNTED else ZERO
    change = target - held
    if change == 0:
        return None
    account = _locked_account(record.volunteer_id)
    note = reason
    if account.balance + change < 0:
        # Already spent on services: those hours cannot be taken back.
        shortfall = -(account.balance + change)
        change = -account.balance
        note = _("%(reason)s; %(shortfall)s h already spent could not be taken back") % {
            "reason": reason,
            "shortfall": shortfall,
        }
        if change == 0:
            audit(actor, "timebank.unrecoverable", str(record.id), shortfall=str(shortfall))
            return None
    return _post(account, EntryKind.ADJUSTMENT, change, actor, record=record, note=note[:500])


# --- withdrawals -------------------------------------------------------------------


@dataclass
class Withdrawal:
    """A service a group gave, paid for with saved hours (支取)."""

    hours: Decimal | str
    service_date: datetime.date
    content: str
    # The volunteer's card code (records.cards): the hours are theirs to spend.
    card_code: str = ""
    beneficiary: str = Beneficiary.SELF
    family_member_name: str = ""
    family_relation: str = ""


def withdraw(
    *, group_id: int, number: str, item: Withdrawal, principal: Principal, policy: RegionPolicy
) -> TimeBankEntry:
    """The staff of the serving group record what the service cost in saved hours.

    Two concurrent withdrawals: the account's row lock orders them; the second
    sees the first's balance and is refused (CONFLICT) if too little is left."""
    principal = accounts.require(principal)
    require_enabled(policy)
    group = VolunteerGroup.objects.filter(id=group_id).first()
    if group is None:
        raise NotFound(_("no such group"), field="groupId")
    principal = permissions.require_serving_staff(group, principal)
    if group.review != Review.APPROVED:  # staff_group_ids holds approved groups only
        raise Conflict(_("%(name)s is not approved") % {"name": group.name}, field="groupId")
    # Saved hours are the volunteer's (000 第二十条; 001: 在自己积累的志愿服务时数内得到
    # 他人的无偿服务): spent only with them present, shown by their own card, as at
    # check-in — a group's staff knowing a number is not the volunteer's consent. The
    # card names the volunteer: a number it does not match is refused alike whether
    # or not anyone has it (no oracle of who is registered, audit round 2).
    volunteer = cards.read_code(item.card_code, connection.tenant.code)
    if volunteer.number != (number or "").strip():
        raise PermissionDenied(
            _("the card shown is not %(number)s's: their hours are spent only with their card")
            % {"number": (number or "").strip()},
            field="cardCode",
        )
    problems = ProblemCollector()
    hours = parse_hours(item.hours, problems)
    today = timezone.localdate()
    if item.service_date > today:
        problems.add("serviceDate", _("service cannot be recorded before it happens"))
    elif item.service_date < EARLIEST_SERVICE_DATE:
        problems.add("serviceDate", _("not a plausible date of service"))
    content = (item.content or "").strip()
    if not content or len(content) > 500:
        problems.add("content", _("describe the service given (at most 500 characters)"))
    beneficiary = item.beneficiary
    name = (item.family_member_name or "").strip()
    relation = (item.family_relation or "").strip()
    if beneficiary == Beneficiary.FAMILY_MEMBER:
        if not policy.time_bank_family_members:
            problems.add(
                "beneficiary",
                _("in this region saved hours are spent only on the volunteer themself"),
                code="CONFLICT",
            )
        if not name or len(name) > 64:
            problems.add("familyMemberName", _("name the family member served"))
        if not relation or len(relation) > 32:
            problems.add("familyRelation", _("say how they are related (e.g. mother)"))
    elif name or relation:
        problems.add("beneficiary", _("a family member is named: say FAMILY_MEMBER"))
    problems.raise_if_any()
    assert hours is not None  # parse_hours reported why not
    with transaction.atomic():
        require_not_frozen(volunteer.id)
        account = _locked_account(volunteer.id)
        if account.balance < hours:
            raise Conflict(
                _("%(number)s has %(balance)s saved hours: fewer than %(hours)s")
                % {"number": volunteer.number, "balance": account.balance, "hours": hours},
                field="hours",
            )
        return _post(
            account,
            EntryKind.WITHDRAWAL,
            -hours,
            principal.actor,
            group=group,
            beneficiary=beneficiary,
            family_member_name=name if beneficiary == Beneficiary.FAMILY_MEMBER else "",
            family_relation=relation if beneficiary == Beneficiary.FAMILY_MEMBER else "",
            service_date=item.service_date,
            content=content,
        )


# --- transfers (called by interop.services) ---------------------------------------


def package_section(volunteer) -> dict | None:
    """What a transfer package carries: the balance at consent (frozen from then)."""
    balance = balance_of(volunteer.id)
    return {"balance": format(balance, "f")} if balance > 0 else None


def close_for_transfer(volunteer_id: int, region_code: str, reference: str, actor: str):
    """The transfer completed: the balance left with the records; close it here."""
    if not TimeBankAccount.objects.filter(volunteer_id=volunteer_id, balance__gt=0).exists():
        return None
    account = _locked_account(volunteer_id)
    if account.balance <= 0:
        return None
    return _post(
        account,
        EntryKind.TRANSFER_OUT,
        -account.balance,
        actor,
        counterpart_region_code=region_code,
        transfer_reference=reference,
        note=_("moved to region %(code)s with the records") % {"code": region_code},
    )


def open_from_transfer(
    volunteer_id: int,
    section: dict | None,
    region_code: str,
    reference: str,
    policy: RegionPolicy,
    actor: str,
):
    """The balance a package brought opens here; without a time bank here it is kept
    and shown, and not spent (every withdrawal is refused)."""
    if not section:
        return None
    hours = Decimal(section["balance"])
    if hours <= 0:
        return None
    note = _("brought from region %(code)s") % {"code": region_code}
    if not policy.time_bank_enabled:
        note += _("; kept, not spendable: this region has no time bank")
    return _post(
        _locked_account(volunteer_id),
        EntryKind.TRANSFER_IN,
        hours,
        actor,
        counterpart_region_code=region_code,
        transfer_reference=reference,
        note=note,
    )
