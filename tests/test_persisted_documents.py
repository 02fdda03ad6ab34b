"""Persisted documents (issue 21 finding 5), over real HTTP.

- the automatic persisted-query protocol: an unknown hash answers
  ``PersistedQueryNotFound``, hash and query are checked and kept, then the
  hash alone runs the query (POST, or GET for a query; never a mutation by GET);
- trusted documents: a region registers its front-end's operations with
  ``manage.py documents register``; with ``trustedDocumentsOnly`` (a policy
  flag central admins set) it runs those, by text or by hash, and nothing else;
- anonymous queries by GET carry ``Cache-Control`` and an ``ETag``; a matching
  ``If-None-Match`` answers ``304``.

The JavaScript clients' side (Apollo's ``PersistedQueryLink``, urql's
``persistedExchange``) is in ``tests/test_front_end_clients.py``.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.management import call_command

from central import services
from tests.support import city_name, unique_city_code

GRAPHQL_RESPONSE = "application/graphql-response+json"
POLICY = "query RegionPolicy { region { name policy { publicityWorkingDays } } }"
UPDATE_POLICY = """mutation($code: String!, $policy: JSON!) {
  updateRegionPolicy(code: $code, policy: $policy) { errors { field code message } } }"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(digest: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def post(gql, host: str, body: dict, **headers):
    return gql.http.post("/graphql", json=body, headers={"Host": host, **headers})


def get(gql, host: str, params: dict, **headers):
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    return gql.http.get("/graphql", params=encoded, headers={"Host": host, **headers})


def code_of(answer) -> str:
    return answer.json()["errors"][0]["extensions"]["code"]


