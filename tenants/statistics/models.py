"""What an authority maintains to measure registration targets (注册目标, 004 §4.2):
the resident population (常住人口) of its divisions and the staff (干部职工) of the
units whose volunteer teams (单位名称+志愿服务队) are registered here.

The figures themselves are computed from the registry (``statistics.py``); these
rows are only the denominators nobody else knows.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.groups.models import VolunteerGroup


class UnitSector(models.TextChoices):
    """The four staff targets of 004 §4.2 (policy ``registrationTargets``)."""

    NATIONAL = "national", "全国文明单位"
    PROVINCIAL = "provincial", "省级文明单位"
    MUNICIPAL = "municipal", "市级文明单位"
    OTHER = "other", "其他单位"


class DivisionPopulation(models.Model):
    """常住人口 of one GB/T 2260 division of the region (any level)."""

    division_code = models.CharField("行政区划代码", max_length=6, unique=True)
    # central.divisions.area_prefix of the code, kept so one statement can count
    # the residents of every division, whatever its level.
    area_prefix = models.CharField(max_length=6)
    population = models.PositiveIntegerField("常住人口")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=120)

    class Meta:
        verbose_name = _("division population")
        verbose_name_plural = _("division populations")
        ordering = ["division_code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(division_code__regex=r"^[0-9]{6}$"), name="population_division_code"
            ),
            models.CheckConstraint(condition=Q(population__gt=0), name="population_positive"),
            models.CheckConstraint(
                condition=Q(division_code__startswith=models.F("area_prefix")),
                name="population_prefix_of_code",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.division_code}: {self.population}"


class UnitStaff(models.Model):
    """A unit (单位) behind a volunteer group: its sector and how many staff it has.
    Its registered staff are the group's active members."""

    group = models.OneToOneField(VolunteerGroup, on_delete=models.PROTECT, related_name="unit")
    sector = models.CharField(max_length=16, choices=UnitSector.choices)
    staff = models.PositiveIntegerField("干部职工人数")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=120)

    class Meta:
        verbose_name = _("unit staff")
        verbose_name_plural = _("unit staff")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(staff__gt=0), name="unit_staff_positive"),
            models.CheckConstraint(
                condition=Q(sector__in=UnitSector.values), name="unit_staff_sector_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group_id}: {self.sector} {self.staff}"


# -- pre-aggregated counts (issue 14 point 5) -----------------------------------------
# The statistics page read every counted record and every volunteer per request: ten
# times the work in a region ten times larger. These cells hold the same sums, kept
# by triggers (migration 0002_counted_cells) in the transaction of each write, so a
# request reads a number of cells that depends on the months, categories, groups and
# counties, not on the records or volunteers. Nothing in Python writes them. (No CHECK that a
# count is >= 0: PostgreSQL checks an upsert's proposed row, the negative delta,
# before it finds the conflict; tests/test_statistics_cells.py holds them exact.)


class HoursCell(models.Model):
    """Counted hours (已记入) and records of one county by one dimension's value:
    ``month`` (YYYY-MM of the service date), ``category`` (the project's, or
    ``imported`` without a project) or ``group`` (the record's group id, 0 none);
    each record at its current hours (its latest amendment that sets hours), in the
    county it belongs to (its project's group's, else its volunteer's, 000 Art.16)."""

    division_code = models.CharField(max_length=6)
    dimension = models.CharField(max_length=16)
    key = models.CharField(max_length=32)
    hours = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    records = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("hours cell")
        verbose_name_plural = _("hours cells")
        constraints = [
            models.UniqueConstraint(
                fields=["division_code", "dimension", "key"], name="hours_cell_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.division_code} {self.dimension}={self.key}: {self.hours} h"


class VolunteerCell(models.Model):
    """Volunteers of one county by one dimension's value: ``status``,
    ``verification``, ``gender``, ``star`` (level, 0 without totals) or ``birth``
    (YYYY-MM); ``registered`` counts those whose registration stands (status cells)."""

    division_code = models.CharField(max_length=6)
    dimension = models.CharField(max_length=16)
    key = models.CharField(max_length=32)
    volunteers = models.BigIntegerField(default=0)
    registered = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("volunteer cell")
        verbose_name_plural = _("volunteer cells")
        constraints = [
            models.UniqueConstraint(
                fields=["division_code", "dimension", "key"], name="volunteer_cell_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.division_code} {self.dimension}={self.key}: {self.volunteers}"


class VolunteerBirthday(models.Model):
    """Volunteers of one county born on one day: read only for the birth months in
    which some turn 18, 35 or 60 this month (their age band depends on the day)."""

    birth_date = models.DateField()
    division_code = models.CharField(max_length=6)
    volunteers = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("volunteer birthday cell")
        verbose_name_plural = _("volunteer birthday cells")
        constraints = [
            models.UniqueConstraint(
                fields=["birth_date", "division_code"], name="volunteer_birthday_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.division_code} {self.birth_date}: {self.volunteers}"
