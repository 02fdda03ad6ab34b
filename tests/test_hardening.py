"""Issue 6 §5: abusive queries get a clear error; production hides what it should.
Issue 6 §6: parsing and validation are cached process-wide without loosening any
limit; responses are encoded with orjson."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
import strawberry
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.functional import lazy
from graphql import GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension

from central.errors import PermissionDenied
from schema.errors import AccessError, QueryError
from schema.hardening import CachedParsingAndValidation, _is_unexpected, query_cache
from schema.views import encode_json
from tests.support import PlatformServer, platform_database_url

DEEP = (
    "{ groups(first: 1) { edges { node { name "
    + "subgroups { " * 11
    + "name"
    + " }" * 11
    + " } } } }"
)
ALIASES = "{ " + " ".join(f"a{i}: region {{ code }}" for i in range(20)) + " }"
TOKENS = "{ region { " + " ".join(["code"] * 2500) + " } }"
UNKNOWN_FIELD = "{ region { nosuchfield } }"


def _errors(body: dict) -> str:
    return " ".join(e["message"] for e in body.get("errors", []))


def _refused(body: dict, query: str) -> bool:
    """Whether ``body`` is the refusal ``query`` must get (no data, the right error)."""
    expected = {
        DEEP: "exceeds maximum operation depth of 10",
        ALIASES: "aliases found",
        TOKENS: "more than 2000 tokens",
        UNKNOWN_FIELD: "Cannot query field 'nosuchfield'",
    }[query]
    return body.get("data") is None and expected in _errors(body)


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
        timeout=30,  # a worker's first request imports the schema: slow on a loaded machine
    )
    assert "graphiql" not in page.text.lower()
    for _ in range(3):  # the refusal is cached: every send is refused all the same
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


# --- the process-wide parser and validation cache -------------------------------------


def test_abusive_queries_are_refused_on_every_send(gql, seed_regions):
    """The second and third sends hit the cache (as far as the same worker
    answers them) and are refused exactly like the first."""
    for _ in range(3):
        for query in (DEEP, ALIASES, TOKENS, UNKNOWN_FIELD):
            body = gql.region("chongqing", query)
            assert _refused(body, query), (query[:40], body)
        assert gql.region("chongqing", "{ region { code } }") == {
            "data": {"region": {"code": "500000"}}
        }


def test_cache_is_hit_and_keeps_failing_results():
    from schema.region import schema

    cache = query_cache()
    probe = f"query Probe{uuid.uuid4().hex} {{ __typename }}"
    deep = DEEP.replace("{ groups", f"query Deep{uuid.uuid4().hex} {{ groups", 1)
    before = cache.info()
    results = [schema.execute_sync(query) for query in (probe, probe, deep, deep, deep)]
    after = cache.info()

    assert [r.data for r in results[:2]] == [{"__typename": "Query"}] * 2
    for failed in results[2:]:
        assert failed.data is None and failed.errors
        assert "exceeds maximum operation depth of 10" in failed.errors[0].message
    # each text parsed and validated once, then served from the cache
    for part in ("documents", "validations"):
        assert after[part]["misses"] - before[part]["misses"] == 2, part
        assert after[part]["hits"] - before[part]["hits"] == 3, part
    # every request gets its own list of the cached errors
    assert results[3].errors is not results[4].errors
    assert results[3].errors == results[4].errors


def test_text_that_does_not_parse_is_not_cached():
    from schema.region import schema

    cache = query_cache()
    broken = f"{{ region {{ code }} # {uuid.uuid4().hex}"
    before = cache.info()["documents"]
    for _ in range(2):
        result = schema.execute_sync(broken)
        assert result.data is None and result.errors
        assert "Syntax Error" in result.errors[0].message
    after = cache.info()["documents"]
    assert after["misses"] - before["misses"] == 2
    assert after["hits"] == before["hits"]


@strawberry.type
class _Query:
    greeting: str = "你好"


class _IntrospectionOffWhenAsked(SchemaExtension):
    """Adds the no-introspection rule for requests whose context asks for it: the
    same schema and query text then validate under two sets of rules."""

    def on_operation(self) -> Iterator[None]:
        if self.execution_context.context["closed"]:
            self.execution_context.validation_rules = (
                *self.execution_context.validation_rules,
                NoSchemaIntrospectionCustomRule,
            )
        yield


def test_validation_results_are_keyed_by_the_rules():
    schema = strawberry.Schema(
        query=_Query,
        extensions=[
            _IntrospectionOffWhenAsked,
            lambda: CachedParsingAndValidation(query_cache()),
        ],
    )
    query = "{ __schema { queryType { name } } greeting }"
    for _ in range(3):
        opened = schema.execute_sync(query, context_value={"closed": False}, root_value=_Query())
        assert opened.errors is None
        assert opened.data == {"__schema": {"queryType": {"name": "Query"}}, "greeting": "你好"}
        closed = schema.execute_sync(query, context_value={"closed": True}, root_value=_Query())
        assert closed.data is None and closed.errors
        assert "introspection" in closed.errors[0].message.lower()


def test_concurrent_requests_share_the_cache_correctly():
    """Eight threads of one process, the same few texts, valid and abusive mixed:
    every answer is the one its query must get."""
    from schema.region import schema

    valid = "{ __typename }"
    queries = [valid, DEEP, ALIASES, TOKENS, UNKNOWN_FIELD] * 40

    def answer(query: str) -> bool:
        result = schema.execute_sync(query)
        if query == valid:
            return result.errors is None and result.data == {"__typename": "Query"}
        body = {
            "data": result.data,
            "errors": [{"message": e.message} for e in result.errors or ()],
        }
        return _refused(body, query)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(answer, queries))


def test_concurrent_http_requests_get_their_own_answers(server, seed_regions):
    """The same through gunicorn's threads: several hosts and queries at once."""
    hosts = {"chongqing.localhost": "500000", "yunnan.localhost": "530000"}

    def client_thread(number: int) -> list[str]:
        problems = []
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            for i in range(12):
                host = list(hosts)[(number + i) % 2]
                query = [
                    "{ region { code name } }",
                    DEEP,
                    ALIASES,
                    TOKENS,
                    UNKNOWN_FIELD,
                    "{ region { code } }",
                ][(number + i) % 6]
                body = http.post("/graphql", json={"query": query}, headers={"Host": host}).json()
                if query in ("{ region { code name } }", "{ region { code } }"):
                    ok = (
                        body.get("errors") is None and body["data"]["region"]["code"] == hosts[host]
                    )
                else:
                    ok = _refused(body, query)
                if not ok:
                    problems.append(f"{host} {query[:30]}: {body}")
        return problems

    with ThreadPoolExecutor(max_workers=8) as pool:
        problems = [p for found in pool.map(client_thread, range(8)) for p in found]
    assert problems == []


