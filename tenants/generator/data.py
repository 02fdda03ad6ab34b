"""Realistic synthetic data for one region (``manage.py generate_data``).

Fills a region's schema with volunteers, a hub hierarchy and non-hub groups,
memberships, projects and service records across their lifecycle, at the
scale of a real province (10⁵–10⁶ volunteers, 10⁶–10⁷ records), for load
tests and benchmarks. What it writes is what the services would have written:

- volunteers: Chinese names, resident ID numbers valid under GB 11643 (area
  codes of the region's own counties from python-stdnum's division table,
  birth date inside, check digit), phones; ID number and phone encrypted,
  hashed and masked by :mod:`tenants.volunteers.pii`; volunteer numbers from
  :func:`tenants.volunteers.services.volunteer_number` with sequence values
  drawn from ``volunteer_number_seq`` (so later registrations continue after
  them); one ``central.HomeRegion`` row per person;
- groups: a hub chain down the policy's hub levels and non-hub groups under
  the hub of their level, named by the policy's naming rules, approved, in
  the permission group :func:`tenants.groups.services.approved_permission_group`
  gives them;
- active memberships (some volunteers in two groups, a few who left or wait);
- published projects (long-running, ongoing and ended), dates in the past;
- per volunteer exactly ``records_per_volunteer`` records on distinct
  stretches of days (never overlapping, so the ``dayslot_no_overlap``
  exclusion constraint holds), with evaluation scores, in the states the
  region's lifecycle allows: counted mostly; in publicity, objected and
  awaiting civil-affairs confirmation where the policy has those steps;
  declared (本人申报) awaiting the group; void (objection upheld) and rejected
  declarations. Live records get their ``DaySlot``;
- ``VolunteerTotals`` equal to the sum of each volunteer's counted hours.

The statistics cells (``tenants.statistics.models``) follow by themselves: the
database's triggers update them once per chunk's ``COPY`` (statement-level), and
the run ends by vacuuming them.

Rows go in with PostgreSQL ``COPY`` per chunk of volunteers; each chunk (its
volunteers with every row that refers to them) is one transaction, so an
interrupted run leaves only whole volunteers behind. Primary keys come from
the tables' own sequences (``nextval`` over ``generate_series``), so a run
never collides with rows written at the same time by the API, and running
again adds more. Generation of the next chunk overlaps the ``COPY`` of the
previous one (a writer thread with its own connection).

Not generated: accounts (volunteers and group admins have none; an authority
account sees everything), audit entries per row (one ``data.generated``
entry per run), project applications, amendments, trainings and awards.
"""

from __future__ import annotations

import collections
import datetime
import io
import json
import queue
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, models, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, tenant_context
from stdnum.cn import ric

from central.divisions import division_level, divisions_within
from central.models import HomeRegion, Region
from central.policy import HubLevel, RecordConfirmation, RegionPolicy
from tenants.audit.services import record as audit
from tenants.groups.models import (
    GroupKind,
    Membership,
    MembershipStatus,
    RegistrationStatus,
    Review,
    VolunteerGroup,
)
from tenants.groups.services import approved_permission_group
from tenants.projects.models import Category, Project, ProjectStatus
from tenants.records.models import (
    DaySlot,
    Objection,
    RecordMode,
    RecordState,
    ServiceRecord,
    VolunteerTotals,
)
from tenants.records.workdays import add_working_days
from tenants.volunteers import pii
from tenants.volunteers.models import (
    Gender,
    IdType,
    Verification,
    Volunteer,
    VolunteerStatus,
)
from tenants.volunteers.services import volunteer_number

ACTOR = "cli:generate_data"
STATISTICS_CELLS = (
    "statistics_hourscell",
    "statistics_volunteercell",
    "statistics_volunteerbirthday",
)
MAX_RECORDS_PER_VOLUNTEER = 1000
# Connections writing chunks at once (the Python side builds the next chunk meanwhile).
WRITERS = 2
MAX_GROUPS = 1_000_000
MAX_VOLUNTEERS = 100_000_000
# Records fall between this day (or the volunteer's registration) and yesterday.
HISTORY_STARTS = datetime.date(2016, 1, 1)
# Share of records placed in the last RECENT_DAYS days, where the states before
# "counted" (publicity, confirmation, declarations) live.
RECENT_DAYS = 14
RECENT_SHARE = 0.06

# --- name pools -------------------------------------------------------------

# The most common surnames, roughly by frequency (weights fall off along the list).
SURNAMES = [
    *"王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤",
    *["欧阳", "司马", "诸葛", "上官", "慕容"],
]
SURNAME_WEIGHTS = [1.0 / (i + 8) for i in range(len(SURNAMES))]
GIVEN_MALE = list(
    "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林阳建国志文博晨峰毅睿泽轩"
)
GIVEN_FEMALE = list("芳娜敏静丽艳娟霞秀玲桂英慧巧美倩婷雪琳晶欣怡佳梦颖雨萱洁琴燕红梅兰丹蕾薇悦菲")
GIVEN_ANY = list("文华明子嘉思安一心宇晓海春秋清德永立新乐")

PLACE_CHARS = list(
    "东西南北中新华安和平兴盛龙凤山水江河湖石桥园林花金银长青白红黄福祥瑞文明光阳春秋云海天永宁"
    "德仁义丰乐荣昌泰康顺利嘉锦翠碧鹤松柏梅竹"
)


def _words(text: str) -> list[str]:
    return text.split()


