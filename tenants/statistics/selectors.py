"""Region and federation statistics (统计), shared by the APIs and the pages.

Each figure family is one SQL statement over the current region's schema:
groups and projects with ``GROUPING SETS``; volunteers (by status, verification,
gender, age band, division, star level) and counted hours (by month, category,
division, group) from the cells the database keeps up to date in the
transaction of every write (``models.HoursCell``, ``VolunteerCell``,
``VolunteerBirthday``; triggers of migration 0002_counted_cells), so a request
never reads every record or volunteer (issue 14 point 5); plus one for the
units' staff; never one per division. ``recompute`` gives the same figures
straight from the rows, for tests and checks.

Scope (README "Who may do what, where"): an authority sees the volunteers who
live in its area, the groups registered there, their projects, and the hours
whose record belongs there (``records.permissions.record_division``: the
project's group's division; a record transferred in without a project, the
volunteer's). An authority of the whole region sees everything.

Federation statistics run the same statements region by region, each under its
own ``search_path`` (``tenant_context``), and sum the answers in Python: no
statement ever names two regions' schemas (Citus notes in ``platform/``).

Registration targets (注册目标, 004 §4.2 as 随州's policy stores them): a
division's share is its residents registered (status active or warned) over the
population its authority entered; a sector's share is the active members of its
units' volunteer teams (each unit counted up to its staff) over their staff.
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from central.divisions import division_name
from central.policy import RegionPolicy
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.groups.models import GroupKind, Level, Review
from tenants.projects.models import Category, ProjectStatus
from tenants.records.models import RecordMode
from tenants.statistics.models import UnitSector
from tenants.volunteers.models import Gender, Verification, VolunteerStatus
from tenants.volunteers.permissions import region_wide
from tenants.volunteers.services import AGE_BANDS

# Registered volunteers (注册志愿者) are those whose registration stands.
REGISTERED = ("active", "warned")
# Counted hours of records without a project (transferred in, 000 Art.16).
IMPORTED = "imported"
# How many groups `byGroup` lists, most hours first, unless asked otherwise.
TOP_GROUPS = 20


@dataclass
class Count:
    key: str
    label: str
    count: int


@dataclass
class Hours:
    key: str
    label: str
    hours: Decimal
    records: int


@dataclass
class DivisionTarget:
    division_code: str
    name: str
    population: int
    registered: int
    target: float | None

    @property
    def share(self) -> float:
        return self.registered / self.population


@dataclass
class SectorTarget:
    sector: str
    label: str
    units: int
    staff: int
    registered: int
    target: float | None

    @property
    def share(self) -> float | None:
        return self.registered / self.staff if self.staff else None


@dataclass
class Statistics:
    as_of: datetime.date
    volunteers: int = 0
    registered: int = 0
    volunteers_by: dict[str, list[Count]] = field(default_factory=dict)
    groups: int = 0
    groups_by: dict[str, list[Count]] = field(default_factory=dict)
    projects: int = 0
    projects_by: dict[str, list[Count]] = field(default_factory=dict)
    hours: Decimal = Decimal(0)
    records: int = 0
    hours_by: dict[str, list[Hours]] = field(default_factory=dict)
    population_share: float | None = None
    divisions: list[DivisionTarget] = field(default_factory=list)
    sectors: list[SectorTarget] = field(default_factory=list)
    # Registered volunteers by division, kept only until the targets are computed.
    _registered_by_division: dict[str, int] = field(default_factory=dict, repr=False)


@dataclass
class RegionSummary:
    code: str
    name: str
    volunteers: int
    registered: int
    groups: int
    hours: Decimal
    records: int


@dataclass
class FederationStatistics(Statistics):
    regions: list[RegionSummary] = field(default_factory=list)


def region_statistics(
    principal: Principal | None,
    policy: RegionPolicy,
    *,
    region_code: str,
    today=None,
    top_groups: int = TOP_GROUPS,
) -> Statistics:
    """The statistics of the caller's area: an authority's (PERMISSION_DENIED for
    anyone else, UNAUTHENTICATED without a token)."""
    principal = accounts.require_authority(principal)
    prefixes = None if region_wide(principal, region_code) else principal.authority_prefixes
    return compute(policy, prefixes=prefixes, today=today, top_groups=top_groups)


def federation_statistics(regions, *, today=None, top_groups: int = TOP_GROUPS):
    """Every active region's statistics, computed in its own schema one after the
    other, summed. The caller (central API, central page) checks it is a central admin."""
    from django_tenants.utils import tenant_context

    today = today or timezone.localdate()
    total = FederationStatistics(as_of=today)
    parts = []
    for region in regions:
        with tenant_context(region):
            part = compute(region.get_policy(), prefixes=None, today=today, top_groups=top_groups)
        parts.append((region, part))
        total.regions.append(
            RegionSummary(
                region.code,
                region.name,
                part.volunteers,
                part.registered,
                part.groups,
                part.hours,
                part.records,
            )
        )
    _sum_into(total, parts, top_groups)
    return total


# -- one region -------------------------------------------------------------------------


def compute(
    policy: RegionPolicy, *, prefixes, today=None, top_groups: int = TOP_GROUPS
) -> Statistics:
    """All figures of the current schema, inside the areas whose division codes
    start with one of ``prefixes`` (None: the whole region).

    Volunteers and counted hours come from the cells the database keeps (models
    ``HoursCell``, ``VolunteerCell``, ``VolunteerBirthday``): their number depends on
    projects, months and counties, not on how many records or volunteers there are,
    so a region of 10 million records answers as fast as one of 1 million."""
    today = today or timezone.localdate()
    stats = Statistics(as_of=today)
    with connection.cursor() as cursor:
        _volunteers(cursor, stats, prefixes, today)
        _groups(cursor, stats, prefixes)
        _projects(cursor, stats, prefixes)
        _hours(cursor, stats, prefixes, top_groups)
        _targets(cursor, stats, policy, prefixes)
    return stats


def recompute(
    policy: RegionPolicy, *, prefixes, today=None, top_groups: int = TOP_GROUPS
) -> Statistics:
    """The same figures straight from the rows (every volunteer, every counted
    record): what the cells must always equal. For tests and checks, not requests."""
    today = today or timezone.localdate()
    stats = Statistics(as_of=today)
    with connection.cursor() as cursor:
        _volunteers_scan(cursor, stats, prefixes, today)
        _groups(cursor, stats, prefixes)
        _projects(cursor, stats, prefixes)
        _hours_scan(cursor, stats, prefixes, top_groups)
        _targets(cursor, stats, policy, prefixes)
    return stats


def _scope(column: str, prefixes) -> tuple[str, list]:
    if prefixes is None:
        return "TRUE", []
    return f"{column} LIKE ANY(%s)", [[f"{p}%" for p in prefixes]]


def _grouped(cursor, inner: str, params: list, dimensions: list[str], measures: str) -> dict:
    """Run ``inner`` (which selects the ``dimensions`` as columns) grouped by each
    dimension alone and by nothing: {dimension: [(key, *measures)], None: (*measures,)}."""
    names = ", ".join(dimensions)
    sets = ", ".join(f"({d})" for d in dimensions)
    cursor.execute(
        f"SELECT {names}, GROUPING({names}), {measures} FROM ({inner}) s "
        f"GROUP BY GROUPING SETS ({sets}, ())",
        params,
    )
    every = (1 << len(dimensions)) - 1
    which = {every ^ (1 << (len(dimensions) - 1 - i)): d for i, d in enumerate(dimensions)}
    out: dict = {d: [] for d in dimensions}
    out[None] = None
    n = len(dimensions)
    for row in cursor.fetchall():
        mask, values = row[n], row[n + 1 :]
        if mask == every:
            out[None] = values
        else:
            dimension = which[mask]
            out[dimension].append((row[dimensions.index(dimension)], *values))
    return out


def _labelled(rows, choices) -> list[Count]:
    """Every value of ``choices`` in order (zero when no row has it), keyed as the
    API's enums are (UPPER_CASE), labelled in Chinese."""
    counts = {key: n for key, n, *_ in rows}
    return [
        Count(value.upper(), str(label), counts.get(value, 0)) for value, label in choices.choices
    ]


