"""Administrative division codes (行政区划代码, GB/T 2260).

A code has six digits: two for the province, two for the prefecture, two for
the county. A province-level region's code ends in ``0000``; a city's ends in
``00`` and shares its province's first two digits.
"""

from __future__ import annotations

import functools
import re

from django.db.models import Q
from django.utils.translation import gettext as _

# First two digits of every province-level division in GB/T 2260.
PROVINCE_PREFIXES = {
    "11": "北京市",
    "12": "天津市",
    "13": "河北省",
    "14": "山西省",
    "15": "内蒙古自治区",
    "21": "辽宁省",
    "22": "吉林省",
    "23": "黑龙江省",
    "31": "上海市",
    "32": "江苏省",
    "33": "浙江省",
    "34": "安徽省",
    "35": "福建省",
    "36": "江西省",
    "37": "山东省",
    "41": "河南省",
    "42": "湖北省",
    "43": "湖南省",
    "44": "广东省",
    "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市",
    "51": "四川省",
    "52": "贵州省",
    "53": "云南省",
    "54": "西藏自治区",
    "61": "陕西省",
    "62": "甘肃省",
    "63": "青海省",
    "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省",
    "81": "香港特别行政区",
    "82": "澳门特别行政区",
}

_CODE = re.compile(r"^\d{6}$")


class DivisionCodeError(ValueError):
    """A refused division code; ``field`` is ``"parentCode"`` when the code is fine
    but its parent is not (the message is translated, so callers look here)."""

    def __init__(self, message: str, field: str = "code"):
        super().__init__(message)
        self.field = field


def check_division_code(code: str, level: str, parent_code: str | None = None) -> None:
    """Raise :class:`DivisionCodeError` unless ``code`` is a valid code for ``level``.

    ``level`` is ``province``, ``city`` or ``county``; a city's ``parent_code``,
    when given, must be its province's code; a county's its city's or its
    province's (a county of a 直辖市 such as 500101 has no city above it).
    """
    if not isinstance(code, str) or not _CODE.match(code):
        raise DivisionCodeError(_("must be six digits (GB/T 2260), e.g. 500000"))
    if code[:2] not in PROVINCE_PREFIXES:
        raise DivisionCodeError(
            _("%(code)s is not a province prefix in GB/T 2260") % {"code": code[:2]}
        )
    if level == "province":
        if code[2:] != "0000":
            raise DivisionCodeError(_("a province-level code ends in 0000"))
        if parent_code:
            raise DivisionCodeError(_("a province-level region has no parent region"))
    elif level == "city":
        if code[2:4] == "00" or code[4:] != "00":
            raise DivisionCodeError(_("a city code has a non-zero prefecture part and ends in 00"))
        if parent_code and parent_code != code[:2] + "0000":
            raise DivisionCodeError(
                _("a city %(code)s lies in province %(code2)s0000, not under %(parent_code)s")
                % {"code": code, "code2": code[:2], "parent_code": parent_code},
                field="parentCode",
            )
    elif level == "county":
        if division_level(code) != "county":
            raise DivisionCodeError(_("a county code has a non-zero last part, e.g. 530102"))
        if parent_code and parent_code not in (code[:4] + "00", code[:2] + "0000"):
            raise DivisionCodeError(
                _(
                    "a county %(code)s lies in city %(city)s or province %(province)s, "
                    "not under %(parent_code)s"
                )
                % {
                    "code": code,
                    "city": code[:4] + "00",
                    "province": code[:2] + "0000",
                    "parent_code": parent_code,
                },
                field="parentCode",
            )
    else:
        raise DivisionCodeError(_("unknown level %(level)r") % {"level": level})
    if division_name(code) is None:  # issue 10 finding 12: 538300 under 云南 was accepted
        raise DivisionCodeError(
            _("%(code)s is not a current division code in GB/T 2260") % {"code": code}
        )


# --- The GB/T 2260 table ------------------------------------------------------
#
# python-stdnum ships the whole table with each name's years of validity
# (``stdnum/cn/loc.dat``, from the Ministry of Civil Affairs' lists). A code is
# *current* when one of its names has no end year; only current codes may be
# given to a region, an authority, a group, a project or a volunteer (issue 10
# finding 12: a made-up 538300 under 云南 used to be accepted).

_NAME = re.compile(r"^(?:\[(\d{4})?-(\d{4})?\])?(.+)$")


def _current_name(entry: str) -> str | None:
    """The name in force of a loc.dat entry such as ``[1997-1997]万县区,[1998-]万州区``."""
    for part in reversed(entry.split(",")):
        match = _NAME.match(part.strip())
        if match and match.group(2) is None:
            return match.group(3)
    return None


@functools.cache
def _table() -> dict[str, str]:
    """Every current GB/T 2260 code → its name."""
    from stdnum import numdb

    table: dict[str, str] = {}
    for _length, low, high, props, children in numdb.get("cn/loc").prefixes:
        if low != high or low not in PROVINCE_PREFIXES:
            continue
        table[low + "0000"] = props.get("province", PROVINCE_PREFIXES[low])
        for _child_length, child_low, child_high, child_props, _rest in children:
            name = _current_name(child_props.get("county", ""))
            # 市辖区 ("the city's districts") is a container, never a place of its own.
            if child_low == child_high and name and name != "市辖区":
                table[low + child_low] = name
    return table


def division_name(code: str) -> str | None:
    """The current name of a GB/T 2260 code, or None when it is not a current code."""
    return _table().get(code) if isinstance(code, str) else None


def divisions_within(area: str) -> dict[str, str]:
    """Every current division inside ``area`` (the area included), code → name."""
    prefix = area_prefix(area)
    return {code: name for code, name in _table().items() if code.startswith(prefix)}


def division_level(code: str) -> str:
    """``province`` (xx0000), ``city`` (xxyy00) or ``county`` (xxyyzz)."""
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def area_prefix(code: str) -> str:
    """The code prefix every division inside ``code``'s area starts with: a province
    covers its cities and counties, a city its counties, a county itself."""
    level = division_level(code)
    return code[:2] if level == "province" else code[:4] if level == "city" else code


def within(code: str, area: str) -> bool:
    """True if division ``code`` lies in ``area`` (its own area included)."""
    return bool(code) and bool(area) and code.startswith(area_prefix(area))


def check_division_in_region(code: str, region_code: str) -> str:
    """``code`` if it is a current GB/T 2260 code inside the region, else
    :class:`DivisionCodeError` with a message for the person who typed it."""
    code = (code or "").strip()
    if not _CODE.match(code):
        raise DivisionCodeError(_("six digits (GB/T 2260), e.g. 500103"))
    if division_name(code) is None:
        raise DivisionCodeError(
            _("%(code)s is not a current division code (GB/T 2260)") % {"code": code}
        )
    if not within(code, region_code):
        raise DivisionCodeError(
            _("%(code)s lies outside this region (%(region_code)s)")
            % {"code": code, "region_code": region_code}
        )
    return code


def prefixes_q(field: str, prefixes) -> Q:
    """Rows whose division ``field`` lies in one of the areas given by their
    ``area_prefix``es (no prefix: no row)."""
    condition = Q(pk__in=[])
    for prefix in prefixes:
        condition |= Q(**{f"{field}__startswith": prefix})
    return condition
