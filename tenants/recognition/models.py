"""Trainings (培训信息), awards (表彰奖励) and complaints (投诉) on a volunteer's record.

- 000 Art.11: training information includes the topic, content, date, place,
  hours (学时) and contact of a training in volunteer-service knowledge and skills.
  003 Art.14: the organising group confirms and records a training; the evidence
  (证明材料) comes from the training's organiser.
- 000 Art.12 and 003 Art.22 ¶2: an award a volunteer receives for volunteer
  service is recorded by the group, with its date and name.
- 000 Art.13: a complaint or report about a volunteer is promptly investigated
  and handled by the group, and recorded; 003 Art.22 ¶3: a complaint by a
  service recipient that is verified (经核查属实) is kept on the record.

Trainings and awards are append-only, and no row of the three tables is ever
deleted; a complaint changes only along open → investigating → upheld or
dismissed, and never again once decided. A database trigger enforces this
(``migrations/0001_squashed_0003_origin.py``); the rules are in ``services.py``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.groups.models import VolunteerGroup
from tenants.records.models import EARLIEST_SERVICE_DATE
from tenants.volunteers.models import Volunteer


class Provenance(models.Model):
    """Where an item transferred in from another region was first recorded (转移接续)."""

    origin_region_code = models.CharField(max_length=6, blank=True, default="")
    origin_record_id = models.CharField(max_length=64, blank=True, default="")
    origin_group_name = models.CharField(max_length=120, blank=True, default="")
    origin_recorder = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        abstract = True


class Training(Provenance):
    """培训信息 (000 Art.11, 003 Art.14–15)."""

    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="trainings")
    group = models.ForeignKey(
        VolunteerGroup,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="trainings",
        verbose_name="组织团体",
    )  # empty for one transferred in from another region (see the origin fields)
    title = models.CharField("主题", max_length=120)
    content = models.TextField("内容")
    trained_on = models.DateField("日期")
    place = models.CharField("地点", max_length=200)
    hours = models.DecimalField("学时", max_digits=4, decimal_places=2)
    contact = models.CharField("联系人", max_length=64)
    # 证明材料由培训组织提供 (003 Art.14): what the organiser provided, e.g. a certificate number.
    evidence = models.CharField("证明材料", max_length=500, blank=True, default="")
    recorded_by = models.CharField("记录人", max_length=120)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("training")
        verbose_name_plural = _("trainings")
        ordering = ["trained_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(hours__gt=0) & Q(hours__lte=24), name="training_hours_in_range"
            ),
            models.CheckConstraint(condition=~Q(title=""), name="training_has_title"),
            models.CheckConstraint(
                condition=Q(trained_on__gte=EARLIEST_SERVICE_DATE),
                name="training_date_plausible",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.volunteer_id}, {self.trained_on})"


class AwardLevel(models.TextChoices):
    NATIONAL = "national", "国家级"
    PROVINCIAL = "provincial", "省级"
    MUNICIPAL = "municipal", "市级"
    COUNTY = "county", "区县级"
    GROUP = "group", "团体级"


class Award(Provenance):
    """表彰奖励 (000 Art.12, 003 Art.22 ¶2), recorded by the group."""

    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="awards")
    group = models.ForeignKey(
        VolunteerGroup,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="awards",
        verbose_name="记录团体",
    )  # empty for one transferred in from another region (see the origin fields)
    title = models.CharField("表彰奖励名称", max_length=120)
    awarding_body = models.CharField("颁奖单位", max_length=120)
    level = models.CharField("级别", max_length=16, choices=AwardLevel.choices)
    awarded_on = models.DateField("获奖日期")
    recorded_by = models.CharField("记录人", max_length=120)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("award")
        verbose_name_plural = _("awards")
        ordering = ["awarded_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(level__in=AwardLevel.values), name="award_level_ok"),
            models.CheckConstraint(condition=~Q(title=""), name="award_has_title"),
            models.CheckConstraint(
                condition=Q(awarded_on__gte=EARLIEST_SERVICE_DATE), name="award_date_plausible"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.volunteer_id}, {self.awarded_on})"


class ComplaintStatus(models.TextChoices):
    OPEN = "open", "待核查"
    INVESTIGATING = "investigating", "核查中"
    UPHELD = "upheld", "属实，记录在案"
    DISMISSED = "dismissed", "不属实"


DECIDED = (ComplaintStatus.UPHELD, ComplaintStatus.DISMISSED)


class Complaint(Provenance):
    """投诉/举报 (000 Art.13, 003 Art.22 ¶3); only an upheld one is on the record."""

    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="complaints")
    group = models.ForeignKey(
        VolunteerGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="complaints"
    )  # empty when transferred in
    complainant = models.CharField("投诉人", max_length=120)  # free text, e.g. 服务对象
    content = models.TextField("投诉内容")
    received_on = models.DateField("受理日期")
    status = models.CharField(
        max_length=16, choices=ComplaintStatus.choices, default=ComplaintStatus.OPEN
    )
    filed_by = models.CharField(max_length=120)
    filed_at = models.DateTimeField(auto_now_add=True)
    investigated_by = models.CharField(max_length=120, blank=True, default="")
    investigation_started_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=120, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField("核查结论", max_length=500, blank=True, default="")

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["received_on", "id"]
        indexes = [models.Index(fields=["group", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ComplaintStatus.values), name="complaint_status_ok"
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(investigation_started_at__isnull=False),
                name="complaint_investigation_has_start",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["upheld", "dismissed"])
                | (Q(decided_at__isnull=False) & ~Q(decision_reason="") & ~Q(decided_by="")),
                name="complaint_decision_is_reasoned",
            ),
        ]

    def __str__(self) -> str:
        return f"complaint {self.id} about {self.volunteer_id} ({self.status})"
