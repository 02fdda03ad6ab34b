"""Editing a region's policy and suspending it in the Django admin (issue 13 point 4).

The admin's policy editor is a form generated from the policy's JSON Schema: one
field per setting under its camelCase key, choices by the names the API shows.
What the API shows can be sent back through the API, the CLI and the admin and
reads back the same everywhere. The suspend action asks for its reason first.
Everything goes over HTTP, as a browser and a front-end would, except the CLI,
which runs as ``manage.py region``.
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from central.models import CentralAuditEntry, Region
from central.services import RegionSpec, provision_region
from tests.support import admin_browser, city_name, html_forms, unique_city_code

POLICY = """policy { publicityWorkingDays objectionRaisers recordConfirmation
  recordersNeedCertificate starThresholds starGranters guardianConsentBelowAge
  groupNaming { hubNamePatterns { level suffixes } nonHubSuffix } hubLevels
  permissionGroups { name powers } pendingPermissionGroup defaultPermissionGroupNonHub
  defaultPermissionGroupLegalPerson hubPermissionGroups { level permissionGroup }
  timeBankEnabled timeBankFamilyMembers registrationTargets { populationShare staffShareNationalUnit
  staffShareProvincialUnit staffShareMunicipalUnit staffShareOtherUnit }
  correctionDeadlineDays extraHolidays extraWorkdays allowedOrigins trustedDocumentsOnly }"""
READ = f"query($c: String!) {{ region(code: $c) {{ status suspendedReason {POLICY} }} }}"
UPDATE = """mutation($c: String!, $p: JSON!) { updateRegionPolicy(code: $c, policy: $p) {
  errors { field code message } } }"""


def new_region(preset: str) -> Region:
    code = unique_city_code("45")
    spec = RegionSpec(code, city_name(code), "city", f"pol{code}", preset=preset)
    return provision_region(spec, actor="test")


def api_policy(gql, token: str, code: str) -> dict:
    answer = gql.central(READ, {"c": code}, token=token)
    assert "errors" not in answer, answer
    return answer["data"]["region"]["policy"]


def cli_policy(code: str) -> dict:
    out = io.StringIO()
    call_command("region", "show", code, stdout=out)
    return json.loads(out.getvalue())["policy"]


def policy_form(admin, region: Region) -> tuple[str, dict[str, str]]:
    url = f"/admin/central/region/{region.pk}/change/"
    page = admin.get(url)
    assert page.status_code == 200, page.text[:500]
    (form,) = [f for f in html_forms(page.text) if f["id"] == "region_form"]
    return url, dict(form["fields"])


def test_the_policy_editor_has_one_camelcase_field_per_setting(server, seed_regions):
    from pydantic.alias_generators import to_camel

    from central.policy import RegionPolicy, policy_json_schema

    admin = admin_browser(server.base_url)
    region = Region.objects.get(slug="yunnan")
    url, fields = policy_form(admin, region)
    page = admin.get(url).text
    schema = policy_json_schema()
    for name in RegionPolicy.model_fields:
        key = to_camel(name)
        nested = schema["properties"][key]
        if key in {"groupNaming", "registrationTargets"}:  # one field per part
            assert f'name="{key}.' in page, key
        else:
            assert f'name="{key}"' in page, (key, nested)
    assert 'name="policy"' not in page  # no JSON blob of the whole policy any more
    # The values as the API spells them: choices by name, lists as typed.
    assert fields["recordConfirmation"] == "COUNTY_CIVIL_AFFAIRS"
    assert fields["starGranters"] == "COUNTY, COUNTY, CITY, CITY, PROVINCE"
    assert fields["starThresholds"] == "100, 300, 600, 1000, 1500"
    assert fields["recordersNeedCertificate"] == "on"
    assert json.loads(fields["permissionGroups"])[1] == {
        "name": "基本团体组",
        "powers": ["MANAGE_OWN_VOLUNTEERS"],
    }


def test_values_round_trip_between_the_api_the_admin_and_the_cli(
    gql, server, central_admin, seed_regions
):
    region = new_region("yunnan")
    token = central_admin["token"]
    shown = api_policy(gql, token, region.code)
    assert shown["starGranters"] == ["COUNTY", "COUNTY", "CITY", "CITY", "PROVINCE"]

    # The API's own spelling is accepted back by the API …
    changed = {**shown, "starGranters": ["GROUP", "COUNTY", "CITY", "CITY", "PROVINCE"]}
    answer = gql.central(UPDATE, {"c": region.code, "p": changed}, token=token)
    assert answer["data"]["updateRegionPolicy"]["errors"] == [], answer
    assert api_policy(gql, token, region.code) == changed

    # … by the CLI, whose output is the same as the API's …
    assert cli_policy(region.code) == changed
    call_command("region", "set-policy", region.code, json.dumps({"hubLevels": ["CITY", "TOWN"]}))
    changed["hubLevels"] = ["CITY", "TOWN"]
    assert api_policy(gql, token, region.code) == cli_policy(region.code) == changed

    # … and by the admin: the form submitted as the browser shows it changes nothing,
    admin = admin_browser(server.base_url)
    url, fields = policy_form(admin, region)
    saved = admin.post(url, data=fields)
    assert saved.status_code == 302, saved.text[:3000]
    assert api_policy(gql, token, region.code) == cli_policy(region.code) == changed
    # and one setting changed in it, typed in the API's spelling, reads back everywhere.
    url, fields = policy_form(admin, region)
    fields.update(
        {
            "objectionRaisers": "GROUP_MEMBERS",
            "starGranters": "group, GROUP, county, City, PROVINCE",
            "registrationTargets.populationShare": "0.2",
            "registrationTargets.staffShareNationalUnit": "0.9",
            "registrationTargets.staffShareProvincialUnit": "0.8",
            "registrationTargets.staffShareMunicipalUnit": "0.7",
            "registrationTargets.staffShareOtherUnit": "0.6",
            "extraHolidays": "2027-01-01, 2027-01-02",
        }
    )
    assert admin.post(url, data=fields).status_code == 302
    changed.update(
        objectionRaisers="GROUP_MEMBERS",
        starGranters=["GROUP", "GROUP", "COUNTY", "CITY", "PROVINCE"],
        registrationTargets={
            "populationShare": 0.2,
            "staffShareNationalUnit": 0.9,
            "staffShareProvincialUnit": 0.8,
            "staffShareMunicipalUnit": 0.7,
            "staffShareOtherUnit": 0.6,
        },
        extraHolidays=["2027-01-01", "2027-01-02"],
    )
    assert api_policy(gql, token, region.code) == cli_policy(region.code) == changed
    entries = CentralAuditEntry.objects.filter(region_code=region.code)
    assert entries.filter(action="region.policy_replaced").exists()


@pytest.mark.parametrize(
    ("field", "value", "shown_on", "message"),
    [
        ("starThresholds", "100, 50, 600, 1000, 1500", None, "must increase"),
        ("starThresholds", "100, many", None, "whole numbers"),
        (
            "starGranters",
            "GROUP, MAYOR, CITY, CITY, PROVINCE",
            None,
            "starGranters.1: choose one of GROUP, COUNTY, CITY, PROVINCE",
        ),
        ("publicityWorkingDays", "-1", None, ""),
        ("pendingPermissionGroup", "无此组", None, "not in the table"),
        ("permissionGroups", "{not json", None, ""),
        (
            "registrationTargets.populationShare",
            "0.5",
            "registrationTargets.staffShareOtherUnit",
            "registrationTargets.staffShareOtherUnit",
        ),
    ],
)
def test_a_bad_value_is_shown_on_its_field_and_changes_nothing(
    server, seed_regions, field, value, shown_on, message
):
    region = Region.objects.get(slug="fuxin")
    before = region.policy
    admin = admin_browser(server.base_url, headers={"Accept-Language": "en"})
    url, fields = policy_form(admin, region)
    answer = admin.post(url, data={**fields, field: value})
    assert answer.status_code == 200, answer.status_code
    row = answer.text.split(f'name="{shown_on or field}"')[0].rsplit('class="form-row', 1)[1]
    assert "errorlist" in row, (field, row[-800:])
    assert message in row
    region.refresh_from_db()
    assert region.policy == before


def test_suspending_in_the_admin_asks_for_the_reason(gql, server, seed_regions):
    region = new_region("default")
    admin = admin_browser(server.base_url)
    listing = "/admin/central/region/"
    page = admin.get(listing)
    (changelist,) = [f for f in html_forms(page.text) if f["id"] == "changelist-form"]
    csrf = dict(changelist["fields"])["csrfmiddlewaretoken"]
    chosen = {
        "csrfmiddlewaretoken": csrf,
        "action": "suspend",
        "_selected_action": str(region.pk),
        "index": "0",
    }
    # The action asks first, and suspends nothing yet.
    asked = admin.post(listing, data=chosen)
    assert asked.status_code == 200
    (confirm,) = [f for f in html_forms(asked.text) if f["id"] == "suspend-form"]
    assert region.name in asked.text
    region.refresh_from_db()
    assert region.status == "active"
    # Without a reason: asked again, nothing written.
    fields = dict(confirm["fields"])
    again = admin.post(listing, data={**fields, "reason": "   "})
    assert again.status_code == 200 and 'id="suspend-form"' in again.text
    assert "errorlist" in again.text
    region.refresh_from_db()
    assert region.status == "active"
    assert not CentralAuditEntry.objects.filter(
        region_code=region.code, action="region.suspended"
    ).exists()
    # With one: suspended through the service, the reason kept and audited, and the
    # region's hosts answer with it, as when the API suspends.
    done = admin.post(listing, data={**fields, "reason": "年审未通过"})
    assert done.status_code == 302
    region.refresh_from_db()
    assert region.status == "suspended" and region.suspended_reason == "年审未通过"
    entry = CentralAuditEntry.objects.get(region_code=region.code, action="region.suspended")
    assert entry.detail["reason"] == "年审未通过"
    assert entry.actor == f"central:{admin.admin_user.username}"
    refused = gql.post(f"pol{region.code}.localhost", "{ region { code } }")
    assert refused.status_code == 403
    (error,) = refused.json()["errors"]
    assert error["extensions"]["code"] == "REGION_SUSPENDED" and "年审未通过" in error["message"]