def _age_bands() -> list[str]:
    return [band for _below, band in AGE_BANDS] + ["60+"]


def _volunteers(cursor, stats: Statistics, prefixes, today) -> None:
    """Volunteer figures from ``statistics_volunteercell`` (one row per county and
    dimension value) and, for the birth months in which some turn 18, 35 or 60 this
    month, ``statistics_volunteerbirthday``: two statements, whatever the count."""
    where, params = _scope("division_code", prefixes)
    cursor.execute(
        "SELECT dimension, key, CASE WHEN dimension = 'status' THEN division_code END,"
        " sum(volunteers)::bigint, sum(registered)::bigint FROM statistics_volunteercell"
        f" WHERE {where} GROUP BY 1, 2, 3 HAVING sum(volunteers) <> 0",
        params,
    )
    by: dict[str, dict] = {d: {} for d in ("status", "verification", "gender", "birth", "star")}
    division: dict[str, list[int]] = {}
    for dimension, key, code, n, registered in cursor.fetchall():
        counts = by.setdefault(dimension, {})
        counts[key] = counts.get(key, 0) + n
        if code is not None:
            into = division.setdefault(code, [0, 0])
            into[0] += n
            into[1] += registered
    # A birth month decides the age band unless it is this month in the year of an
    # 18th, 35th or 60th birthday: then the day does (before or after today's).
    edges = {(today.year - below, today.month) for below, _band in AGE_BANDS}
    bands: Counter = Counter()
    for key, n in by["birth"].items():
        year, month = int(key[:4]), int(key[5:7])
        if (year, month) not in edges:
            bands[_band(today.year - year - (month > today.month))] += n
    ranges = []
    for year, month in sorted(edges):
        first = datetime.date(year, month, 1)
        ranges.append((first, (first + datetime.timedelta(days=31)).replace(day=1)))
    where_days = " OR ".join("(birth_date >= %s AND birth_date < %s)" for _r in ranges)
    cursor.execute(
        "SELECT birth_date, sum(volunteers)::bigint FROM statistics_volunteerbirthday"
        f" WHERE ({where_days}) AND {where} GROUP BY 1",
        [d for r in ranges for d in r] + params,
    )
    for born, n in cursor.fetchall():
        bands[
            _band(today.year - born.year - ((born.month, born.day) > (today.month, today.day)))
        ] += n
    stats.volunteers = sum(by["status"].values())
    stats.registered = sum(r for _n, r in division.values())
    stats.volunteers_by = {
        "status": _labelled(by["status"].items(), VolunteerStatus),
        "verification": _labelled(by["verification"].items(), Verification),
        "gender": _labelled(by["gender"].items(), Gender),
        "age_band": [Count(band, band, bands.get(band, 0)) for band in _age_bands()],
        "division": [
            Count(code, division_name(code) or code, n)
            for code, (n, _r) in sorted(division.items())
        ],
        "star": [
            Count(str(level), f"{level}★" if level else _("no star"), n)
            for level, n in sorted((int(k), n) for k, n in by["star"].items() if n)
        ],
    }
    stats._registered_by_division = {code: r for code, (_n, r) in division.items()}


