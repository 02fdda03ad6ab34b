"""Accounts inside a region: volunteers, group staff, regional authority staff.

Accounts live in the region's schema, so they exist only there: a token issued
by one region is unknown to every other. Passwords are hashed by Django's
hashers; tokens are stored as SHA-256 digests and expire.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from central.throttle import LoginThrottleBase
from tenants.groups.models import VolunteerGroup
from tenants.volunteers.models import Volunteer


class Account(models.Model):
    username = models.CharField(max_length=64, unique=True)
    password = models.CharField(max_length=256)
    display_name = models.CharField(max_length=64)
    volunteer = models.OneToOneField(
        Volunteer, null=True, blank=True, on_delete=models.PROTECT, related_name="account"
    )
    is_active = models.BooleanField(default=True)
    # Set by a reset: the password is a one-time temporary one, good until then for
    # nothing but choosing a new password (``services.change_password``).
    password_temporary_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.username

    @property
    def actor(self) -> str:
        """How audit rows name this account."""
        return f"account:{self.id}:{self.username}"


class RoleKind(models.TextChoices):
    GROUP_ADMIN = "group_admin", "团体管理员"
    RECORDER = "recorder", "记录员"
    AUTHORITY = "authority", "主管部门"


class AuthorityLevel(models.TextChoices):
    """Level of a regional authority (民政部门, 文明办); grants stars per 001 §6."""

    COUNTY = "county", "县级"
    CITY = "city", "市级"
    PROVINCE = "province", "省级"


class Role(models.Model):
    """What an account may do: staff of one group, or staff of an authority."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="roles")
    kind = models.CharField(max_length=16, choices=RoleKind.choices)
    group = models.ForeignKey(
        VolunteerGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
    authority_level = models.CharField(
        max_length=16, choices=AuthorityLevel.choices, blank=True, default=""
    )
    authority_name = models.CharField(max_length=120, blank=True, default="")
    # The division (GB/T 2260, inside the region) an authority acts for: the region
    # itself, a city or a county; its powers reach that division's subtree.
    division_code = models.CharField("行政区划代码", max_length=6, blank=True, default="")
    # 记录员须持证上岗 (001 §4(4)3): the recorder's certificate number.
    recorder_certificate = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="authority")
                    & Q(group__isnull=True)
                    & ~Q(authority_level="")
                    & Q(division_code__regex=r"^[0-9]{6}$")
                )
                | (~Q(kind="authority") & Q(group__isnull=False) & Q(division_code="")),
                name="role_group_or_authority_in_division",
            ),
            models.UniqueConstraint(
                fields=["account", "kind", "group"], name="role_unique_per_group"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {self.group_id or self.authority_level}"


class AccessToken(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("access token")
        verbose_name_plural = _("access tokens")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"token {self.id} of {self.account_id}"


class LoginThrottle(LoginThrottleBase):
    """Failed logins and locks of one username or client address in this region
    (issue 10 finding 8; the logic is ``central.throttle``)."""

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="accounts_login_throttle_key")
        ]
