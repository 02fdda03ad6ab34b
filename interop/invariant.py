"""The federation invariant (issue 11 finding 2): every hour ends up counted in
exactly one region — never zero, never two. ``manage.py interop audit`` runs
:func:`audit`.

A record is identified across the federation by its provenance: the region where
it was first recorded and its id there. A region *holds* a volunteer's hours when
the volunteer is not ``transferred`` there (a transferred volunteer's records stay
read-only at the source and count there no more). For every volunteer who took
part in a transfer seen by this deployment:

- within this deployment every region's schema is read: a record held (counted,
  or still in publicity/confirmation — it will count there) by two regions is
  ``COUNTED_TWICE``; one held by none is ``COUNTED_NOWHERE`` unless its package is
  on its way (exported and not yet imported, or sent to a peer); a volunteer held
  by two regions at once is ``HELD_TWICE``;
- a record that counted at a region after the volunteer consented to leave it is
  ``COUNTED_AFTER_CONSENT``;
- for a peer this side holds only the package: records left at the source but not
  in the package sent are ``COUNTED_NOWHERE``; records in a package received and
  not here are ``COUNTED_NOWHERE``;
- a region's total for a volunteer it holds that is not the sum of their counted
  records is ``TOTALS_MISMATCH``.

Saved hours (时长储蓄, issue 12 point 8) are checked the same way: a time-bank
balance that is not the sum of its ledger is ``TIME_BANK_MISMATCH``; a balance
left at a region the volunteer was transferred from is ``TIME_BANK_TWICE``; a
package's balance that its destination in this deployment did not open (a
``transfer_in`` entry for that transfer, of those hours) is ``TIME_BANK_LOST``.

**Both sides** (``audit(peers=True)``, ``manage.py interop audit --peers``): for
every transfer with a region of another deployment, this side asks that region
what it has of the same package (``POST /interop/transfer-status``, a question
signed by the asking region and answered only about transfers between the two,
signed by the asked region) and compares:

- a transfer completed here whose package the destination has not imported, or
  imported without some of its records: ``COUNTED_NOWHERE``;
- a package imported at the destination while the source still holds it (not yet
  acknowledged, refused, cancelled or expired there): ``COUNTED_TWICE``;
- a package imported here that its source does not know: ``UNKNOWN_AT_SOURCE``;
- a peer that gives no signed answer: ``PEER_UNANSWERED`` (nothing can be said).
"""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_tenants.utils import tenant_context

from central.models import Region
from interop import at_rest, federation, signing
from interop.models import Direction, Transfer, TransferState
from interop.package import TRAVELLING, UNDECIDED
from tenants.records.models import RecordState, ServiceRecord, VolunteerTotals
from tenants.timebank.models import EntryKind, TimeBankAccount, TimeBankEntry
from tenants.volunteers.models import Volunteer, VolunteerStatus

# Every record a region holds for a volunteer: those a package carries and those
# still undecided (consent waits for them), as the package module names them.
HOLDING = (*TRAVELLING, *UNDECIDED)


@dataclass
class Problem:
    code: str
    volunteer: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code} {self.volunteer}: {self.detail}"


@dataclass
class AuditReport:
    regions: int = 0
    transfers: int = 0
    volunteers: int = 0
    records: int = 0  # held by exactly one region
    pending: int = 0  # of those, not counted yet (publicity/confirmation)
    in_transit: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (
            f"{self.regions} regions, {self.transfers} transfers, {self.volunteers} volunteers: "
            f"{self.records} records held once ({self.pending} still in publicity or "
            f"confirmation), {self.in_transit} in transit, {len(self.problems)} problems"
        )


@dataclass
class _Copy:
    region: str
    state: str
    counted_at: datetime.datetime | None
    held: bool


def _key(record: ServiceRecord, region_code: str) -> tuple[str, str]:
    if record.origin_region_code:
        return record.origin_region_code, record.origin_record_id
    return region_code, str(record.id)


def _package_keys(transfer: Transfer) -> set[tuple[str, str]]:
    package = (at_rest.clear(transfer.package) or {}).get("package") or {}
    return {
        (item["provenance"]["regionCode"], item["provenance"]["recordId"])
        for item in package.get("records", [])
    }


