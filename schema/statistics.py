"""GraphQL types of the statistics (统计), the same for a region's authority and
for central admins (``tenants/statistics/selectors.py`` computes them)."""

from __future__ import annotations

import datetime
import enum
from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry

from tenants.statistics import selectors
from tenants.statistics.models import UnitSector as UnitSectorChoices

if TYPE_CHECKING:
    # To mypy, the choices it is made from: the same members and values.
    UnitSector = UnitSectorChoices
else:
    UnitSector = strawberry.enum(
        enum.Enum("UnitSector", {value.upper(): value for value in UnitSectorChoices.values}),
        description="单位类别 of 004 §4.2's staff targets: 全国/省级/市级文明单位, 其他单位.",
    )


@strawberry.type(
    description="A count under a key: an enum value (UPPER_CASE, as the API's enums), a "
    "GB/T 2260 division code, an age band (0-17, 18-34, 35-59, 60+) or a star level; the "
    "label is its Chinese name."
)
class StatisticsCount:
    key: str
    label: str
    count: int


@strawberry.type(
    description="Counted hours (已记入, amendments applied) and their records under a key: a "
    "month (YYYY-MM), a category (ProjectCategory, or IMPORTED for records transferred in "
    "without a project), a division code, or a group (its row number; on central "
    "`<region code>:<row number>`)."
)
class HoursFigure:
    key: str
    label: str
    hours: Decimal
    records: int


@strawberry.type(description="Volunteers living in the area.")
class VolunteerFigures:
    total: int
    registered: int = strawberry.field(
        description="注册志愿者: status ACTIVE or WARNED (not cancelled or transferred out)."
    )
    by_status: list[StatisticsCount]
    by_verification: list[StatisticsCount]
    by_gender: list[StatisticsCount]
    by_age_band: list[StatisticsCount]
    by_division: list[StatisticsCount] = strawberry.field(description="By county of residence.")
    by_star_level: list[StatisticsCount] = strawberry.field(description="星级 (001 §6).")


@strawberry.type(description="Groups registered in the area.")
class GroupFigures:
    total: int = strawberry.field(description="Approved groups.")
    by_level: list[StatisticsCount] = strawberry.field(description="Approved groups.")
    by_kind: list[StatisticsCount] = strawberry.field(description="Approved groups.")
    by_review: list[StatisticsCount] = strawberry.field(description="Every group.")


@strawberry.type(description="Projects of the groups registered in the area.")
class ProjectFigures:
    total: int
    by_status: list[StatisticsCount]
    by_category: list[StatisticsCount]


@strawberry.type(description="Counted hours of the records that belong to the area.")
class HoursFigures:
    total: Decimal
    records: int
    by_month: list[HoursFigure]
    by_category: list[HoursFigure]
    by_division: list[HoursFigure] = strawberry.field(
        description="By the division of the project's group (a record transferred in: the "
        "volunteer's)."
    )
    by_group: list[HoursFigure] = strawberry.field(description="The groups with most hours.")


@strawberry.type(description="注册志愿者人数占常住人口比例 of one division (004 §4.2).")
class DivisionTargetProgress:
    division_code: str
    name: str
    population: int = strawberry.field(description="常住人口, as its authority entered it.")
    registered: int = strawberry.field(description="Registered volunteers living there.")
    share: float
    target: float | None = strawberry.field(description="The policy's populationShare.")
    met: bool | None


@strawberry.type(description="干部职工注册志愿者人数比例 of one sector's units (004 §4.2).")
class SectorTargetProgress:
    sector: UnitSector
    label: str
    units: int
    staff: int
    registered: int = strawberry.field(
        description="Registered volunteers who are active members of the units' volunteer "
        "teams, each unit counted up to its staff."
    )
    share: float | None
    target: float | None
    met: bool | None


@strawberry.type(description="Progress towards the policy's registrationTargets (004 §4.2).")
class TargetProgress:
    population_share: float | None = strawberry.field(
        description="The policy's target share of the population (null: none set)."
    )
    divisions: list[DivisionTargetProgress]
    sectors: list[SectorTargetProgress]


@strawberry.type(description="统计: the figures of an area, as of a day.")
class Statistics:
    as_of: datetime.date = strawberry.field(description="The day ages are counted on.")
    volunteers: VolunteerFigures
    groups: GroupFigures
    projects: ProjectFigures
    hours: HoursFigures
    registration_targets: TargetProgress


@strawberry.type(description="One region's headline figures.")
class RegionFigures:
    code: str
    name: str
    volunteers: int
    registered: int
    groups: int
    hours: Decimal
    records: int


@strawberry.type(description="Every region's statistics, computed region by region and summed.")
class FederationStatistics(Statistics):
    regions: list[RegionFigures]


def _counts(rows) -> list[StatisticsCount]:
    return [StatisticsCount(key=r.key, label=r.label, count=r.count) for r in rows]


def _hours(rows) -> list[HoursFigure]:
    return [HoursFigure(key=r.key, label=r.label, hours=r.hours, records=r.records) for r in rows]


def _met(share, target) -> bool | None:
    return None if share is None or target is None else share >= target


def statistics_fields(s: selectors.Statistics) -> dict:
    """The fields of :class:`Statistics` from the selector's answer."""
    v, g, p, h = s.volunteers_by, s.groups_by, s.projects_by, s.hours_by
    return {
        "as_of": s.as_of,
        "volunteers": VolunteerFigures(
            total=s.volunteers,
            registered=s.registered,
            by_status=_counts(v.get("status", [])),
            by_verification=_counts(v.get("verification", [])),
            by_gender=_counts(v.get("gender", [])),
            by_age_band=_counts(v.get("age_band", [])),
            by_division=_counts(v.get("division", [])),
            by_star_level=_counts(v.get("star", [])),
        ),
        "groups": GroupFigures(
            total=s.groups,
            by_level=_counts(g.get("level", [])),
            by_kind=_counts(g.get("kind", [])),
            by_review=_counts(g.get("review", [])),
        ),
        "projects": ProjectFigures(
            total=s.projects,
            by_status=_counts(p.get("status", [])),
            by_category=_counts(p.get("category", [])),
        ),
        "hours": HoursFigures(
            total=s.hours,
            records=s.records,
            by_month=_hours(h.get("month", [])),
            by_category=_hours(h.get("category", [])),
            by_division=_hours(h.get("division", [])),
            by_group=_hours(h.get("group", [])),
        ),
        "registration_targets": TargetProgress(
            population_share=s.population_share,
            divisions=[
                DivisionTargetProgress(
                    division_code=d.division_code,
                    name=d.name,
                    population=d.population,
                    registered=d.registered,
                    share=d.share,
                    target=d.target,
                    met=_met(d.share, d.target),
                )
                for d in s.divisions
            ],
            sectors=[
                SectorTargetProgress(
                    sector=UnitSector(x.sector.lower()),
                    label=x.label,
                    units=x.units,
                    staff=x.staff,
                    registered=x.registered,
                    share=x.share,
                    target=x.target,
                    met=_met(x.share, x.target),
                )
                for x in s.sectors
            ],
        ),
    }


def region_statistics_type(s: selectors.Statistics) -> Statistics:
    return Statistics(**statistics_fields(s))


def federation_statistics_type(s: selectors.FederationStatistics) -> FederationStatistics:
    return FederationStatistics(
        **statistics_fields(s),
        regions=[
            RegionFigures(
                code=r.code,
                name=r.name,
                volunteers=r.volunteers,
                registered=r.registered,
                groups=r.groups,
                hours=r.hours,
                records=r.records,
            )
            for r in s.regions
        ],
    )