def _band(age: int) -> str:
    for below, band in AGE_BANDS:
        if age < below:
            return band
    return "60+"


def _volunteers_scan(cursor, stats: Statistics, prefixes, today) -> None:
    where, params = _scope("v.division_code", prefixes)
    bands = " ".join(f"WHEN age < {below} THEN '{band}'" for below, band in AGE_BANDS)
    inner = f"""
        SELECT v.status, v.verification, v.gender, v.division_code AS division,
               CASE {bands} ELSE '60+' END AS band, COALESCE(t.star_level, 0) AS star
          FROM (SELECT v.id, v.status, v.verification, v.gender, v.division_code,
                       date_part('year', age(%s::date, v.birth_date))::int AS age
                  FROM volunteers_volunteer v WHERE {where}) v
          LEFT JOIN records_volunteertotals t ON t.volunteer_id = v.id"""
    out = _grouped(
        cursor,
        inner,
        [today, *params],
        ["status", "verification", "gender", "band", "division", "star"],
        f"count(*), count(*) FILTER (WHERE status IN {REGISTERED!r})",
    )
    stats.volunteers, stats.registered = out[None] or (0, 0)
    stats.volunteers_by = {
        "status": _labelled(out["status"], VolunteerStatus),
        "verification": _labelled(out["verification"], Verification),
        "gender": _labelled(out["gender"], Gender),
        "age_band": [
            Count(band, band, dict((k, n) for k, n, _r in out["band"]).get(band, 0))
            for band in _age_bands()
        ],
        "division": [
            Count(code, division_name(code) or code, n) for code, n, _r in sorted(out["division"])
        ],
        "star": [
            Count(str(level), f"{level}★" if level else _("no star"), n)
            for level, n, _r in sorted(out["star"])
        ],
    }
    # Registered residents per county, for the population targets below.
    stats._registered_by_division = {code: r for code, _n, r in out["division"]}


