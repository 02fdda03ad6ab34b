"""Issue 16 point 2: a single POSTed query whose text this process has already
parsed and validated without error is run by compiled execution straight from
the view (``schema/views.py`` ``direct``), without strawberry's view and
extension machinery. It must answer byte for byte as the full path does, with
the same headers, and leave to the full path whatever it must not handle: a
text not seen valid, a mutation, a batch, GET, ``extensions`` (persisted
queries), variables ``InputChecks`` refuses, and any query that fails (typed
errors, 000 Art.3: who may see a volunteer's personal information).

In this process (Django's test client, the real middleware), as the statement
counts of ``test_query_counts.py`` are taken; the view's full path is watched by
wrapping strawberry's ``run``.
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from central.tenancy import connection
from schema.views import RegionGraphQLView
from tests.registry_support import authority, hierarchy, join_group, login, register_volunteer
from tests.support import generated_region, unique_city_code

CODE = unique_city_code("13")
SLUG = f"direct{CODE}"
HOST = f"{SLUG}.localhost"


@pytest.fixture(scope="module")
def region(seed_regions):
    return generated_region(CODE, SLUG, volunteers=5, groups=1, records_per_volunteer=1, seed=3)


@pytest.fixture(scope="module")
def number(region):
    with tenant_context(region):
        from tenants.volunteers.models import Volunteer

        return Volunteer.objects.order_by("id").values_list("number", flat=True).first()


@pytest.fixture(scope="module")
def token(region, gql_module):
    return authority(gql_module, SLUG, level="province")


@pytest.fixture(scope="module")
def gql_module(server):
    from tests.support import GraphQLClient

    return GraphQLClient(server.base_url)


@pytest.fixture
def full_runs(monkeypatch):
    """How many requests went the full way (strawberry's ``run``)."""
    calls = []
    original = RegionGraphQLView.run

    def counting(self, request, *args, **kwargs):
        calls.append(request.path)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(RegionGraphQLView, "run", counting)
    return calls


def lookup_query() -> str:
    """``volunteer(number:)`` as bench/lookups.py sends it, with a comment of its own so
    that this process has never seen the text."""
    return (
        f"# {uuid.uuid4().hex}\nquery($n: String!) {{ volunteer(number: $n) {{ number name "
        "gender birthDate status verification serviceArea skills idNumberMasked phoneMasked } }"
    )


def post(body, token: str | None, compiled: str = "on", host: str = HOST, **headers):
    client = Client(HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE="en")
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    graphql = {**settings.GRAPHQL, "COMPILED_EXECUTION": compiled}
    with override_settings(GRAPHQL=graphql), CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/graphql", json.dumps(body), content_type="application/json", **headers
        )
    connection.set_schema_to_public()
    statements = [
        q["sql"] for q in captured.captured_queries if not q["sql"].startswith("SET search_path")
    ]
    return response, statements


def shown(response) -> tuple:
    headers = {k: v for k, v in response.items() if k not in ("X-Request-Id",)}
    return response.status_code, headers, response.content


@pytest.mark.parametrize("compiled", ["on", "verify"])
def test_a_query_seen_valid_runs_directly_and_answers_as_the_full_path(
    compiled, number, token, full_runs
):
    body = {"query": lookup_query(), "variables": {"n": number}}
    first, first_sql = post(body, token, compiled)
    assert full_runs == ["/graphql"]  # a text never seen: parsed and validated the full way
    second, second_sql = post(body, token, compiled)
    assert full_runs == ["/graphql"]  # … and then run directly
    assert shown(second) == shown(first)
    assert json.loads(second.content)["data"]["volunteer"]["number"] == number
    assert len(second_sql) == len(first_sql)
    if compiled == "on":  # ("verify" loads the volunteer again, for graphql-core)
        assert len(second_sql) <= 4  # host, token, roles, the volunteer
    # The new media type, asked for: as the full path answers it.
    accept = {"HTTP_ACCEPT": "application/graphql-response+json"}
    third, _ = post(body, token, compiled, **accept)
    assert full_runs == ["/graphql"]
    assert third["Content-Type"] == "application/graphql-response+json"
    assert third.content == first.content


