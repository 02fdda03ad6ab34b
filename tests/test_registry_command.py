"""Issue 3 §8: ``manage.py registry`` runs the same registration and review services."""

from __future__ import annotations

import datetime
import json

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from tenants.accounts.models import Role
from tenants.groups.models import VolunteerGroup
from tenants.volunteers.models import Volunteer
from tests.registry_support import hierarchy, id_number, region, unique


def run(capsys, *argv) -> dict:
    call_command("registry", "--region", "210900", "--operator", "tester", *argv)
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_register_review_and_configure_from_the_shell(seed_regions, capsys):
    h = hierarchy("fuxin")
    birth = datetime.date(1995, 2, 3)
    created = run(
        capsys,
        "register-volunteer",
        "--name",
        "韩梅梅",
        "--gender",
        "female",
        "--birth-date",
        birth.isoformat(),
        "--id-number",
        id_number(birth, "210902"),
        "--phone",
        "13700001111",
        "--username",
        unique("cli"),
        "--password",
        "Strong-pass-2026",
    )
    assert created["number"].startswith("210900") and "*" in created["idNumber"]
    verified = run(capsys, "review-volunteer", created["number"], "--approve")
    assert verified["verification"] == "verified"
    group = run(
        capsys,
        "register-group",
        "--name",
        f"阜新测{unique('')}志愿服务队",
        "--kind",
        "non_hub",
        "--level",
        "district",
        "--liaison",
        str(h.district.id),
        "--responsible-person",
        "王",
        "--contact-person",
        "赵",
        "--contact-phone",
        "04181234567",
        "--admin-username",
        unique("adm"),
        "--admin-password",
        "Strong-pass-2026",
    )
    assert group["review"] == "pending"
    reviewed = run(capsys, "review-group", str(group["id"]), "--approve")
    assert reviewed["permissionGroup"] == "基本团体组"
    raised = run(capsys, "set-permission-group", str(group["id"]), "中级团体组")
    assert raised["permissionGroup"] == "中级团体组"
    authority = run(
        capsys,
        "create-authority",
        "--username",
        unique("auth"),
        "--password",
        "Strong-pass-2026",
        "--name",
        "民政",
        "--level",
        "city",
        "--authority-name",
        "阜新市民政局",
    )
    with tenant_context(region("fuxin")):
        assert Volunteer.objects.get(number=created["number"]).verification == "verified"
        assert Role.objects.filter(account__username=authority["created"], kind="authority")
    # Issue 10 finding 3: an authority has a division; --division binds it, and
    # set-authority-division moves it (to a county of 阜新 as a county authority here).
    assert authority["division"] == "210900"
    county = run(
        capsys,
        "create-authority",
        "--username",
        unique("auth"),
        "--password",
        "Strong-pass-2026",
        "--name",
        "民政",
        "--level",
        "county",
        "--authority-name",
        "阜新市海州区民政局",
        "--division",
        "210902",
    )
    assert county["division"] == "210902"
    moved = run(capsys, "set-authority-division", "--username", county["created"], "--division",
                "210903")  # fmt: skip
    assert moved == {"username": county["created"], "division": "210903"}
    with tenant_context(region("fuxin")):
        assert Role.objects.get(account__username=county["created"]).division_code == "210903"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [
                "register-volunteer",
                "--name",
                "x",
                "--gender",
                "male",
                "--birth-date",
                "1990-13-01",
                "--id-number",
                "1",
                "--phone",
                "1",
                "--username",
                "abc",
                "--password",
                "x",
            ],
            "YYYY-MM-DD",
        ),
        (
            [
                "register-volunteer",
                "--name",
                "x",
                "--gender",
                "male",
                "--birth-date",
                "1990-01-01",
                "--id-number",
                "1",
                "--phone",
                "1",
                "--username",
                "abcd",
                "--password",
                "x",
            ],
            "idNumber",
        ),
        (["review-volunteer", "99999", "--approve"], "no volunteer numbered 99999"),
        (["review-group", "999999", "--reject"], "say why"),
        (["set-permission-group", "999999", "中级团体组"], "no such group"),
        (
            [
                "create-authority",
                "--username",
                "countyx",
                "--password",
                "Strong-pass-2026",
                "--name",
                "x",
                "--level",
                "county",
                "--authority-name",
                "某局",
            ],
            "a county authority's division is a county",
        ),
        (
            ["set-authority-division", "--username", "nobody", "--division", "210902"],
            "no authority",
        ),
    ],
)
def test_bad_input_is_a_clear_message(seed_regions, argv, message):
    with tenant_context(region("fuxin")):
        before = (Volunteer.objects.count(), VolunteerGroup.objects.count())
    with pytest.raises(CommandError, match=message):
        call_command("registry", "--region", "210900", *argv)
    with tenant_context(region("fuxin")):
        assert (Volunteer.objects.count(), VolunteerGroup.objects.count()) == before


def test_unknown_region_is_a_clear_message(seed_regions):
    with pytest.raises(CommandError, match="no region with code 999900"):
        call_command("registry", "--region", "999900", "review-volunteer", "1", "--approve")
