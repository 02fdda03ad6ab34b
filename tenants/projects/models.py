"""Volunteer-service projects (志愿服务项目) and applications to them.

Categories are the service fields of 001 §4(3); a project states its risks
(003 Art.9) and whether volunteers are insured (003 Art.18: required for major
events and emergency service).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from tenants.groups.models import VolunteerGroup
from tenants.volunteers.models import Volunteer


class Category(models.TextChoices):
    """001 §4(3) 记录范围."""

    POVERTY_RELIEF = "poverty_relief", "扶贫济困"
    DISABILITY_SUPPORT = "disability_support", "扶弱助残"
    ELDERLY_AND_CHILDREN = "elderly_and_children", "帮老助幼"
    COMMUNITY_SERVICE = "community_service", "社区服务"
    EDUCATION = "education", "支教助学"
    HEALTH_CARE = "health_care", "医疗保健"
    SCIENCE_OUTREACH = "science_outreach", "科技推广"
    CULTURE_AND_SPORTS = "culture_and_sports", "文体服务"
    ENVIRONMENT = "environment", "环境保护"
    PSYCHOLOGICAL_SUPPORT = "psychological_support", "精神抚慰、心理援助"
    LEGAL_AID = "legal_aid", "法制与社会公德宣传、法律援助"
    MAJOR_EVENTS = "major_events", "大型社会活动"
    EMERGENCY_RESCUE = "emergency_rescue", "抢险救灾、应急救援"
    PUBLIC_SAFETY = "public_safety", "治安防范"
    OTHER = "other", "其他社会公益活动"


class ProjectStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    PENDING_REVIEW = "pending_review", "待审核"
    PUBLISHED = "published", "已发布"
    REJECTED = "rejected", "未通过"
    CANCELLED = "cancelled", "已取消"


class Project(models.Model):
    group = models.ForeignKey(VolunteerGroup, on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=120)
    category = models.CharField(max_length=32, choices=Category.choices)
    service_targets = models.CharField("服务对象", max_length=200)
    place = models.CharField("地点", max_length=200)
    starts_on = models.DateField()
    ends_on = models.DateField()
    quota = models.PositiveIntegerField("招募人数")
    risk_notice = models.TextField("风险告知 (003 Art.9)")
    insured = models.BooleanField("人身意外伤害保险 (003 Art.18)", default=False)
    contact = models.CharField("联系人", max_length=64)
    status = models.CharField(
        max_length=16, choices=ProjectStatus.choices, default=ProjectStatus.DRAFT
    )
    review_reason = models.CharField(max_length=500, blank=True, default="")
    # Why and when a published project was cancelled (issue 12 point 9).
    cancellation_reason = models.CharField("取消原因", max_length=500, blank=True, default="")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.CharField(max_length=120, blank=True, default="")
    created_by = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("volunteer-service project")
        verbose_name_plural = _("volunteer-service projects")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="project_dates_in_order"
            ),
            models.CheckConstraint(condition=Q(quota__gte=1), name="project_quota_positive"),
            # Issue 12 point 9: a cancellation says why and when.
            models.CheckConstraint(
                condition=~Q(status="cancelled")
                | (~Q(cancellation_reason="") & Q(cancelled_at__isnull=False)),
                name="project_cancellation_explained",
            ),
            # 003 Art.18: major events and emergency service insure their volunteers.
            models.CheckConstraint(
                condition=~Q(category__in=["major_events", "emergency_rescue"]) | Q(insured=True),
                name="project_major_events_insured",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ApplicationStatus(models.TextChoices):
    APPLIED = "applied", "已报名"
    ACCEPTED = "accepted", "已录用"
    DECLINED = "declined", "未录用"
    WITHDRAWN = "withdrawn", "已取消"  # by the volunteer (withdrawApplication)
    PROJECT_CANCELLED = "project_cancelled", "项目已取消"  # the project was cancelled


class ProjectApplication(models.Model):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="applications")
    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.PROTECT, related_name="project_applications"
    )
    status = models.CharField(
        max_length=24, choices=ApplicationStatus.choices, default=ApplicationStatus.APPLIED
    )
    applied_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        verbose_name = _("project application")
        verbose_name_plural = _("project applications")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "volunteer"],
                condition=Q(status__in=["applied", "accepted"]),
                name="application_one_open_per_project",
            )
        ]

    def __str__(self) -> str:
        return f"{self.volunteer_id} → {self.project_id} ({self.status})"
