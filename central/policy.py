"""Region policy (地区政策): every rule that differs between the regional notices.

A rule that differs between regions is a field here, never an ``if region``
branch in code (docs/rules.md). The policy is stored as JSON on the region
(``Region.policy``), always written through :func:`validate_policy`, so what is
in the database has passed the same checks as what an admin typed.

Field names are snake_case in Python and in storage, camelCase in GraphQL and
in the JSON an admin sends (both spellings are accepted on input).
"""

from __future__ import annotations

import datetime
import enum
import itertools
from typing import Any

from django.utils.translation import gettext as _
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import GenerateJsonSchema

from central.messages import pydantic_message


class _PolicyEnum(enum.StrEnum):
    """A choice in the policy. Stored by its value (``city``); the API shows its
    name (``CITY``), and the CLI, the admin and ``updateRegionPolicy`` accept
    either spelling, in any case, so what the API showed can be sent back."""

    @classmethod
    def _missing_(cls, value: object) -> _PolicyEnum | None:
        if isinstance(value, str):
            wanted = value.strip().lower()
            for member in cls:
                if member.value == wanted:
                    return member
        return None


class Granter(_PolicyEnum):
    """Who grants a star level (星级认定)."""

    GROUP = "group"  # the volunteer's group (000 Art.19, 003 Art.26)
    COUNTY = "county"  # 县（区）志愿者管理部门 (001 §6)
    CITY = "city"  # 设区市志愿者管理部门 (001 §6)
    PROVINCE = "province"  # 省志愿者管理部门 (001 §6)


class RecordConfirmation(_PolicyEnum):
    """Who must confirm a record before it counts (001 §4(4)3)."""

    NONE = "none"
    COUNTY_CIVIL_AFFAIRS = "county_civil_affairs"  # 县级以上民政部门确认无误


class ObjectionRaisers(_PolicyEnum):
    """Who may object to a record in publicity (公示, 接受社会监督: 001 §4(4)3)."""

    ANY_ACCOUNT = "any_account"  # anyone logged in to the region
    GROUP_MEMBERS = "group_members"  # the recording group's members and staff, the authority


class HubLevel(_PolicyEnum):
    """Levels of hub groups (枢纽型团体), 002 §3(1)1."""

    CITY = "city"
    DISTRICT = "district"
    TOWN = "town"
    COMMUNITY = "community"


class Power(_PolicyEnum):
    """The five powers of the permission-group table (002 annex)."""

    MANAGE_OWN_VOLUNTEERS = "manage_own_volunteers"  # 本团体内志愿者管理
    PUBLISH_WITHOUT_REVIEW = "publish_without_review"  # 发布项目无须审核
    ALLOW_SUBGROUP_REGISTRATION = "allow_subgroup_registration"  # 允许下级团体注册
    FAST_REVIEW_SUBGROUPS = "fast_review_subgroups"  # 对下级团体快审
    MANAGE_REGION_VOLUNTEERS = "manage_region_volunteers"  # 区域内志愿者管理


_P = Power
# 全国志愿服务信息系统权限设置表 (002 annex), row by row, exactly as printed.
ANNEX_PERMISSION_TABLE: dict[str, list[Power]] = {
    "待审团体组": [],
    "基本团体组": [_P.MANAGE_OWN_VOLUNTEERS],
    "初级团体组（项目）": [_P.MANAGE_OWN_VOLUNTEERS, _P.PUBLISH_WITHOUT_REVIEW],
    "初级团体组（团体）": [_P.MANAGE_OWN_VOLUNTEERS, _P.ALLOW_SUBGROUP_REGISTRATION],
    "初级团体组（快审）": [
        _P.MANAGE_OWN_VOLUNTEERS,
        _P.ALLOW_SUBGROUP_REGISTRATION,
        _P.FAST_REVIEW_SUBGROUPS,
    ],
    "中级团体组": [
        _P.MANAGE_OWN_VOLUNTEERS,
        _P.PUBLISH_WITHOUT_REVIEW,
        _P.ALLOW_SUBGROUP_REGISTRATION,
    ],
    "中级团体组（快审）": [
        _P.MANAGE_OWN_VOLUNTEERS,
        _P.PUBLISH_WITHOUT_REVIEW,
        _P.ALLOW_SUBGROUP_REGISTRATION,
        _P.FAST_REVIEW_SUBGROUPS,
    ],
    "高级团体组": [
        _P.MANAGE_OWN_VOLUNTEERS,
        _P.PUBLISH_WITHOUT_REVIEW,
        _P.ALLOW_SUBGROUP_REGISTRATION,
        _P.MANAGE_REGION_VOLUNTEERS,
    ],
    "高级团体组（快审）": list(_P),
}


