"""The public-schema side: regions (tenants), their domains, central-admin tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

from central.policy import RegionPolicy, validate_policy
from central.throttle import LoginThrottleBase

SLUG_PATTERN = r"^[a-z][a-z0-9]{1,39}$"
SCHEMA_PREFIX = "region_"


class Region(TenantMixin):
    """A province, city or county (地区): one PostgreSQL schema with its own policy.

    A county-level region (县级, e.g. 530102 五华区) lets a national deployment
    give every county-level division its own schema (about 3,000); its area is
    the county itself, so every division inside it is its own code.

    Created only through :func:`central.services.provision_region`, which
    builds the schema, domains and policy in one transaction.
    """

    class Level(models.TextChoices):
        PROVINCE = "province", "省级"
        CITY = "city", "市级"
        COUNTY = "county", "县级"

    class Status(models.TextChoices):
        ACTIVE = "active", "运行中"
        SUSPENDED = "suspended", "已暂停"

    code = models.CharField("行政区划代码", max_length=6, unique=True)
    name = models.CharField("名称", max_length=64)
    level = models.CharField(max_length=16, choices=Level.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    slug = models.CharField(max_length=40, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    suspended_reason = models.CharField(max_length=500, blank=True, default="")
    policy = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The provisioning service creates the schema itself, inside its transaction.
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^\d{6}$"), name="region_code_6_digits"
            ),
            models.CheckConstraint(
                condition=Q(slug__regex=SLUG_PATTERN), name="region_slug_format"
            ),
            models.CheckConstraint(
                condition=Q(level__in=["province", "city", "county"]),
                name="region_level_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "suspended"]), name="region_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(level__in=["city", "county"]) | Q(parent__isnull=True),
                name="region_only_cities_and_counties_have_parents",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_suspended(self) -> bool:
        return self.status == self.Status.SUSPENDED

    def get_policy(self) -> RegionPolicy:
        return validate_policy(self.policy)

    @staticmethod
    def schema_name_for(slug: str) -> str:
        return SCHEMA_PREFIX + slug


class Domain(DomainMixin):
    """A host name routed to a region (e.g. ``chongqing.localhost``)."""

    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")
        ordering = ["-is_primary", "domain"]


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class CentralApiTokenQuerySet(models.QuerySet):
    def live(self):
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class CentralApiToken(models.Model):
    """A bearer token for the central GraphQL API. Only its SHA-256 is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="central_tokens"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = CentralApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("central API token")
        verbose_name_plural = _("central API tokens")

    def __str__(self) -> str:
        return f"token of {self.user} until {self.expires_at:%Y-%m-%d %H:%M}"

    @classmethod
    def issue(cls, user, ttl) -> tuple[CentralApiToken, str]:
        raw = "cat_" + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, key_hash=_hash_token(raw), expires_at=timezone.now() + ttl
        )
        return token, raw

    @classmethod
    def authenticate(cls, raw: str):
        """The user behind a live token, or None."""
        token = cls.objects.live().select_related("user").filter(key_hash=_hash_token(raw)).first()
        return token.user if token and token.user.is_active else None


class CentralAuditEntry(models.Model):
    """What central admins did to regions (provisioning, suspension, policy)."""

    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=120)
    action = models.CharField(max_length=80)
    region_code = models.CharField(max_length=6, db_index=True)
    detail = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("central audit entry")
        verbose_name_plural = _("central audit entries")
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.region_code}"


class HomeRegion(models.Model):
    """Where each person is registered: one home region per person (docs/rules.md, transfers).

    Keyed by the keyed hash of the ID number (never the number itself). A
    second registration elsewhere is refused with a pointer to transfer
    (转移接续). Regions refer to it by code, with no foreign key.
    """

    id_number_hash = models.CharField(max_length=64, unique=True)
    # HMAC-SHA256 of the ID number under the federation-wide key
    # (PLATFORM_FEDERATION_HASH_KEY): what peers ask about (issue 11 finding 11).
    federation_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    region_code = models.CharField(max_length=6, db_index=True)
    volunteer_number = models.CharField(max_length=20)
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("home region")
        verbose_name_plural = _("home regions")

    def __str__(self) -> str:
        return f"{self.volunteer_number} @ {self.region_code}"


