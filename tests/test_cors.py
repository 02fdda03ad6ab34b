"""Front-ends on their own origin (issue 21 finding 1): CORS on both APIs.

Preflights and actual requests go over real HTTP exactly as a browser sends
them (``Origin``, ``Access-Control-Request-Method``/``-Headers``); what a
browser would let the page read follows from the ``Access-Control-*`` answer.
A region's origins are its policy's ``allowedOrigins``, changed by a central
admin through the central API; ``PLATFORM_CORS_ALLOWED_ORIGINS`` adds origins
for every host (a second server started with it).
"""

from __future__ import annotations

import httpx
import pytest

from tests.support import GraphQLClient, PlatformServer, platform_database_url

REGION_ORIGIN = "https://vol.yunnan.example.cn"
OTHER_ORIGIN = "https://vol.hubei.example.cn"
DEV_ORIGIN = "http://localhost:5173"
UPDATE_POLICY = """mutation($code: String!, $policy: JSON!) {
  updateRegionPolicy(code: $code, policy: $policy) {
    region { code policy { allowedOrigins } } errors { field code message } } }"""
QUERY = {"query": "{ region { name } }"}


def preflight(base_url: str, host: str, origin: str, headers: str = "content-type, authorization"):
    return httpx.options(
        f"{base_url}/graphql",
        headers={
            "Host": host,
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": headers,
        },
    )


def actual(base_url: str, host: str, origin: str, **headers: str):
    return httpx.post(
        f"{base_url}/graphql", json=QUERY, headers={"Host": host, "Origin": origin, **headers}
    )


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def set_origins(gql, token: str, code: str, origins: list[str]) -> dict:
    variables = {"code": code, "policy": {"allowedOrigins": origins}}
    answer = gql.central(UPDATE_POLICY, variables, token)
    return answer["data"]["updateRegionPolicy"]


@pytest.fixture(scope="module")
def yunnan_origins(server, central_admin):
    """云南 lets its front-end in; 湖北 lets in its own."""
    gql = GraphQLClient(server.base_url)
    token = central_admin["token"]
    assert set_origins(gql, token, "530000", [REGION_ORIGIN])["errors"] == []
    assert set_origins(gql, token, "420000", [OTHER_ORIGIN])["errors"] == []
    yield
    set_origins(gql, token, "530000", [])
    set_origins(gql, token, "420000", [])


def test_preflight_and_request_of_an_allowed_origin(server, yunnan_origins):
    answer = preflight(server.base_url, "yunnan.localhost", REGION_ORIGIN)
    assert answer.status_code == 204, answer.text
    assert answer.headers["access-control-allow-origin"] == REGION_ORIGIN
    assert "POST" in answer.headers["access-control-allow-methods"]
    allowed_headers = answer.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert int(answer.headers["access-control-max-age"]) > 0
    assert "Origin" in answer.headers["vary"]

    response = actual(server.base_url, "yunnan.localhost", REGION_ORIGIN)
    assert response.status_code == 200 and response.json()["data"]["region"]["name"] == "云南省"
    assert response.headers["access-control-allow-origin"] == REGION_ORIGIN
    assert "Origin" in response.headers["vary"]


def test_a_refused_origin_gets_no_cors_header(server, yunnan_origins):
    for origin in ("https://evil.example", "null", REGION_ORIGIN + ".evil.example"):
        answer = preflight(server.base_url, "yunnan.localhost", origin)
        assert answer.status_code == 403, origin
        assert answer.json()["errors"][0]["extensions"]["code"] == "ORIGIN_NOT_ALLOWED"
        assert cors_headers(answer) == {}, origin
        response = actual(server.base_url, "yunnan.localhost", origin)
        assert cors_headers(response) == {}, origin
        assert "Origin" in response.headers["vary"]


def test_another_regions_origin_is_not_allowed_here(server, yunnan_origins):
    assert cors_headers(preflight(server.base_url, "yunnan.localhost", OTHER_ORIGIN)) == {}
    assert cors_headers(actual(server.base_url, "yunnan.localhost", OTHER_ORIGIN)) == {}
    allowed = preflight(server.base_url, "hubei.localhost", OTHER_ORIGIN)
    assert allowed.headers["access-control-allow-origin"] == OTHER_ORIGIN
    # The central API does not take a region's origins.
    assert cors_headers(preflight(server.base_url, "localhost", REGION_ORIGIN)) == {}


def test_credentials_are_never_allowed_and_never_with_a_wildcard(server, yunnan_origins):
    """The API takes a bearer token, not cookies: no Allow-Credentials, and the
    origin itself is echoed, never ``*``, even when the request carries a cookie."""
    answer = preflight(server.base_url, "yunnan.localhost", REGION_ORIGIN)
    response = actual(server.base_url, "yunnan.localhost", REGION_ORIGIN, Cookie="sessionid=x")
    for each in (answer, response):
        assert "access-control-allow-credentials" not in each.headers
        assert each.headers["access-control-allow-origin"] == REGION_ORIGIN


def test_a_central_admin_changes_the_origins_and_it_takes_effect(gql, server, central_admin):
    token = central_admin["token"]
    origin = "https://liaoning-front.example.cn:8443"
    assert cors_headers(preflight(server.base_url, "liaoning.localhost", origin)) == {}
    changed = set_origins(gql, token, "210000", ["HTTPS://Liaoning-Front.example.cn:8443/"])
    assert changed["errors"] == []
    assert changed["region"]["policy"]["allowedOrigins"] == [origin]  # stored normalized
    answer = preflight(server.base_url, "liaoning.localhost", origin)
    assert answer.status_code == 204 and answer.headers["access-control-allow-origin"] == origin
    set_origins(gql, token, "210000", [])
    assert cors_headers(preflight(server.base_url, "liaoning.localhost", origin)) == {}


def test_an_origin_that_is_not_one_is_refused_and_nothing_changes(gql, central_admin):
    token = central_admin["token"]
    for bad in ("*", "https://a.example/path", "ftp://a.example", "https://*.example.cn", ""):
        refused = set_origins(gql, token, "210900", [bad])
        assert refused["region"] is None, bad
        assert refused["errors"][0]["code"] == "INVALID", bad
        assert refused["errors"][0]["field"].startswith("policy.allowedOrigins"), refused
    policy = gql.region("fuxin", "{ region { policy { allowedOrigins } } }")
    assert policy["data"]["region"]["policy"]["allowedOrigins"] == []


@pytest.fixture(scope="module")
def dev_server(seed_regions):
    """A server started with the development variable."""
    env = {"PLATFORM_CORS_ALLOWED_ORIGINS": f"{DEV_ORIGIN}, http://127.0.0.1:5173"}
    with PlatformServer(database_url=platform_database_url(), env=env) as running:
        yield running


def test_the_environment_variable_applies_to_every_host(dev_server):
    for host in ("localhost", "yunnan.localhost", "suizhou.localhost"):
        answer = preflight(dev_server.base_url, host, DEV_ORIGIN)
        assert answer.status_code == 204, (host, answer.text)
        assert answer.headers["access-control-allow-origin"] == DEV_ORIGIN
        response = actual(dev_server.base_url, host, DEV_ORIGIN)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == DEV_ORIGIN
        assert cors_headers(preflight(dev_server.base_url, host, "http://localhost:3000")) == {}