def audit(peers: bool | set[str] = False) -> AuditReport:
    """The invariant over this deployment's regions; with ``peers`` (True, or the
    codes of the peer regions to ask) also compared with the other side of every
    transfer to another deployment."""
    report = AuditReport()
    regions = list(Region.objects.order_by("code"))
    local = {r.code for r in regions}
    report.regions = len(regions)
    copies: dict[str, dict[tuple, list[_Copy]]] = defaultdict(lambda: defaultdict(list))
    held_in: dict[str, list[str]] = defaultdict(list)
    in_transit: dict[str, set] = defaultdict(set)  # keys on their way, per volunteer
    imported_ids: set[str] = set()
    # (region code, transfer, the keys of the records its package carried)
    outgoing: list[tuple[str, Transfer, set[tuple[str, str]]]] = []
    incoming_remote: list[tuple[str, Transfer]] = []
    arrivals: dict[tuple[str, str], Decimal] = {}  # (region, transfer id) → hours opened
    for region in regions:
        with tenant_context(region):
            transfers = list(Transfer.objects.filter(package__isnull=False))
            numbers = set(Transfer.objects.values_list("volunteer_number", flat=True))
            for transfer in transfers:
                report.transfers += 1
                if transfer.direction == Direction.INCOMING:
                    imported_ids.add(str(transfer.package_id))
                    if transfer.counterpart_region_code not in local:
                        incoming_remote.append((region.code, transfer))
                elif transfer.state in (TransferState.EXPORTED, TransferState.COMPLETED):
                    outgoing.append((region.code, transfer, _package_keys(transfer)))
            chosen = Volunteer.objects.filter(number__in=numbers).only("number", "status")
            volunteers = {v.id: v for v in chosen}
            for volunteer in volunteers.values():
                if volunteer.status != VolunteerStatus.TRANSFERRED:
                    held_in[volunteer.number].append(region.code)
            counted: defaultdict[int, Decimal] = defaultdict(Decimal)
            records = ServiceRecord.objects.filter(
                volunteer_id__in=volunteers, state__in=HOLDING
            ).prefetch_related("amendments")
            for record in records:
                volunteer = volunteers[record.volunteer_id]
                held = volunteer.status != VolunteerStatus.TRANSFERRED
                copies[volunteer.number][_key(record, region.code)].append(
                    _Copy(region.code, record.state, record.counted_at, held)
                )
                if held and record.state == RecordState.COUNTED:
                    counted[record.volunteer_id] += record.current().hours
            for totals in VolunteerTotals.objects.filter(volunteer_id__in=volunteers):
                volunteer = volunteers[totals.volunteer_id]
                if volunteer.status == VolunteerStatus.TRANSFERRED:
                    continue
                if totals.counted_hours != counted[totals.volunteer_id]:
                    report.problems.append(
                        Problem(
                            "TOTALS_MISMATCH",
                            volunteer.number,
                            f"{region.code} totals {totals.counted_hours} h, its counted "
                            f"records {counted[totals.volunteer_id]} h",
                        )
                    )
            _check_time_bank(report, region.code, volunteers, arrivals)
    for _code, transfer, _keys in outgoing:
        _check_time_bank_arrived(report, transfer, local, imported_ids, arrivals)
    for code, transfer, keys in outgoing:
        number = transfer.volunteer_number
        remote = transfer.counterpart_region_code not in local
        arrived = str(transfer.package_id) in imported_ids
        if remote or not arrived:
            in_transit[number] |= keys
        for key, found in copies[number].items():
            for copy_ in found:
                if (
                    copy_.region == code
                    and not copy_.held  # a volunteer who came back counts here again
                    and copy_.state == RecordState.COUNTED
                    and copy_.counted_at
                    and transfer.consented_at
                    and copy_.counted_at > transfer.consented_at
                    and key not in keys
                ):
                    report.problems.append(
                        Problem(
                            "COUNTED_AFTER_CONSENT",
                            number,
                            f"record {key[0]}/{key[1]} counted at {code} after the volunteer "
                            f"consented to leave for {transfer.counterpart_region_code}",
                        )
                    )
    for code, transfer in incoming_remote:
        number = transfer.volunteer_number
        for key in _package_keys(transfer):
            if not any(c.region == code for c in copies[number].get(key, [])):
                report.problems.append(
                    Problem(
                        "COUNTED_NOWHERE",
                        number,
                        f"record {key[0]}/{key[1]} arrived from "
                        f"{transfer.counterpart_region_code} but is not held at {code}",
                    )
                )
    for number, by_key in copies.items():
        report.volunteers += 1
        holders = sorted(set(held_in[number]))
        if len(holders) > 1:
            report.problems.append(
                Problem("HELD_TWICE", number, f"the volunteer is active in {', '.join(holders)}")
            )
        for key, found in by_key.items():
            holding = [c for c in found if c.held]
            if len(holding) > 1:
                report.problems.append(
                    Problem(
                        "COUNTED_TWICE",
                        number,
                        f"record {key[0]}/{key[1]} is held by "
                        f"{', '.join(sorted(c.region for c in holding))}",
                    )
                )
            elif len(holding) == 1:
                report.records += 1
                report.pending += holding[0].state != RecordState.COUNTED
            elif key in in_transit[number]:
                report.in_transit += 1
            else:
                report.problems.append(
                    Problem(
                        "COUNTED_NOWHERE",
                        number,
                        f"record {key[0]}/{key[1]} is held by no region "
                        f"(left at {', '.join(sorted(c.region for c in found))})",
                    )
                )
    if peers:
        _compare_with_peers(report, regions, peers)
    return report


