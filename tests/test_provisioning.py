"""Issue 2 §4: provisioning through the service, the central GraphQL API, the
``region`` command and the Django admin; all-or-nothing; bad input changes nothing."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from central import services
from central.errors import Conflict, InvalidInput, NotFound
from central.models import CentralAuditEntry, Domain, Region
from tests.support import schema_exists, tables_in, unique_city_code

PROVISION = """
mutation($input: ProvisionRegionInput!) {
  provisionRegion(input: $input) {
    region { code name level status domains parent { code } policy { publicityWorkingDays } }
    errors { field code message }
  }
}
"""


def snapshot():
    """Everything provisioning could leave behind."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'region\\_%%'")
        schemas = sorted(row[0] for row in cursor.fetchall())
    return (
        sorted(Region.objects.values_list("code", flat=True)),
        sorted(Domain.objects.values_list("domain", flat=True)),
        schemas,
    )


def spec(**overrides) -> services.RegionSpec:
    code = overrides.pop("code", None) or unique_city_code()
    fields = dict(
        code=code, name="测试市", level="city", slug=f"t{code}", parent_code=None, preset="default"
    )
    fields.update(overrides)
    return services.RegionSpec(**fields)


def test_provisioning_creates_schema_tables_domain_policy_and_audit(seed_regions):
    region = services.provision_region(
        spec(parent_code=None, preset="fuxin", policy_overrides={"publicityWorkingDays": 2}),
        actor="test",
    )
    assert schema_exists(region.schema_name)
    assert {"audit_auditentry", "django_migrations"} <= tables_in(region.schema_name)
    assert list(region.domains.values_list("domain", "is_primary")) == [
        (f"{region.slug}.localhost", True)
    ]
    policy = region.get_policy()
    assert policy.guardian_consent_below_age == 18  # from the 阜新 preset
    assert policy.publicity_working_days == 2  # the override
    assert CentralAuditEntry.objects.filter(region_code=region.code, action="region.provisioned")
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT action, target FROM "{region.schema_name}".audit_auditentry')
        assert cursor.fetchall() == [("region.provisioned", region.code)]


def test_a_failure_after_the_schema_exists_leaves_nothing_behind(seed_regions, monkeypatch):
    before = snapshot()
    failing = spec(domains=["rollback-check.localhost"])

    def fail_after_schema(*args, **kwargs):
        assert schema_exists(Region.schema_name_for(failing.slug))  # really got this far
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_log", fail_after_schema)
    with pytest.raises(RuntimeError, match="disk full"):
        services.provision_region(failing, actor="test")
    assert snapshot() == before
    assert not schema_exists(Region.schema_name_for(failing.slug))
    monkeypatch.undo()
    # The same request succeeds afterwards: nothing half-made is in the way.
    region = services.provision_region(failing, actor="test")
    assert region.domains.get().domain == "rollback-check.localhost"


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"code": "500000", "level": "province", "slug": "chongqing2"}, "code", "CONFLICT"),
        ({"code": "12345"}, "code", "INVALID"),
        ({"code": "990100"}, "code", "INVALID"),
        ({"code": "130000"}, "code", "INVALID"),  # a province code given as a city
        ({"parent_code": "420000"}, "parentCode", "INVALID"),  # not its province
        ({"code": "450100", "parent_code": "450000"}, "parentCode", "NOT_FOUND"),
        ({"code": "420500", "parent_code": "421300"}, "parentCode", "INVALID"),
        ({"slug": "Bad Slug"}, "slug", "INVALID"),
        ({"slug": "chongqing"}, "slug", "CONFLICT"),
        ({"name": "  "}, "name", "INVALID"),
        ({"domains": ["yunnan.localhost"]}, "domains", "CONFLICT"),
        ({"domains": ["not a host"]}, "domains", "INVALID"),
        ({"domains": ["localhost"]}, "domains", "INVALID"),
        ({"policy_overrides": {"publicityWorkingDays": -3}}, "policy.publicityWorkingDays", None),
        ({"policy_overrides": {"starThresholds": [1, 2]}}, "policy.starThresholds", None),
        ({"preset": "atlantis"}, "preset", None),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(seed_regions, overrides, field, code):
    before = snapshot()
    with pytest.raises((InvalidInput, Conflict, NotFound)) as caught:
        services.provision_region(spec(**overrides), actor="test")
    fields = {p.field: p.code for p in caught.value.problems}
    assert field in fields, fields
    if code:
        assert fields[field] == code
    assert snapshot() == before