class RegionKey(models.Model):
    """A region's Ed25519 signing key and X25519 exchange key (interop/README.md;
    issue 11 findings 9, 10).

    The public keys are published in the federation directory; the private keys
    are stored encrypted with the deployment's data key (``PII_ENCRYPTION_KEYS``).
    ``rotations`` is the chain of signed rotation statements (each signed by the
    key it replaces), published so peers can follow it; ``retired_exchange_keys``
    (encrypted) still open messages sealed to an earlier exchange key.
    """

    region = models.OneToOneField(Region, on_delete=models.CASCADE, related_name="signing_key")
    public_key = models.CharField(max_length=64)  # base64 of the 32 raw bytes
    private_key_encrypted = models.TextField()
    exchange_public_key = models.CharField(max_length=64, blank=True, default="")
    exchange_private_key_encrypted = models.TextField(blank=True, default="")
    rotations = models.JSONField(default=list, blank=True)
    retired_exchange_keys = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("region key")
        verbose_name_plural = _("region keys")

    def __str__(self) -> str:
        return f"key of {self.region_id}"


class RemoteRegion(models.Model):
    """A region served by another deployment: its pinned public keys and inbox URL.

    ``public_key`` is pinned (issue 11 finding 10): ``interop peer fetch`` changes
    it only along a rotation chain signed by the pinned key, and changes the inbox
    URL or exchange key only in an entry signed by it. A refused change is kept in
    ``pending`` until a central admin trusts it (``interop peer trust``).
    """

    code = models.CharField(max_length=6, unique=True)
    name = models.CharField(max_length=64)
    public_key = models.CharField(max_length=64)
    exchange_key = models.CharField(max_length=64, blank=True, default="")
    inbox_url = models.URLField(max_length=300)
    pending = models.JSONField(null=True, blank=True)
    added_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("remote region")
        verbose_name_plural = _("remote regions")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^\d{6}$"), name="remote_region_code_6_digits"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code}) at {self.inbox_url}"


class LoginThrottle(LoginThrottleBase):
    """Failed logins and locks of central admins' usernames and client addresses, for
    the central API and the Django admin (issue 10 finding 8; ``central.throttle``)."""

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="central_login_throttle_key")
        ]


class TrustedDocument(models.Model):
    """An operation a region's front-end registered (trusted documents, issue 21
    finding 5): when the region's policy has ``trustedDocumentsOnly``, its API runs
    these and nothing else; they may be sent by their sha256 alone. Kept in the
    public schema with the region: central admins and the CLI manage it."""

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="trusted_documents")
    sha256 = models.CharField(max_length=64)
    document = models.TextField()
    operation_name = models.CharField(max_length=200, blank=True, default="")
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("trusted document")
        verbose_name_plural = _("trusted documents")
        constraints = [
            models.UniqueConstraint(fields=("region", "sha256"), name="central_trusted_document")
        ]

    def __str__(self) -> str:
        return f"{self.operation_name or self.sha256[:12]} @ {self.region_id}"


class ScheduledRun(models.Model):
    """One scheduled job's run for one day (定时任务), over every active region.

    The unique (job, day) row is how a deployment runs each daily job once, however
    many schedulers (``up``s, containers, timers) share the database: a scheduler
    takes the job's advisory lock, and skips a day whose row is finished
    (``central/schedule.py``)."""

    job = models.CharField(_("job"), max_length=40)
    day = models.DateField(_("day"))
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    count = models.PositiveIntegerField(_("rows moved"), default=0)
    regions = models.PositiveIntegerField(_("regions"), default=0)
    # "<region code>: <error>" for each region the last attempt failed in; the run
    # is finished only when it is empty.
    failures = models.JSONField(_("failures"), default=list, blank=True)
    held_by = models.CharField(_("run by"), max_length=120, blank=True, default="")

    class Meta:
        verbose_name = _("scheduled run")
        verbose_name_plural = _("scheduled runs")
        ordering = ["-day", "job"]
        constraints = [
            models.UniqueConstraint(fields=["job", "day"], name="scheduled_run_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.job} {self.day}"


class OutboxBacklog(models.Model):
    """A region's interop outbox messages not yet delivered (待投递消息), as the
    delivery worker (``manage.py interop deliver``) last counted them in the
    region's own schema. ``/metrics`` reads this one table instead of every
    region's outbox at each scrape, which cost one query per region (issue 14
    point 5); only regions with a backlog have a row."""

    region_code = models.CharField(_("region code"), max_length=6, primary_key=True)
    pending = models.PositiveIntegerField(_("messages not yet delivered"))
    oldest_at = models.DateTimeField(_("oldest written at"))
    counted_at = models.DateTimeField(_("counted at"))

    class Meta:
        verbose_name = _("outbox backlog")
        verbose_name_plural = _("outbox backlogs")
        constraints = [
            models.CheckConstraint(condition=models.Q(pending__gt=0), name="outbox_backlog_pending")
        ]

    def __str__(self) -> str:
        return f"{self.region_code}: {self.pending}"