def test_what_the_direct_path_leaves_to_the_full_path(number, token, full_runs):
    query = lookup_query()
    variables = {"n": number}
    post({"query": query, "variables": variables}, token)  # now seen valid
    assert len(full_runs) == 1

    # A batch: each operation the full way.
    response, _ = post([{"query": query, "variables": variables}], token)
    assert response.status_code == 200 and json.loads(response.content)[0]["data"]["volunteer"]
    assert len(full_runs) == 2
    # extensions: persisted queries (a hash that does not match is refused as before).
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    response, _ = post({"query": query, "variables": variables, "extensions": wrong}, token)
    assert json.loads(response.content)["errors"][0]["extensions"]["code"] == (
        "PERSISTED_QUERY_HASH_MISMATCH"
    )
    assert len(full_runs) == 3
    # Variables InputChecks refuses: INVALID, from the full path.
    response, _ = post({"query": query, "variables": {"n": "a\x00b"}}, token)
    error = json.loads(response.content)["errors"][0]
    assert error["extensions"]["code"] == "INVALID" and "data" not in json.loads(response.content)
    assert len(full_runs) == 4
    # A mutation is never run by the direct path, even when its text is known.
    mutation = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }"
    for _ in range(2):
        post({"query": mutation, "variables": {"u": "nobody", "p": "wrong-pass"}}, None)
    assert len(full_runs) == 6
    # GET: the full way (and its caching headers).
    client = Client(HTTP_HOST=HOST)
    response = client.get(
        "/graphql", {"query": "{ region { code } }"}, HTTP_ACCEPT="application/json"
    )
    connection.set_schema_to_public()
    assert response.status_code == 200 and len(full_runs) == 7