def test_every_problem_is_reported_at_once(seed_regions):
    with pytest.raises(InvalidInput) as caught:
        services.provision_region(
            spec(code="12", slug="X", name="", policy_overrides={"publicityWorkingDays": -1}),
            actor="test",
        )
    assert {p.field for p in caught.value.problems} >= {
        "code",
        "slug",
        "name",
        "policy.publicityWorkingDays",
    }


def test_central_graphql_provisions_with_an_admin_token(gql, central_admin):
    code = unique_city_code("42")
    body = gql.central(
        PROVISION,
        {
            "input": {
                "code": code,
                "name": "测试州",
                "level": "CITY",
                "slug": f"gql{code}",
                "parentCode": "420000",
                "domains": [f"gql{code}.localhost", f"alias{code}.localhost"],
                "preset": "suizhou",
                "policy": {"publicityWorkingDays": 4},
            }
        },
        token=central_admin["token"],
    )
    payload = body["data"]["provisionRegion"]
    assert payload["errors"] == []
    assert payload["region"] == {
        "code": code,
        "name": "测试州",
        "level": "CITY",
        "status": "ACTIVE",
        "domains": [f"gql{code}.localhost", f"alias{code}.localhost"],
        "parent": {"code": "420000"},
        "policy": {"publicityWorkingDays": 4},
    }
    # The new region answers on both of its hosts at once.
    for host in (f"gql{code}", f"alias{code}"):
        assert gql.region(host, "{ region { code } }")["data"]["region"]["code"] == code


def test_central_graphql_reports_bad_input_as_typed_errors(gql, central_admin):
    before = snapshot()
    body = gql.central(
        PROVISION,
        {
            "input": {
                "code": "500000",
                "name": "重庆市",
                "level": "PROVINCE",
                "slug": "chongqing",
                "domains": ["yunnan.localhost"],
                "policy": {"publicityWorkingDays": -1},
            }
        },
        token=central_admin["token"],
    )
    payload = body["data"]["provisionRegion"]
    assert payload["region"] is None
    errors = {(e["field"], e["code"]) for e in payload["errors"]}
    assert {
        ("code", "CONFLICT"),
        ("slug", "CONFLICT"),
        ("domains", "CONFLICT"),
        ("policy.publicityWorkingDays", "INVALID"),
    } <= errors
    assert snapshot() == before