UNIT_TYPES = _words(
    "第一中学 实验小学 人民医院 中医院 社区卫生服务中心 图书馆 文化馆 供电公司 税务局"
    " 邮政分公司 职业技术学院 律师事务所 银行支行 消防救援站 青年突击队 妇女联合会 老年协会"
    " 红十字会 科技馆 商会"
)
SKILLS = _words(
    "急救 外语 心理咨询 摄影 驾驶 计算机 法律 医疗护理 教育辅导 手语 文艺表演 厨艺 维修 书法"
)
VERIFICATION_REJECTED_REASON = "证件照片模糊，请重新提交"
STATUS_REASONS = {
    VolunteerStatus.WARNED: "多次报名后无故缺席",
    VolunteerStatus.CANCELLED: "本人申请注销",
}
# Service themes per category: (project theme, what the volunteer did, whom it served).
THEMES: dict[str, tuple[list[str], list[str], str]] = {
    Category.POVERTY_RELIEF: (
        ["爱心助困行动", "困难家庭帮扶"],
        ["走访困难家庭，登记需求并发放生活物资", "整理捐赠衣物并分发"],
        "困难群众",
    ),
    Category.DISABILITY_SUPPORT: (
        ["助残阳光行动", "残疾人康复陪伴"],
        ["陪同残疾人康复训练", "为残疾人家庭提供出行协助"],
        "残疾人",
    ),
    Category.ELDERLY_AND_CHILDREN: (
        ["关爱空巢老人", "留守儿童陪伴计划"],
        ["陪伴老人聊天、读报", "为留守儿童辅导作业", "上门为独居老人打扫卫生"],
        "老年人、留守儿童",
    ),
    Category.COMMUNITY_SERVICE: (
        ["邻里守望", "社区便民服务"],
        ["社区便民服务点值守", "协助社区开展垃圾分类宣传", "小区楼道清理"],
        "社区居民",
    ),
    Category.EDUCATION: (
        ["周末课堂", "乡村支教"],
        ["为学生讲授兴趣课", "组织课外阅读活动"],
        "中小学生",
    ),
    Category.HEALTH_CARE: (
        ["健康义诊", "无偿献血服务"],
        ["义诊现场测量血压、登记", "献血点引导与宣传"],
        "社区居民",
    ),
    Category.SCIENCE_OUTREACH: (
        ["科普进社区", "反诈宣传"],
        ["讲解防诈骗知识", "科普展板讲解"],
        "社区居民",
    ),
    Category.CULTURE_AND_SPORTS: (
        ["文化惠民演出", "全民健身服务"],
        ["演出现场秩序维护", "健身活动组织与指导"],
        "群众",
    ),
    Category.ENVIRONMENT: (
        ["清洁家园", "河湖巡护"],
        ["河道沿岸垃圾清理", "植树护绿", "街道环境卫生清扫"],
        "公共环境",
    ),
    Category.PSYCHOLOGICAL_SUPPORT: (
        ["心灵驿站", "心理热线"],
        ["心理热线接听", "为居民提供心理疏导"],
        "有需要的居民",
    ),
    Category.LEGAL_AID: (
        ["法律援助进社区", "普法宣传"],
        ["解答居民法律咨询", "发放普法宣传资料"],
        "社区居民",
    ),
    Category.MAJOR_EVENTS: (
        ["马拉松赛事服务", "大型展会服务"],
        ["赛道补给点服务", "展会现场引导"],
        "参赛选手、观众",
    ),
    Category.EMERGENCY_RESCUE: (
        ["防汛应急值守", "应急救援演练"],
        ["防汛物资搬运与值守", "协助开展应急疏散演练"],
        "受灾群众",
    ),
    Category.PUBLIC_SAFETY: (
        ["平安巡逻", "交通文明劝导"],
        ["夜间治安巡逻", "路口交通文明劝导"],
        "过往群众",
    ),
    Category.OTHER: (
        ["文明实践活动", "公益集市"],
        ["新时代文明实践站值守", "公益活动现场服务"],
        "群众",
    ),
}
CATEGORIES = list(THEMES)
CATEGORY_LABELS = {c.value: c.label for c in Category}
INSURED_CATEGORIES = {Category.MAJOR_EVENTS, Category.EMERGENCY_RESCUE}
DEFAULT_HUB_SUFFIX = {
    HubLevel.CITY: "志愿服务联合会",
    HubLevel.DISTRICT: "志愿者协会",
    HubLevel.TOWN: "志愿服务总队",
    HubLevel.COMMUNITY: "志愿服务大队",
}
HUB_LEVEL_WEIGHTS = {
    HubLevel.CITY: 0,
    HubLevel.DISTRICT: 1,
    HubLevel.TOWN: 3,
    HubLevel.COMMUNITY: 9,
}
NON_HUB_LEVEL_WEIGHTS = {
    HubLevel.CITY: 1,
    HubLevel.DISTRICT: 4,
    HubLevel.TOWN: 3,
    HubLevel.COMMUNITY: 2,
}
# Stretches of a day a record may occupy: morning, afternoon, evening. Each
# entry: (start minute, latest end minute).
DAY_PARTS = [(8 * 60, 12 * 60), (13 * 60 + 30, 18 * 60), (18 * 60 + 30, 21 * 60 + 30)]
PARTS = len(DAY_PARTS)


# --- the plan and its result -------------------------------------------------


@dataclass(frozen=True)
class Plan:
    volunteers: int
    groups: int
    records_per_volunteer: int
    seed: int | None = None
    chunk_size: int = 2000  # volunteers per transaction

    def problems(self) -> list[str]:
        """What is wrong with the numbers, as ``--option: message`` lines."""
        problems = []
        for name, value, top in (
            ("volunteers", self.volunteers, MAX_VOLUNTEERS),
            ("groups", self.groups, MAX_GROUPS),
            ("records-per-volunteer", self.records_per_volunteer, MAX_RECORDS_PER_VOLUNTEER),
            ("chunk-size", self.chunk_size, 100_000),
        ):
            if value < 1:
                problems.append(f"--{name}: must be a positive number, got {value}")
            elif value > top:
                problems.append(f"--{name}: at most {top}, got {value}")
        return problems


@dataclass
class Summary:
    region: str
    volunteers: int = 0
    groups: int = 0
    hubs: int = 0
    projects: int = 0
    memberships: int = 0
    records: int = 0
    day_slots: int = 0
    objections: int = 0
    counted_hours: Decimal = Decimal(0)
    states: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    seed: int = 0
    # The process's peak resident memory (kB, getrusage): it must not grow with the
    # number of volunteers, only with the chunk size (issue 14 point 5).
    peak_rss_kb: int = 0
    # Time the writers spent per table's COPY (and in commits: deferred FK checks).
    copy_seconds: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        states = ", ".join(f"{state} {n}" for state, n in self.states.most_common())
        rate = self.records / self.seconds if self.seconds else 0.0
        return [
            f"region {self.region}: {self.volunteers} volunteers, {self.groups} groups "
            f"({self.hubs} hubs), {self.projects} projects, {self.memberships} memberships",
            f"{self.records} records ({states}); {self.day_slots} day slots, "
            f"{self.objections} objections; {self.counted_hours} counted hours",
            f"{self.seconds:.1f} s ({rate:,.0f} records/s), seed {self.seed}, "
            f"peak memory {self.peak_rss_kb / 1024:.0f} MB",
        ]


