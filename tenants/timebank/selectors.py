"""Reading a time bank: the balance and the ledger a caller may see."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from central.errors import InvalidInput, PermissionDenied
from central.policy import RegionPolicy
from central.tenancy import connection
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.records import cards
from tenants.timebank import permissions
from tenants.timebank.models import EntryKind, TimeBankEntry
from tenants.timebank.services import balance_of
from tenants.volunteers.models import Volunteer
from tenants.volunteers.selectors import unknown_or_hidden


@dataclass
class TimeBankView:
    volunteer: Volunteer
    whole: bool  # False: the caller's groups' withdrawals only
    entries: object  # a queryset of TimeBankEntry

    @property
    def balance(self):
        return balance_of(self.volunteer.id)


def time_bank(
    number: str | None,
    principal: Principal | None,
    policy: RegionPolicy,
    *,
    card_code: str | None = None,
) -> TimeBankView:
    """``number``'s time bank (the caller's own without one), as the caller may see it.
    An unknown number is refused as a hidden one is (no oracle); ``card_code``: the
    volunteer's card, shown to a serving group's staff."""
    principal = accounts.require(principal)
    if number is None:
        volunteer = principal.volunteer
        if volunteer is None:
            raise InvalidInput(_("say whose time bank (number)"), field="number")
    else:
        volunteer = Volunteer.objects.filter(number=number.strip()).first()
        if volunteer is None:
            raise unknown_or_hidden(principal, number, PermissionDenied(permissions.denied()))
    holder = cards.read_code(card_code, connection.tenant.code) if card_code else None
    whole = permissions.require_viewer(volunteer, principal, policy, card_holder=holder)
    entries = TimeBankEntry.objects.filter(volunteer=volunteer).select_related("group")
    if not whole:
        entries = entries.filter(kind=EntryKind.WITHDRAWAL, group_id__in=principal.staff_group_ids)
    return TimeBankView(volunteer, whole, entries)