# --- orjson responses -----------------------------------------------------------------


def test_responses_are_the_same_json_with_chinese_unescaped(gql, seed_regions):
    response = gql.post("chongqing.localhost", "{ region { code name } }")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.content == '{"data":{"region":{"code":"500000","name":"重庆市"}}}'.encode()


def test_encoding_matches_the_previous_encoder():
    """Everything strawberry's ``json.dumps`` (with Django's encoder) wrote, byte
    for byte, except that non-ASCII text is no longer escaped."""
    lazy_text = lazy(lambda: "待审团体组", str)()
    data = [
        {
            "data": {"name": "随州市", "hours": "2.50", "count": 3, "ok": True, "none": None},
            "errors": [
                {
                    "message": "志愿者 not found",
                    "locations": [{"line": 1, "column": 3}],
                    "path": ["volunteer", 0],
                    "extensions": {"code": "NOT_FOUND", "group": lazy_text, "x": Decimal("1.5")},
                }
            ],
        },
        {"data": {"emoji": "🙂", "quote": 'a "b" \\ c\n', "float": 1.25}},
    ]
    before = json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"))
    encoded = encode_json(data)
    assert json.loads(encoded) == json.loads(before)
    unescaped = json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)
    assert encoded == unescaped.encode()
    assert "随州市".encode() in encoded and b"\\u" not in encoded