def _groups(cursor, stats: Statistics, prefixes) -> None:
    where, params = _scope("g.division_code", prefixes)
    out = _grouped(
        cursor,
        f"SELECT g.level, g.kind, g.review FROM groups_volunteergroup g WHERE {where}",
        params,
        ["level", "kind", "review"],
        # Levels and kinds count registered (approved) groups; review counts all.
        "count(*) FILTER (WHERE review = 'approved'), count(*)",
    )
    stats.groups = (out[None] or (0, 0))[0]
    stats.groups_by = {
        "level": _labelled(out["level"], Level),
        "kind": _labelled(out["kind"], GroupKind),
        "review": _labelled([(k, total) for k, _approved, total in out["review"]], Review),
    }


def _projects(cursor, stats: Statistics, prefixes) -> None:
    where, params = _scope("g.division_code", prefixes)
    out = _grouped(
        cursor,
        "SELECT p.status, p.category FROM projects_project p "
        f"JOIN groups_volunteergroup g ON g.id = p.group_id WHERE {where}",
        params,
        ["status", "category"],
        "count(*)",
    )
    stats.projects = (out[None] or (0,))[0]
    stats.projects_by = {
        "status": _labelled(out["status"], ProjectStatus),
        "category": _labelled(out["category"], Category),
    }


def _hours(cursor, stats: Statistics, prefixes, top_groups: int) -> None:
    """Counted hours from ``statistics_hourscell``: one statement, one row per
    dimension value (and per county for the months, which also give the counties'
    and the region's totals), whatever the number of records."""
    where, params = _scope("division_code", prefixes)
    cursor.execute(
        "SELECT dimension, key, CASE WHEN dimension = 'month' THEN division_code END,"
        " sum(hours), sum(records)::bigint FROM statistics_hourscell"
        f" WHERE {where} GROUP BY 1, 2, 3 HAVING sum(records) <> 0",
        params,
    )
    by: dict[str, dict] = {"month": {}, "category": {}, "group": {}, "division": {}}
    total = [Decimal(0), 0]
    for dimension, key, code, hours, records in cursor.fetchall():
        if dimension == "month":
            for into in (
                by["month"].setdefault(key, [Decimal(0), 0]),
                by["division"].setdefault(code, [Decimal(0), 0]),
                total,
            ):
                into[0] += hours
                into[1] += records
        elif dimension in by:
            by[dimension][key] = [hours, records]
    out = {
        None: tuple(total) if total[1] else None,
        "month": [(k, h, n) for k, (h, n) in by["month"].items()],
        "category": [(k, h, n) for k, (h, n) in by["category"].items()],
        "division": [(k, h, n) for k, (h, n) in by["division"].items()],
        "grp": [(int(k), h, n) for k, (h, n) in by["group"].items()],
    }
    _hours_into(cursor, stats, out, top_groups)


