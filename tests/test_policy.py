"""Issue 2 §3: the region policy is typed and validated; each bad field is named."""

from __future__ import annotations

import pytest

from central.divisions import DivisionCodeError, check_division_code
from central.policy import (
    ANNEX_PERMISSION_TABLE,
    PRESETS,
    Granter,
    PolicyError,
    Power,
    RecordConfirmation,
    merge_policy,
    preset,
    validate_policy,
)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"publicityWorkingDays": -1}, "publicityWorkingDays"),
        ({"publicityWorkingDays": "three"}, "publicityWorkingDays"),
        ({"recordConfirmation": "mayor"}, "recordConfirmation"),
        ({"objectionRaisers": "everyone_online"}, "objectionRaisers"),
        ({"recordersNeedCertificate": "perhaps"}, "recordersNeedCertificate"),
        ({"starThresholds": [100, 300, 600, 1000]}, "starThresholds"),
        ({"starThresholds": [100, 300, 300, 1000, 1500]}, "starThresholds"),
        ({"starThresholds": [0, 300, 600, 1000, 1500]}, "starThresholds"),
        ({"starGranters": ["group"] * 4}, "starGranters"),
        ({"starGranters": ["group", "group", "emperor", "city", "city"]}, "starGranters.2"),
        ({"guardianConsentBelowAge": 0}, "guardianConsentBelowAge"),
        ({"hubLevels": ["town", "city"]}, "hubLevels"),
        ({"hubLevels": ["village"]}, "hubLevels.0"),
        ({"groupNaming": {"nonHubSuffix": 7}}, "groupNaming.nonHubSuffix"),
        (
            {"groupNaming": {"hubNamePatterns": [{"level": "city", "suffixes": []}]}},
            "groupNaming.hubNamePatterns.0.suffixes",
        ),
        ({"permissionGroups": [{"name": "基本团体组", "powers": ["fly"]}]}, "permissionGroups"),
        ({"defaultPermissionGroupNonHub": "不存在的组"}, "defaultPermissionGroupNonHub"),
        ({"timeBankEnabled": "yes please"}, "timeBankEnabled"),
        ({"registrationTargets": {"populationShare": 1.3}}, "registrationTargets"),
        ({"correctionDeadlineDays": 0}, "correctionDeadlineDays"),
        ({"extraHolidays": ["2031-02-30"]}, "extraHolidays.0"),
        ({"noSuchRule": True}, "noSuchRule"),
        (
            {"extraHolidays": ["2031-02-03"], "extraWorkdays": ["2031-02-03"]},
            "extraWorkdays",
        ),
    ],
)
def test_each_bad_field_is_rejected_with_a_message_naming_it(changes, field):
    with pytest.raises(PolicyError) as caught:
        merge_policy(preset("default"), changes)
    assert any(path.startswith(field) for path in caught.value.problems), caught.value.problems
    assert field in str(caught.value)


def test_presets_follow_the_notices():
    chongqing, yunnan, fuxin, suizhou = (
        preset(n) for n in ["chongqing", "yunnan", "fuxin", "suizhou"]
    )
    # 001 §4(4)3: publicity ≥ 3 working days, confirmation, certified recorders.
    assert yunnan.publicity_working_days == 3
    assert yunnan.record_confirmation is RecordConfirmation.COUNTY_CIVIL_AFFAIRS
    assert yunnan.recorders_need_certificate
    # 001 §6: 1–2★ county, 3–4★ city, 5★ province.
    assert yunnan.star_granters == [Granter.COUNTY] * 2 + [Granter.CITY] * 2 + [Granter.PROVINCE]
    assert chongqing.publicity_working_days == 0
    assert chongqing.star_granters == [Granter.GROUP] * 5
    assert chongqing.time_bank_enabled and yunnan.time_bank_enabled
    assert not fuxin.time_bank_enabled
    # 003 Art.7
    assert fuxin.guardian_consent_below_age == 18
    assert chongqing.guardian_consent_below_age is None
    # 002 §3(1)
    levels = {p.level.value: p.suffixes for p in chongqing.group_naming.hub_name_patterns}
    assert levels["district"] == ["志愿者协会", "志愿服务联合会"]
    assert chongqing.group_naming.non_hub_suffix == "志愿服务队"
    # 004 §4.2
    assert suizhou.registration_targets is not None
    assert suizhou.registration_targets.population_share == 0.13
    assert suizhou.registration_targets.staff_share_other_unit == 0.80
    for name in PRESETS:
        assert preset(name).star_thresholds == [100, 300, 600, 1000, 1500]


def test_default_permission_table_is_the_annex():
    policy = preset("default")
    assert [rule.name for rule in policy.permission_groups] == list(ANNEX_PERMISSION_TABLE)
    assert policy.powers_of("待审团体组") == frozenset()
    assert policy.powers_of("高级团体组（快审）") == frozenset(Power)
    assert policy.powers_of("中级团体组") == {
        Power.MANAGE_OWN_VOLUNTEERS,
        Power.PUBLISH_WITHOUT_REVIEW,
        Power.ALLOW_SUBGROUP_REGISTRATION,
    }
    # 002 §3(4): non-hub groups start as 基本团体组, legal persons as 中级团体组.
    assert policy.default_permission_group_non_hub == "基本团体组"
    assert policy.default_permission_group_legal_person == "中级团体组"


def test_stored_form_round_trips():
    yunnan = preset("yunnan")
    assert validate_policy(yunnan.as_json()) == yunnan
    assert merge_policy(yunnan, {"publicity_working_days": 5}).publicity_working_days == 5


def test_unknown_preset_is_named():
    with pytest.raises(PolicyError) as caught:
        preset("atlantis")
    assert "preset" in caught.value.problems


@pytest.mark.parametrize(
    ("code", "level", "parent", "message"),
    [
        ("5000", "province", None, "six digits"),
        ("50000a", "province", None, "six digits"),
        ("990000", "province", None, "not a province prefix"),
        ("500100", "province", None, "ends in 0000"),
        ("420000", "city", None, "non-zero prefecture"),
        ("421301", "city", None, "ends in 00"),
        ("421300", "city", "530000", "not under 530000"),
        ("420000", "province", "110000", "no parent"),
        # Issue 10 finding 12: well-formed but made up, or no longer in force.
        ("538300", "city", "530000", "not a current division code"),
        ("134000", "city", None, "not a current division code"),
    ],
)
def test_bad_division_codes(code, level, parent, message):
    with pytest.raises(DivisionCodeError, match=message):
        check_division_code(code, level, parent)


def test_good_division_codes():
    check_division_code("500000", "province")
    check_division_code("421300", "city", "420000")
    check_division_code("210900", "city")
