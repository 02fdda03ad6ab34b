"""``manage.py generate_data``: realistic synthetic data, consistent with every rule
the services enforce, readable through the real API, and addable to."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django_tenants.utils import tenant_context
from stdnum.cn import ric
from stdnum.iso7064 import mod_11_2

from central import services
from central.models import HomeRegion
from tenants.groups.models import GroupKind, Membership, Review, VolunteerGroup
from tenants.groups.services import approved_permission_group
from tenants.projects.models import Project
from tenants.records.models import (
    OPEN_STATES,
    DaySlot,
    Objection,
    RecordState,
    ServiceRecord,
    VolunteerTotals,
)
from tenants.volunteers import pii
from tenants.volunteers.models import Volunteer
from tenants.volunteers.services import check_resident_id
from tests import support
from tests.registry_support import authority, register_volunteer
from tests.support import REPO, child_env, city_name, unique_city_code

# 玉溪市 (a real city: its counties are in python-stdnum's table), with 云南's
# lifecycle: 3 working days of publicity, then civil-affairs confirmation.
CODE, SLUG = "530400", "yuxigen"
VOLUNTEERS, GROUPS, RECORDS = 200, 8, 5


def generate(code: str, volunteers: int, groups: int, records: int, seed: int = 11) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "generate_data",
        "--region",
        code,
        "--volunteers",
        str(volunteers),
        "--groups",
        str(groups),
        "--records-per-volunteer",
        str(records),
        "--seed",
        str(seed),
        stdout=out,
        stderr=err,
    )
    assert "records" in err.getvalue()  # progress on stderr
    return out.getvalue()


@pytest.fixture(scope="module")
def region(seed_regions):
    region = services.provision_region(
        services.RegionSpec(CODE, "玉溪市", "city", SLUG, parent_code="530000", preset="yunnan"),
        actor="test",
    )
    summary = generate(CODE, VOLUNTEERS, GROUPS, RECORDS)
    assert f"{VOLUNTEERS} volunteers, {GROUPS} groups" in summary
    assert f"{VOLUNTEERS * RECORDS} records" in summary
    return region


def totals_mismatches() -> int:
    """Volunteers whose totals differ from the sum of their counted records."""
    sums = {
        row["volunteer_id"]: (row["hours"], row["n"])
        for row in ServiceRecord.objects.filter(state=RecordState.COUNTED)
        .values("volunteer_id")
        .annotate(hours=Sum("hours"), n=Count("id"))
    }
    bad = 0
    for totals in VolunteerTotals.objects.all():
        hours, n = sums.get(totals.volunteer_id, (Decimal(0), 0))
        bad += (totals.counted_hours, totals.counted_records) != (hours, n)
    return bad


def test_counts_and_totals(region):
    with tenant_context(region):
        assert Volunteer.objects.count() == VOLUNTEERS
        assert ServiceRecord.objects.count() == VOLUNTEERS * RECORDS
        assert VolunteerGroup.objects.count() == GROUPS
        assert Project.objects.count() >= 2 * GROUPS
        per_volunteer = ServiceRecord.objects.values("volunteer_id").annotate(n=Count("id"))
        assert {row["n"] for row in per_volunteer} == {RECORDS}
        active = Membership.objects.filter(status="active")
        assert active.values("volunteer_id").distinct().count() == VOLUNTEERS
        assert VolunteerTotals.objects.count() == VOLUNTEERS
        assert totals_mismatches() == 0
        numbers = set(Volunteer.objects.values_list("number", flat=True))
    homes = HomeRegion.objects.filter(region_code=CODE)
    assert set(homes.values_list("volunteer_number", flat=True)) == numbers


def test_id_numbers_pii_and_volunteer_numbers(region):
    with tenant_context(region):
        volunteers = list(Volunteer.objects.all())
        with connection.cursor() as cursor:
            cursor.execute("SELECT last_value FROM volunteer_number_seq")
            sequence = cursor.fetchone()[0]
    for v in volunteers:
        id_number = pii.decrypt(v.id_number_encrypted)
        assert check_resident_id(id_number) == id_number  # the registration's own check
        assert id_number[:4] == "5304"  # a county of 玉溪
        assert ric.get_birth_date(id_number) == v.birth_date
        assert int(id_number[16]) % 2 == (1 if v.gender == "male" else 0)
        assert v.id_number_hash == pii.keyed_hash("id", id_number)
        assert v.id_number_masked == pii.mask_id_number(id_number)
        phone = pii.decrypt(v.phone_encrypted)
        assert re.fullmatch(r"1[3-9]\d{9}", phone)
        assert (v.phone_hash, v.phone_masked) == (
            pii.keyed_hash("phone", phone),
            pii.mask_phone(phone),
        )
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", v.name)
        assert mod_11_2.is_valid(v.number) and v.number.startswith(CODE)
        assert v.number[6:8] == f"{v.registered_at.year % 100:02d}"
        assert int(v.number[8:16]) <= sequence
    assert len({pii.keyed_hash("id", pii.decrypt(v.id_number_encrypted)) for v in volunteers}) == (
        VOLUNTEERS
    )


def test_groups_follow_the_policy(region):
    policy = region.get_policy()
    suffixes = {p.level: tuple(p.suffixes) for p in policy.group_naming.hub_name_patterns}
    with tenant_context(region):
        groups = list(VolunteerGroup.objects.select_related("liaison_group"))
    hubs = [g for g in groups if g.kind == GroupKind.HUB]
    assert {g.level for g in hubs} == {level.value for level in policy.hub_levels}
    levels = [level.value for level in policy.hub_levels]
    for g in groups:
        assert g.review == Review.APPROVED
        assert g.permission_group == approved_permission_group(g, policy)
        if g.kind == GroupKind.HUB:
            if g.level == levels[0]:
                assert g.liaison_group is None
            else:
                above = levels[levels.index(g.level) - 1]
                assert g.liaison_group is not None
                assert (g.liaison_group.kind, g.liaison_group.level) == ("hub", above)
            if g.level in suffixes:
                assert g.name.endswith(suffixes[g.level])
        else:
            assert g.liaison_group is not None
            assert (g.liaison_group.kind, g.liaison_group.level) == ("hub", g.level)
            assert g.name.endswith(policy.group_naming.non_hub_suffix or "志愿服务队")


def test_records_follow_the_lifecycle(region):
    today = timezone.localdate()
    with tenant_context(region):
        states = dict(ServiceRecord.objects.values_list("state").annotate(n=Count("id")).order_by())
        # 云南: publicity, then confirmation; objections can void a record.
        assert states["counted"] > 0.8 * VOLUNTEERS * RECORDS
        for state in ("in_publicity", "awaiting_confirmation", "void"):
            assert states.get(state, 0) > 0, states
        live = ServiceRecord.objects.filter(state__in=OPEN_STATES)
        assert DaySlot.objects.count() == live.count()
        assert not DaySlot.objects.filter(record__state__in=["void", "rejected"]).exists()
        assert not ServiceRecord.objects.filter(service_date__gte=today).exists()
        assert not ServiceRecord.objects.filter(state="void", objections__isnull=True).exists()
        assert Objection.objects.filter(resolution="upheld").count() == states["void"]
        # In publicity: the period has not ended; counted: after it ended, confirmed.
        assert not ServiceRecord.objects.filter(
            state="in_publicity", publicity_ends_on__lt=today
        ).exists()
        counted = ServiceRecord.objects.filter(state="counted")
        assert not counted.filter(Q(publicity_ends_on__isnull=True) | Q(confirmed_by="")).exists()
        assert not counted.filter(counted_at__lt=F("created_at")).exists()
        for record in ServiceRecord.objects.select_related("project")[:300]:
            assert record.project is not None  # generated records all have one
            assert record.project.starts_on <= record.service_date <= record.project.ends_on
            assert record.hours * 60 <= (
                record.end_time.hour * 60
                + record.end_time.minute
                - record.start_time.hour * 60
                - record.start_time.minute
            )
            assert record.group_id == record.project.group_id
        # Recorded only for active members of the project's group.
        active = set(
            Membership.objects.filter(status="active").values_list("volunteer_id", "group_id")
        )
        recorded = set(ServiceRecord.objects.values_list("volunteer_id", "group_id").distinct())
        assert recorded <= active


def test_generated_volunteers_are_served_by_the_api(region, gql):
    token = authority(gql, SLUG)
    body = gql.region(
        SLUG,
        """{ volunteers(first: 20) { totalCount edges { node { number name idNumberMasked
             phoneMasked totalHours memberships { status group { name } }
             records(first: 10) { edges { node { hours state serviceDate } } } } } } }""",
        token=token,
    )
    assert "errors" not in body, body
    page = body["data"]["volunteers"]
    assert page["totalCount"] == VOLUNTEERS
    with tenant_context(region):
        totals = dict(VolunteerTotals.objects.values_list("volunteer__number", "counted_hours"))
    for edge in page["edges"]:
        node = edge["node"]
        assert re.fullmatch(r"5304\*{10}[0-9X]{4}", node["idNumberMasked"])
        assert re.fullmatch(r"1[3-9]\d\*{4}\d{4}", node["phoneMasked"])
        assert len(node["records"]["edges"]) == RECORDS
        assert any(m["status"] == "ACTIVE" for m in node["memberships"])
        assert Decimal(node["totalHours"]) == totals[node["number"]]
        counted = sum(
            Decimal(e["node"]["hours"])
            for e in node["records"]["edges"]
            if e["node"]["state"] == "COUNTED"
        )
        assert counted == totals[node["number"]]
    groups = gql.region(
        SLUG,
        "{ groups(first: 20) { edges { node { name members { volunteer { number } } } } } }",
        token=token,
    )
    assert "errors" not in groups, groups
    members = [len(e["node"]["members"]) for e in groups["data"]["groups"]["edges"]]
    assert len(members) == GROUPS and sum(members) >= VOLUNTEERS
    # Anonymous callers see no personal data.
    anonymous = gql.region(SLUG, "{ volunteers(first: 1) { edges { node { name } } } }")
    assert anonymous["errors"]


def test_second_run_adds_more(region):
    summary = generate(CODE, 50, 3, 4, seed=12)
    assert "50 volunteers, 3 groups" in summary
    with tenant_context(region):
        assert Volunteer.objects.count() == VOLUNTEERS + 50
        assert ServiceRecord.objects.count() == VOLUNTEERS * RECORDS + 50 * 4
        assert VolunteerGroup.objects.count() == GROUPS + 3
        # The top hub is reused: still one group without a liaison.
        assert VolunteerGroup.objects.filter(liaison_group__isnull=True).count() == 1
        assert totals_mismatches() == 0
    assert HomeRegion.objects.filter(region_code=CODE).count() == VOLUNTEERS + 50
    # A registration afterwards takes the next sequence value: no collision.
    volunteer, _ = register_volunteer(SLUG)
    assert int(volunteer.number[8:16]) > VOLUNTEERS + 50 - 1


def test_a_region_without_publicity(seed_regions):
    """National default lifecycle: records count at once; nothing in publicity or void."""
    code = unique_city_code("13")
    region = services.provision_region(
        services.RegionSpec(code, city_name(code), "city", "gen" + code),
        actor="test",
    )
    generate(code, 30, 3, 6)
    with tenant_context(region):
        states = set(ServiceRecord.objects.values_list("state", flat=True))
        assert states <= {"counted", "declared", "rejected"}
        assert totals_mismatches() == 0
        for v in Volunteer.objects.all():
            assert check_resident_id(pii.decrypt(v.id_number_encrypted))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "999999"], "no region with code 999999"),
        (["--region", CODE, "--volunteers", "0"], "must be a positive number"),
        (["--region", CODE, "--groups", "-2"], "must be a positive number"),
        (["--region", CODE, "--records-per-volunteer", "many"], "not a whole number"),
        (["--region", CODE, "--records-per-volunteer", "5000"], "at most 1000"),
    ],
)
def test_bad_arguments_are_cli_errors(region, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("generate_data", *args, stdout=io.StringIO(), stderr=io.StringIO())


def test_bad_arguments_from_the_shell(region):
    result = subprocess.run(
        [sys.executable, "manage.py", "generate_data", "--region", CODE, "--volunteers", "-1"],
        cwd=REPO,
        env=child_env(support.platform_database_url()),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--volunteers: must be a positive number" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_hyphenated_name_is_the_same_command(seed_regions):
    """Issue 6 spells it ``manage.py generate-data``; both names run one command."""
    from django.core.management import load_command_class

    hyphenated = load_command_class("tenants.generator", "generate-data")
    assert type(hyphenated) is type(load_command_class("tenants.generator", "generate_data"))
    with pytest.raises(CommandError, match="no region with code 999999"):
        call_command("generate-data", "--region", "999999")


def test_memory_is_bounded_by_the_chunk_not_the_run(region):
    """Issue 14 point 5: the run keeps the ID numbers of the chunks not yet committed
    only (older ones are found in the database), and says its peak memory."""
    from tenants.generator.data import RecentIds

    recent = RecentIds(3)
    for chunk in range(10):
        recent.next_chunk()
        for i in range(100):
            recent.add(f"{chunk}-{i}")
    assert len(recent.sets) == 3 and "9-5" in recent and "6-5" not in recent
    out = io.StringIO()
    call_command(
        "generate_data",
        *("--region", CODE, "--volunteers", "120", "--groups", "2"),
        *("--records-per-volunteer", "2", "--seed", "14", "--chunk-size", "10"),
        stdout=out,
        stderr=io.StringIO(),
    )
    assert re.search(r"peak memory \d+ MB", out.getvalue()), out.getvalue()
    with tenant_context(region):
        hashes = list(Volunteer.objects.values_list("id_number_hash", flat=True))
    # Twelve chunks, each checked against the committed ones: no ID number twice.
    assert len(hashes) == len(set(hashes))
