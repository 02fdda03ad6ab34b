"""The record lifecycle's rules, through the services in the test process (issue 4
§2–4, 001 §4(4)3, 000 Art.9–10 and 23). tests/test_records.py walks the same
lifecycle through the API; these tests check each rule's cases, rolled back.
The policy is passed to the services as the API passes the region's."""

from __future__ import annotations

import datetime
from decimal import Decimal
from functools import partial

import pytest
from django.utils import timezone

from central.errors import Conflict, InvalidInput, PermissionDenied
from central.policy import preset
from tenants.records import services as records
from tenants.records.models import RecordState, ServiceRecord, VolunteerTotals
from tenants.records.workdays import add_working_days
from tests.fast.staging import days_ago, entry, principal, record, scene
from tests.registry_support import authority_account, register_volunteer

# 云南: 3 working days of publicity, then civil affairs confirms (001 §4(4)3).
YUNNAN = preset("yunnan")
# 重庆: a record counts at once.
CHONGQING = preset("chongqing")


def fields(error: InvalidInput) -> set[str | None]:
    """The fields an error names (what the API's ``errors { field }`` lists)."""
    return {problem.field for problem in error.problems}


def counted_hours(volunteer) -> Decimal:
    totals = VolunteerTotals.objects.filter(volunteer=volunteer).first()
    return totals.counted_hours if totals else Decimal(0)


@pytest.mark.parametrize(
    ("days_back", "start", "end", "hours", "field"),
    [
        (1, "09:00", "10:00", "0", "hours"),
        (1, "09:00", "10:00", "-1", "hours"),
        (1, "09:00", "10:00", "1.5", "hours"),  # more than the span: travel excluded
        (1, "09:00", "10:00", "25", "hours"),
        (1, "09:00", "10:00", "NaN", "hours"),  # a Decimal, but not a number
        (1, "10:00", "09:00", "1", "endTime"),
        (-1, "09:00", "10:00", "1", "serviceDate"),  # tomorrow
    ],
)
def test_invalid_hours_are_refused_and_write_nothing(
    rolled_back, days_back, start, end, hours, field
):
    s = scene(rolled_back)
    (volunteer,) = s.volunteers
    with pytest.raises(InvalidInput) as refused:
        record(s, volunteer, entry(days_ago(days_back), start, end, hours), CHONGQING)
    assert field in fields(refused.value)
    assert not ServiceRecord.objects.filter(volunteer=volunteer).exists()


def test_chongqing_counts_at_once_and_the_day_holds_24_hours(rolled_back):
    s = scene(rolled_back)
    (volunteer,) = s.volunteers
    day = days_ago(4)
    first = record(s, volunteer, entry(day, "00:00", "12:00", 12), CHONGQING)
    assert first.state == RecordState.COUNTED and counted_hours(volunteer) == 12
    with pytest.raises(Conflict, match="overlapping"):
        record(s, volunteer, entry(day, "11:00", "13:00", 1), CHONGQING)
    record(s, volunteer, entry(day, "12:00", "23:59", "11.98"), CHONGQING)
    with pytest.raises(Conflict):
        record(s, volunteer, entry(day, "23:00", "23:30", "0.5"), CHONGQING)
    assert counted_hours(volunteer) == Decimal("23.98")


def test_publicity_objection_confirmation_under_the_yunnan_policy(rolled_back):
    s = scene(rolled_back, participants=2)
    alice, bob = s.volunteers
    first = record(s, alice, entry(days_ago(2), "09:00", "11:00", 2), YUNNAN)
    ends = add_working_days(
        timezone.localdate(),
        3,
        extra_holidays=YUNNAN.extra_holidays,
        extra_workdays=YUNNAN.extra_workdays,
    )
    assert (first.state, first.publicity_ends_on) == (RecordState.IN_PUBLICITY, ends)
    second = record(s, bob, entry(days_ago(2), "09:00", "11:00", 2), YUNNAN)
    objector = principal(register_volunteer(rolled_back.slug)[1])
    with pytest.raises(InvalidInput):  # a reason is required
        records.raise_objection(record_id=second.id, reason=" ", principal=objector, policy=YUNNAN)
    objection = records.raise_objection(
        record_id=second.id, reason="当天未见到此人", principal=objector, policy=YUNNAN
    )
    # Nothing moves on the last day of publicity, and a second run moves nothing more.
    assert records.close_publicity(YUNNAN, today=ends) == 0
    after = ends + datetime.timedelta(days=1)
    assert records.close_publicity(YUNNAN, today=after) == 1
    assert records.close_publicity(YUNNAN, today=after) == 0
    states = dict(ServiceRecord.objects.values_list("volunteer_id", "state"))
    assert states == {alice.id: "awaiting_confirmation", bob.id: "objected"}
    assert counted_hours(alice) == 0
    # Only civil affairs confirms; then it counts, once.
    with pytest.raises(PermissionDenied):
        records.confirm_record(record_id=first.id, principal=s.admin, policy=YUNNAN)
    county = principal(authority_account(rolled_back.slug, level="county"))
    records.confirm_record(record_id=first.id, principal=county, policy=YUNNAN)
    assert counted_hours(alice) == 2
    with pytest.raises(Conflict):
        records.confirm_record(record_id=first.id, principal=county, policy=YUNNAN)
    # A dismissed objection returns the record to publicity; it then goes on.
    records.resolve_objection(
        objection_id=objection.id,
        upheld=False,
        reason="签到表可查，确有参加",
        principal=s.admin,
        policy=YUNNAN,
    )
    second.refresh_from_db()
    assert second.state == RecordState.IN_PUBLICITY
    with pytest.raises(Conflict, match="already resolved"):
        records.resolve_objection(
            objection_id=objection.id, upheld=True, reason="再议", principal=s.admin, policy=YUNNAN
        )
    assert records.close_publicity(YUNNAN, today=after) == 1
    second.refresh_from_db()
    assert second.state == RecordState.AWAITING_CONFIRMATION


