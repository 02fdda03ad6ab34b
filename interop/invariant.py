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
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django_tenants.utils import tenant_context

from central.models import Region
from interop import at_rest
from interop.models import Direction, Transfer, TransferState
from tenants.records.models import RecordState, ServiceRecord, VolunteerTotals
from tenants.volunteers.models import Volunteer, VolunteerStatus

HOLDING = (
    RecordState.COUNTED,
    RecordState.IN_PUBLICITY,
    RecordState.AWAITING_CONFIRMATION,
    RecordState.OBJECTED,
    RecordState.DECLARED,
)


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
    counted_at: object
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


def audit() -> AuditReport:
    report = AuditReport()
    regions = list(Region.objects.order_by("code"))
    local = {r.code for r in regions}
    report.regions = len(regions)
    copies: dict[str, dict[tuple, list[_Copy]]] = defaultdict(lambda: defaultdict(list))
    held_in: dict[str, list[str]] = defaultdict(list)
    in_transit: dict[str, set] = defaultdict(set)  # keys on their way, per volunteer
    imported_ids: set[str] = set()
    outgoing: list[tuple[str, Transfer]] = []
    incoming_remote: list[tuple[str, Transfer]] = []
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
                    transfer.keys = _package_keys(transfer)
                    outgoing.append((region.code, transfer))
            chosen = Volunteer.objects.filter(number__in=numbers).only("number", "status")
            volunteers = {v.id: v for v in chosen}
            for volunteer in volunteers.values():
                if volunteer.status != VolunteerStatus.TRANSFERRED:
                    held_in[volunteer.number].append(region.code)
            counted = defaultdict(Decimal)
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
    for code, transfer in outgoing:
        number = transfer.volunteer_number
        remote = transfer.counterpart_region_code not in local
        arrived = str(transfer.package_id) in imported_ids
        if remote or not arrived:
            in_transit[number] |= transfer.keys
        for key, found in copies[number].items():
            for copy_ in found:
                if (
                    copy_.region == code
                    and not copy_.held  # a volunteer who came back counts here again
                    and copy_.state == RecordState.COUNTED
                    and copy_.counted_at
                    and transfer.consented_at
                    and copy_.counted_at > transfer.consented_at
                    and key not in transfer.keys
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
    return report
