"""Volunteer groups (志愿团体) and memberships, per 002 (重庆) and 004 (随州).

Hub groups (枢纽型团体) exist at four levels; every other group is non-hub
(非枢纽型团体). Each group has a liaison group (联络团体, 002 §3(2)): a hub's
is the hub one level up; an unregistered non-hub group's is the hub of its own
level; a legal person's branch's is its parent legal person; a registered
legal person (法人组织) has none and is reviewed by its registration authority.
The rules are enforced in ``services.py``; what a group may do is its
permission group's powers in the region policy (002 annex).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.loading import fast_from_db
from tenants.related import FirstRows
from tenants.volunteers.models import Volunteer


class GroupKind(models.TextChoices):
    HUB = "hub", "枢纽型团体"
    NON_HUB = "non_hub", "非枢纽型团体"


class Level(models.TextChoices):
    CITY = "city", "市级"
    DISTRICT = "district", "区/县级"
    TOWN = "town", "镇/乡/街道级"
    COMMUNITY = "community", "社区/村级"


class RegistrationStatus(models.TextChoices):
    """登记状态 (002 §3(2))."""

    UNREGISTERED = "unregistered", "未登记的志愿服务组织"
    LEGAL_PERSON = "legal_person", "法人组织"
    BRANCH = "branch", "社会组织（法人）的分支（代表）机构"


class Review(models.TextChoices):
    PENDING = "pending", "待审核"
    APPROVED = "approved", "已通过"
    REJECTED = "rejected", "未通过"


class VolunteerGroup(models.Model):
    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=GroupKind.choices)
    level = models.CharField(max_length=16, choices=Level.choices)
    registration_status = models.CharField(max_length=16, choices=RegistrationStatus.choices)
    liaison_group = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="liaised_groups"
    )
    viewing_groups = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="viewed_groups"
    )
    registration_authority = models.CharField("登记机关", max_length=120, blank=True, default="")
    unified_social_credit_code = models.CharField(max_length=18, blank=True, default="")
    certificate_file = models.CharField(max_length=255, blank=True, default="")
    permission_group = models.CharField("权限组别", max_length=40)
    review = models.CharField(max_length=16, choices=Review.choices, default=Review.PENDING)
    review_reason = models.CharField(max_length=500, blank=True, default="")
    reviewed_by = models.CharField(max_length=120, blank=True, default="")
    responsible_person = models.CharField("负责人", max_length=64)
    contact_person = models.CharField("联系人", max_length=64)
    contact_phone = models.CharField(max_length=32)
    service_area = models.CharField(max_length=120, blank=True, default="")
    # Where the group is registered (GB/T 2260, inside the region): a hub's area
    # for 区域内志愿者管理 and the authority that answers for it.
    division_code = models.CharField("行政区划代码", max_length=6)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=120)

    # A page of groups reads each one's first active members by a LATERAL join:
    # the partial index's range per group, not every active membership of the page's
    # groups numbered by a window function (which grows with the groups' size).
    first_memberships = FirstRows("memberships")

    class Meta:
        verbose_name = _("volunteer group")
        verbose_name_plural = _("volunteer groups")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(registration_status="legal_person") | Q(liaison_group__isnull=True),
                name="group_legal_person_has_no_liaison",
            ),
            models.CheckConstraint(
                condition=~Q(registration_status="legal_person")
                | ~Q(unified_social_credit_code=""),
                name="group_legal_person_has_uscc",
            ),
            models.CheckConstraint(
                condition=Q(division_code__regex=r"^[0-9]{6}$"), name="group_division_code"
            ),
            models.CheckConstraint(
                condition=~Q(review="rejected") | ~Q(review_reason=""),
                name="group_rejection_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    # Pages load thousands of these: skip Model.__init__ (tenants/loading.py).
    from_db = fast_from_db


class MembershipStatus(models.TextChoices):
    INVITED = "invited", "邀请中"
    APPLIED = "applied", "申请中"
    ACTIVE = "active", "在册"
    DECLINED = "declined", "未通过"
    LEFT = "left", "已退出"


class Membership(models.Model):
    """A volunteer's belonging to a group; a volunteer may belong to several."""

    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="memberships")
    group = models.ForeignKey(VolunteerGroup, on_delete=models.PROTECT, related_name="memberships")
    status = models.CharField(max_length=16, choices=MembershipStatus.choices)
    applied_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=120, blank=True, default="")
    left_at = models.DateTimeField(null=True, blank=True)
    # What an applicant chose to show the group (SharedField values); nothing else
    # of theirs reaches the group before they are an active member.
    shared_fields = models.JSONField(default=list, blank=True)
    invited_by = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["id"]
        constraints = [
            # At most one open (invited, applied or active) membership per volunteer
            # and group, so two concurrent applications cannot both get in.
            models.UniqueConstraint(
                fields=["volunteer", "group"],
                condition=Q(status__in=["invited", "applied", "active"]),
                name="membership_one_open_per_group_v2",
            ),
        ]
        indexes = [
            # A group's active members in volunteer order: `volunteers(first, after)`
            # pages through them, and a page of groups takes each one's first page.
            models.Index(
                fields=["group", "volunteer"],
                condition=Q(status="active"),
                name="membership_active_by_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.volunteer_id} in {self.group_id} ({self.status})"

    # Pages load thousands of these: skip Model.__init__ (tenants/loading.py).
    from_db = fast_from_db