Progress = Callable[[int, int, int, int, float], None]


# --- COPY -------------------------------------------------------------------

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


def esc(value: str) -> str:
    """A string as a field of PostgreSQL's COPY text format."""
    return value.translate(_ESCAPES)


def copy_text(value) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, list | dict):
        return esc(json.dumps(value, ensure_ascii=False))
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return esc(str(value))


class Table:
    """COPY into one model's table with the columns we give; every other column
    gets its model default (so a field added later with a default does not
    break generation), the auto primary key its sequence."""

    def __init__(self, model: type[models.Model], columns: list[str], schema: str):
        # (every concrete field has a column; the stubs allow None)
        fields = {f.column: f for f in model._meta.concrete_fields if f.column is not None}
        unknown = [c for c in columns if c not in fields]
        if unknown:
            raise RuntimeError(f"{model._meta.db_table} has no column {', '.join(unknown)}")
        extra: list[str] = []
        values: list[str] = []
        for column, f in fields.items():
            if column in columns or (f.primary_key and isinstance(f, models.AutoField)):
                continue
            if f.has_default():
                value = f.get_default()
            elif f.null:
                value = None
            elif f.has_db_default():
                continue
            else:
                raise RuntimeError(
                    f"{model._meta.db_table}.{column} has no default; teach the generator about it"
                )
            extra.append(column)
            values.append(copy_text(value))
        self.name = f'"{schema}"."{model._meta.db_table}"'
        self.columns = columns + extra
        self.suffix = "".join("\t" + v for v in values)
        self.sql = f"COPY {self.name} ({', '.join(self.columns)}) FROM STDIN"

    def rows(self) -> TableRows:
        return TableRows(self)


class TableRows:
    def __init__(self, table: Table):
        self.table = table
        self.lines: list[str] = []

    def add(self, fields: list[str]) -> None:
        self.lines.append("\t".join(fields) + self.table.suffix)

    def copy(self, cursor) -> int:
        if self.lines:
            cursor.copy_expert(self.table.sql, io.StringIO("\n".join(self.lines) + "\n"))
        return len(self.lines)


def reserve(cursor, sequence: str, n: int) -> list[int]:
    """``n`` fresh values of a sequence (safe alongside concurrent writers)."""
    cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, n])
    return sorted(row[0] for row in cursor.fetchall())


def id_sequence(cursor, schema: str, model: type[models.Model]) -> str:
    cursor.execute(
        "SELECT pg_get_serial_sequence(%s, %s)",
        [f'"{schema}"."{model._meta.db_table}"', model._meta.pk.column],
    )
    return cursor.fetchone()[0]


# --- places -----------------------------------------------------------------


def region_areas(code: str) -> list[tuple[str, str]]:
    """(county code, name) of today's counties in the region (GB/T 2260,
    ``central.divisions``); a city region gets its own counties, a province all of its own."""
    areas = [(c, n) for c, n in divisions_within(code).items() if division_level(c) == "county"]
    return sorted(areas) or [(code[:4] + "02", "城区")]


# --- the generator ----------------------------------------------------------


@dataclass
class GroupInfo:
    id: int
    level: str
    name: str
    area: str
    contact: str
    projects: list[tuple] = field(default_factory=list)


