"""Working days (工作日) for the publicity period (公示期) of a service record.

001 §4(4)3: a recording body publicises a record before it enters the volunteer's
record; "公示时间不得少于3个工作日，公示期满无异议的，记入志愿服务记录". How many
working days is a region's policy (``RegionPolicy.publicity_working_days``).

Which days are working days
---------------------------
1. A day in the region's own ``extra_holidays`` is a day off and a day in its
   ``extra_workdays`` is a working day (``RegionPolicy.extra_holidays`` /
   ``extra_workdays``). The region's lists win over the official calendar, for
   every year: a region may give a local day off (e.g. a minority-nationality
   festival in 云南) or correct the library before a new release reaches us, and
   the person who typed the list meant it. A day listed in both is an error.
2. Otherwise, for the years the ``chinesecalendar`` package knows (2004 up to
   the year of its last release), its official calendar: weekends, statutory
   holidays and 调休 (weekend days made working days in exchange).
3. Otherwise (a year the package does not know yet, or before 2004): Monday to
   Friday. An unknown year never raises (docs/rules.md, publicity); a region that wants
   next year's holidays honoured before the library ships them lists them.
   ``manage.py check --database default`` and ``up`` warn (``central.W001``) two
   months ahead, and ``/readyz`` fails once a publicity period reaches such a
   year, for each region that counts working days without its own list for it
   (``central/readiness.py``).

Dates, not datetimes: pass the calendar day in the region's own time zone
(Asia/Shanghai). A ``datetime`` is refused, because an aware UTC timestamp's
``.date()`` is the wrong day for eight hours of every Chinese day.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import chinese_calendar

__all__ = ["add_working_days", "is_working_day", "record_counts_on", "year_known", "years_listed"]

_ONE_DAY = datetime.timedelta(days=1)


def year_known(year: int) -> bool:
    """Whether the installed ``chinesecalendar`` has the official calendar of ``year``."""
    try:
        chinese_calendar.is_workday(datetime.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def years_listed(
    extra_holidays: Iterable[datetime.date], extra_workdays: Iterable[datetime.date]
) -> frozenset[int]:
    """The years a region's own lists cover: listing any day of a year (its 元旦 at
    least) is taken as the region having published that year's days off."""
    return frozenset(day.year for day in (*extra_holidays, *extra_workdays))


def _check_day(day: object, name: str) -> datetime.date:
    if isinstance(day, datetime.datetime) or not isinstance(day, datetime.date):
        raise TypeError(f"{name} must be a datetime.date (the day in the region's time zone)")
    return day


def _region_lists(
    extra_holidays: Iterable[datetime.date], extra_workdays: Iterable[datetime.date]
) -> tuple[frozenset[datetime.date], frozenset[datetime.date]]:
    holidays = frozenset(extra_holidays)
    workdays = frozenset(extra_workdays)
    both = holidays & workdays
    if both:
        listed = ", ".join(sorted(d.isoformat() for d in both))
        raise ValueError(f"listed both as a region holiday and a region working day: {listed}")
    return holidays, workdays


def _is_working_day(
    day: datetime.date, holidays: frozenset[datetime.date], workdays: frozenset[datetime.date]
) -> bool:
    if day in holidays:
        return False
    if day in workdays:
        return True
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # a year the package has no data for
        return day.weekday() < 5


def is_working_day(
    day: datetime.date,
    *,
    extra_holidays: Iterable[datetime.date] = (),
    extra_workdays: Iterable[datetime.date] = (),
) -> bool:
    """Whether ``day`` is a working day (see the module docstring for the rules)."""
    _check_day(day, "day")
    holidays, workdays = _region_lists(extra_holidays, extra_workdays)
    return _is_working_day(day, holidays, workdays)


def add_working_days(
    start: datetime.date,
    n: int,
    *,
    extra_holidays: Iterable[datetime.date] = (),
    extra_workdays: Iterable[datetime.date] = (),
) -> datetime.date:
    """The last day of a publicity period of ``n`` working days put up on ``start``.

    ``start`` is the day the record is put up for publicity (normally the day it
    is recorded). That day is not counted, whatever time it was: the period runs
    from the next day (as periods counted in days do under 民法典 Art.201, "开始
    的当日不计入，自下一日开始计算"). The result is the ``n``-th working day after
    ``start``, i.e. the last day of the period (公示期满之日); the record counts
    (记入志愿服务记录, 001 §4(4)3) from the day after it, if no objection was
    raised — see :func:`record_counts_on`.

    Exactly: the days in ``(start, result]`` include exactly ``n`` working days,
    and for ``n > 0`` the result is itself a working day. ``n = 0`` returns
    ``start`` (no publicity). ``start`` need not be a working day: a record put
    up on a Saturday has the same period as one put up on the Friday before.

    Raises ``ValueError`` for a negative ``n`` (or a day in both region lists)
    and ``TypeError`` for a non-integer ``n`` or a ``datetime``.
    """
    _check_day(start, "start")
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("n must be an int (a number of working days)")
    if n < 0:
        raise ValueError("n must be zero or more working days")
    holidays, workdays = _region_lists(extra_holidays, extra_workdays)
    day = start
    remaining = n
    while remaining:
        day += _ONE_DAY
        if _is_working_day(day, holidays, workdays):
            remaining -= 1
    return day


def record_counts_on(
    recorded_on: datetime.date,
    publicity_working_days: int,
    *,
    extra_holidays: Iterable[datetime.date] = (),
    extra_workdays: Iterable[datetime.date] = (),
) -> datetime.date:
    """The first day a record put up for publicity on ``recorded_on`` counts, barring objection.

    With no publicity (0 working days) the record counts on the day it is
    recorded; otherwise on the day after the period ends (:func:`add_working_days`).
    """
    end = add_working_days(
        recorded_on,
        publicity_working_days,
        extra_holidays=extra_holidays,
        extra_workdays=extra_workdays,
    )
    return recorded_on if publicity_working_days == 0 else end + _ONE_DAY