def _hours_scan(cursor, stats: Statistics, prefixes, top_groups: int) -> None:
    where, params = _scope("division", prefixes)
    # A record's current hours: its latest amendment that sets hours, else its own
    # (ServiceRecord.current_value); few records are ever amended.
    inner = f"""
        SELECT * FROM (
          SELECT COALESCE(a.hours, r.hours) AS hours,
                 to_char(r.service_date, 'YYYY-MM') AS month,
                 COALESCE(p.category, '{IMPORTED}') AS category,
                 COALESCE(pg.division_code, v.division_code) AS division,
                 COALESCE(r.group_id, 0) AS grp
            FROM records_servicerecord r
            LEFT JOIN projects_project p ON p.id = r.project_id
            LEFT JOIN groups_volunteergroup pg ON pg.id = p.group_id
            LEFT JOIN volunteers_volunteer v ON r.project_id IS NULL AND v.id = r.volunteer_id
            LEFT JOIN (SELECT DISTINCT ON (record_id) record_id, hours
                         FROM records_amendment WHERE hours IS NOT NULL
                        ORDER BY record_id, id DESC) a ON a.record_id = r.id
           WHERE r.state = 'counted') c
         WHERE {where}"""
    out = _grouped(
        cursor, inner, params, ["month", "category", "division", "grp"], "sum(hours), count(*)"
    )
    _hours_into(cursor, stats, out, top_groups)


def _hours_into(cursor, stats: Statistics, out: dict, top_groups: int) -> None:
    total = out[None] or (None, 0)
    stats.hours, stats.records = total[0] or Decimal(0), total[1]
    categories = dict(Category.choices) | {IMPORTED: RecordMode.IMPORTED.label}
    top = sorted(out["grp"], key=lambda row: (-row[1], row[0]))[:top_groups]
    names = _group_names(cursor, [g for g, *_ in top if g])
    stats.hours_by = {
        "month": [Hours(m, m, h, n) for m, h, n in sorted(out["month"])],
        "category": [
            Hours(c.upper(), str(categories.get(c, c)), h, n)
            for c, h, n in sorted(out["category"], key=lambda row: -row[1])
        ],
        "division": [
            Hours(code, division_name(code) or code, h, n) for code, h, n in sorted(out["division"])
        ],
        "group": [
            Hours(str(g), names.get(g, _("no group (transferred in)")), h, n) for g, h, n in top
        ],
    }