class Generator:
    def __init__(
        self, region: Region, plan: Plan, progress: Progress | None = None, out=None
    ) -> None:
        self.region = region
        self.plan = plan
        self.policy: RegionPolicy = region.get_policy()
        self.seed = plan.seed if plan.seed is not None else random.SystemRandom().randrange(2**31)
        self.rng = random.Random(self.seed)
        self.progress = progress
        self.schema = region.schema_name
        self.now = timezone.localtime()
        self.today = self.now.date()
        self.today_ord = self.today.toordinal()
        self.summary = Summary(region=f"{region.name} ({region.code})", seed=self.seed)
        self.areas = region_areas(region.code)
        self.taken_names: set[str] = set()
        self.groups: list[GroupInfo] = []
        self._dates: dict[int, str] = {}
        self._publicity_ends: dict[int, int] = {}
        self.group_offset = 0
        self._slot_choices = [self._part_choices(start, end) for start, end in DAY_PARTS]
        tables = {
            "group": (
                VolunteerGroup,
                "id name kind level registration_status liaison_group_id permission_group review "
                "reviewed_by responsible_person contact_person contact_phone service_area "
                "division_code created_at created_by",
            ),
            "project": (
                Project,
                "id group_id name category service_targets place starts_on ends_on quota "
                "risk_notice insured contact status reviewed_by created_by created_at",
            ),
            "volunteer": (
                Volunteer,
                "id number name gender birth_date id_type id_number_encrypted id_number_hash "
                "id_number_masked phone_encrypted phone_hash phone_masked service_area "
                "service_intentions skills verification verification_reason status "
                "status_reason guardian_name guardian_consent_at registered_at registered_by "
                "division_code",
            ),
            "membership": (
                Membership,
                "volunteer_id group_id status applied_at decided_at decided_by left_at",
            ),
            "record": (
                ServiceRecord,
                "id volunteer_id group_id project_id project_name service_date start_time "
                "end_time hours place service_target content contact punctuality attitude "
                "professionalism mode recorder state state_reason publicity_ends_on "
                "confirmed_by counted_at created_at",
            ),
            "slot": (DaySlot, "record_id volunteer_id day start_time end_time"),
            "objection": (
                Objection,
                "record_id raised_by reason raised_at resolution resolution_reason "
                "resolved_by resolved_at",
            ),
            "totals": (
                VolunteerTotals,
                "volunteer_id counted_hours counted_records star_level updated_at",
            ),
        }
        self.tables = {
            key: Table(model, columns.split(), self.schema)
            for key, (model, columns) in tables.items()
        }
        self.tables["home"] = Table(
            HomeRegion,
            ["id_number_hash", "region_code", "volunteer_number", "registered_at"],
            get_public_schema_name(),
        )

    # -- small helpers --

    def date(self, ordinal: int) -> str:
        text = self._dates.get(ordinal)
        if text is None:
            text = self._dates[ordinal] = datetime.date.fromordinal(ordinal).isoformat()
        return text

    def stamp(self, ordinal: int, minute: int) -> str:
        """A timestamp in the region's time zone (Asia/Shanghai), never after now."""
        if ordinal >= self.today_ord:
            now_minute = self.now.hour * 60 + self.now.minute
            ordinal, minute = self.today_ord, min(minute, max(now_minute - 1, 0))
        return f"{self.date(ordinal)} {minute // 60:02d}:{minute % 60:02d}:00+08"

    def publicity_end(self, recorded: int) -> int:
        """The last day of publicity of a record put up on ``recorded``."""
        end = self._publicity_ends.get(recorded)
        if end is None:
            end = add_working_days(
                datetime.date.fromordinal(recorded),
                self.policy.publicity_working_days,
                extra_holidays=self.policy.extra_holidays,
                extra_workdays=self.policy.extra_workdays,
            ).toordinal()
            self._publicity_ends[recorded] = end
        return end

    @staticmethod
    def _part_choices(start: int, latest_end: int) -> list[tuple[str, str, int, int]]:
        """(start, end, quarter hours, end minute) of the stretches a part of the day offers."""
        choices = []
        for begin in range(start, start + 91, 30):
            for quarters in range(4, 15):
                end = begin + quarters * 15
                if end <= latest_end:
                    start_text = f"{begin // 60:02d}:{begin % 60:02d}"
                    choices.append((start_text, f"{end // 60:02d}:{end % 60:02d}", quarters, end))
        return choices

    def person_name(self, gender: str) -> str:
        rng = self.rng
        surname = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
        pool = GIVEN_MALE if gender == Gender.MALE else GIVEN_FEMALE
        if rng.random() < 0.25:
            return surname + rng.choice(pool)
        return surname + rng.choice(GIVEN_ANY + pool) + rng.choice(pool)

    def phone(self) -> str:
        prefix = self.rng.choice(
            [
                "130",
                "131",
                "132",
                "135",
                "136",
                "137",
                "138",
                "139",
                "150",
                "151",
                "152",
                "155",
                "157",
                "158",
                "159",
                "166",
                "173",
                "177",
                "180",
                "181",
                "186",
                "187",
                "188",
                "189",
                "191",
                "198",
                "199",
            ]
        )
        return f"{prefix}{self.rng.randrange(10**8):08d}"

    def place(self) -> str:
        return self.rng.choice(PLACE_CHARS) + self.rng.choice(PLACE_CHARS)

    def unique_name(self, make: Callable[[str], str]) -> str:
        """A group name nobody has, from ``make(place)``."""
        for _ in range(30):
            name = make(self.place())
            if name not in self.taken_names:
                break
        else:
            n = 1
            while (name := make(f"{self.place()}{n}")) in self.taken_names:
                n += 1
        self.taken_names.add(name)
        return name

    # -- groups and projects --

    def hub_suffix(self, level: str) -> str:
        for pattern in self.policy.group_naming.hub_name_patterns:
            if pattern.level == level:
                return pattern.suffixes[0]
        return DEFAULT_HUB_SUFFIX[HubLevel(level)]

    def non_hub_suffix(self) -> str:
        return self.policy.group_naming.non_hub_suffix or "志愿服务队"

    def hub_name(self, level: str, area: str) -> str:
        suffix = self.hub_suffix(level)
        region_name = self.region.name
        if level == HubLevel.CITY:
            first = f"{region_name}{suffix}"
            if first not in self.taken_names:
                self.taken_names.add(first)
                return first
            return self.unique_name(lambda p: f"{region_name}{p}{suffix}")
        if level == HubLevel.DISTRICT:
            first = f"{area}{suffix}"
            if first not in self.taken_names:
                self.taken_names.add(first)
                return first
            return self.unique_name(lambda p: f"{area}{p}片区{suffix}")
        if level == HubLevel.TOWN:
            return self.unique_name(lambda p: f"{area}{p}街道{suffix}")
        return self.unique_name(lambda p: f"{area}{p}社区{suffix}")

    def non_hub_name(self, area: str) -> str:
        suffix = self.non_hub_suffix()
        unit = self.rng.choice(UNIT_TYPES)
        return self.unique_name(lambda p: f"{area}{p}{unit}{suffix}")

    def plan_groups(self, cursor) -> None:
        """Hubs down the policy's levels (reusing the region's top hub if it has one),
        then non-hub groups under a hub of their own level; COPY them and their projects."""
        rng = self.rng
        self.taken_names = set(VolunteerGroup.objects.values_list("name", flat=True))
        levels = [HubLevel(lv).value for lv in self.policy.hub_levels]
        total = self.plan.groups
        existing_top = None
        if levels:
            existing_top = (
                VolunteerGroup.objects.filter(
                    kind=GroupKind.HUB,
                    level=levels[0],
                    review=Review.APPROVED,
                    liaison_group__isnull=True,
                )
                .order_by("id")
                .first()
            )
        # How many hubs of each level: the chain first, then ~12% of the rest by weight.
        counts = dict.fromkeys(levels, 0)
        chain = levels if existing_top is None else levels[1:]
        for level in chain[:total]:
            counts[level] += 1
        budget = max(0, round(total * 0.12) - sum(counts.values()))
        below = levels[1:]
        weights = [HUB_LEVEL_WEIGHTS[HubLevel(lv)] for lv in below]
        if below and budget:
            for level in rng.choices(below, weights, k=budget):
                counts[level] += 1
        hubs_total = min(total, sum(counts.values()))
        ids = reserve(cursor, id_sequence(cursor, self.schema, VolunteerGroup), total)
        rows = self.tables["group"].rows()
        hubs: dict[str, list[GroupInfo]] = {lv: [] for lv in levels}
        if existing_top is not None:
            hubs[levels[0]].append(
                GroupInfo(existing_top.id, levels[0], existing_top.name, self.areas[0][1], "")
            )
        next_id = iter(ids)

        def add(kind: str, level: str, liaison: GroupInfo | None) -> GroupInfo:
            area = rng.choice(self.areas)[1]
            name = self.hub_name(level, area) if kind == GroupKind.HUB else self.non_hub_name(area)
            contact = self.person_name(rng.choice([Gender.MALE, Gender.FEMALE]))
            info = GroupInfo(next(next_id), level, name, area, contact)
            model = VolunteerGroup(
                kind=kind, level=level, registration_status=RegistrationStatus.UNREGISTERED
            )
            created = HISTORY_STARTS.toordinal() - rng.randint(30, 540)
            rows.add(
                [
                    str(info.id),
                    esc(name),
                    kind,
                    level,
                    RegistrationStatus.UNREGISTERED,
                    str(liaison.id) if liaison else NULL,
                    esc(approved_permission_group(model, self.policy)),
                    Review.APPROVED,
                    ACTOR,
                    esc(self.person_name(rng.choice([Gender.MALE, Gender.FEMALE]))),
                    esc(contact),
                    f"0{rng.randint(10, 99)}{rng.randrange(10**7, 10**8)}",
                    esc(area),
                    self.region.code,  # every generated group answers to the whole region
                    self.stamp(created, rng.randint(540, 1020)),
                    ACTOR,
                ]
            )
            self.groups.append(info)
            return info

        made = 0
        for index, level in enumerate(levels):
            above = hubs[levels[index - 1]] if index > 0 else None
            if above == []:
                break  # no hub one level up to answer to
            for _ in range(counts[level]):
                if made >= hubs_total:
                    break
                parent = rng.choice(above) if above else None
                hubs[level].append(add(GroupKind.HUB, level, parent))
                made += 1
        self.summary.hubs = made
        # Non-hub groups: at a level with a hub, under one of them.
        with_hubs = [lv for lv in levels if hubs[lv]]
        if not with_hubs and total > made:
            raise RuntimeError("the region's policy has no hub levels to attach groups to")
        weights = [NON_HUB_LEVEL_WEIGHTS[HubLevel(lv)] for lv in with_hubs]
        for _ in range(total - made):
            level = rng.choices(with_hubs, weights)[0]
            add(GroupKind.NON_HUB, level, rng.choice(hubs[level]))
        rows.copy(cursor)
        self.summary.groups = len(self.groups)
        self.plan_projects(cursor)

    def plan_projects(self, cursor) -> None:
        """Per group: one long-running project (常态化) since before the history starts,
        and 1–4 others, ended or ongoing, all published."""
        rng = self.rng
        counts = [1 + rng.randint(1, 4) for _ in self.groups]
        ids = iter(reserve(cursor, id_sequence(cursor, self.schema, Project), sum(counts)))
        rows = self.tables["project"].rows()
        start = HISTORY_STARTS.toordinal() - 20
        for group, count in zip(self.groups, counts, strict=True):
            for n in range(count):
                category = rng.choice(CATEGORIES)
                themes, contents, targets = THEMES[category]
                if n == 0:
                    starts, ends = start, self.today_ord + rng.randint(180, 720)
                    name = f"{group.area}{CATEGORY_LABELS[category]}常态化志愿服务"
                elif rng.random() < 0.6:  # ended
                    starts = rng.randint(start, self.today_ord - 60)
                    ends = min(starts + rng.randint(7, 180), self.today_ord - 2)
                    name = f"{self.place()}{rng.choice(themes)}"
                else:  # ongoing
                    starts = rng.randint(self.today_ord - 400, self.today_ord - 10)
                    ends = self.today_ord + rng.randint(20, 365)
                    name = f"{self.place()}{rng.choice(themes)}"
                place = f"{group.area}{self.place()}社区"
                project_id = next(ids)
                rows.add(
                    [
                        str(project_id),
                        str(group.id),
                        esc(name),
                        category,
                        esc(targets),
                        esc(place),
                        self.date(starts),
                        self.date(ends),
                        str(rng.choice([10, 20, 30, 50, 100, 200])),
                        "注意交通与人身安全，服从现场统一安排；如有身体不适请及时告知负责人。",
                        "t" if category in INSURED_CATEGORIES or rng.random() < 0.6 else "f",
                        esc(group.contact),
                        ProjectStatus.PUBLISHED,
                        ACTOR,
                        ACTOR,
                        self.stamp(starts - rng.randint(3, 20), rng.randint(540, 1020)),
                    ]
                )
                group.projects.append(
                    (
                        project_id,
                        group.id,
                        starts,
                        ends,
                        esc(name[:120]),
                        esc(place),
                        esc(targets),
                        esc(group.contact),
                        [esc(c) for c in contents],
                    )
                )
        self.summary.projects = rows.copy(cursor)

    # -- volunteers and everything that hangs on them --

    def volunteer_batch(self, cursor, first_index: int, n: int, seen: RecentIds) -> dict:
        """Build one chunk's rows (volunteers, home regions, memberships, records,
        slots, objections, totals) as COPY text."""
        rng = self.rng
        plan = self.plan
        policy = self.policy
        today = self.today_ord
        t = self.tables
        volunteers, homes = t["volunteer"].rows(), t["home"].rows()
        memberships, records = t["membership"].rows(), t["record"].rows()
        slots, objections, totals = t["slot"].rows(), t["objection"].rows(), t["totals"].rows()
        states: Counter = Counter()
        counted_total = 0

        # People first: their ID numbers must be new to the whole federation.
        people = [self.person(seen) for _ in range(n)]
        clashes = self.known_hashes(cursor, [p["hash"] for p in people])
        for i, person in enumerate(people):
            while person["hash"] in clashes:
                person = people[i] = self.person(seen)
                clashes |= self.known_hashes(cursor, [person["hash"]])
        people.sort(key=lambda p: p["registered"])  # numbers grow with registration dates
        ids = reserve(cursor, id_sequence(cursor, self.schema, Volunteer), n)
        numbers = reserve(cursor, f'"{self.schema}".volunteer_number_seq', n)
        record_ids = iter(
            reserve(
                cursor,
                id_sequence(cursor, self.schema, ServiceRecord),
                n * plan.records_per_volunteer,
            )
        )
        groups = self.groups
        group_count = len(groups)
        confirmation = policy.record_confirmation != RecordConfirmation.NONE
        publicity = policy.publicity_working_days > 0
        r_count = plan.records_per_volunteer
        history_start = HISTORY_STARTS.toordinal()
        slot_choices = self._slot_choices
        mode_weights = ([RecordMode.QR, RecordMode.MANUAL, RecordMode.SELF_DECLARED], [45, 45, 10])

        for offset, person in enumerate(people):
            vid = ids[offset]
            registered = person["registered"]
            number = volunteer_number(
                self.region.code, datetime.date.fromordinal(registered).year, numbers[offset]
            )
            reg_stamp = self.stamp(registered, rng.randint(480, 1320))
            volunteers.add(
                [
                    str(vid),
                    number,
                    esc(person["name"]),
                    person["gender"],
                    person["birth"],
                    IdType.RESIDENT_ID,
                    person["id_encrypted"],
                    person["hash"],
                    person["id_masked"],
                    person["phone_encrypted"],
                    person["phone_hash"],
                    person["phone_masked"],
                    esc(person["area"]),
                    person["intentions"],
                    person["skills"],
                    person["verification"],
                    person["verification_reason"],
                    person["status"],
                    person["status_reason"],
                    esc(person["guardian"]),
                    reg_stamp if person["guardian"] else NULL,
                    reg_stamp,
                    ACTOR,
                    person["division_code"],
                ]
            )
            homes.add([person["hash"], self.region.code, number, reg_stamp])

            # Groups: round-robin so every group gets its share; some join a second.
            index = first_index + offset
            mine = [groups[(index + self.group_offset) % group_count]]
            if group_count > 1 and rng.random() < 0.15:
                other = rng.choice(groups)
                if other is not mine[0]:
                    mine.append(other)
            for group in mine:
                joined = registered + rng.randint(0, 20)
                memberships.add(
                    [
                        str(vid),
                        str(group.id),
                        MembershipStatus.ACTIVE,
                        self.stamp(joined, rng.randint(480, 1320)),
                        self.stamp(joined + rng.randint(0, 3), rng.randint(540, 1080)),
                        ACTOR,
                        NULL,
                    ]
                )
            if group_count > len(mine) and rng.random() < 0.03:
                other = rng.choice(groups)
                if other not in mine:
                    joined = registered + rng.randint(0, 400)
                    left = rng.random() < 0.6
                    memberships.add(
                        [
                            str(vid),
                            str(other.id),
                            MembershipStatus.LEFT if left else MembershipStatus.APPLIED,
                            self.stamp(joined, rng.randint(480, 1320)),
                            self.stamp(joined + 2, 600) if left else NULL,
                            ACTOR if left else "",
                            self.stamp(joined + rng.randint(30, 300), 700) if left else NULL,
                        ]
                    )

            # Records: exactly r_count, on free stretches of days, oldest first.
            projects = [p for g in mine for p in g.projects]
            low = max(registered, history_start)
            yesterday = today - 1
            recent_low = max(low, today - RECENT_DAYS)
            used: set[int] = set()
            picks: list[tuple[int, tuple]] = []
            for _ in range(r_count):
                for _attempt in range(12):
                    day = (
                        rng.randint(recent_low, yesterday)
                        if rng.random() < RECENT_SHARE
                        else rng.randint(low, yesterday)
                    )
                    key = day * PARTS + rng.randrange(PARTS)
                    if key in used:
                        continue
                    candidates = [p for p in projects if p[2] <= day <= p[3]]
                    if candidates:
                        break
                else:
                    key, candidates = self.free_stretch(used, projects, low, yesterday)
                used.add(key)
                picks.append((key, rng.choice(candidates)))
            picks.sort(key=lambda pick: pick[0])
            counted_hours = counted_records = 0
            for key, project in picks:
                day, part = divmod(key, PARTS)
                start, end, quarters, end_minute = rng.choice(slot_choices[part])
                short = rng.random()
                quarters -= 2 if short < 0.1 else 1 if short < 0.3 else 0
                hours = max(quarters, 2) * 25  # hundredths of an hour
                mode = rng.choices(*mode_weights)[0]
                recorded = min(day + rng.choice((0, 0, 0, 1, 1, 2, 3)), today)
                # Recorded after the service ended (that day) or during office hours.
                recorded_minute = (
                    min(end_minute + rng.randint(5, 90), 1439)
                    if recorded == day
                    else rng.randint(540, 1260)
                )
                state, reason = RecordState.COUNTED, ""
                pub_end = counted_day = None
                objection: tuple[int, int | None, bool] | None = None
                confirmed_by = ""
                if (
                    mode == RecordMode.SELF_DECLARED
                    and today - day <= RECENT_DAYS
                    and (rng.random() < 0.5)
                ):
                    state = RecordState.DECLARED
                elif mode == RecordMode.SELF_DECLARED and rng.random() < 0.05:
                    state, reason = RecordState.REJECTED, "与实际服务时间不符，请核实后重新申报"
                else:
                    if publicity:
                        pub_end = self.publicity_end(recorded)
                        if rng.random() < 0.015:  # objection upheld during publicity
                            raised = min(recorded + 1, pub_end, today)
                            resolved = min(raised + rng.randint(0, 2), today)
                            state, reason = RecordState.VOID, "经核实当日未到岗，记录作废"
                            objection = (raised, resolved, True)
                        elif pub_end >= today:
                            state = RecordState.IN_PUBLICITY
                            if rng.random() < 0.05:
                                state = RecordState.OBJECTED
                                objection = (min(recorded + 1, today), None, False)
                    if state == RecordState.COUNTED:
                        moved = pub_end + 1 if pub_end is not None else recorded
                        if confirmation:
                            counted_day = moved + rng.randint(0, 10)
                            if counted_day > today:
                                state, counted_day = RecordState.AWAITING_CONFIRMATION, None
                            else:
                                confirmed_by = ACTOR
                        else:
                            counted_day = moved
                rid = next(record_ids)
                scored = state != RecordState.DECLARED and rng.random() < 0.8
                records.add(
                    [
                        str(rid),
                        str(vid),
                        str(project[1]),
                        str(project[0]),
                        project[4],
                        self.date(day),
                        start,
                        end,
                        f"{hours // 100}.{hours % 100:02d}",
                        project[5],
                        project[6],
                        rng.choice(project[8]),
                        project[7],
                        str(rng.choice((3, 4, 4, 5, 5, 5))) if scored else NULL,
                        str(rng.choice((3, 4, 4, 5, 5, 5))) if scored else NULL,
                        str(rng.choice((3, 4, 4, 4, 5, 5))) if scored else NULL,
                        mode,
                        ACTOR,
                        state,
                        reason,
                        self.date(pub_end) if pub_end is not None else NULL,
                        confirmed_by,
                        self.stamp(
                            counted_day,
                            min(recorded_minute + rng.randint(0, 30), 1439)
                            if counted_day == recorded
                            else rng.randint(5, 1020),
                        )
                        if counted_day
                        else NULL,
                        self.stamp(recorded, recorded_minute),
                    ]
                )
                states[state] += 1
                if state == RecordState.COUNTED:
                    counted_hours += hours
                    counted_records += 1
                if state not in (RecordState.VOID, RecordState.REJECTED):
                    slots.add([str(rid), str(vid), self.date(day), start, end])
                if objection:
                    raised_day, resolved_day, upheld = objection
                    objections.add(
                        [
                            str(rid),
                            ACTOR,
                            "服务时长与实际不符" if upheld else "对服务内容有疑问",
                            self.stamp(raised_day, rng.randint(540, 1200)),
                            Objection.Resolution.UPHELD if upheld else Objection.Resolution.OPEN,
                            reason if upheld else "",
                            ACTOR if upheld else "",
                            self.stamp(resolved_day, rng.randint(540, 1200))
                            if resolved_day is not None  # resolved: upheld
                            else NULL,
                        ]
                    )
            totals.add(
                [
                    str(vid),
                    f"{counted_hours // 100}.{counted_hours % 100:02d}",
                    str(counted_records),
                    "0",
                    self.stamp(today, 1439),
                ]
            )
            counted_total += counted_hours
        return {
            "tables": [volunteers, homes, memberships, records, slots, objections, totals],
            "states": states,
            "counted": counted_total,
        }

    def free_stretch(self, used, projects, low, high) -> tuple[int, list]:
        """The latest free stretch of a day any of ``projects`` covers (slow path)."""
        for day in range(high, low - 1, -1):
            candidates = [p for p in projects if p[2] <= day <= p[3]]
            if not candidates:
                continue
            for part in range(PARTS):
                if day * PARTS + part not in used:
                    return day * PARTS + part, candidates
        raise RuntimeError(
            f"no free time left for {self.plan.records_per_volunteer} records of one volunteer"
        )

    def person(self, seen: RecentIds) -> dict:
        """A new person: name, a valid ID number new to this run, phone, PII fields."""
        rng = self.rng
        policy = self.policy
        while True:
            gender = Gender.MALE if rng.random() < 0.46 else Gender.FEMALE
            age = rng.choices(
                [(16, 17), (18, 25), (26, 35), (36, 45), (46, 55), (56, 65), (66, 75)],
                [4, 30, 22, 16, 13, 10, 5],
            )[0]
            years = rng.randint(*age)
            birth = self.today - datetime.timedelta(days=int(years * 365.25) + rng.randrange(365))
            area_code, area = rng.choice(self.areas)
            serial = rng.randrange(500) * 2 + (1 if gender == Gender.MALE else 0)
            body = f"{area_code}{birth:%Y%m%d}{serial:03d}"
            id_number = body + ric.calc_check_digit(body + "0")
            if id_number not in seen:
                seen.add(id_number)
                break
        sixteen = (
            birth.replace(year=birth.year + 16)
            if (birth.month, birth.day) != (2, 29)
            else (datetime.date(birth.year + 16, 3, 1))
        )
        latest = self.today_ord - max(30, self.plan.records_per_volunteer)
        earliest = max(HISTORY_STARTS.toordinal(), sixteen.toordinal())
        registered = rng.randint(earliest, latest) if earliest <= latest else latest
        reg_date = datetime.date.fromordinal(registered)
        age_then = (
            reg_date.year - birth.year - ((reg_date.month, reg_date.day) < (birth.month, birth.day))
        )
        threshold = policy.guardian_consent_below_age
        guardian = ""
        if threshold is not None and age_then < threshold:
            guardian = self.person_name(rng.choice([Gender.MALE, Gender.FEMALE]))
        phone = self.phone()
        verification = rng.choices(
            [Verification.VERIFIED, Verification.PENDING, Verification.REJECTED], [85, 13, 2]
        )[0]
        status = rng.choices(
            [VolunteerStatus.ACTIVE, VolunteerStatus.WARNED, VolunteerStatus.CANCELLED],
            [96, 2.5, 1.5],
        )[0]
        intentions = rng.sample(CATEGORIES, rng.randint(1, 3))
        return {
            "name": self.person_name(gender),
            "gender": gender,
            "birth": birth.isoformat(),
            "area": area,
            "division_code": area_code,  # lives where the ID number was issued
            "registered": registered,
            "guardian": guardian,
            "hash": pii.keyed_hash("id", id_number),
            "id_encrypted": pii.encrypt(id_number),
            "id_masked": pii.mask_id_number(id_number),
            "phone_encrypted": pii.encrypt(phone),
            "phone_hash": pii.keyed_hash("phone", phone),
            "phone_masked": pii.mask_phone(phone),
            "intentions": copy_text([CATEGORY_LABELS[c] for c in intentions]),
            "skills": copy_text(rng.sample(SKILLS, rng.choice((0, 1, 1, 2, 3)))),
            "verification": verification,
            "verification_reason": (
                VERIFICATION_REJECTED_REASON if verification == Verification.REJECTED else ""
            ),
            "status": status,
            "status_reason": STATUS_REASONS.get(status, ""),
        }

    def known_hashes(self, cursor, hashes: list[str]) -> set[str]:
        """Which of these ID-number hashes are registered already, here or anywhere."""
        cursor.execute(
            f'SELECT id_number_hash FROM "{get_public_schema_name()}".central_homeregion '
            "WHERE id_number_hash = ANY(%s) UNION "
            f'SELECT id_number_hash FROM "{self.schema}".volunteers_volunteer '
            "WHERE id_number_hash = ANY(%s)",
            [hashes, hashes],
        )
        return {row[0] for row in cursor.fetchall()}

    # -- the run --

    def run(self) -> Summary:
        started = time.perf_counter()
        plan = self.plan
        with tenant_context(self.region):
            with transaction.atomic(), connection.cursor() as cursor:
                self.plan_groups(cursor)
            self.group_offset = self.rng.randrange(len(self.groups))
            seen = RecentIds(WRITERS + 1)
            writer = ChunkWriter(connection.get_connection_params(), WRITERS)
            total_records = plan.volunteers * plan.records_per_volunteer
            try:
                with connection.cursor() as cursor:
                    for first in range(0, plan.volunteers, plan.chunk_size):
                        n = min(plan.chunk_size, plan.volunteers - first)
                        seen.next_chunk()
                        batch = self.volunteer_batch(cursor, first, n, seen)
                        for result in writer.submit(batch):
                            self._account(result)
                            self._progress(started, total_records)
                    for result in writer.drain():
                        self._account(result)
                        self._progress(started, total_records)
            finally:
                writer.close()
            self.summary.copy_seconds = dict(
                sorted(writer.seconds.items(), key=lambda item: item[1], reverse=True)
            )
            with connection.cursor() as cursor:
                for key in ("volunteer", "membership", "record", "slot", "totals", "home"):
                    cursor.execute(f"ANALYZE {self.tables[key].name}")
                # The statistics cells (tenants/statistics/models.py) were updated once
                # per chunk: clear their dead versions so the statistics page reads a
                # table as small as its cells, not its history.
                vacuum = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
                for table in STATISTICS_CELLS:
                    cursor.execute(f'{vacuum} "{self.schema}".{table}')
            self.summary.seconds = time.perf_counter() - started
            self.summary.peak_rss_kb = peak_rss_kb()
            audit(
                ACTOR,
                "data.generated",
                self.region.code,
                volunteers=self.summary.volunteers,
                groups=self.summary.groups,
                records=self.summary.records,
                seed=self.seed,
            )
        return self.summary

    def _account(self, result: dict) -> None:
        s = self.summary
        s.volunteers += result["counts"][0]
        s.memberships += result["counts"][2]
        s.records += result["counts"][3]
        s.day_slots += result["counts"][4]
        s.objections += result["counts"][5]
        s.states.update(result["states"])
        s.counted_hours += Decimal(result["counted"]).scaleb(-2)

    def _progress(self, started: float, total_records: int) -> None:
        s = self.summary
        if self.progress:
            elapsed = time.perf_counter() - started
            self.progress(s.volunteers, self.plan.volunteers, s.records, total_records, elapsed)