def test_a_query_that_fails_is_answered_by_the_full_path_once(
    region, number, gql_module, full_runs
):
    """A stranger may not see the volunteer (000 Art.3): compiled execution gives
    up, and the full path answers the typed error as before — without looking the
    caller up again, and with graphql-core reusing the volunteer already loaded."""
    _, username = register_volunteer(SLUG)
    stranger = login(gql_module, SLUG, username)
    body = {"query": lookup_query(), "variables": {"n": number}}
    first, first_sql = post(body, stranger)
    second, second_sql = post(body, stranger)
    assert len(full_runs) == 2  # both times the full path answered
    refused = json.loads(second.content)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert refused["data"] == {"volunteer": None}
    assert shown(second) == shown(first)
    # The second time the direct path tried first: no statement more than the first time.
    assert len(second_sql) == len(first_sql)
    # Anonymous: UNAUTHENTICATED, as before.
    anonymous, _ = post(body, None)
    assert json.loads(anonymous.content)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_plan_is_kept_and_bound_to_each_request(region, token, gql_module, monkeypatch):
    """Compiled execution plans a query once per document (``compiled.py``
    ``_plan_cache``): what depends on the request — the root field's arguments
    and ``Info``, with the variables and the caller — is bound per request. Two
    numbers, two callers, one text: each answer is its own request's."""
    from schema import compiled

    plans = []
    object_completer = compiled.Executor.object_completer

    def counting(self, object_type, selection_sets, path, required=True):
        if required is None:  # the root: a whole query planned
            plans.append(object_type.name)
        return object_completer(self, object_type, selection_sets, path, required)

    monkeypatch.setattr(compiled.Executor, "object_completer", counting)
    with tenant_context(region):
        from tenants.volunteers.models import Volunteer

        first, second = Volunteer.objects.order_by("id").values_list("number", flat=True)[:2]
    _, username = register_volunteer(SLUG)
    stranger = login(gql_module, SLUG, username)
    query = lookup_query()
    answers = [
        json.loads(post({"query": query, "variables": {"n": n}}, caller)[0].content)
        for n, caller in ((first, token), (second, token), (first, stranger), (second, token))
    ]
    assert [a["data"]["volunteer"] and a["data"]["volunteer"]["number"] for a in answers] == [
        first,
        second,
        None,
        second,
    ]
    assert answers[2]["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert len(plans) == 1  # planned for the first request, kept for the others


# Selections of volunteer(number:) whose column choice (and relations) differ: the
# bench's (birthDate: the memberships, for a caller whose right to reveal can come
# from a group), a few columns, a fragment's, and one under @include.
SELECTIONS = {
    "bench": "number name gender birthDate status verification serviceArea skills "
    "idNumberMasked phoneMasked",
    "few": "number name",
    "fragment": "...F } } fragment F on Volunteer { number phoneMasked skills ",
    "include": "number name serviceArea @include(if: $p)",
}


def selection_query(selection: str) -> str:
    """``volunteer(number:)`` selecting ``selection``, a text never seen before."""
    flag = ", $p: Boolean!" if "$p" in selection else ""
    close = "}" if "fragment" in selection else "} }"
    return (
        f"# {uuid.uuid4().hex}\nquery($n: String!{flag}) "
        f"{{ volunteer(number: $n) {{ {selection} {close}"
    )


def test_a_known_document_keeps_its_column_choice(number, token, monkeypatch):
    """Issue 16 point 2: a repeat of a known document neither converts the field's
    selections (strawberry's ``SelectedField``s) nor chooses the columns again
    (``prefetch.py`` ``optimized``, ``_shape``); the statements are the same."""
    from strawberry.types import info as strawberry_info

    from schema.region import prefetch

    calls = []
    convert, only_columns = strawberry_info.convert_selections, prefetch._only_columns

    def converting(*args):
        calls.append("convert")
        return convert(*args)

    def choosing(*args):
        calls.append("columns")
        return only_columns(*args)

    monkeypatch.setattr(strawberry_info, "convert_selections", converting)
    monkeypatch.setattr(prefetch, "_only_columns", choosing)
    body = {"query": lookup_query(), "variables": {"n": number}}
    first, first_sql = post(body, token)
    assert "convert" in calls and "columns" in calls
    calls.clear()
    second, second_sql = post(body, token)
    assert calls == []  # neither again
    assert shown(second) == shown(first) and second_sql == first_sql


def test_a_known_lookup_reads_its_row_by_a_statement_compiled_once(
    region, number, token, gql_module, monkeypatch
):
    """Issue 16 point 2: a repeat of a known document whose ``volunteer(number:)``
    asks for no relation reads the row by a statement compiled once per column list
    (``tenants.loading.unique_row``), not by Django compiling the same SQL again
    for every request: the same statements and answer. The statement holds no
    region: in another region the same text answers that region's volunteer. A
    number given with spaces is trimmed as before."""
    from django.db.models.sql.compiler import SQLCompiler

    from tenants.volunteers.models import Volunteer

    compiled = []
    as_sql = SQLCompiler.as_sql

    def compiling(self, *args, **kwargs):
        if self.query.model is Volunteer:
            compiled.append(self.query.model)
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", compiling)
    query = selection_query("number name skills idNumberMasked")
    first, first_sql = post({"query": query, "variables": {"n": number}}, token)
    assert compiled  # a new document: through optimized() and Django's compiler
    compiled.clear()
    second, second_sql = post({"query": query, "variables": {"n": f"  {number} "}}, token)
    third, _ = post({"query": query, "variables": {"n": number}}, token)
    # The kept statement is compiled for the second request at most (another test in
    # this process may have compiled the same column list already); the old way
    # compiled it for each request.
    assert len(compiled) <= 1
    assert shown(second) == shown(first) == shown(third) and second_sql == first_sql
    assert json.loads(first.content)["data"]["volunteer"]["number"] == number
    assert isinstance(json.loads(first.content)["data"]["volunteer"]["skills"], list)

    other_code = unique_city_code("13")
    other_slug = f"direct{other_code}"
    other = generated_region(other_code, other_slug, volunteers=2, groups=1, seed=4)
    with tenant_context(other):
        theirs = Volunteer.objects.order_by("id").values_list("number", flat=True).first()
    their_token = authority(gql_module, other_slug, level="province")
    compiled.clear()
    there, _ = post(
        {"query": query, "variables": {"n": theirs}}, their_token, host=f"{other_slug}.localhost"
    )
    assert json.loads(there.content)["data"]["volunteer"]["number"] == theirs
    ours_there, _ = post(
        {"query": query, "variables": {"n": number}}, their_token, host=f"{other_slug}.localhost"
    )
    assert json.loads(ours_there.content)["data"]["volunteer"] is None  # not theirs
    assert compiled == []


def test_every_request_finds_its_region_and_token_by_statements_compiled_once(
    number, token, gql_module, monkeypatch
):
    """Every request on a region's host looks the region up by its host name
    (``central/middleware.py``) and, with a token, the token and its account
    (``tenants.accounts.services.authenticate``): both by statements compiled once
    (``unique_row``), where Django compiled them again for every request (~40 % of
    a single lookup's instructions). What they find is unchanged: the answer, a
    revoked token refused, an unknown host refused."""
    from django.db.models.sql.compiler import SQLCompiler

    from central.models import Domain
    from tenants.accounts.models import AccessToken

    compiled = []
    as_sql = SQLCompiler.as_sql

    def compiling(self, *args, **kwargs):
        if self.query.model in (Domain, AccessToken):
            compiled.append(self.query.model.__name__)
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", compiling)
    body = {"query": lookup_query(), "variables": {"n": number}}
    first, _ = post(body, token)
    second, _ = post(body, token)
    assert shown(second)[2] == shown(first)[2]
    assert json.loads(second.content)["data"]["volunteer"]["number"] == number
    # At most once each in this process (an earlier test may have compiled them);
    # the old way compiled both for every request.
    assert len(compiled) <= 2 and sorted(set(compiled)) == sorted(compiled)
    compiled.clear()
    _, username = register_volunteer(SLUG)
    theirs = login(gql_module, SLUG, username)
    mine = json.loads(post({"query": "{ me { username } }"}, theirs)[0].content)
    assert mine["data"]["me"]["username"] == username
    logout = json.loads(post({"query": "mutation { logout { ok } }"}, theirs)[0].content)
    assert logout.get("errors") is None, logout
    refused = json.loads(post({"query": "{ me { username } }"}, theirs)[0].content)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    nowhere = post({"query": "{ region { code } }"}, None, host="nowhere.localhost")[0]
    assert json.loads(nowhere.content)["errors"][0]["extensions"]["code"] == "REGION_NOT_FOUND"
    assert compiled == []


def test_unique_row_refuses_a_query_that_changes_its_value():
    """``unique_row`` runs the kept statement with the value as given: a query that
    normalises the value itself would be run without that, so it is refused when
    its statement is compiled."""
    from tenants.loading import unique_row
    from tenants.volunteers.models import Volunteer

    def trimmed(number: str):
        return Volunteer.objects.filter(number=number.strip())

    def two_values(number: str):
        return Volunteer.objects.filter(number=number, name=number + "x")

    for query in (trimmed, two_values):
        with pytest.raises(ValueError, match="only parameter"):
            unique_row(query, "1", ["id", "number"])


@pytest.mark.parametrize("compiled", ["on", "verify"])
def test_a_kept_column_choice_answers_as_an_uncached_one(
    compiled, region, number, token, gql_module, monkeypatch
):
    """What a known document keeps (its columns, whether it asks for relations) must
    not carry one request's variables or caller into another's: for each selection,
    one text sent by callers with different rights (a region-wide authority, a
    group's staff, who needs the volunteer's memberships to reveal the birth date —
    000 Art.3 —, a stranger, refused) and with different variables answers each with
    the same body and the very statements as a new text with no shape kept. The
    first request keeps the document's shape, the others reuse it; a key that left
    out the field node, or a reuse that ignored whether the caller needs the
    memberships, changes the later statements (tried: both fail here)."""
    from schema.hardening import _LRU
    from schema.region import prefetch

    volunteer, _ = register_volunteer(SLUG)
    h = hierarchy(SLUG)
    join_group(SLUG, h.team, volunteer.number, h.admins["team"])
    staff = login(gql_module, SLUG, h.admins["team"])
    _, username = register_volunteer(SLUG)
    stranger = login(gql_module, SLUG, username)
    for caller in (token, staff, stranger):  # each caller's first lookups out of the way
        post({"query": lookup_query(), "variables": {"n": number}}, caller)
    turns = [  # (caller, number, $p)
        (token, number, True),
        (staff, volunteer.number, True),
        (stranger, volunteer.number, True),
        (token, volunteer.number, False),
        (staff, volunteer.number, False),
    ]
    for name, selection in SELECTIONS.items():
        known = selection_query(selection)
        for caller, n, p in turns:
            variables = {"n": n, "p": p} if "$p" in selection else {"n": n}
            kept, kept_sql = post({"query": known, "variables": variables}, caller, compiled)
            with monkeypatch.context() as uncached:  # no shape kept, none found
                uncached.setattr(prefetch, "_shapes", _LRU(max_entries=0, max_weight=1))
                fresh, fresh_sql = post(
                    {"query": selection_query(selection), "variables": variables}, caller, compiled
                )
            assert shown(kept) == shown(fresh), (name, caller is staff)
            assert kept_sql == fresh_sql, (name, caller is staff)
            answer = json.loads(kept.content)
            assert (answer.get("data") or {}).get("volunteer") or caller == stranger, answer
        staff_answer = json.loads(kept.content)["data"]["volunteer"]
        if "birthDate" in selection:  # the staff may reveal it: their memberships were read
            assert staff_answer["birthDate"] == volunteer.birth_date.isoformat()
        if name == "include":
            assert "serviceArea" not in staff_answer
    refused = json.loads(post({"query": known, "variables": variables}, stranger)[0].content)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
