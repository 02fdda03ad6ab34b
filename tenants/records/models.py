"""Service records (志愿服务记录) and everything that changes their standing.

A record is written once. Until it counts, its state moves along the policy's
lifecycle (declared → in publicity → awaiting confirmation → counted, or
rejected/void); once counted, a database trigger forbids any UPDATE or DELETE
of the row (000 Art.23 forbids falsification), and corrections are
:class:`Amendment` rows — themselves append-only — from which the record's
current values are derived (:meth:`ServiceRecord.current`).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from tenants.groups.models import VolunteerGroup
from tenants.loading import fast_from_db
from tenants.projects.models import Project
from tenants.related import FewRelatedQuerySet, MostlyEmpty, carried_rows
from tenants.volunteers.models import Volunteer


class RecordMode(models.TextChoices):
    QR = "qr", "扫码记时"
    MANUAL = "manual", "记录员录入"
    SELF_DECLARED = "self_declared", "本人申报"
    IMPORTED = "imported", "转入"


class RecordState(models.TextChoices):
    DECLARED = "declared", "待团体确认"  # self-declared, waiting for the group
    IN_PUBLICITY = "in_publicity", "公示中"
    OBJECTED = "objected", "有异议"
    AWAITING_CONFIRMATION = "awaiting_confirmation", "待民政确认"
    COUNTED = "counted", "已记入"
    REJECTED = "rejected", "未通过"
    VOID = "void", "已作废"


OPEN_STATES = ["declared", "in_publicity", "objected", "awaiting_confirmation", "counted"]

# The earliest date a service, training or award on this platform can have taken
# place (issue 10 finding 9): organised volunteer service in China begins with the
# first community volunteer groups of 1989 (天津和平区新兴街). A record without a
# project to bound it (one transferred in, 000 Art.16) is still held to it, and so
# are trainings and awards; it catches 0001-01-01, 1900-01-01 and two-digit years.
# A CHECK constraint holds it in the database too (migration records 0003).
EARLIEST_SERVICE_DATE = datetime.date(1989, 1, 1)


class ServiceRecord(models.Model):
    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="records")
    group = models.ForeignKey(
        VolunteerGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="records"
    )
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.PROTECT, related_name="records"
    )
    project_name = models.CharField(max_length=120)
    service_date = models.DateField("日期")
    start_time = models.TimeField()
    end_time = models.TimeField()
    hours = models.DecimalField("服务时长", max_digits=4, decimal_places=2)
    place = models.CharField("地点", max_length=200)
    service_target = models.CharField("服务对象", max_length=200)
    content = models.TextField("服务内容")
    contact = models.CharField("联系人", max_length=64)
    # 服务评价 (000 Art.10): 1 (差) … 5 (优).
    punctuality = models.PositiveSmallIntegerField("守时程度", null=True, blank=True)
    attitude = models.PositiveSmallIntegerField("服务态度", null=True, blank=True)
    professionalism = models.PositiveSmallIntegerField("专业水平", null=True, blank=True)
    mode = models.CharField(max_length=16, choices=RecordMode.choices)
    recorder = models.CharField("记录人", max_length=120)
    state = models.CharField(max_length=24, choices=RecordState.choices)
    state_reason = models.CharField(max_length=500, blank=True, default="")
    publicity_ends_on = models.DateField(null=True, blank=True)
    confirmed_by = models.CharField(max_length=120, blank=True, default="")
    counted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the group decided a self-declared record (本人申报: accepted or rejected);
    # the volunteer sees it (issue 12). Who decided is ``recorder`` from then on.
    decided_at = models.DateTimeField(null=True, blank=True)
    # Provenance of a record imported from another region (转移接续).
    origin_region_code = models.CharField(max_length=6, blank=True, default="")
    origin_record_id = models.CharField(max_length=64, blank=True, default="")
    origin_group_name = models.CharField(max_length=120, blank=True, default="")
    origin_recorder = models.CharField(max_length=120, blank=True, default="")
    # Issue 11 finding 12: the rest of the provenance, as the first region had it.
    origin_region_name = models.CharField(max_length=120, blank=True, default="")
    origin_hours = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    origin_counted_at = models.DateTimeField(null=True, blank=True)
    origin_confirmed_by = models.CharField(max_length=120, blank=True, default="")

    objects = FewRelatedQuerySet.as_manager()
    # Its rows read as tuples (tenants/related.py ``as_rows``), set below.
    Row: ClassVar[type[ServiceRecordRow]]

    class Meta:
        verbose_name = _("service record")
        verbose_name_plural = _("service records")
        ordering = ["service_date", "start_time", "id"]
        indexes = [
            models.Index(fields=["volunteer", "state"]),
            models.Index(fields=["state", "publicity_ends_on"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(hours__gt=0) & Q(hours__lte=24), name="record_hours_in_range"
            ),
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")), name="record_times_in_order"
            ),
            models.CheckConstraint(
                condition=Q(state__in=RecordState.values), name="record_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(service_date__gte=EARLIEST_SERVICE_DATE),
                name="record_service_date_plausible",
            ),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{name}__isnull": True})
                    | Q(**{f"{name}__gte": 1, f"{name}__lte": 5}),
                    name=f"record_{name}_1_to_5",
                )
                for name in ("punctuality", "attitude", "professionalism")
            ],
            # 000 Art.10: the group evaluates; a declaration waiting for it has none.
            models.CheckConstraint(
                condition=~Q(state="declared")
                | Q(punctuality__isnull=True, attitude__isnull=True, professionalism__isnull=True),
                name="record_declared_not_evaluated",
            ),
            models.UniqueConstraint(
                fields=["origin_region_code", "origin_record_id"],
                condition=~Q(origin_record_id=""),
                name="record_imported_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.volunteer_id} {self.service_date} {self.hours}h ({self.state})"

    # Few records are ever amended: a page marks which are and loads only their amendments.
    prefetched_amendments = MostlyEmpty("amendments")

    def current(self) -> RecordValues | ServiceRecord:
        """The record's values with every amendment applied, oldest first (cached on
        the instance: a page asks for it once per field); the record itself when it
        was never amended (it has the same attributes)."""
        cached = self.__dict__.get("_current")
        if cached is not None:
            return cached
        amendments = self._amendments()
        if not amendments:  # the usual case: the record's own values are current
            return self
        values = RecordValues(
            hours=self.hours,
            start_time=self.start_time,
            end_time=self.end_time,
            place=self.place,
            service_target=self.service_target,
            content=self.content,
        )
        for amendment in amendments:
            values = values.amended(amendment)
        self.__dict__["_current"] = values
        return values

    def current_value(self, name: str):
        """One current value (``hours``, ``place``…): the latest amendment that sets
        it, else the record's own. Reads only that column, so a page that asks for
        ``hours`` need not load the others (schema/region/prefetch.py COLUMNS)."""
        # (getattr, not __dict__: a row read as a tuple, ServiceRecordRow, shares this)
        if getattr(self, "has_amendments", True) in (False, None):
            return getattr(self, name)  # marked unamended (with_few): the usual case
        for amendment in reversed(self._amendments()):
            value = getattr(amendment, name)
            if value not in (None, ""):
                return value
        return getattr(self, name)

    def _amendments(self) -> list[Amendment]:
        """Oldest first: the list a page loaded, else one query (remembered)."""
        amendments = getattr(self, "prefetched_amendments", None)
        if amendments is None:
            amendments = self.prefetched_amendments = list(self.amendments.all())
        return sorted(amendments, key=lambda a: a.id) if len(amendments) > 1 else amendments

    def forget_amendments(self) -> None:
        """Drop what this instance remembers of its amendments (a new one was made)."""
        type(self).prefetched_amendments.forget(self)
        self.__dict__.pop("_current", None)

    # Pages load thousands of these: skip Model.__init__ (tenants/loading.py).
    from_db = fast_from_db


@dataclass(frozen=True)
class RecordValues:
    hours: Decimal
    start_time: datetime.time
    end_time: datetime.time
    place: str
    service_target: str
    content: str

    def amended(self, amendment: Amendment) -> RecordValues:
        changes = {
            name: getattr(amendment, name)
            for name in ("hours", "start_time", "end_time", "place", "service_target", "content")
            if getattr(amendment, name) not in (None, "")
        }
        return RecordValues(**{**self.__dict__, **changes})


class Amendment(models.Model):
    """A correction of a record: the new values, why, who, when. Append-only."""

    record = models.ForeignKey(ServiceRecord, on_delete=models.PROTECT, related_name="amendments")
    hours = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    place = models.CharField(max_length=200, blank=True, default="")
    service_target = models.CharField(max_length=200, blank=True, default="")
    content = models.TextField(blank=True, default="")
    reason = models.CharField(max_length=500)
    amended_by = models.CharField(max_length=120)
    amended_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("record amendment")
        verbose_name_plural = _("record amendments")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="amendment_has_reason"),
            models.CheckConstraint(
                condition=Q(hours__isnull=True) | (Q(hours__gt=0) & Q(hours__lte=24)),
                name="amendment_hours_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"amendment {self.id} of record {self.record_id}"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        # The record it amends, if loaded, must not answer with its old values.
        record = self._state.fields_cache.get("record")
        if record is not None:
            record.forget_amendments()


class DaySlot(models.Model):
    """The stretch of a day a live record occupies for its volunteer.

    An exclusion constraint (migration 0002) forbids two slots of one volunteer
    from overlapping; since every slot lies inside one calendar day and a
    record's hours never exceed its slot, no volunteer can have more than 24
    hours on a day. Two concurrent inserts cannot both pass it.
    """

    record = models.OneToOneField(ServiceRecord, on_delete=models.CASCADE, related_name="slot")
    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        verbose_name = _("service time slot")
        verbose_name_plural = _("service time slots")
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")), name="slot_times_in_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.volunteer_id} {self.day} {self.start_time}-{self.end_time}"


class Objection(models.Model):
    """An objection raised during publicity (公示期异议), resolved by the group."""

    class Resolution(models.TextChoices):
        OPEN = "open", "待处理"
        UPHELD = "upheld", "异议成立"
        DISMISSED = "dismissed", "异议不成立"

    record = models.ForeignKey(ServiceRecord, on_delete=models.PROTECT, related_name="objections")
    raised_by = models.CharField(max_length=120)
    reason = models.CharField(max_length=500)
    raised_at = models.DateTimeField(auto_now_add=True)
    resolution = models.CharField(max_length=16, choices=Resolution.choices, default="open")
    resolution_reason = models.CharField(max_length=500, blank=True, default="")
    resolved_by = models.CharField(max_length=120, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("objection")
        verbose_name_plural = _("objections")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"objection {self.id} to record {self.record_id} ({self.resolution})"


class VolunteerTotals(models.Model):
    """Counted hours and star level, kept exact by row-locked increments."""

    volunteer = models.OneToOneField(
        Volunteer, on_delete=models.PROTECT, primary_key=True, related_name="totals"
    )
    counted_hours = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal(0))
    counted_records = models.PositiveIntegerField(default=0)
    star_level = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("volunteer totals")
        verbose_name_plural = _("volunteer totals")
        constraints = [
            models.CheckConstraint(condition=Q(counted_hours__gte=0), name="totals_nonnegative"),
            models.CheckConstraint(condition=Q(star_level__lte=5), name="totals_star_0_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.volunteer_id}: {self.counted_hours}h ★{self.star_level}"


class StarApplication(models.Model):
    """A volunteer's application for a star level (星级认定, 001 §6, 003 Art.26)."""

    class Status(models.TextChoices):
        APPLIED = "applied", "申请中"
        GRANTED = "granted", "已认定"
        REFUSED = "refused", "未通过"

    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.PROTECT, related_name="star_applications"
    )
    level = models.PositiveSmallIntegerField()
    granter = models.CharField(max_length=16)  # from the policy: group/county/city/province
    group = models.ForeignKey(VolunteerGroup, null=True, blank=True, on_delete=models.PROTECT)
    status = models.CharField(max_length=16, choices=Status.choices, default="applied")
    hours_at_application = models.DecimalField(max_digits=10, decimal_places=2)
    applied_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.CharField(max_length=120, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        verbose_name = _("star rating application")
        verbose_name_plural = _("star rating applications")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(level__gte=1) & Q(level__lte=5), name="star_level_1_to_5"
            ),
            models.UniqueConstraint(
                fields=["volunteer", "level"],
                condition=Q(status__in=["applied", "granted"]),
                name="star_one_open_per_level",
            ),
        ]

    def __str__(self) -> str:
        return f"★{self.level} for {self.volunteer_id} ({self.status})"


