"""Working days for the publicity period (公示, 001 §4(4)3): pure Python, no database."""

from __future__ import annotations

import datetime

import chinese_calendar
import pytest

from central.policy import RegionPolicy, preset
from tenants.records.workdays import add_working_days, is_working_day, record_counts_on

D = datetime.date


def _last_known_year() -> int:
    """The last year the installed chinesecalendar has data for, found by asking it."""
    year = 2004  # the package's first year; it has known every year since
    chinese_calendar.is_workday(D(year, 6, 1))
    while True:
        try:
            chinese_calendar.is_workday(D(year + 1, 6, 1))
        except NotImplementedError:
            return year
        year += 1


LAST = _last_known_year()
UNKNOWN = LAST + 1


def test_the_calendar_facts_these_tests_rely_on():
    # 国庆 + 中秋 2025: 10-01..10-08 off; Sunday 09-28 and Saturday 10-11 are 调休 working days.
    assert all(chinese_calendar.is_holiday(D(2025, 10, d)) for d in range(1, 9))
    assert D(2025, 9, 28).weekday() == 6 and chinese_calendar.is_workday(D(2025, 9, 28))
    assert D(2025, 10, 11).weekday() == 5 and chinese_calendar.is_workday(D(2025, 10, 11))
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(D(UNKNOWN, 1, 5))


def test_period_spanning_national_day():
    # Put up on Tue 09-30: 10-01..10-08 are off, then Thu 10-09, Fri 10-10, Sat 10-11 (调休).
    assert add_working_days(D(2025, 9, 30), 3) == D(2025, 10, 11)
    # A region with ≥3 working days of publicity (云南, 001 §4(4)3) counts it from Sun 10-12.
    yunnan = preset("yunnan")
    assert record_counts_on(D(2025, 9, 30), yunnan.publicity_working_days) == D(2025, 10, 12)


def test_tiaoxiu_weekend_counts_as_a_working_day():
    assert is_working_day(D(2025, 9, 28))  # Sunday, 调休
    assert not is_working_day(D(2025, 9, 27))  # Saturday
    # Put up on Fri 09-26: Sat off, Sun 09-28 (调休), Mon 09-29, Tue 09-30.
    assert add_working_days(D(2025, 9, 26), 3) == D(2025, 9, 30)


def test_start_day_is_not_counted_and_may_be_a_day_off():
    assert add_working_days(D(2025, 6, 9), 1) == D(2025, 6, 10)  # Mon -> Tue
    # Saturday and the Friday before give the same period: Mon 16, Tue 17, Wed 18.
    assert add_working_days(D(2025, 6, 14), 3) == D(2025, 6, 18)
    assert add_working_days(D(2025, 6, 13), 3) == D(2025, 6, 18)


def test_region_lists_override_the_library_in_known_years():
    # An extra local day off on Thu 10-09 pushes the end past the weekend to Mon 10-13.
    assert add_working_days(D(2025, 9, 30), 3, extra_holidays=[D(2025, 10, 9)]) == D(2025, 10, 13)
    assert not is_working_day(D(2025, 10, 9), extra_holidays=[D(2025, 10, 9)])
    # An extra working day on 10-08 (officially off) shortens it.
    assert add_working_days(D(2025, 9, 30), 3, extra_workdays=[D(2025, 10, 8)]) == D(2025, 10, 10)
    # A policy's own lists plug straight in.
    policy = RegionPolicy(publicity_working_days=3, extra_holidays=[D(2025, 10, 9)])
    counts = record_counts_on(
        D(2025, 9, 30),
        policy.publicity_working_days,
        extra_holidays=policy.extra_holidays,
        extra_workdays=policy.extra_workdays,
    )
    assert counts == D(2025, 10, 14)


def _reference(start: datetime.date, n: int, days_off=()) -> datetime.date:
    """Independent oracle: the library for known years, Monday–Friday after that."""
    day = start
    while n:
        day += datetime.timedelta(days=1)
        if day in days_off:
            continue
        working = chinese_calendar.is_workday(day) if day.year <= LAST else day.weekday() < 5
        n -= working
    return day


def test_period_running_into_an_unknown_year_uses_plain_weekdays():
    start = D(LAST, 12, 30)
    end = add_working_days(start, 5)
    assert end.year == UNKNOWN
    assert end == _reference(start, 5)
    # 1 January of the unknown year is a weekday-only guess unless the region lists it.
    new_year = D(UNKNOWN, 1, 1)
    assert is_working_day(new_year) == (new_year.weekday() < 5)
    first_saturday = next(D(UNKNOWN, 1, d) for d in range(1, 8) if D(UNKNOWN, 1, d).weekday() == 5)
    assert not is_working_day(first_saturday)
    assert is_working_day(first_saturday + datetime.timedelta(days=2))  # Monday


def test_period_running_into_an_unknown_year_with_a_region_holiday_list():
    start = D(LAST, 12, 30)
    days_off = [D(UNKNOWN, 1, d) for d in (1, 2, 3)]
    # Say the region also works the first Sunday after its 元旦 break (调休).
    make_up = next(D(UNKNOWN, 1, d) for d in range(4, 11) if D(UNKNOWN, 1, d).weekday() == 6)
    plain = add_working_days(start, 5)
    listed = add_working_days(start, 5, extra_holidays=days_off)
    assert listed == _reference(start, 5, days_off)
    weekdays_off = sum(day.weekday() < 5 for day in days_off)
    assert (listed - plain).days >= weekdays_off  # the listed days off are skipped
    assert all(not is_working_day(day, extra_holidays=days_off) for day in days_off)
    assert is_working_day(make_up, extra_workdays=[make_up])
    assert not is_working_day(make_up)
    # And far outside the package's range, in either direction, nothing raises.
    assert is_working_day(D(2100, 3, 1)) is True  # a Monday
    assert is_working_day(D(1999, 10, 1)) is True  # a Friday; the package starts at 2004
    assert add_working_days(D(2099, 12, 31), 1) == D(2100, 1, 1)  # a Friday


def test_zero_days_is_no_publicity():
    assert add_working_days(D(2025, 10, 1), 0) == D(2025, 10, 1)
    assert record_counts_on(D(2025, 10, 1), 0) == D(2025, 10, 1)
    assert record_counts_on(D(2025, 10, 1), preset("chongqing").publicity_working_days) == D(
        2025, 10, 1
    )


def test_invalid_input():
    with pytest.raises(ValueError):
        add_working_days(D(2025, 10, 1), -1)
    with pytest.raises(ValueError):
        record_counts_on(D(2025, 10, 1), -3)
    with pytest.raises(TypeError):
        add_working_days(D(2025, 10, 1), 1.5)  # type: ignore[arg-type]  # refused at run time
    with pytest.raises(TypeError):
        add_working_days(D(2025, 10, 1), True)
    with pytest.raises(TypeError):
        add_working_days(datetime.datetime(2025, 10, 1, 12, 0), 3)
    with pytest.raises(TypeError):
        is_working_day("2025-10-01")  # type: ignore[arg-type]  # refused at run time
    with pytest.raises(ValueError, match="2025-10-09"):
        is_working_day(
            D(2025, 10, 9), extra_holidays=[D(2025, 10, 9)], extra_workdays=[D(2025, 10, 9)]
        )