class _PolicyPart(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_enum_values=False,
    )


class PermissionGroupRule(_PolicyPart):
    """One row of the permission-group table: a named group and its powers."""

    name: str = Field(min_length=1, max_length=40)
    powers: list[Power]

    @field_validator("powers")
    @classmethod
    def _no_repeats(cls, powers: list[Power]) -> list[Power]:
        if len(set(powers)) != len(powers):
            raise ValueError(_("a power is listed twice"))
        return powers


class HubNamePattern(_PolicyPart):
    """Naming rule for hub groups of one level (002 §3(1)1): the name must end with a suffix."""

    level: HubLevel
    suffixes: list[str] = Field(min_length=1)


class HubPermissionGroup(_PolicyPart):
    """The permission group a hub of one level gets when approved (002 §3(4))."""

    level: HubLevel
    permission_group: str


class GroupNaming(_PolicyPart):
    """Group naming rules (团体名称规范), 002 §3(1) and 004."""

    hub_name_patterns: list[HubNamePattern] = Field(
        default_factory=list,
        description="How hub groups of each level must be named: the name ends with one "
        "of the suffixes (002 §3(1)1).",
    )
    non_hub_suffix: str | None = Field(
        default=None,
        description="A group that is not a hub has a name ending with this "
        "(单位名称+志愿服务队, 002 §3(1)2, 004); empty = no rule.",
    )

    @field_validator("hub_name_patterns")
    @classmethod
    def _one_per_level(cls, patterns: list[HubNamePattern]) -> list[HubNamePattern]:
        levels = [p.level for p in patterns]
        if len(set(levels)) != len(levels):
            raise ValueError(_("each hub level may have one naming rule"))
        return patterns


class RegistrationTargets(_PolicyPart):
    """Registration targets (注册目标), 004 §4.2: shares of population and of unit staff."""

    population_share: float = Field(gt=0, le=1, description="Share of the population.")
    staff_share_national_unit: float = Field(
        gt=0, le=1, description="Share of the staff of national civilised units (全国文明单位)."
    )
    staff_share_provincial_unit: float = Field(
        gt=0, le=1, description="Share of the staff of provincial civilised units (省级文明单位)."
    )
    staff_share_municipal_unit: float = Field(
        gt=0, le=1, description="Share of the staff of municipal civilised units (市级文明单位)."
    )
    staff_share_other_unit: float = Field(
        gt=0, le=1, description="Share of the staff of other units (其他单位)."
    )


DEFAULT_STAR_THRESHOLDS = [100, 300, 600, 1000, 1500]  # 000 Art.19, 001 §6, 003 Art.26