def test_central_api_needs_an_admin_token(gql, central_admin):
    anonymous = gql.central("{ regions { code } }")
    assert anonymous["data"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    forged = gql.central("{ regions { code } }", token="cat_forged")
    assert forged["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    before = snapshot()
    refused = gql.central(
        PROVISION,
        {"input": {"code": "130100", "name": "x", "level": "CITY", "slug": "nope"}},
        token="cat_forged",
    )
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert snapshot() == before
    listed = gql.central("{ regions { code } }", token=central_admin["token"])
    assert {"500000", "530000", "421300", "210900"} <= {
        r["code"] for r in listed["data"]["regions"]
    }


def test_login_issues_a_token_that_works_and_rejects_a_wrong_password(gql, central_admin):
    login = (
        'mutation($p: String!) { login(username: "test-central-admin", password: $p) '
        "{ token expiresAt errors { field code } } }"
    )
    wrong = gql.central(login, {"p": "wrong"})["data"]["login"]
    assert wrong["token"] is None
    assert wrong["errors"] == [{"field": "password", "code": "INVALID"}]
    right = gql.central(login, {"p": central_admin["password"]})["data"]["login"]
    assert right["errors"] == [] and right["token"].startswith("cat_")
    assert gql.central('{ region(code: "530000") { name } }', token=right["token"])["data"] == {
        "region": {"name": "云南省"}
    }


def test_update_region_policy_validates_and_applies(gql, central_admin):
    region = services.provision_region(spec(), actor="test")
    mutation = """mutation($code: String!, $policy: JSON!) {
      updateRegionPolicy(code: $code, policy: $policy) {
        region { policy { publicityWorkingDays guardianConsentBelowAge } }
        errors { field code message } } }"""
    bad = gql.central(
        mutation,
        {"code": region.code, "policy": {"publicityWorkingDays": 99, "hubLevels": ["x"]}},
        token=central_admin["token"],
    )["data"]["updateRegionPolicy"]
    assert {e["field"] for e in bad["errors"]} == {
        "policy.publicityWorkingDays",
        "policy.hubLevels.0",
    }
    region.refresh_from_db()
    assert region.get_policy().publicity_working_days == 0
    good = gql.central(
        mutation,
        {"code": region.code, "policy": {"publicityWorkingDays": 5, "guardianConsentBelowAge": 16}},
        token=central_admin["token"],
    )["data"]["updateRegionPolicy"]
    assert good["errors"] == []
    assert good["region"]["policy"] == {"publicityWorkingDays": 5, "guardianConsentBelowAge": 16}
    # The region's own API shows the new policy at once.
    seen = gql.region(region.slug, "{ region { policy { publicityWorkingDays } } }")
    assert seen["data"]["region"]["policy"]["publicityWorkingDays"] == 5
    missing = gql.central(mutation, {"code": "139900", "policy": {}}, token=central_admin["token"])[
        "data"
    ]["updateRegionPolicy"]
    assert missing["errors"][0]["code"] == "NOT_FOUND"


def test_region_command_create_list_show_suspend_resume_set_policy(seed_regions, capsys):
    code = unique_city_code("21")
    call_command(
        "region",
        "create",
        "--code",
        code,
        "--name",
        "测试市",
        "--level",
        "city",
        "--slug",
        f"cli{code}",
        "--parent",
        "210000",
        "--preset",
        "fuxin",
    )
    assert f"created 测试市 ({code})" in capsys.readouterr().out
    region = Region.objects.get(code=code)
    assert region.parent.code == "210000" and schema_exists(region.schema_name)
    call_command("region", "list")
    listing = capsys.readouterr().out
    assert code in listing and "500000" in listing
    call_command("region", "show", code)
    assert '"guardianConsentBelowAge": 18' in capsys.readouterr().out
    call_command("region", "set-policy", code, '{"publicityWorkingDays": 7}')
    region.refresh_from_db()
    assert region.get_policy().publicity_working_days == 7
    call_command("region", "suspend", code, "--reason", "年审未通过")
    region.refresh_from_db()
    assert region.status == "suspended" and region.suspended_reason == "年审未通过"
    call_command("region", "resume", code)
    region.refresh_from_db()
    assert region.status == "active"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["create", "--code", "500000", "--name", "重庆", "--level", "province", "--slug", "cq"],
            "already exists",
        ),
        (
            [
                "create",
                "--code",
                "130100",
                "--name",
                "x",
                "--level",
                "city",
                "--slug",
                "x1",
                "--policy",
                "{not json",
            ],
            "not valid JSON",
        ),
        (
            [
                "create",
                "--code",
                "130100",
                "--name",
                "x",
                "--level",
                "city",
                "--slug",
                "x1",
                "--policy",
                '{"starThresholds": [5]}',
            ],
            "policy.starThresholds",
        ),
        (["show", "999900"], "no region with code 999900"),
        (["set-policy", "500000", '{"publicityWorkingDays": -2}'], "publicityWorkingDays"),
        (["suspend", "500000", "--reason", " "], "say why"),
        (["resume", "500000"], "is not suspended"),
    ],
)
def test_region_command_reports_bad_input_clearly(seed_regions, argv, message):
    before = snapshot()
    policy_before = Region.objects.get(code="500000").policy
    with pytest.raises(CommandError, match=message):
        call_command("region", *argv)
    assert snapshot() == before
    assert Region.objects.get(code="500000").policy == policy_before


def test_django_admin_provisions_through_the_service(seed_regions, central_admin):
    client = Client(HTTP_HOST="localhost")
    client.force_login(central_admin["user"])
    code = unique_city_code("37")
    response = client.post(
        "/admin/central/region/add/",
        {
            "code": code,
            "name": "测试市",
            "level": "city",
            "slug": f"adm{code}",
            "parent": "",
            "domains": f"adm{code}.example.org",
            "preset": "yunnan",
            "policy_overrides": '{"publicityWorkingDays": 5}',
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    region = Region.objects.get(code=code)
    assert schema_exists(region.schema_name)
    assert region.domains.get().domain == f"adm{code}.example.org"
    assert region.get_policy().publicity_working_days == 5
    assert region.get_policy().recorders_need_certificate  # 云南 preset
    # Bad input shows form errors and writes nothing.
    before = snapshot()
    response = client.post(
        "/admin/central/region/add/",
        {
            "code": "500000",
            "name": "x",
            "level": "city",
            "slug": "Bad",
            "parent": "",
            "domains": "",
            "preset": "default",
            "policy_overrides": "{}",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "code" in errors and "slug" in errors
    assert snapshot() == before
    # Editing the policy validates it.
    url = f"/admin/central/region/{region.pk}/change/"
    response = client.post(url, {"policy": '{"publicityWorkingDays": -1}'})
    assert response.status_code == 200
    assert "publicityWorkingDays" in str(response.context["adminform"].form.errors)
    response = client.post(url, {"policy": '{"publicityWorkingDays": 1}'})
    assert response.status_code == 302
    region.refresh_from_db()
    assert region.get_policy().publicity_working_days == 1