def test_an_upheld_objection_voids_the_record_and_frees_its_time(rolled_back):
    s = scene(rolled_back)
    (volunteer,) = s.volunteers
    body = entry(days_ago(5), "09:00", "11:00", 2)
    voided = record(s, volunteer, body, YUNNAN)
    objection = records.raise_objection(
        record_id=voided.id, reason="重复记录", principal=s.admin, policy=YUNNAN
    )
    records.resolve_objection(
        objection_id=objection.id,
        upheld=True,
        reason="与另一条记录重复",
        principal=s.admin,
        policy=YUNNAN,
    )
    voided.refresh_from_db()
    assert (voided.state, voided.state_reason) == (RecordState.VOID, "与另一条记录重复")
    assert record(s, volunteer, body, YUNNAN).state == RecordState.IN_PUBLICITY  # time is free
    with pytest.raises(Conflict, match="not in publicity"):
        records.raise_objection(
            record_id=voided.id, reason="再提异议", principal=s.admin, policy=YUNNAN
        )


def test_amending_a_counted_record_moves_the_totals(rolled_back):
    s = scene(rolled_back)
    (volunteer,) = s.volunteers
    counted = record(s, volunteer, entry(days_ago(6), "08:00", "12:00", 4), CHONGQING)
    amend = partial(
        records.amend_record, record_id=counted.id, principal=s.recorder, policy=CHONGQING
    )
    with pytest.raises(InvalidInput) as no_reason:
        amend(changes={"hours": "3"}, reason=" ")
    assert "reason" in fields(no_reason.value)
    with pytest.raises(InvalidInput) as too_much:
        amend(changes={"hours": "5"}, reason="多记")
    assert "hours" in fields(too_much.value)
    with pytest.raises(InvalidInput):
        amend(changes={"volunteer": 1}, reason="换人")
    amend(changes={"hours": "3.5"}, reason="扣除午休半小时")
    counted = ServiceRecord.objects.get(id=counted.id)  # amendments read afresh
    assert (counted.hours, counted.current().hours) == (4, Decimal("3.5"))
    assert counted_hours(volunteer) == Decimal("3.5")
    amend(changes={"hours": "4"}, reason="核实后恢复")
    assert counted_hours(volunteer) == 4


def test_a_declaration_counts_once_the_group_confirms_and_evaluates_it(rolled_back):
    s = scene(rolled_back)
    (volunteer,) = s.volunteers
    own = principal(s.usernames[0])
    body = entry(days_ago(7), "09:00", "11:00", 2, punctuality=None, attitude=None)
    with pytest.raises(InvalidInput) as self_rated:  # the group evaluates (000 Art.10)
        records.declare_hours(project_id=s.project.id, entry=body, principal=own, policy=CHONGQING)
    assert fields(self_rated.value) == {"professionalism"}
    body.professionalism = None
    declared = records.declare_hours(
        project_id=s.project.id, entry=body, principal=own, policy=CHONGQING
    )
    assert declared.state == RecordState.DECLARED and counted_hours(volunteer) == 0
    decide = partial(records.decide_declaration, record_id=declared.id, policy=CHONGQING)
    with pytest.raises(PermissionDenied):
        decide(accept=True, reason="", principal=own)
    with pytest.raises(InvalidInput) as out_of_range:
        decide(accept=True, reason="", evaluation={"attitude": 6}, principal=s.recorder)
    assert "attitude" in fields(out_of_range.value)
    with pytest.raises(InvalidInput):  # a rejection is not evaluated
        decide(accept=False, reason="无此活动", evaluation={"attitude": 3}, principal=s.recorder)
    decide(accept=True, reason="", evaluation={"attitude": 4}, principal=s.recorder)
    declared.refresh_from_db()
    assert (declared.state, declared.attitude) == (RecordState.COUNTED, 4)
    assert counted_hours(volunteer) == 2
    with pytest.raises(Conflict):
        decide(accept=False, reason="重复", principal=s.recorder)


@pytest.mark.parametrize("hours", ["0.333", "1.005", "2.5000001"])
def test_hours_more_precise_than_kept_are_refused_everywhere_they_enter(rolled_back, hours):
    """0.333 was once stored as 0.33: recording, declaring and amending refuse it,
    naming the precision (tests/test_project_changes.py: the same over HTTP)."""
    s = scene(rolled_back)
    (volunteer,) = s.volunteers
    with pytest.raises(InvalidInput, match="two decimal places") as recorded:
        record(s, volunteer, entry(days_ago(2), "09:00", "12:00", hours), CHONGQING)
    assert fields(recorded.value) == {"hours"}
    body = entry(days_ago(3), "09:00", "12:00", hours)
    body.punctuality = body.attitude = body.professionalism = None
    own = principal(s.usernames[0])
    with pytest.raises(InvalidInput) as declared:
        records.declare_hours(project_id=s.project.id, entry=body, principal=own, policy=CHONGQING)
    assert fields(declared.value) == {"hours"}
    assert not ServiceRecord.objects.filter(volunteer=volunteer).exists()
    kept = record(s, volunteer, entry(days_ago(2), "09:00", "12:00", "0.33"), CHONGQING)
    with pytest.raises(InvalidInput) as amended:
        records.amend_record(
            record_id=kept.id,
            changes={"hours": hours},
            reason="核对签到表",
            principal=s.recorder,
            policy=CHONGQING,
        )
    assert fields(amended.value) == {"hours"}
    assert ServiceRecord.objects.get(volunteer=volunteer).current().hours == Decimal("0.33")