class RegionPolicy(_PolicyPart):
    """The typed policy of one region. Defaults are the national baseline."""

    # Each description is the setting's help in the admin's policy editor and in the
    # API's schema (central/policy_form.py, schema/policy_types.py).
    publicity_working_days: int = Field(
        default=0,
        ge=0,
        le=30,
        description="Working days a record stays in publicity (公示) before it counts; "
        "0 = none (001 §4(4)3).",
    )
    objection_raisers: ObjectionRaisers = Field(
        default=ObjectionRaisers.ANY_ACCOUNT,
        description="Who may object to a record during publicity.",
    )
    record_confirmation: RecordConfirmation = Field(
        default=RecordConfirmation.NONE,
        description="Who confirms a record before it counts (001 §4(4)3).",
    )
    recorders_need_certificate: bool = Field(
        default=False, description="Recorders must hold a certificate (记录员持证上岗, 001 §4(4)3)."
    )
    star_thresholds: list[int] = Field(
        default_factory=lambda: list(DEFAULT_STAR_THRESHOLDS),
        description="Hours for 1★ to 5★, increasing (000 Art.19, 001 §6, 003 Art.26).",
    )
    star_granters: list[Granter] = Field(
        default_factory=lambda: [Granter.GROUP] * 5,
        description="Who grants each star level, 1★ to 5★ (001 §6).",
    )
    guardian_consent_below_age: int | None = Field(
        default=None,
        ge=1,
        le=25,
        description="Below this age a volunteer needs a guardian's consent; empty = no such "
        "rule (003 Art.7).",
    )
    group_naming: GroupNaming = Field(
        default_factory=GroupNaming,
        description="How groups must be named (002 §3(1), 004).",
    )
    hub_levels: list[HubLevel] = Field(
        default_factory=lambda: list(HubLevel),
        description="Levels of hub groups in use, from the top down (002 §3(1)1).",
    )
    permission_groups: list[PermissionGroupRule] = Field(
        default_factory=lambda: [
            PermissionGroupRule(name=name, powers=powers)
            for name, powers in ANNEX_PERMISSION_TABLE.items()
        ],
        description="The permission-group table and each group's powers (002 annex).",
    )
    # 002 §3(4): a group awaiting review sits in 待审团体组; once approved, a
    # non-hub group starts in 基本团体组, a legal person in 中级团体组, and hubs
    # by level: district 高级（快审）, town 中级（快审）, community 初级（快审）.
    # The city hub (set by the authority) gets the top group.
    pending_permission_group: str = Field(
        default="待审团体组",
        description="The permission group of a group awaiting review (002 §3(4)).",
    )
    default_permission_group_non_hub: str = Field(
        default="基本团体组",
        description="The permission group of an approved group that is not a hub (002 §3(4)).",
    )
    default_permission_group_legal_person: str = Field(
        default="中级团体组",
        description="The permission group of an approved group that is a legal person (002 §3(4)).",
    )
    hub_permission_groups: list[HubPermissionGroup] = Field(
        default_factory=lambda: [
            HubPermissionGroup(level=HubLevel.CITY, permission_group="高级团体组（快审）"),
            HubPermissionGroup(level=HubLevel.DISTRICT, permission_group="高级团体组（快审）"),
            HubPermissionGroup(level=HubLevel.TOWN, permission_group="中级团体组（快审）"),
            HubPermissionGroup(level=HubLevel.COMMUNITY, permission_group="初级团体组（快审）"),
        ],
        description="The permission group an approved hub gets, by level (002 §3(4)).",
    )
    time_bank_enabled: bool = Field(
        default=False,
        description="Hours may be saved in a time bank (时长储蓄, 000 Art.20, 001 §6).",
    )
    time_bank_family_members: bool = Field(
        default=False,
        description="A group may also spend a volunteer's saved hours on a service to a "
        "member of their family (家庭成员); off = only on the volunteer (001 §6: "
        "在自己积累的志愿服务时数内得到他人的无偿服务).",
    )
    registration_targets: RegistrationTargets | None = Field(
        default=None,
        description="Registration targets as shares of population and of unit staff "
        "(004 §4.2); empty = none.",
    )
    correction_deadline_days: int = Field(
        default=15,
        ge=1,
        le=90,
        description="Days a group has to answer a volunteer's correction request (记录更正).",
    )
    # The region's own calendar, used for years the official calendar library
    # does not know yet: extra days off and extra working days (调休).
    extra_holidays: list[datetime.date] = Field(
        default_factory=list,
        description="The region's own days off (YYYY-MM-DD), for years the official calendar "
        "does not know yet.",
    )
    extra_workdays: list[datetime.date] = Field(
        default_factory=list,
        description="The region's own working days (调休, YYYY-MM-DD), for years the official "
        "calendar does not know yet.",
    )
    # Not a rule of any notice: a setting central admins keep with the rest of the
    # region's policy (CORS, central/cors.py).
    allowed_origins: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Web origins (https://vol.example.cn) whose front-ends may call this "
        "region's API from a browser.",
    )
    # So the region's public endpoint runs nothing else (manage.py documents register).
    trusted_documents_only: bool = Field(
        default=False,
        description="The API runs only the operations the region's front-end registered.",
    )

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        from central.cors import normalize_origin

        normalized = [normalize_origin(origin) for origin in origins]
        if len(set(normalized)) != len(normalized):
            raise ValueError(_("an origin is listed twice"))
        return normalized

    @field_validator("star_thresholds")
    @classmethod
    def _five_increasing(cls, thresholds: list[int]) -> list[int]:
        if len(thresholds) != 5:
            raise ValueError(_("give exactly five thresholds, for 1★ to 5★"))
        if any(t <= 0 for t in thresholds):
            raise ValueError(_("thresholds must be positive hours"))
        if any(b <= a for a, b in itertools.pairwise(thresholds)):
            raise ValueError(_("thresholds must increase from 1★ to 5★"))
        return thresholds

    @field_validator("star_granters")
    @classmethod
    def _five_granters(cls, granters: list[Granter]) -> list[Granter]:
        if len(granters) != 5:
            raise ValueError(_("give exactly five granters, for 1★ to 5★"))
        return granters

    @field_validator("hub_levels")
    @classmethod
    def _levels_in_order(cls, levels: list[HubLevel]) -> list[HubLevel]:
        order = list(HubLevel)
        if len(set(levels)) != len(levels):
            raise ValueError(_("a hub level is listed twice"))
        if [order.index(level) for level in levels] != sorted(order.index(lv) for lv in levels):
            raise ValueError(_("hub levels must run from the top (city) down"))
        return levels

    @model_validator(mode="after")
    def _calendar_lists_disjoint(self) -> RegionPolicy:
        both = sorted(set(self.extra_holidays) & set(self.extra_workdays))
        if both:
            raise ValueError(
                "extraWorkdays: "
                + _("%(dates)s is also a holiday")
                % {"dates": ", ".join(d.isoformat() for d in both)}
            )
        return self

    @model_validator(mode="after")
    def _permission_defaults_exist(self) -> RegionPolicy:
        names = [rule.name for rule in self.permission_groups]
        if len(set(names)) != len(names):
            raise ValueError("permissionGroups: " + _("a group name is listed twice"))
        for field in (
            "pending_permission_group",
            "default_permission_group_non_hub",
            "default_permission_group_legal_person",
        ):
            if getattr(self, field) not in names:
                raise ValueError(
                    f"{to_camel(field)}: "
                    + _("%(name)r is not in the table") % {"name": getattr(self, field)}
                )
        for rule in self.hub_permission_groups:
            if rule.permission_group not in names:
                raise ValueError(
                    "hubPermissionGroups: "
                    + _("%(name)r is not in the table") % {"name": rule.permission_group}
                )
        return self

    def hub_permission_group(self, level: HubLevel | str) -> str:
        for rule in self.hub_permission_groups:
            if rule.level == HubLevel(level):
                return rule.permission_group
        return self.default_permission_group_non_hub

    def powers_of(self, permission_group: str) -> frozenset[Power]:
        for rule in self.permission_groups:
            if rule.name == permission_group:
                return frozenset(rule.powers)
        raise KeyError(permission_group)

    def as_json(self) -> dict[str, Any]:
        """The storage form (snake_case, plain JSON types)."""
        return self.model_dump(mode="json")

    def as_api_json(self) -> dict[str, Any]:
        """The policy as the API shows it: camelCase keys, choices by name
        (``CITY``), dates as ISO text; what the CLI prints and the admin's form
        starts from, and what all three accept back."""
        return _api_json(self.model_dump(mode="python", by_alias=True))


