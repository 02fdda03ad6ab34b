"""Administrative division codes (行政区划代码, GB/T 2260).

A code has six digits: two for the province, two for the prefecture, two for
the county. A province-level region's code ends in ``0000``; a city's ends in
``00`` and shares its province's first two digits.
"""

from __future__ import annotations

import re

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
    pass


def check_division_code(code: str, level: str, parent_code: str | None = None) -> None:
    """Raise :class:`DivisionCodeError` unless ``code`` is a valid code for ``level``.

    ``level`` is ``province`` or ``city``; a city's ``parent_code``, when given,
    must be its province's code.
    """
    if not isinstance(code, str) or not _CODE.match(code):
        raise DivisionCodeError("must be six digits (GB/T 2260), e.g. 500000")
    if code[:2] not in PROVINCE_PREFIXES:
        raise DivisionCodeError(f"{code[:2]} is not a province prefix in GB/T 2260")
    if level == "province":
        if code[2:] != "0000":
            raise DivisionCodeError("a province-level code ends in 0000")
        if parent_code:
            raise DivisionCodeError("a province-level region has no parent region")
    elif level == "city":
        if code[2:4] == "00" or code[4:] != "00":
            raise DivisionCodeError("a city code has a non-zero prefecture part and ends in 00")
        if parent_code and parent_code != code[:2] + "0000":
            raise DivisionCodeError(
                f"a city {code} lies in province {code[:2]}0000, not under {parent_code}"
            )
    else:
        raise DivisionCodeError(f"unknown level {level!r}")
