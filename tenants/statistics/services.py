"""Maintaining the denominators of the registration targets (004 §4.2): an
authority sets the resident population of a division in its area and the staff
count and sector of a unit whose volunteer team is registered in its area.
Every change is audited; nothing else writes these rows."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from central.divisions import DivisionCodeError, area_prefix, check_division_in_region
from central.errors import InvalidInput, PermissionDenied
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.audit.services import record
from tenants.groups.models import VolunteerGroup
from tenants.groups.services import get_group
from tenants.statistics.models import DivisionPopulation, UnitSector, UnitStaff

# A PostgreSQL integer holds it; no division or unit comes near.
MOST = 2_000_000_000


def _count(value, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MOST:
        raise InvalidInput(
            _("a whole number from 1 to %(most)s") % {"most": f"{MOST:,}"}, field=field
        )
    return value


def set_division_population(
    *, division_code: str, population: int, principal: Principal, region_code: str
) -> DivisionPopulation:
    """常住人口 of a division (any level) in the caller's area, the base of the
    13 % target of 004 §4.2."""
    principal = accounts.require_authority(principal)
    try:
        code = check_division_in_region(division_code, region_code)
    except DivisionCodeError as error:
        raise InvalidInput(str(error), field="divisionCode") from None
    if not principal.covers(code):
        raise PermissionDenied(
            _("division %(code)s is outside your area") % {"code": code}, field="divisionCode"
        )
    population = _count(population, "population")
    with transaction.atomic():
        row, created = DivisionPopulation.objects.select_for_update().get_or_create(
            division_code=code,
            defaults={
                "area_prefix": area_prefix(code),
                "population": population,
                "updated_by": principal.actor,
            },
        )
        previous = None if created else row.population
        if not created:
            row.population = population
            row.updated_by = principal.actor
            row.save(update_fields=["population", "updated_by", "updated_at"])
        record(
            principal.actor,
            "statistics.population",
            code,
            previous=previous,
            now=population,
        )
    return row


def set_unit_staff(*, group_id: int, sector: str, staff: int, principal: Principal) -> UnitStaff:
    """The sector (全国/省级/市级文明单位, 其他单位) and staff count of the unit behind
    a volunteer group: its active members are the unit's registered staff."""
    principal = accounts.require_authority(principal)
    group = get_group(group_id)
    if not principal.covers(group.division_code):
        raise PermissionDenied(
            _("%(name)s is registered outside your area") % {"name": group.name},
            field="groupId",
        )
    if sector not in UnitSector.values:
        raise InvalidInput(_("not a sector"), field="sector")
    staff = _count(staff, "staff")
    with transaction.atomic():
        # The group row is locked so a concurrent setter of the same unit waits.
        VolunteerGroup.objects.select_for_update().filter(id=group.id).exists()
        row = UnitStaff.objects.filter(group=group).first()
        previous = None if row is None else {"sector": row.sector, "staff": row.staff}
        if row is None:
            row = UnitStaff.objects.create(
                group=group, sector=sector, staff=staff, updated_by=principal.actor
            )
        else:
            row.sector, row.staff, row.updated_by = sector, staff, principal.actor
            row.save(update_fields=["sector", "staff", "updated_by", "updated_at"])
        record(
            principal.actor,
            "statistics.unit_staff",
            str(group.id),
            previous=previous,
            sector=sector,
            staff=staff,
        )
    return row