def _api_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _api_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_api_json(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


class _ApiNames(GenerateJsonSchema):
    """Choices listed by the names the API uses (``CITY``), not the stored values."""

    def enum_schema(self, schema):
        generated = super().enum_schema(schema)
        generated["enum"] = [member.name for member in schema["members"]]
        return generated


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of a whole policy in the API's spelling (camelCase keys,
    choices by name); the admin's policy editor is generated from it."""
    return RegionPolicy.model_json_schema(by_alias=True, schema_generator=_ApiNames)


class PolicyError(ValueError):
    """A policy failed validation; ``problems`` maps each camelCase field path to its message."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {msg}" for field, msg in problems.items()))


def _problems(error: ValidationError) -> dict[str, str]:
    problems: dict[str, str] = {}
    for item in error.errors():
        path = ".".join(to_camel(p) if isinstance(p, str) else str(p) for p in item["loc"])
        message = pydantic_message(item)
        if not path and ": " in message:  # model-level checks name their own field
            path, message = message.split(": ", 1)
        problems[path or "policy"] = message
    return problems


def validate_policy(data: dict[str, Any] | RegionPolicy) -> RegionPolicy:
    """Validate a whole policy; raise :class:`PolicyError` naming each bad field."""
    if isinstance(data, RegionPolicy):
        return data
    if not isinstance(data, dict):
        raise PolicyError({"policy": _("must be a JSON object")})
    try:
        return RegionPolicy.model_validate(data)
    except ValidationError as error:
        raise PolicyError(_problems(error)) from None


def merge_policy(current: RegionPolicy, changes: dict[str, Any]) -> RegionPolicy:
    """Apply top-level ``changes`` (camelCase or snake_case keys) to ``current``."""
    if not isinstance(changes, dict):
        raise PolicyError({"policy": _("must be a JSON object")})
    merged = current.model_dump(mode="json", by_alias=True)
    snake_to_camel = {name: to_camel(name) for name in RegionPolicy.model_fields}
    for key, value in changes.items():
        merged[snake_to_camel.get(key, key)] = value
    return validate_policy(merged)


def _chongqing() -> RegionPolicy:
    # 002 §3(1): hub group names by level, and "单位名称+志愿服务队" for non-hub groups.
    return RegionPolicy(
        group_naming=GroupNaming(
            hub_name_patterns=[
                HubNamePattern(level=HubLevel.CITY, suffixes=["志愿服务联合会"]),
                HubNamePattern(level=HubLevel.DISTRICT, suffixes=["志愿者协会", "志愿服务联合会"]),
                HubNamePattern(level=HubLevel.TOWN, suffixes=["志愿服务总队"]),
                HubNamePattern(level=HubLevel.COMMUNITY, suffixes=["志愿服务大队"]),
            ],
            non_hub_suffix="志愿服务队",
        ),
        time_bank_enabled=True,  # 000 Art.20
    )


def _yunnan() -> RegionPolicy:
    # 001 §4(4)3: ≥3 working days of publicity, confirmation by civil affairs,
    # certified recorders; 001 §6: stars granted by county, city and province.
    return RegionPolicy(
        publicity_working_days=3,
        record_confirmation=RecordConfirmation.COUNTY_CIVIL_AFFAIRS,
        recorders_need_certificate=True,
        star_granters=[
            Granter.COUNTY,
            Granter.COUNTY,
            Granter.CITY,
            Granter.CITY,
            Granter.PROVINCE,
        ],
        time_bank_enabled=True,
    )


def _fuxin() -> RegionPolicy:
    # 003 Art.7: 年满十八周岁；未满十八周岁者，须经其法定监护人同意.
    return RegionPolicy(guardian_consent_below_age=18)


def _suizhou() -> RegionPolicy:
    # 004 §4.2 registration targets; non-hub names "单位名称+志愿服务队".
    return RegionPolicy(
        group_naming=GroupNaming(non_hub_suffix="志愿服务队"),
        registration_targets=RegistrationTargets(
            population_share=0.13,
            staff_share_national_unit=0.95,
            staff_share_provincial_unit=0.90,
            staff_share_municipal_unit=0.85,
            staff_share_other_unit=0.80,
        ),
    )


PRESETS = {
    "default": RegionPolicy,
    "chongqing": _chongqing,
    "yunnan": _yunnan,
    "fuxin": _fuxin,
    "suizhou": _suizhou,
}


def preset(name: str) -> RegionPolicy:
    """A named preset policy; raise :class:`PolicyError` for an unknown name."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise PolicyError(
            {
                "preset": _("unknown preset %(name)r; choose one of %(choices)s")
                % {"name": name, "choices": ", ".join(PRESETS)}
            }
        ) from None
