"""Issue 6 §5: abusive queries get a clear error; production hides what it should."""

from __future__ import annotations

import httpx
import pytest
from graphql import GraphQLError

from central.errors import PermissionDenied
from schema.errors import AccessError, QueryError
from schema.hardening import _is_unexpected
from tests.support import PlatformServer, platform_database_url


def _errors(body: dict) -> str:
    return " ".join(e["message"] for e in body.get("errors", []))


def test_depth_limit(gql, seed_regions):
    nested = "name " + "subgroups { " * 11 + "name" + " }" * 11
    query = "{ groups(first: 1) { edges { node { " + nested + " } } } }"
    body = gql.region("chongqing", query)
    assert body.get("data") is None
    assert "exceeds maximum operation depth" in _errors(body)


def test_alias_limit(gql, seed_regions):
    query = "{ " + " ".join(f"a{i}: region {{ code }}" for i in range(20)) + " }"
    body = gql.region("chongqing", query)
    assert "aliases found" in _errors(body).lower() or "alias" in _errors(body).lower()


def test_token_limit(gql, seed_regions):
    query = "{ region { " + " ".join(["code"] * 2500) + " } }"
    body = gql.region("chongqing", query)
    assert "token" in _errors(body).lower()


def test_page_size_cap(gql, seed_regions):
    body = gql.region("chongqing", "{ groups(first: 101) { edges { node { name } } } }")
    assert body["errors"][0]["extensions"] == {"code": "INVALID", "field": "first"}


def test_batches_are_capped(gql, seed_regions):
    one = {"query": "{ region { code } }"}
    small = gql.http.post("/graphql", json=[one, one], headers={"Host": "chongqing.localhost"})
    assert small.status_code == 200
    assert [item["data"]["region"]["code"] for item in small.json()] == ["500000", "500000"]
    big = gql.http.post("/graphql", json=[one] * 11, headers={"Host": "chongqing.localhost"})
    assert big.status_code == 400
    assert "Too many operations" in big.text


def test_only_unexpected_errors_are_masked():
    assert _is_unexpected(GraphQLError("boom", original_error=KeyError("x")))
    assert not _is_unexpected(
        GraphQLError("typed", original_error=AccessError(PermissionDenied("no")))
    )
    assert not _is_unexpected(
        GraphQLError("typed", original_error=QueryError(PermissionDenied("no")))
    )
    assert not _is_unexpected(GraphQLError("Syntax Error"))


@pytest.fixture(scope="module")
def production(seed_regions):
    with PlatformServer(platform_database_url(), env={"PLATFORM_ENV": "production"}) as running:
        yield running


def test_production_switches_off_graphiql_and_introspection(production):
    page = httpx.get(
        f"{production.base_url}/graphql",
        headers={"Host": "chongqing.localhost", "Accept": "text/html"},
    )
    assert "graphiql" not in page.text.lower()
    introspection = httpx.post(
        f"{production.base_url}/graphql",
        json={"query": "{ __schema { types { name } } }"},
        headers={"Host": "chongqing.localhost"},
    ).json()
    assert introspection.get("data") is None
    assert "introspection" in _errors(introspection).lower()
    # Typed domain errors still reach the client unmasked.
    denied = httpx.post(
        f"{production.base_url}/graphql",
        json={"query": "{ regions { code } }"},
        headers={"Host": "localhost"},
    )
    assert denied.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
