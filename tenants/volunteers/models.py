"""The volunteer registry (志愿者实名注册), 000 Art.5–7, 003 Art.5–12.

A volunteer's public identifier is the volunteer number (志愿者编号); the ID
number (有效证件号) and phone are personal information (000 Art.3, Art.15):
stored encrypted (``*_encrypted``), found through a keyed hash (``*_hash``),
shown masked (``*_masked``) unless the caller's role may see them, and every
reveal is logged in :class:`PersonalInfoAccess`.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.loading import fast_from_db
from tenants.related import FirstRows


class IdType(models.TextChoices):
    RESIDENT_ID = "resident_id", "居民身份证"
    PASSPORT = "passport", "护照"
    HK_MACAO_PERMIT = "hk_macao_permit", "港澳居民来往内地通行证"
    TAIWAN_PERMIT = "taiwan_permit", "台湾居民来往大陆通行证"
    FOREIGN_PERMANENT_RESIDENT = "foreign_permanent_resident", "外国人永久居留身份证"


class Gender(models.TextChoices):
    MALE = "male", "男"
    FEMALE = "female", "女"


class Verification(models.TextChoices):
    """实名认证 states."""

    PENDING = "pending", "待认证"
    VERIFIED = "verified", "已认证"
    REJECTED = "rejected", "认证未通过"


class VolunteerStatus(models.TextChoices):
    ACTIVE = "active", "正常"
    WARNED = "warned", "警告"
    CANCELLED = "cancelled", "取消注册"
    TRANSFERRED = "transferred", "已转出"


class Volunteer(models.Model):
    number = models.CharField("志愿者编号", max_length=20, unique=True)
    name = models.CharField("姓名", max_length=64)
    gender = models.CharField(max_length=8, choices=Gender.choices)
    birth_date = models.DateField("出生日期")
    id_type = models.CharField(max_length=32, choices=IdType.choices)
    id_number_encrypted = models.TextField()
    id_number_hash = models.CharField(max_length=64, unique=True)
    id_number_masked = models.CharField(max_length=32)
    phone_encrypted = models.TextField(blank=True, default="")
    phone_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    phone_masked = models.CharField(max_length=20, blank=True, default="")
    service_area = models.CharField("服务区域", max_length=120, blank=True, default="")
    service_intentions = models.JSONField("服务意愿", default=list)
    skills = models.JSONField("技能特长", default=list)
    verification = models.CharField(
        max_length=16, choices=Verification.choices, default=Verification.PENDING
    )
    verification_reason = models.CharField(max_length=500, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=VolunteerStatus.choices, default=VolunteerStatus.ACTIVE
    )
    status_reason = models.CharField(max_length=500, blank=True, default="")
    guardian_name = models.CharField("监护人", max_length=64, blank=True, default="")
    guardian_consent_at = models.DateTimeField(null=True, blank=True)
    registered_at = models.DateTimeField(auto_now_add=True, db_index=True)
    registered_by = models.CharField(max_length=120)
    # 所在县（区）: the division (GB/T 2260, inside the region) the volunteer lives
    # in; the authority of that county, its city and province answer for them (001 §6).
    division_code = models.CharField("行政区划代码", max_length=6)

    class Meta:
        verbose_name = _("volunteer")
        verbose_name_plural = _("volunteers")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(division_code__regex=r"^[0-9]{6}$"), name="volunteer_division_code"
            ),
            models.CheckConstraint(
                condition=Q(verification__in=Verification.values), name="volunteer_verification_ok"
            ),
            models.CheckConstraint(
                condition=Q(status__in=VolunteerStatus.values), name="volunteer_status_ok"
            ),
            models.CheckConstraint(
                condition=~Q(verification="rejected") | ~Q(verification_reason=""),
                name="volunteer_rejection_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["status", "verification"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.number})"

    # A page of volunteers reads each one's first records by a LATERAL join.
    first_records = FirstRows("records")

    # Pages load thousands of these: skip Model.__init__ (tenants/loading.py).
    from_db = fast_from_db


class PersonalInfoAccess(models.Model):
    """One reveal of a volunteer's personal information: who, whom, what, when, why."""

    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="pii_reveals")
    accessor = models.CharField(max_length=120)
    fields = models.JSONField()
    reason = models.CharField(max_length=500)
    accessed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("personal information access")
        verbose_name_plural = _("personal information accesses")
        ordering = ["-accessed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.accessor} → {self.volunteer_id} {self.fields} at {self.accessed_at}"
