"""The columns of each kind of import (批量导入): Chinese headers first, with the
API's field name accepted as an English alias.

A column's ``field`` is the input field the one-at-a-time API and its service
use (``registerVolunteer``'s ``idNumber``, ``recordHours``' ``startTime`` …), so a
problem a service reports on a field is reported on that column.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.utils.translation import gettext_lazy


class ImportKind(enum.Enum):
    VOLUNTEERS = "volunteers"  # 志愿者: registerVolunteer
    MEMBERS = "members"  # 团体成员: addMember (an invitation)
    RECORDS = "records"  # 服务记录: recordHours


@dataclass(frozen=True)
class Column:
    header: str  # the template's Chinese header (中文表头)
    field: str  # the API's field name, also accepted as the header (English alias)
    required: bool
    note: object  # what to write there (lazy translation)


VOLUNTEER_COLUMNS = (
    Column("姓名", "name", True, gettext_lazy("1 to 64 characters")),
    Column("性别", "gender", True, gettext_lazy("男 or 女 (male or female)")),
    Column(
        "出生日期",
        "birthDate",
        False,
        gettext_lazy("YYYY-MM-DD; may be left empty for a resident ID number, which states it"),
    ),
    Column(
        "证件类型",
        "idType",
        False,
        gettext_lazy(
            "居民身份证 (default), 护照, 港澳居民来往内地通行证, 台湾居民来往大陆通行证 "
            "or 外国人永久居留身份证"
        ),
    ),
    Column("证件号码", "idNumber", True, gettext_lazy("keep the cell as text, all 18 characters")),
    Column("手机号码", "phone", True, gettext_lazy("a mainland mobile number of 11 digits")),
    Column(
        "所在县（区）",
        "divisionCode",
        False,
        gettext_lazy("GB/T 2260 code where the volunteer lives; default: the group's (or yours)"),
    ),
    Column("服务区域", "serviceArea", False, gettext_lazy("free text")),
    Column("服务意愿", "serviceIntentions", False, gettext_lazy("several, separated by 、 or ;")),
    Column("技能特长", "skills", False, gettext_lazy("several, separated by 、 or ;")),
    Column("监护人", "guardianName", False, gettext_lazy("for minors (003 Art.7)")),
    Column("监护人同意", "guardianConsent", False, gettext_lazy("是 or 否 (yes or no)")),
)

MEMBER_COLUMNS = (
    Column(
        "志愿者编号",
        "number",
        False,
        gettext_lazy("the volunteer number; or give the ID number and the name"),
    ),
    Column("证件号码", "idNumber", False, gettext_lazy("keep the cell as text")),
    Column("姓名", "name", False, gettext_lazy("required with an ID number; checked when given")),
)

RECORD_COLUMNS = (
    Column("志愿者编号", "number", True, gettext_lazy("the volunteer number")),
    Column("姓名", "name", False, gettext_lazy("checked against the volunteer when given")),
    Column("服务日期", "serviceDate", True, gettext_lazy("YYYY-MM-DD, within the project's dates")),
    Column("开始时间", "startTime", True, gettext_lazy("HH:MM")),
    Column("结束时间", "endTime", True, gettext_lazy("HH:MM, the same day")),
    Column(
        "服务时长",
        "hours",
        True,
        gettext_lazy("hours, e.g. 2.5; at most the time between start and end"),
    ),
    Column("服务内容", "content", True, gettext_lazy("what was done")),
    Column("服务地点", "place", False, gettext_lazy("default: the project's place")),
    Column("服务对象", "serviceTarget", False, gettext_lazy("default: the project's")),
    Column("联系人", "contact", False, gettext_lazy("default: the project's contact")),
    Column("守时", "punctuality", False, gettext_lazy("evaluation 1 to 5 (000 Art.10)")),
    Column("服务态度", "attitude", False, gettext_lazy("evaluation 1 to 5 (000 Art.10)")),
    Column("专业能力", "professionalism", False, gettext_lazy("evaluation 1 to 5 (000 Art.10)")),
)

COLUMNS = {
    ImportKind.VOLUNTEERS: VOLUNTEER_COLUMNS,
    ImportKind.MEMBERS: MEMBER_COLUMNS,
    ImportKind.RECORDS: RECORD_COLUMNS,
}

# The template's sheet title per kind.
TITLES = {
    ImportKind.VOLUNTEERS: "志愿者",
    ImportKind.MEMBERS: "团体成员",
    ImportKind.RECORDS: "服务记录",
}


def header_key(text) -> str:
    """A header as matched: without spaces, a required mark (*) or case."""
    return "".join(str(text or "").split()).rstrip("*＊").lower()


def lookup(kind: ImportKind) -> dict[str, Column]:
    """Each accepted header (Chinese, and the English alias) to its column."""
    table = {}
    for column in COLUMNS[kind]:
        table[header_key(column.header)] = column
        table[header_key(column.field)] = column
    # 所在县(区) typed with ASCII brackets is the same column.
    if kind is ImportKind.VOLUNTEERS:
        table[header_key("所在县(区)")] = COLUMNS[kind][6]
    return table