def test_automatic_persisted_queries(gql, server):
    host = "suizhou.localhost"
    query = POLICY + " # apq test"
    digest = sha(query)
    # Unknown hash: a GraphQL error the clients recognise, no data entry.
    missing = post(gql, host, {"extensions": persisted(digest)})
    assert missing.status_code == 200, missing.text
    assert missing.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert code_of(missing) == "PERSISTED_QUERY_NOT_FOUND" and "data" not in missing.json()
    strict = post(gql, host, {"extensions": persisted(digest)}, Accept=GRAPHQL_RESPONSE)
    assert strict.status_code == 400 and code_of(strict) == "PERSISTED_QUERY_NOT_FOUND"
    # A query whose hash is not the one sent is refused, and not kept.
    wrong = post(gql, host, {"query": query + " ", "extensions": persisted(digest)})
    assert code_of(wrong) == "PERSISTED_QUERY_HASH_MISMATCH" and "data" not in wrong.json()
    assert code_of(post(gql, host, {"extensions": persisted(digest)})) == (
        "PERSISTED_QUERY_NOT_FOUND"
    )
    bad = post(gql, host, {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": "x"}}})
    assert code_of(bad) == "PERSISTED_QUERY_INVALID"
    # Hash and query: runs and is kept; then the hash alone, by POST and by GET.
    first = post(gql, host, {"query": query, "extensions": persisted(digest)})
    assert first.json()["data"]["region"]["name"] == "随州市"
    again = post(gql, host, {"extensions": persisted(digest)})
    assert again.json() == first.json()
    by_get = get(gql, host, {"extensions": persisted(digest)})
    assert by_get.status_code == 200 and by_get.json() == first.json()


def test_a_mutation_never_runs_by_get(gql, server):
    mutation = 'mutation Login { login(username: "nobody", password: "x") { token } }'
    digest = sha(mutation)
    post(gql, "suizhou.localhost", {"query": mutation, "extensions": persisted(digest)})
    refused = get(gql, "suizhou.localhost", {"extensions": persisted(digest)})
    assert refused.status_code in (400, 405) and "data" not in refused.json()
    by_text = get(gql, "suizhou.localhost", {"query": mutation})
    assert by_text.status_code in (400, 405)


def test_anonymous_get_queries_are_cacheable(gql, server):
    host = "yunnan.localhost"
    answer = get(gql, host, {"query": POLICY})
    assert answer.status_code == 200 and answer.json()["data"]["region"]["name"] == "云南省"
    assert answer.headers["cache-control"].startswith("public")
    etag = answer.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert {"Accept", "Authorization"} <= {v.strip() for v in answer.headers["vary"].split(",")}
    cached = get(gql, host, {"query": POLICY}, **{"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    assert cached.headers["etag"] == etag
    stale = get(gql, host, {"query": POLICY}, **{"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.headers["etag"] == etag
    # The same query by POST, with a token or answered with an error is nobody's to keep.
    assert "etag" not in post(gql, host, {"query": POLICY}).headers
    private = get(gql, host, {"query": POLICY}, Authorization="Bearer not-a-token")
    assert "etag" not in private.headers
    assert "no-store" in private.headers["cache-control"]
    failed = get(gql, host, {"query": "{ region { nosuchfield } }"})
    assert "etag" not in failed.headers


OPERATIONS = """
query RegionPolicy { region { name policy { publicityWorkingDays } } }

query RegionName { region { ...Named } }

fragment Named on Region { name code }
"""


@pytest.fixture(scope="module")
def trusting_region(server):
    """A region of its own whose front-end registered two operations."""
    code = unique_city_code("44")
    region = services.provision_region(
        services.RegionSpec(code, city_name(code), "city", f"trust{code}"), actor="test"
    )
    return region


def test_trusted_documents_on_and_off(gql, trusting_region, central_admin, tmp_path):
    host = f"{trusting_region.slug}.localhost"
    operations = tmp_path / "ops.graphql"
    operations.write_text(OPERATIONS)
    call_command("documents", "register", str(operations), "--region", trusting_region.slug)
    from central.documents import operations_of

    printed = dict(operations_of(OPERATIONS))
    assert set(printed) == {"RegionPolicy", "RegionName"}
    assert "fragment Named" in printed["RegionName"]
    unregistered = "{ region { code } }"

    # Off (the default): anything runs, registered or not.
    assert post(gql, host, {"query": unregistered}).json()["data"]["region"]["code"]

    # A central admin turns it on.
    turn_on = {"code": trusting_region.code, "policy": {"trustedDocumentsOnly": True}}
    assert (
        gql.central(UPDATE_POLICY, turn_on, central_admin["token"])["data"]["updateRegionPolicy"][
            "errors"
        ]
        == []
    )
    refused = post(gql, host, {"query": unregistered})
    assert refused.status_code == 200 and code_of(refused) == "DOCUMENT_NOT_TRUSTED"
    assert "data" not in refused.json()
    strict = post(gql, host, {"query": unregistered}, Accept=GRAPHQL_RESPONSE)
    assert strict.status_code == 400 and code_of(strict) == "DOCUMENT_NOT_TRUSTED"
    # Not even by the persisted-query protocol, and an unknown hash is not "not found":
    # the client must not fall back to sending the text.
    by_apq = post(gql, host, {"query": unregistered, "extensions": persisted(sha(unregistered))})
    assert code_of(by_apq) == "DOCUMENT_NOT_TRUSTED"
    assert code_of(post(gql, host, {"extensions": persisted(sha(unregistered))})) == (
        "DOCUMENT_NOT_TRUSTED"
    )
    # Registered ones run by text, by hash (POST or GET).
    name = city_name(trusting_region.code)
    by_text = post(gql, host, {"query": printed["RegionName"]})
    assert by_text.json()["data"]["region"] == {"name": name, "code": trusting_region.code}
    by_hash = post(gql, host, {"extensions": persisted(sha(printed["RegionPolicy"]))})
    assert by_hash.json()["data"]["region"]["name"] == name
    by_get = get(gql, host, {"extensions": persisted(sha(printed["RegionName"]))})
    assert by_get.status_code == 200 and by_get.json() == by_text.json()
    # Other regions and the central API are not concerned.
    assert post(gql, "yunnan.localhost", {"query": unregistered}).json()["data"]
    assert post(gql, "localhost", {"query": "{ __typename }"}).json()["data"]

    # Off again: anything runs.
    turn_off = {"code": trusting_region.code, "policy": {"trustedDocumentsOnly": False}}
    gql.central(UPDATE_POLICY, turn_off, central_admin["token"])
    assert post(gql, host, {"query": unregistered}).json()["data"]["region"]["code"]


def test_registering_refuses_what_is_not_an_operation(trusting_region, tmp_path):
    from django.core.management.base import CommandError

    from central.models import TrustedDocument

    before = TrustedDocument.objects.filter(region=trusting_region).count()
    for text in ("query {", "fragment F on Region { name }", '{"operations": [{"id": "x"}]}'):
        bad = tmp_path / "bad.graphql"
        bad.write_text(text)
        with pytest.raises(CommandError):
            call_command("documents", "register", str(bad), "--region", trusting_region.slug)
    manifest = tmp_path / "manifest.json"
    body = "query Only { region { name } }"
    manifest.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": sha(body), "name": "Only", "type": "query", "body": body}],
            }
        )
    )
    call_command("documents", "register", str(manifest), "--region", trusting_region.code)
    assert TrustedDocument.objects.filter(region=trusting_region).count() == before + 1


ODD = [
    {"extensions": {"persistedQuery": "x"}},
    {"extensions": {"persistedQuery": None}},
    {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": 5}}},
    {"extensions": {"persistedQuery": {"version": "1", "sha256Hash": "a" * 64}}},
    {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "A" * 64}}},
    {"extensions": {"persistedQuery": {"version": 1}}, "query": "{ region { code } }"},
    {"extensions": {"persistedQuery": []}},
    {"extensions": []},
    {"extensions": "x"},
]


@pytest.mark.parametrize("body", ODD, ids=range(len(ODD)))
def test_odd_persisted_query_requests_are_typed_errors(gql, server, body):
    for answer in (
        post(gql, "suizhou.localhost", body),
        get(gql, "suizhou.localhost", body),
        get(gql, "suizhou.localhost", {"extensions": "{not json"}),
    ):
        assert 400 <= answer.status_code < 500 or answer.status_code == 200, answer.text
        payload = answer.json()
        assert "data" not in payload and payload["errors"][0]["extensions"]["code"], payload


def test_the_central_api_speaks_the_same_protocol(gql, server):
    query = "query CentralTypename { __typename }"
    digest = sha(query)
    assert code_of(post(gql, "localhost", {"extensions": persisted(digest)})) == (
        "PERSISTED_QUERY_NOT_FOUND"
    )
    kept = post(gql, "localhost", {"query": query, "extensions": persisted(digest)})
    assert kept.json() == {"data": {"__typename": "CentralQuery"}}
    by_get = get(gql, "localhost", {"extensions": persisted(digest)})
    assert by_get.json() == kept.json() and by_get.headers["etag"]
