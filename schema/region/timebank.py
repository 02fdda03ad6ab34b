"""The time bank (时长储蓄, 000 Art.20, 001 §6) in a region's API: a volunteer's
balance and paged ledger, and the serving group's withdrawals. Resolvers parse,
authorize through the services and shape; the rules are in tenants/timebank."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from central.policy import RegionPolicy
from schema.errors import Payload, mutation_payload
from schema.identity import global_id
from schema.region.auth import caller, guarded, parse_id, policy_of, principal_of
from schema.region.fields import choices_enum
from schema.region.pagination import PageInfo, encode_cursor, keyset_rows, paged, window
from tenants.timebank import models as bank_models
from tenants.timebank import selectors
from tenants.timebank import services as bank
from tenants.timebank.selectors import TimeBankView

# To mypy each enum is the choices class it is made from: the same members
# (named by the upper-cased value) and values.
if TYPE_CHECKING:
    TimeBankEntryKind = bank_models.EntryKind
    TimeBankBeneficiary = bank_models.Beneficiary
else:
    TimeBankEntryKind = choices_enum("TimeBankEntryKind", bank_models.EntryKind, "时长储蓄流水类型")
    TimeBankBeneficiary = choices_enum(
        "TimeBankBeneficiary", bank_models.Beneficiary, "受益人: the volunteer or a family member"
    )


@strawberry.type(description="One movement of saved hours (时长储蓄流水); never changed.")
class TimeBankEntry:
    _model: strawberry.Private[bank_models.TimeBankEntry]

    @strawberry.field
    def kind(self) -> TimeBankEntryKind:
        return TimeBankEntryKind(self._model.kind)

    @strawberry.field(description="Signed: positive adds to the balance, negative takes.")
    def hours(self) -> Decimal:
        return self._model.hours

    @strawberry.field(description="The balance after this entry.")
    def balance_after(self) -> Decimal:
        return self._model.balance_after

    @strawberry.field(description="The record deposited or adjusted.")
    def record_id(self) -> strawberry.ID | None:
        m = self._model
        return strawberry.ID(global_id("ServiceRecord", m.record_id)) if m.record_id else None

    @strawberry.field(description="A withdrawal: the group that served.")
    def group_id(self) -> strawberry.ID | None:
        m = self._model
        return strawberry.ID(global_id("VolunteerGroup", m.group_id)) if m.group_id else None

    @strawberry.field
    def group_name(self) -> str | None:
        return self._model.group.name if self._model.group else None

    @strawberry.field
    def beneficiary(self) -> TimeBankBeneficiary | None:
        value = self._model.beneficiary
        return TimeBankBeneficiary(value) if value else None

    @strawberry.field
    def family_member_name(self) -> str:
        return self._model.family_member_name

    @strawberry.field
    def family_relation(self) -> str:
        return self._model.family_relation

    @strawberry.field
    def service_date(self) -> datetime.date | None:
        return self._model.service_date

    @strawberry.field
    def content(self) -> str:
        return self._model.content

    @strawberry.field(description="A transfer: the other region's code.")
    def counterpart_region_code(self) -> str:
        return self._model.counterpart_region_code

    @strawberry.field
    def note(self) -> str:
        return self._model.note

    @strawberry.field
    def recorded_by(self) -> str:
        return self._model.recorded_by

    @strawberry.field
    def recorded_at(self) -> datetime.datetime:
        return self._model.recorded_at


def _cursor(entry) -> str:
    return encode_cursor("tb", entry.id)


@strawberry.type
class TimeBankEntryEdge:
    cursor: str
    node: TimeBankEntry


@strawberry.type
class TimeBankEntryConnection:
    edges: list[TimeBankEntryEdge]
    page_info: PageInfo


@strawberry.type(description="A volunteer's saved hours (时长储蓄, 000 Art.20, 001 §6).")
class TimeBank:
    _view: strawberry.Private[TimeBankView]
    _policy: strawberry.Private[RegionPolicy]

    @strawberry.field
    def number(self) -> str:
        return self._view.volunteer.number

    @strawberry.field(description="Saved hours now; never below zero.")
    def balance(self) -> Decimal:
        return self._view.balance

    @strawberry.field(
        description="The region's policy has a time bank: hours are saved and spent here. "
        "False: a balance brought by a transfer is kept and shown, never spent."
    )
    def enabled(self) -> bool:
        return self._policy.time_bank_enabled

    @strawberry.field(description="Saved hours may pay for a service to a family member.")
    def family_members_allowed(self) -> bool:
        return self._policy.time_bank_family_members

    @strawberry.field(
        description="False: the caller (a serving group's staff) sees only its own "
        "group's withdrawals."
    )
    def whole_ledger(self) -> bool:
        return self._view.whole

    @strawberry.field(description="The ledger, oldest first (keyset cursors, at most 100).")
    def entries(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> TimeBankEntryConnection:
        page_window = window("tb", first, after, last, before, default=20)
        rows = keyset_rows(self._view.entries, "id", page_window)
        page, info = paged(rows, page_window, key=lambda e: e.id, cursor=_cursor)
        return TimeBankEntryConnection(
            edges=[
                TimeBankEntryEdge(cursor=_cursor(e), node=TimeBankEntry(_model=e)) for e in page
            ],
            page_info=info,
        )


@strawberry.input(description="A service a group gave, paid for with saved hours (支取).")
class TimeBankWithdrawalInput:
    hours: Decimal
    service_date: datetime.date
    card_code: str = strawberry.field(
        description="The volunteer's card code (myCard), scanned when the service is "
        "given: their saved hours are spent only with them present and consenting."
    )
    content: str = strawberry.field(description="What the group did (服务内容).")
    beneficiary: TimeBankBeneficiary = TimeBankBeneficiary("self")
    family_member_name: str = ""
    family_relation: str = strawberry.field(default="", description="e.g. 母亲")


@strawberry.type
class TimeBankPayload(Payload):
    entry: TimeBankEntry | None = None
    balance: Decimal | None = None


@strawberry.type
class TimeBankQuery:
    @strawberry.field(
        description="A volunteer's time bank (the caller's own without `number`): the "
        "volunteer and the authority of their area see it all; whoever may see the "
        "volunteer (their groups' staff) sees the balance and their own groups' "
        "withdrawals; another serving group's staff only with the volunteer's `cardCode`."
    )
    def time_bank(
        self, info: Info, number: str | None = None, card_code: str | None = None
    ) -> TimeBank:
        view = guarded(
            selectors.time_bank, number, principal_of(info), policy_of(info), card_code=card_code
        )
        return TimeBank(_view=view, _policy=policy_of(info))


@strawberry.type
class TimeBankMutation:
    @strawberry.mutation(
        description="The serving group's staff record a service paid with saved hours; "
        "refused (DISABLED_BY_POLICY) where the region has no time bank."
    )
    @mutation_payload(TimeBankPayload)
    def record_time_bank_withdrawal(
        self, info: Info, group_id: strawberry.ID, number: str, input: TimeBankWithdrawalInput
    ) -> TimeBankPayload:
        principal, policy = caller(info)
        entry = bank.withdraw(
            group_id=parse_id(group_id, "VolunteerGroup", "groupId"),
            number=number,
            item=bank.Withdrawal(
                hours=input.hours,
                service_date=input.service_date,
                card_code=input.card_code,
                content=input.content,
                beneficiary=input.beneficiary.value,
                family_member_name=input.family_member_name,
                family_relation=input.family_relation,
            ),
            principal=principal,
            policy=policy,
        )
        return TimeBankPayload(entry=TimeBankEntry(_model=entry), balance=entry.balance_after)