class CorrectionRequest(models.Model):
    """A volunteer asks the group to correct a record or add a missing one (记录更正).

    The group answers within the policy's ``correction_deadline_days``.
    """

    class Status(models.TextChoices):
        OPEN = "open", "待处理"
        AMENDED = "amended", "已更正"
        DECLINED = "declined", "不予更正"

    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.PROTECT, related_name="correction_requests"
    )
    group = models.ForeignKey(
        VolunteerGroup, on_delete=models.PROTECT, related_name="correction_requests"
    )
    record = models.ForeignKey(
        ServiceRecord,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="correction_requests",
    )
    description = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default="open")
    due_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.CharField(max_length=120, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True, default="")
    amendment = models.ForeignKey(Amendment, null=True, blank=True, on_delete=models.PROTECT)
    added_record = models.ForeignKey(
        ServiceRecord, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("correction request")
        verbose_name_plural = _("correction requests")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"correction {self.id} ({self.status})"


class VolunteerCard(models.Model):
    """The volunteer's card (志愿者证) behind the QR code; bumping ``version``
    invalidates every code shown before."""

    volunteer = models.OneToOneField(
        Volunteer, on_delete=models.PROTECT, primary_key=True, related_name="card"
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("volunteer card")
        verbose_name_plural = _("volunteer cards")

    def __str__(self) -> str:
        return f"card of {self.volunteer_id} v{self.version}"


class CheckIn(models.Model):
    """A QR check-in at a project (扫码签到); check-out turns it into a record per day
    (``record`` is the last; the audit entry ``card.checked_out`` lists them all). Closed
    with no record: abandoned, see ``cards.check_in``."""

    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="check_ins")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="check_ins")
    checked_in_at = models.DateTimeField()
    checked_in_by = models.CharField(max_length=120)
    checked_out_at = models.DateTimeField(null=True, blank=True)
    record = models.OneToOneField(
        ServiceRecord, null=True, blank=True, on_delete=models.PROTECT, related_name="check_in"
    )

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["volunteer"],
                condition=Q(checked_out_at__isnull=True),
                name="checkin_one_open_per_volunteer",
            ),
        ]

    def __str__(self) -> str:
        return f"check-in {self.id} of {self.volunteer_id}"


class ServiceRecordRow:
    """What a record read as a tuple needs of the model (``ServiceRecord.Row``; a page
    whose fields read only columns, tenants/related.py ``as_rows``): its current
    values as an instance answers them, the amendments decoded from the array the
    row carries (``has_amendments``: null for the many never amended)."""

    __slots__ = ()
    id: int  # the tuple's, as every column

    current_value = ServiceRecord.current_value

    def _amendments(self) -> list[Amendment]:
        carried = getattr(self, "has_amendments", None)
        if carried is None or carried is True:  # not carried: read them (oldest first)
            return list(Amendment.objects.filter(record_id=self.id).order_by("id"))
        return carried_rows(Amendment, carried) if carried else []


ServiceRecord.Row = ServiceRecordRow