class RecentIds:
    """The ID numbers of the last ``chunks`` chunks, the ones that may not be
    committed yet (being built or in a writer's open transaction). Older chunks
    are committed: :meth:`Generator.known_hashes` finds their people in the
    database. Keeping every number of the run instead grew the process by
    ~100 bytes per volunteer (100 MB at 1M volunteers)."""

    def __init__(self, chunks: int):
        self.sets: collections.deque[set[str]] = collections.deque([set()], maxlen=chunks)

    def next_chunk(self) -> None:
        self.sets.append(set())

    def add(self, id_number: str) -> None:
        self.sets[-1].add(id_number)

    def __contains__(self, id_number: str) -> bool:
        return any(id_number in s for s in self.sets)


def peak_rss_kb() -> int:
    """The process's peak resident set size so far, in kB (Linux reports kB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class ChunkWriter:
    """COPYs chunks in background threads, each on its own connection, one chunk
    per transaction, while the caller builds the next ones."""

    def __init__(self, params: dict, connections: int = 2):
        import psycopg2

        self.connections: queue.SimpleQueue = queue.SimpleQueue()
        self.all = [psycopg2.connect(**params) for _ in range(connections)]
        for conn in self.all:
            self.connections.put(conn)
        self.pool = ThreadPoolExecutor(max_workers=connections, thread_name_prefix="copy")
        self.in_flight: collections.deque[Future] = collections.deque()
        self.size = connections
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def submit(self, batch: dict) -> list[dict]:
        """Queue a chunk; return the results of chunks that had to finish first."""
        finished = []
        while len(self.in_flight) >= self.size:
            finished.append(self.in_flight.popleft().result())
        self.in_flight.append(self.pool.submit(self._write, batch))
        return finished

    def drain(self) -> list[dict]:
        finished = []
        while self.in_flight:
            finished.append(self.in_flight.popleft().result())
        return finished

    def _write(self, batch: dict) -> dict:
        conn = self.connections.get()
        try:
            counts = []
            with conn.cursor() as cursor:
                for rows in batch["tables"]:
                    started = time.perf_counter()
                    counts.append(rows.copy(cursor))
                    self.seconds[rows.table.name.split(".")[-1].strip('"')] += (
                        time.perf_counter() - started
                    )
            started = time.perf_counter()
            conn.commit()
            self.seconds["commit"] += time.perf_counter() - started
        except BaseException:
            conn.rollback()
            raise
        finally:
            self.connections.put(conn)
        return {"counts": counts, "states": batch["states"], "counted": batch["counted"]}

    def close(self) -> None:
        for future in self.in_flight:
            future.cancel()
        self.pool.shutdown(wait=True)
        for conn in self.all:
            conn.close()


def generate(region: Region, plan: Plan, progress: Progress | None = None) -> Summary:
    """Generate ``plan``'s data into ``region``; see the module docstring."""
    problems = plan.problems()
    if problems:
        raise ValueError("; ".join(problems))
    return Generator(region, plan, progress).run()