def _check_time_bank(report, code: str, volunteers: dict, arrivals: dict) -> None:
    """The region's time-bank accounts of these volunteers against their ledgers."""
    ledger: defaultdict[int, Decimal] = defaultdict(Decimal)
    for entry in TimeBankEntry.objects.filter(volunteer_id__in=volunteers).only(
        "volunteer_id", "kind", "hours", "transfer_reference"
    ):
        ledger[entry.volunteer_id] += entry.hours
        if entry.kind == EntryKind.TRANSFER_IN:
            key = (code, entry.transfer_reference)
            arrivals[key] = arrivals.get(key, Decimal(0)) + entry.hours
    for account in TimeBankAccount.objects.filter(volunteer_id__in=volunteers):
        volunteer = volunteers[account.volunteer_id]
        if account.balance != ledger[account.volunteer_id]:
            report.problems.append(
                Problem(
                    "TIME_BANK_MISMATCH",
                    volunteer.number,
                    f"{code} balance {account.balance} h, its ledger "
                    f"{ledger[account.volunteer_id]} h",
                )
            )
        if volunteer.status == VolunteerStatus.TRANSFERRED and account.balance:
            report.problems.append(
                Problem(
                    "TIME_BANK_TWICE",
                    volunteer.number,
                    f"{account.balance} saved hours left at {code} after the transfer",
                )
            )


def _check_time_bank_arrived(report, transfer, local, imported_ids, arrivals) -> None:
    """A completed transfer within this deployment: its balance opened at the destination."""
    if (
        transfer.state != TransferState.COMPLETED
        or transfer.counterpart_region_code not in local
        or str(transfer.package_id) not in imported_ids
    ):
        return
    package = (at_rest.clear(transfer.package) or {}).get("package") or {}
    carried = Decimal((package.get("timeBank") or {}).get("balance", "0"))
    opened = arrivals.get((transfer.counterpart_region_code, str(transfer.public_id)), Decimal(0))
    if carried != opened:
        report.problems.append(
            Problem(
                "TIME_BANK_LOST",
                transfer.volunteer_number,
                f"{carried} saved hours left for {transfer.counterpart_region_code}, "
                f"{opened} opened there",
            )
        )


MAX_PACKAGES = 500  # per question
HOLDS = {"exported", "refused", "expired"}  # a source state in which it still holds