def _group_names(cursor, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    cursor.execute("SELECT id, name FROM groups_volunteergroup WHERE id = ANY(%s)", [ids])
    return dict(cursor.fetchall())


def _targets(cursor, stats: Statistics, policy: RegionPolicy, prefixes) -> None:
    targets = policy.registration_targets
    stats.population_share = targets.population_share if targets else None
    where, params = _scope("division_code", prefixes)
    cursor.execute(
        "SELECT division_code, area_prefix, population FROM statistics_divisionpopulation "
        f"WHERE {where} ORDER BY division_code",
        params,
    )
    registered, stats._registered_by_division = stats._registered_by_division, {}
    stats.divisions = [
        DivisionTarget(
            code,
            division_name(code) or code,
            population,
            sum(n for county, n in registered.items() if county.startswith(prefix)),
            stats.population_share,
        )
        for code, prefix, population in cursor.fetchall()
    ]
    where, params = _scope("g.division_code", prefixes)
    cursor.execute(
        f"""SELECT u.sector, count(*), sum(u.staff), sum(LEAST(m.registered, u.staff))
              FROM statistics_unitstaff u
              JOIN groups_volunteergroup g ON g.id = u.group_id
              CROSS JOIN LATERAL (
                SELECT count(*) AS registered FROM groups_membership m
                  JOIN volunteers_volunteer v ON v.id = m.volunteer_id
                 WHERE m.group_id = u.group_id AND m.status = 'active'
                   AND v.status IN {REGISTERED!r}) m
             WHERE {where} GROUP BY u.sector""",
        params,
    )
    found = {sector: (units, staff, r) for sector, units, staff, r in cursor.fetchall()}
    shares = {
        UnitSector.NATIONAL: "staff_share_national_unit",
        UnitSector.PROVINCIAL: "staff_share_provincial_unit",
        UnitSector.MUNICIPAL: "staff_share_municipal_unit",
        UnitSector.OTHER: "staff_share_other_unit",
    }
    stats.sectors = []
    for sector in UnitSector:
        units, staff, staff_registered = (int(x) for x in found.get(sector.value, (0, 0, 0)))
        target = getattr(targets, shares[sector]) if targets else None
        stats.sectors.append(
            SectorTarget(sector.value.upper(), sector.label, units, staff, staff_registered, target)
        )


# -- summing regions ----------------------------------------------------------------------


def _sum_counts(lists: list[list[Count]]) -> list[Count]:
    summed: dict[str, Count] = {}
    for rows in lists:
        for row in rows:
            if row.key in summed:
                summed[row.key].count += row.count
            else:
                summed[row.key] = Count(row.key, row.label, row.count)
    return list(summed.values())


def _sum_hours(lists: list[list[Hours]]) -> list[Hours]:
    summed: dict[str, Hours] = {}
    for rows in lists:
        for row in rows:
            if row.key in summed:
                summed[row.key].hours += row.hours
                summed[row.key].records += row.records
            else:
                summed[row.key] = Hours(row.key, row.label, row.hours, row.records)
    return list(summed.values())


def _sum_into(total: FederationStatistics, parts, top_groups: int) -> None:
    for name in ("volunteers", "registered", "groups", "projects", "hours", "records"):
        zero = type(getattr(total, name))()
        setattr(total, name, sum((getattr(p, name) for _r, p in parts), zero))
    for family in ("volunteers_by", "groups_by", "projects_by"):
        keys = {k for _r, p in parts for k in getattr(p, family)}
        getattr(total, family).update(
            {k: _sum_counts([getattr(p, family).get(k, []) for _r, p in parts]) for k in keys}
        )
    for k in ("month", "category", "division"):
        rows = _sum_hours([p.hours_by.get(k, []) for _r, p in parts])
        total.hours_by[k] = sorted(rows, key=lambda row: row.key) if k != "category" else rows
    # A group is keyed by its region too: ids repeat across schemas.
    groups = [
        Hours(f"{region.code}:{row.key}", f"{row.label}（{region.name}）", row.hours, row.records)
        for region, part in parts
        for row in part.hours_by.get("group", [])
    ]
    total.hours_by["group"] = sorted(groups, key=lambda row: -row.hours)[:top_groups]
    for key in ("division", "star"):
        total.volunteers_by[key] = sorted(
            total.volunteers_by.get(key, []),
            key=lambda row: (len(row.key), row.key),
        )
    total.divisions = [d for _r, p in parts for d in p.divisions]
    sectors: dict[str, SectorTarget] = {}
    for _r, part in parts:
        for s in part.sectors:
            into = sectors.setdefault(s.sector, SectorTarget(s.sector, s.label, 0, 0, 0, None))
            into.units += s.units
            into.staff += s.staff
            into.registered += s.registered
    total.sectors = list(sectors.values())
