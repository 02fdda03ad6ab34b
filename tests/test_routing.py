"""Issue 2 §3, §5: one /graphql per host, regions resolved from the Host header,
suspended regions refuse everything, GraphiQL on GET, CSRF-free real POSTs."""

from __future__ import annotations

import pytest
from django.db import connection

from central import services
from tests.support import city_name, unique_city_code

REGION_QUERY = "{ region { code name level policy { publicityWorkingDays recordConfirmation } } }"


@pytest.mark.parametrize(
    ("slug", "code", "name", "level", "days", "confirmation"),
    [
        ("chongqing", "500000", "重庆市", "PROVINCE", 0, "NONE"),
        ("yunnan", "530000", "云南省", "PROVINCE", 3, "COUNTY_CIVIL_AFFAIRS"),
        ("suizhou", "421300", "随州市", "CITY", 0, "NONE"),
        ("fuxin", "210900", "阜新市", "CITY", 0, "NONE"),
    ],
)
def test_each_host_serves_its_own_region(gql, slug, code, name, level, days, confirmation):
    body = gql.region(slug, REGION_QUERY)
    assert body == {
        "data": {
            "region": {
                "code": code,
                "name": name,
                "level": level,
                "policy": {"publicityWorkingDays": days, "recordConfirmation": confirmation},
            }
        }
    }


def test_the_central_host_serves_the_central_api_not_a_region(gql):
    body = gql.central("{ region { code } }")
    assert "errors" in body  # the central `region` needs a code and a token
    assert "Cannot query field" not in str(body) or "code" in str(body)


def test_unknown_host_is_a_clear_404(gql):
    response = gql.post("atlantis.localhost", REGION_QUERY)
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "REGION_NOT_FOUND"


def test_real_post_is_not_refused_for_csrf(gql):
    # A real HTTP POST with no cookies or CSRF token, as a mobile app sends it.
    response = gql.http.post(
        "/graphql",
        content=b'{"query": "{ region { code } }"}',
        headers={"Host": "yunnan.localhost", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"region": {"code": "530000"}}}


def test_graphiql_on_get_in_a_browser(gql):
    response = gql.http.get(
        "/graphql", headers={"Host": "chongqing.localhost", "Accept": "text/html"}
    )
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_policy_change_in_one_region_is_not_seen_in_another(gql):
    code_a, code_b = unique_city_code("33"), unique_city_code("33")
    region_a = services.provision_region(
        services.RegionSpec(code_a, city_name(code_a), "city", "isoa" + code_a), actor="test"
    )
    region_b = services.provision_region(
        services.RegionSpec(code_b, city_name(code_b), "city", "isob" + code_b), actor="test"
    )
    services.update_region_policy(region_a.code, {"publicityWorkingDays": 9}, actor="test")
    seen_a = gql.region(region_a.slug, REGION_QUERY)["data"]["region"]
    seen_b = gql.region(region_b.slug, REGION_QUERY)["data"]["region"]
    assert (seen_a["code"], seen_a["policy"]["publicityWorkingDays"]) == (region_a.code, 9)
    assert (seen_b["code"], seen_b["policy"]["publicityWorkingDays"]) == (region_b.code, 0)


def test_suspended_region_refuses_every_request_until_resumed(gql, central_admin):
    code = unique_city_code("35")
    region = services.provision_region(
        services.RegionSpec(code, city_name(code), "city", f"susp{code}"), actor="test"
    )
    assert gql.region(region.slug, REGION_QUERY)["data"]["region"]["code"] == code
    suspend = """mutation($code: String!) { suspendRegion(code: $code, reason: "数据核查") {
        region { status suspendedReason } errors { code } } }"""
    body = gql.central(suspend, {"code": code}, token=central_admin["token"])
    assert body["data"]["suspendRegion"] == {
        "region": {"status": "SUSPENDED", "suspendedReason": "数据核查"},
        "errors": [],
    }
    for response in (
        gql.post(f"{region.slug}.localhost", REGION_QUERY),
        gql.http.get("/graphql", headers={"Host": f"{region.slug}.localhost"}),
        gql.http.get("/anything/else", headers={"Host": f"{region.slug}.localhost"}),
    ):
        assert response.status_code == 403
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "REGION_SUSPENDED"
        assert "数据核查" in error["message"]
        assert "data" not in response.json() or response.json()["data"] is None
    # Suspending twice is a conflict, not a silent success.
    again = gql.central(suspend, {"code": code}, token=central_admin["token"])
    assert again["data"]["suspendRegion"]["errors"] == [{"code": "CONFLICT"}]
    resume = """mutation($code: String!) { resumeRegion(code: $code) {
        region { status } errors { code } } }"""
    body = gql.central(resume, {"code": code}, token=central_admin["token"])
    assert body["data"]["resumeRegion"] == {"region": {"status": "ACTIVE"}, "errors": []}
    assert gql.region(region.slug, REGION_QUERY)["data"]["region"]["code"] == code


def test_audit_log_is_append_only(seed_regions):
    from django.db import DatabaseError, transaction

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM region_chongqing.audit_auditentry")
        count = cursor.fetchone()[0]
        assert count >= 1
        for statement in (
            "UPDATE region_chongqing.audit_auditentry SET actor = 'forger'",
            "DELETE FROM region_chongqing.audit_auditentry",
        ):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                cursor.execute(statement)
        cursor.execute("SELECT count(*) FROM region_chongqing.audit_auditentry")
        assert cursor.fetchone()[0] == count