def _compare_with_peers(report: AuditReport, regions: list[Region], peers: bool | set[str]) -> None:
    local = {region.code for region in regions}
    asked: dict[tuple[str, str], list[Transfer]] = defaultdict(list)
    for region in regions:
        with tenant_context(region):
            remote = Transfer.objects.filter(package_id__isnull=False).exclude(
                counterpart_region_code__in=local
            )
            for transfer in remote.only(
                "direction", "state", "package_id", "volunteer_number", "counterpart_region_code"
            ):
                if isinstance(peers, bool) or transfer.counterpart_region_code in peers:
                    asked[(region.code, transfer.counterpart_region_code)].append(transfer)
    by_code = {region.code: region for region in regions}
    with httpx.Client(timeout=10) as client:
        for (code, peer_code), transfers in sorted(asked.items()):
            entry = signing.lookup(peer_code)
            for start in range(0, len(transfers), MAX_PACKAGES):
                batch = transfers[start : start + MAX_PACKAGES]
                try:
                    if entry is None or not entry.inbox_url:
                        raise federation.PeerUnanswered(f"{peer_code} has no inbox here")
                    answer = federation.ask(
                        client,
                        federation.peer_endpoint(entry.inbox_url, federation.TRANSFER_STATUS_PATH),
                        by_code[code],
                        peer_code,
                        "transfer-status-query",
                        packages=[str(t.package_id) for t in batch],
                    )
                    known = answer.get("packages")
                    if not isinstance(known, dict):
                        raise federation.PeerUnanswered(f"{peer_code}: no packages in the answer")
                except federation.PeerUnanswered as error:
                    report.problems.append(Problem("PEER_UNANSWERED", "-", str(error)))
                    continue
                for transfer in batch:
                    there = known.get(str(transfer.package_id))
                    _compare(report, code, transfer, there if isinstance(there, dict) else {})


def _compare(report: AuditReport, code: str, transfer: Transfer, there: dict) -> None:
    number, peer = transfer.volunteer_number, transfer.counterpart_region_code
    package = f"package {transfer.package_id}"
    if transfer.direction == Direction.OUTGOING:
        imported = there.get("direction") == Direction.INCOMING
        if transfer.state == TransferState.COMPLETED and not imported:
            report.problems.append(
                Problem(
                    "COUNTED_NOWHERE",
                    number,
                    f"{code} completed the transfer to {peer}, which has not imported {package}",
                )
            )
        elif transfer.state == TransferState.COMPLETED and there.get("missing"):
            report.problems.append(
                Problem(
                    "COUNTED_NOWHERE",
                    number,
                    f"{peer} imported {package} without {there['missing']} of its records",
                )
            )
        elif transfer.state in HOLDS and imported:
            report.problems.append(
                Problem(
                    "COUNTED_TWICE",
                    number,
                    f"{peer} imported {package} while {code} still holds it "
                    f"(the transfer is {transfer.state} here)",
                )
            )
        return
    if there.get("direction") != Direction.OUTGOING:
        report.problems.append(
            Problem("UNKNOWN_AT_SOURCE", number, f"{peer} never sent {package}, imported at {code}")
        )
    elif there.get("state") in HOLDS:
        report.problems.append(
            Problem(
                "COUNTED_TWICE",
                number,
                f"{code} imported {package} while {peer} still holds it "
                f"(the transfer is {there.get('state')} there)",
            )
        )


@csrf_exempt
@require_POST
def transfer_status_view(request):
    """``POST /interop/transfer-status``: what the asked region has of each named
    package, for transfers between it and the asking region only (a peer learns
    nothing about transfers with anyone else). Signed by the asked region."""
    checked = federation.signed_question(request, "transfer-status-query", 64 * 1024)
    if isinstance(checked, JsonResponse):
        return checked
    question, asker, region = checked
    wanted = question.get("packages")
    try:
        ids = [uuid.UUID(str(value)) for value in wanted][:MAX_PACKAGES]
    except (TypeError, ValueError):
        return federation.refuse(400, "MALFORMED", "packages is a list of package ids")
    found = {}
    with tenant_context(region):
        for transfer in Transfer.objects.filter(
            package_id__in=ids, counterpart_region_code=asker.code
        ):
            status = {"direction": transfer.direction, "state": transfer.state, "missing": 0}
            if transfer.direction == Direction.INCOMING:
                keys = _package_keys(transfer)
                here = {
                    _key(record, region.code)
                    for record in ServiceRecord.objects.filter(
                        volunteer__number=transfer.volunteer_number
                    ).only("id", "origin_region_code", "origin_record_id")
                }
                status["missing"] = len(keys - here)
            found[str(transfer.package_id)] = status
    return federation.answer(region, question, packages=found)
