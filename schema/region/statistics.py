"""Statistics of the caller's area (an authority's), and the denominators of the
registration targets its authority maintains (004 §4.2)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from schema.errors import Payload, mutation_payload
from schema.region.auth import caller, guarded, parse_id, policy_of, principal_of
from schema.region.groups.types import VolunteerGroup
from schema.statistics import Statistics, UnitSector, region_statistics_type
from tenants.statistics import selectors, services


@strawberry.type
class DivisionPopulationPayload(Payload):
    division_code: str | None = None
    population: int | None = None


@strawberry.type
class UnitStaffPayload(Payload):
    group: VolunteerGroup | None = None
    sector: UnitSector | None = None
    staff: int | None = None


@strawberry.type
class StatisticsQuery:
    @strawberry.field(
        description="统计 of the caller's area (an authority; of the whole region, everything): "
        "volunteers, groups, projects, counted hours and registration-target progress."
    )
    def statistics(self, info: Info, top_groups: int = selectors.TOP_GROUPS) -> Statistics:
        stats = guarded(
            selectors.region_statistics,
            principal_of(info),
            policy_of(info),
            region_code=info.context.region.code,
            top_groups=max(1, min(top_groups, 100)),
        )
        return region_statistics_type(stats)


@strawberry.type
class StatisticsMutation:
    @strawberry.mutation(
        description="常住人口 of a division in the caller's area (an authority): the base of "
        "the population registration target (004 §4.2). Audited."
    )
    @mutation_payload(DivisionPopulationPayload)
    def set_division_population(
        self, info: Info, division_code: str, population: int
    ) -> DivisionPopulationPayload:
        principal, _policy = caller(info)
        row = services.set_division_population(
            division_code=division_code,
            population=population,
            principal=principal,
            region_code=info.context.region.code,
        )
        return DivisionPopulationPayload(division_code=row.division_code, population=row.population)

    @strawberry.mutation(
        description="The sector and staff count (干部职工人数) of the unit behind a group "
        "registered in the caller's area (an authority): its active members count as the "
        "unit's registered staff (004 §4.2). Audited."
    )
    @mutation_payload(UnitStaffPayload)
    def set_unit_staff(
        self, info: Info, group_id: strawberry.ID, sector: UnitSector, staff: int
    ) -> UnitStaffPayload:
        principal, _policy = caller(info)
        row = services.set_unit_staff(
            group_id=parse_id(group_id, "VolunteerGroup", "groupId"),
            sector=sector.value,
            staff=staff,
            principal=principal,
        )
        return UnitStaffPayload(
            group=VolunteerGroup(_model=row.group), sector=UnitSector(row.sector), staff=row.staff
        )
