"""Issue 6: SQL statements per request for every nested query the README shows,
and compiled execution (``schema/compiled.py``) answering exactly as graphql-core.

Each query runs in this process through the real middleware (Django's test
client) against a region filled by ``manage.py generate_data``, once with a
small page and once with a large one: the statement count must be the same
(it depends on the query's shape, never on the rows) and within its bound.
"""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context
from graphql import FieldNode, NameNode

from central.tenancy import connection
from schema import compiled
from schema.region.pagination import encode_cursor
from tenants.accounts.services import OperatorPrincipal
from tenants.groups.models import Membership, VolunteerGroup
from tests.registry_support import authority, login, register_volunteer
from tests.support import (
    execute_in_process,
    generated_region,
    gid,
    object_type,
    row_key,
    unique_city_code,
)

CODE = unique_city_code("13")
SLUG = f"counts{CODE}"

# The benchmark's page (bench/nested_page.py, issue 6), README "Benchmarks".
NESTED_PAGE = """query($first: Int!) { groups(first: $first) { edges { node { name
  volunteers(first: 20) { edges { node { number name
    records(first: 10) { edges { node { hours serviceDate } } } } } } } } } }"""
# The same through `members` (every active member, no page).
MEMBERS_PAGE = """query($first: Int!) { groups(first: $first) { edges { node { name members {
  volunteer { number name records(first: 10) { edges { node { hours serviceDate } } } } } } } } }"""
# README "Volunteers and groups": group(id:) with its relations.
GROUP_TREE = """query($id: ID!) { group(id: $id) { name subgroups { name } liaisonGroup { name }
  viewingGroups { name } members { volunteer { number name } } applications { id } } }"""
# README "Records": a volunteer's totals and records with amendments, over a page.
VOLUNTEER_PAGE = """query($first: Int!) { volunteers(first: $first) { edges { node { number
  totalHours starLevel eligibleStarLevel memberships { status group { name } }
  records(first: 5) { edges { node { hours state amendments { reason } } } } } } } }"""
# README "Records": group { projects { records } }.
GROUP_PROJECTS = (
    """query($id: ID!) { group(id: $id) { projects { name records { hours state } } } }"""
)
# README "Trainings, awards and complaints".
RECOGNITION_PAGE = """query($first: Int!) { volunteers(first: $first) { edges { node {
  trainings { title group { name } } awards { title } complaints { status } } } } }"""


@pytest.fixture(scope="module")
def region(seed_regions):
    return generated_region(CODE, SLUG, volunteers=80, groups=4, records_per_volunteer=6, seed=7)


def _groups_by_size():
    """The group with the most active members and one with the fewest."""
    from django.db.models import Count, Q

    groups = list(
        VolunteerGroup.objects.annotate(
            n=Count("memberships", filter=Q(memberships__status="active"))
        ).order_by("n", "id")
    )
    return groups[-1], groups[0]


def statements(query: str, variables: dict, token: str) -> tuple[dict, list[str]]:
    answer, sql = execute_in_process(SLUG, query, variables, token)
    assert "errors" not in answer, answer
    return answer, sql


@pytest.mark.parametrize(
    ("query", "small", "large", "bound"),
    [
        # host, token, roles, groups, memberships with their volunteers, records
        (NESTED_PAGE, {"first": 1}, {"first": 4}, 6),
        (MEMBERS_PAGE, {"first": 1}, {"first": 4}, 6),
        # host, token, roles, page joined with totals, memberships with their
        # groups, records (amendments: only of amended records, here none)
        (VOLUNTEER_PAGE, {"first": 2}, {"first": 20}, 6),
        # host, token, roles, page, trainings with their groups, awards, complaints
        (RECOGNITION_PAGE, {"first": 2}, {"first": 20}, 7),
    ],
    ids=["nested-page", "members-page", "volunteer-page", "recognition-page"],
)
def test_pages_cost_the_same_statements_whatever_their_size(
    region, gql, query, small, large, bound
):
    token = authority(gql, SLUG, level="province")
    small_answer, small_sql = statements(query, small, token)
    large_answer, large_sql = statements(query, large, token)
    assert len(small_sql) == len(large_sql), large_sql
    assert len(large_sql) <= bound, large_sql
    assert len(str(large_answer)) > len(str(small_answer))


def test_amended_records_on_the_page_cost_no_statement_more(region, gql):
    """Issue 16 point 2: the nested page is 6 statements also when records on it were
    amended (their amendments travel in the records' statement), and shows the
    amended hours (the latest amendment that sets hours: 000 Art.10's record kept
    current), with "verify" comparing the compiled answer with graphql-core's."""
    from decimal import Decimal

    from django.db import transaction

    from tenants.records.models import Amendment, ServiceRecord

    token = authority(gql, SLUG, level="province")
    _, before = statements(NESTED_PAGE, {"first": 4}, token)
    with tenant_context(region), transaction.atomic():
        group = VolunteerGroup.objects.order_by("id").first()
        member = (
            Membership.objects.filter(group=group, status="active").order_by("volunteer_id").first()
        )
        assert member is not None
        record, other = ServiceRecord.objects.filter(volunteer_id=member.volunteer_id).order_by(
            "id"
        )[:2]
        for amended_hours in ("0.50", "1.25"):  # the later one counts
            Amendment.objects.create(
                record=record, hours=Decimal(amended_hours), place="改", reason="测", amended_by="t"
            )
        Amendment.objects.create(record=other, place="只改地点", reason="测", amended_by="t")
        answer, after = statements(NESTED_PAGE, {"first": 4}, token)
        verified, _ = execute_in_process(SLUG, NESTED_PAGE, {"first": 4}, token, "verify")
        transaction.set_rollback(True)
    assert len(after) == len(before) <= 6, after
    assert verified == answer
    first = answer["data"]["groups"]["edges"][0]["node"]["volunteers"]["edges"][0]["node"]
    hours = [e["node"]["hours"] for e in first["records"]["edges"][:2]]
    assert hours == ["1.25", str(other.hours)]


@pytest.mark.parametrize(
    ("query", "bound"),
    # host, token, roles, the group with its liaison; subgroups, viewing groups,
    # members with volunteers, applications — and projects, their records
    [(GROUP_TREE, 8), (GROUP_PROJECTS, 6)],
    ids=["group-tree", "group-projects"],
)
def test_a_group_costs_the_same_statements_whatever_its_size(region, gql, query, bound):
    token = authority(gql, SLUG, level="province")
    with tenant_context(region):
        big, small = _groups_by_size()
        assert Membership.objects.filter(group=big).count() > 3
    _, big_sql = statements(query, {"id": gid(SLUG, big)}, token)
    _, small_sql = statements(query, {"id": gid(SLUG, small)}, token)
    assert len(big_sql) == len(small_sql), big_sql
    assert len(big_sql) <= bound, big_sql


def test_the_nested_page_is_compiled_and_answers_as_graphql_core(region, gql, monkeypatch):
    """The page really runs compiled (not by falling back), and its answer is
    graphql-core's byte for byte."""
    token = authority(gql, SLUG, level="province")
    compiled_answers = []
    run = compiled.run_plan  # (every compiled run, its plan new or kept)

    def counting(*args):
        data = run(*args)
        compiled_answers.append(data)
        return data

    monkeypatch.setattr(compiled, "run_plan", counting)
    on, _ = execute_in_process(SLUG, NESTED_PAGE, {"first": 4}, token, compiled="on")
    assert len(compiled_answers) == 1 and compiled_answers[0] == on["data"]
    off, _ = execute_in_process(SLUG, NESTED_PAGE, {"first": 4}, token, compiled="off")
    assert len(compiled_answers) == 1  # "off" does not compile
    assert on == off
    edges = on["data"]["groups"]["edges"]
    assert sum(len(e["node"]["volunteers"]["edges"]) for e in edges) > 4


FRAGMENTS = """query($skip: Boolean!, $withLevel: Boolean!) {
  __typename
  page: groups(first: 3) { edges { cursor node { __typename ...G
    ... on VolunteerGroup { kind liaisonGroup { id } }
    level @include(if: $withLevel) name @skip(if: $skip) } } pageInfo { hasNextPage endCursor } }
  me { username roles { kind } }
  region { code name }
}
fragment G on VolunteerGroup { id registrationStatus powers }"""


@pytest.mark.parametrize(
    "variables", [{"skip": True, "withLevel": False}, {"skip": False, "withLevel": True}]
)
def test_fragments_aliases_and_directives_answer_as_graphql_core(region, gql, variables):
    token = authority(gql, SLUG, level="province")
    on, _ = execute_in_process(SLUG, FRAGMENTS, variables, token, compiled="on")
    off, _ = execute_in_process(SLUG, FRAGMENTS, variables, token, compiled="off")
    assert "errors" not in on, on
    assert on == off
    node = on["data"]["page"]["edges"][0]["node"]
    assert node["__typename"] == "VolunteerGroup"
    assert ("name" in node) is not variables["skip"]
    assert ("level" in node) is variables["withLevel"]


def test_errors_come_from_graphql_core_unchanged(region, gql):
    """A query that fails part-way (members are not public) gives the same data,
    errors and paths with and without compiled execution."""
    anonymous = ""
    query = "{ groups(first: 2) { edges { node { name members { id } } } } }"
    on, _ = execute_in_process(SLUG, query, {}, anonymous, compiled="on")
    off, _ = execute_in_process(SLUG, query, {}, anonymous, compiled="off")
    assert on == off
    assert on["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert on["errors"][0]["path"] == ["groups", "edges", 0, "node", "members"]
    assert on["data"]["groups"]["edges"][0]["node"]["members"] is None


def test_search_path_is_set_once_per_schema_switch(region, gql):
    """TENANT_LIMIT_SET_CALLS: the page's statements share one SET search_path for
    the region (and one for the public schema, where the host is looked up)."""
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    token = authority(gql, SLUG, level="province")
    client = Client(HTTP_HOST=f"{SLUG}.localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/graphql",
            {"query": NESTED_PAGE, "variables": {"first": 3}},
            content_type="application/json",
        )
    connection.set_schema_to_public()
    assert "errors" not in response.json()
    sets = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SET search_path")]
    assert len(sets) == 2, sets
    assert len(captured.captured_queries) > 6


def test_verify_mode_reports_a_compiled_answer_that_differs(region, gql, monkeypatch):
    """``verify`` (the suite's mode) really compares: a wrong compiled answer is an error."""
    token = authority(gql, SLUG, level="province")
    run = compiled.run_plan

    def wrong(*args):
        data = run(*args)
        data["groups"]["edges"][0]["node"]["name"] += "?"
        return data

    monkeypatch.setattr(compiled, "run_plan", wrong)
    answer, _ = execute_in_process(SLUG, NESTED_PAGE, {"first": 2}, token, compiled="verify")
    assert answer["data"] is None
    assert "compiled execution answered" in answer["errors"][0]["message"]
    on, _ = execute_in_process(SLUG, NESTED_PAGE, {"first": 2}, token, compiled="on")
    assert on["data"]["groups"]["edges"][0]["node"]["name"].endswith("?")


def test_every_listed_field_reads_only_its_columns(region):
    """Declared columns (``model_field``/``reads``): each field, resolved on instances
    loaded with only its type's KEYS and the field's columns, issues no query and
    answers as on fully loaded ones — amended records included (their amendments
    loaded as a page does)."""
    from decimal import Decimal

    from django.db import models, transaction
    from django.test.utils import CaptureQueriesContext

    from schema.region import schema
    from schema.region.prefetch import KEYS, declared_columns
    from tenants.records.models import Amendment, ServiceRecord
    from tenants.related import FewRelatedQuerySet
    from tenants.volunteers.models import Volunteer

    listed: dict[str, type[models.Model]] = {
        "ServiceRecord": ServiceRecord,
        "Volunteer": Volunteer,
        "Membership": Membership,
    }
    assert set(KEYS) == {model._meta.label for model in listed.values()}
    assert {"hours", "serviceDate", "state"} <= set(declared_columns("ServiceRecord"))
    with tenant_context(region), transaction.atomic():
        amended = ServiceRecord.objects.order_by("id").first()
        assert amended is not None
        Amendment.objects.create(
            record=amended, hours=Decimal("0.75"), place="新地点", reason="测", amended_by="t"
        )
        for type_name, model in listed.items():
            fields = declared_columns(type_name)
            graphql_type = object_type(schema._schema, type_name)
            ids = list(model._default_manager.order_by("id").values_list("id", flat=True)[:5])
            full = {row.pk: row for row in model._default_manager.filter(id__in=ids)}
            for field_name, columns in fields.items():
                field = graphql_type.fields[field_name].extensions["strawberry-definition"]
                if field.base_resolver.info_parameter is not None:
                    # Depends on the caller (birthDate: may_reveal), which reads
                    # prefetched memberships: test_birth_dates_cost_no_query_per_row.
                    continue
                wrapper = graphql_type.extensions["strawberry-definition"].origin
                query = model._default_manager.filter(id__in=ids).only(
                    *KEYS[model._meta.label], *columns
                )
                if type_name == "ServiceRecord":
                    assert isinstance(query, FewRelatedQuerySet)
                    query = query.with_few("amendments")
                rows = list(query)
                with CaptureQueriesContext(connection) as captured:
                    resolve = field.base_resolver.wrapped_func
                    values = {row.pk: resolve(wrapper(_model=row)) for row in rows}
                assert captured.captured_queries == [], (type_name, field_name)
                expected = {
                    pk: field.base_resolver.wrapped_func(wrapper(_model=row))
                    for pk, row in full.items()
                }
                assert values == expected, (type_name, field_name)
        assert ServiceRecord.objects.get(id=amended.id).current_value("place") == "新地点"
        transaction.set_rollback(True)


def test_the_nested_page_reads_records_as_tuples_and_answers_as_the_served_baseline(region, gql):
    """Issue 16 point 2: the nested page builds no ``ServiceRecord`` instance (its
    records are read as tuples of the selected columns, tenants/related.py
    ``as_rows``; counted by ``post_init``, which every model instance sends once
    someone listens), amended records show their amended hours, statements stay
    6, and the answer equals the served baseline's hand-written SQL
    (bench/bench_urls.py ``nested_rows``) and graphql-core's ("verify")."""
    from decimal import Decimal

    from django.db import transaction
    from django.db.models.signals import post_init

    from bench.bench_urls import nested_rows
    from tenants.records.models import Amendment, ServiceRecord

    token = authority(gql, SLUG, level="province")
    built: dict[str, int] = {}

    def count(sender, **_kwargs):
        built[sender.__name__] = built.get(sender.__name__, 0) + 1

    with tenant_context(region), transaction.atomic():
        member = (
            Membership.objects.filter(group=VolunteerGroup.objects.order_by("id").first())
            .filter(status="active")
            .order_by("volunteer_id")
            .first()
        )
        assert member is not None
        record = ServiceRecord.objects.filter(volunteer_id=member.volunteer_id).order_by("id")[0]
        Amendment.objects.create(
            record=record, hours=Decimal("2.50"), reason="更正 (000 Art.10)", amended_by="t"
        )
        post_init.connect(count, dispatch_uid="tuple-rows-test")
        try:
            answer, sql = statements(NESTED_PAGE, {"first": 4}, token)
        finally:
            post_init.disconnect(dispatch_uid="tuple-rows-test")
        verified, _ = execute_in_process(SLUG, NESTED_PAGE, {"first": 4}, token, "verify")
        connection.set_tenant(region)  # (the requests left the public schema set)
        baseline = nested_rows(4, 20, 10)
        transaction.set_rollback(True)
    records = [
        r
        for g in answer["data"]["groups"]["edges"]
        for v in g["node"]["volunteers"]["edges"]
        for r in v["node"]["records"]["edges"]
    ]
    assert len(records) > 40
    assert built.get("ServiceRecord", 0) == 0, built
    assert built.get("Volunteer", 0) > 0  # the counter counts (volunteers are instances)
    assert len(sql) <= 6, sql
    assert verified == answer
    assert answer["data"] == baseline
    first = answer["data"]["groups"]["edges"][0]["node"]["volunteers"]["edges"][0]["node"]
    assert first["records"]["edges"][0]["node"]["hours"] == "2.50"


def test_memberships_read_shared_fields_only_for_applicants(region, gql):
    """Issue 16 point 2: a membership's ``shared_fields`` (JSON, decoded row by row) is
    read only where ``applicant`` is selected, which shows it (issue 10 finding 1):
    the nested page's ~1,000 memberships decode none."""
    token = authority(gql, SLUG, level="province")
    _, sql = statements(NESTED_PAGE, {"first": 4}, token)
    memberships = [s for s in sql if "groups_membership" in s]
    assert memberships and not any("shared_fields" in s for s in memberships), memberships
    _, sql = statements(APPLICATIONS, {}, token)
    assert any("shared_fields" in s for s in sql if "groups_membership" in s), sql


def test_the_nested_page_joins_volunteers_without_per_row_populators(region, gql, monkeypatch):
    """Issue 16 point 2: a page's memberships and the volunteers joined to them are
    built straight from each row (tenants/related.py ``_plain_joins``), not through
    Django's per-row ``RelatedPopulator``; the answer is graphql-core's, the joined
    volunteer is cached on its membership as Django caches it, and it does not point
    back at the membership (no cycle, issue 16 point 1)."""
    from django.db.models.query import RelatedPopulator

    from tenants.related import FirstRows

    token = authority(gql, SLUG, level="province")
    populated = []
    original = RelatedPopulator.populate

    def counting(self, row, from_obj):
        populated.append(from_obj)
        return original(self, row, from_obj)

    monkeypatch.setattr(RelatedPopulator, "populate", counting)
    answer, sql = statements(NESTED_PAGE, {"first": 4}, token)
    verified, _ = execute_in_process(SLUG, NESTED_PAGE, {"first": 4}, token, "verify")
    assert verified == answer
    assert len(sql) <= 6, sql
    # (the host's region and the token's account are still joined by Django's own)
    assert not [row for row in populated if isinstance(row, Membership)]
    with tenant_context(region):
        groups = VolunteerGroup.objects.order_by("id")[:2]
        rows = active_memberships_with_volunteers(groups)
        assert rows and all(m.volunteer.id == m.volunteer_id for m in rows)
        assert all(not m.volunteer._state.fields_cache for m in rows)
        assert isinstance(VolunteerGroup.first_memberships, FirstRows)


def active_memberships_with_volunteers(groups) -> list:
    """Each group's first active memberships with their volunteers, as a page joins them."""
    from django.db.models import Prefetch

    from tenants.groups.selectors import active_memberships

    rows = (
        active_memberships()
        .select_related("volunteer")
        .only("id", "group_id", "volunteer_id", "status", "volunteer__id", "volunteer__name")
    )
    loaded = VolunteerGroup.objects.filter(id__in=[g.id for g in groups]).prefetch_related(
        Prefetch("first_memberships", rows.order_by("volunteer_id")[:5], to_attr="page")
    )
    return [m for group in loaded for m in group.page]


def test_every_declared_record_field_answers_alike_on_a_tuple_row(region):
    """A record read as a tuple (``as_rows``, as the nested page reads them: its key,
    its volunteer and the field's declared columns, none of the filters' other
    ``KEYS``) answers every field that declares its columns as a fully loaded
    instance does, with no query — an amended record's current values included (its
    amendments carried in the row, 000 Art.10)."""
    from decimal import Decimal

    from django.db import connection, models, transaction
    from django.db.models import Prefetch
    from django.test.utils import CaptureQueriesContext

    from schema.region import schema
    from schema.region.prefetch import declared_columns
    from tenants.records.models import Amendment, ServiceRecord
    from tenants.related import as_rows
    from tenants.volunteers.models import Volunteer

    graphql_type = object_type(schema._schema, "ServiceRecord")
    wrapper = graphql_type.extensions["strawberry-definition"].origin
    info = SimpleNamespace(context=SimpleNamespace(actor_names=_NoNames()))
    with tenant_context(region), transaction.atomic():
        first = ServiceRecord.objects.order_by("id").first()
        assert first is not None
        Amendment.objects.create(
            record=first, hours=Decimal("0.75"), place="新地点", reason="测", amended_by="t"
        )
        Amendment.objects.create(record=first, content="新内容", reason="测", amended_by="t")
        volunteer_ids = [first.volunteer_id, *Volunteer.objects.values_list("id", flat=True)[:3]]
        for field_name, columns in declared_columns("ServiceRecord").items():
            field = graphql_type.fields[field_name].extensions["strawberry-definition"]
            rows_query = (
                ServiceRecord.objects.order_by("id")
                .only("id", "volunteer_id", *columns)
                .with_few("amendments")
            )
            volunteers = Volunteer.objects.filter(id__in=volunteer_ids).prefetch_related(
                Prefetch("first_records", as_rows(rows_query)[:4], to_attr="prefetched_records")
            )
            rows = [row for v in volunteers for row in v.prefetched_records]
            assert rows and all(
                isinstance(row, tuple) and not isinstance(row, models.Model) for row in rows
            )
            full = {r.id: r for r in ServiceRecord.objects.filter(id__in=[r.id for r in rows])}
            resolve = field.base_resolver.wrapped_func
            needs_info = field.base_resolver.info_parameter is not None

            def answer(row, resolve=resolve, needs_info=needs_info):
                if needs_info:
                    return resolve(wrapper(_model=row), info)
                return resolve(wrapper(_model=row))

            with CaptureQueriesContext(connection) as captured:
                values = {row.id: answer(row) for row in rows}
            assert captured.captured_queries == [], field_name
            assert values == {pk: answer(r) for pk, r in full.items()}, field_name
        transaction.set_rollback(True)


def test_records_read_as_tuples_load_only_the_columns_shown(region, gql):
    """Issue 16 point 2: the nested page's records, read as tuples with no filter,
    load their key, volunteer, the columns the selected fields declare and the
    amendments' mark — not ``KEYS``' project and state, which only a filter reads
    (on the old code every record's statement selected them). With a filter they are
    loaded and the page is the filtered one."""
    from tenants.records.models import ServiceRecord

    token = authority(gql, SLUG, level="province")
    answer, sql = statements(NESTED_PAGE, {"first": 2}, token)
    (read,) = [q for q in sql if '"records_servicerecord"' in q]
    selected = read.split("CROSS JOIN LATERAL (SELECT ", 1)[1].split(" FROM ", 1)[0]
    assert '"records_servicerecord"."project_id"' not in selected, read
    assert '"records_servicerecord"."state"' not in selected, read
    for column in ("id", "volunteer_id", "hours", "service_date"):
        assert f'"records_servicerecord"."{column}"' in selected, read
    assert "has_amendments" in read
    filtered = NESTED_PAGE.replace(
        "records(first: 10)", "records(first: 10, filter: {state: COUNTED})"
    )
    answer, sql = statements(filtered, {"first": 2}, token)
    (read,) = [q for q in sql if '"records_servicerecord"' in q]
    selected = read.split("CROSS JOIN LATERAL (SELECT ", 1)[1].split(" FROM ", 1)[0]
    assert '"records_servicerecord"."state"' in selected, read
    with tenant_context(region):
        for group in answer["data"]["groups"]["edges"]:
            for volunteer in group["node"]["volunteers"]["edges"]:
                counted = ServiceRecord.objects.filter(
                    volunteer__number=volunteer["node"]["number"], state="counted"
                ).order_by("id")[:10]
                dates = [e["node"]["serviceDate"] for e in volunteer["node"]["records"]["edges"]]
                assert dates == [r.service_date.isoformat() for r in counted]


class _NoNames:
    """``info.context.actor_names`` for resolving ``recorder`` outside a request."""

    def name(self, key):
        return f"name of {key}"


GROUP_VOLUNTEERS = """query($id: ID!, $first: Int!, $after: String) { group(id: $id) {
  volunteers(first: $first, after: $after) { edges { cursor node { number }
    membership { status } } pageInfo { hasNextPage endCursor } } } }"""


def test_a_groups_volunteers_come_a_page_at_a_time(region, gql):
    """``VolunteerGroup.volunteers``: active members by volunteer, keyset pages,
    the page cap, and the members' visibility (issue 6's nested page field)."""
    token = authority(gql, SLUG, level="province")
    with tenant_context(region):
        big, _ = _groups_by_size()
        expected = list(
            Membership.objects.filter(group=big, status="active")
            .order_by("volunteer_id")
            .values_list("volunteer__number", flat=True)
        )
    assert len(expected) > 3
    seen, after = [], None
    while True:
        answer = gql.region(
            SLUG, GROUP_VOLUNTEERS, {"id": gid(SLUG, big), "first": 3, "after": after}, token=token
        )
        page = answer["data"]["group"]["volunteers"]
        seen += [edge["node"]["number"] for edge in page["edges"]]
        assert all(edge["membership"]["status"] == "ACTIVE" for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert seen == expected
    too_many = gql.region(SLUG, GROUP_VOLUNTEERS, {"id": gid(SLUG, big), "first": 101}, token=token)
    assert too_many["errors"][0]["extensions"]["field"] == "first"
    bad_cursor = gql.region(
        SLUG, GROUP_VOLUNTEERS, {"id": gid(SLUG, big), "first": 3, "after": "bm9wZQ=="}, token=token
    )
    assert bad_cursor["errors"][0]["extensions"] == {"code": "INVALID", "field": "after"}
    anonymous = gql.region(SLUG, GROUP_VOLUNTEERS, {"id": gid(SLUG, big), "first": 3})
    assert anonymous["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert anonymous["data"]["group"]["volunteers"] is None


GROUPS_VOLUNTEERS_AFTER = """query($after: String) { groups(first: 50) { edges { node { id
  volunteers(first: 3, after: $after) { edges { node { number } } } } } } }"""
SET_PERMISSION_GROUP = """mutation($id: ID!, $p: String!, $after: String) {
  setPermissionGroup(groupId: $id, permissionGroup: $p) { group {
    volunteers(first: 3, after: $after) { edges { node { number } } } } errors { code } } }"""


def test_a_page_past_a_cursor_reads_that_page_not_the_whole_group(region, gql):
    """``volunteers(after:)`` narrows in SQL (keyset and limit), whether prefetched
    for a page of groups, for one group, or read by a mutation's payload: a group
    of 100,000 members does not load them all to show three."""
    token = authority(gql, SLUG, level="province")
    with tenant_context(region):
        big, _ = _groups_by_size()
        members = list(
            Membership.objects.filter(group=big, status="active")
            .order_by("volunteer_id")
            .values_list("volunteer_id", "volunteer__number")
        )
        permission_group = big.permission_group
    cursor = encode_cursor("v", members[1][0])
    wanted = [number for _, number in members[2:5]]
    keyset = f'"groups_membership"."volunteer_id" > {members[1][0]}'

    def membership_reads(sql: list[str]) -> list[str]:
        return [q for q in sql if 'FROM "groups_membership"' in q]

    one, sql = statements(
        GROUP_VOLUNTEERS, {"id": gid(SLUG, big), "first": 3, "after": cursor}, token
    )
    assert [e["node"]["number"] for e in one["data"]["group"]["volunteers"]["edges"]] == wanted
    (read,) = membership_reads(sql)
    assert keyset in read
    page, sql = statements(GROUPS_VOLUNTEERS_AFTER, {"after": cursor}, token)
    nodes = {e["node"]["id"]: e["node"] for e in page["data"]["groups"]["edges"]}
    got = [e["node"]["number"] for e in nodes[gid(SLUG, big)]["volunteers"]["edges"]]
    assert got == wanted
    (read,) = membership_reads(sql)
    assert keyset in read
    changed, sql = statements(
        SET_PERMISSION_GROUP,
        {"id": gid(SLUG, big), "p": permission_group, "after": cursor},
        token,
    )
    group = changed["data"]["setPermissionGroup"]["group"]
    assert [e["node"]["number"] for e in group["volunteers"]["edges"]] == wanted
    (read,) = membership_reads(sql)
    assert keyset in read and "LIMIT 3" in read  # the page: no pageInfo asked


PROJECT_RECORDS = """query($id: ID!, $first: Int!, $after: ID) { project(id: $id) {
  records(first: $first, after: $after) { id } } }"""
GROUP_PROJECT_RECORDS = """query($id: ID!, $after: ID) { group(id: $id) { projects { id
  records(first: 3, after: $after) { id } } } }"""


def test_a_projects_records_come_a_page_at_a_time(region, gql):
    """``Project.records(first, after)``: oldest first, keyset on the record id, in SQL
    whether the project is read alone, in its group's list, or built by the resolver's
    own query; the page cap and a bad ``after`` are typed errors."""
    from django.db.models import Count

    from schema.region.projects.types import Project
    from tenants.projects.models import Project as ProjectModel

    token = authority(gql, SLUG, level="province")
    with tenant_context(region):
        project = ProjectModel.objects.annotate(n=Count("records")).order_by("-n", "id").first()
        assert project is not None
        ids = list(project.records.order_by("id").values_list("id", flat=True))
    assert len(ids) > 6
    seen, after = [], None
    while True:
        page, sql = statements(
            PROJECT_RECORDS, {"id": gid(SLUG, project), "first": 3, "after": after}, token
        )
        got = [row_key(r["id"]) for r in page["data"]["project"]["records"]]
        seen += got
        if after is not None:
            (read,) = [q for q in sql if 'FROM "records_servicerecord"' in q]
            assert f'"records_servicerecord"."id" > {row_key(after)}' in read
        if len(got) < 3:
            break
        after = page["data"]["project"]["records"][-1]["id"]
    assert seen == ids
    everything = gql.region(
        SLUG, PROJECT_RECORDS, {"id": gid(SLUG, project), "first": 100}, token=token
    )
    assert [row_key(r["id"]) for r in everything["data"]["project"]["records"]] == ids[:100]
    grouped, sql = statements(
        GROUP_PROJECT_RECORDS,
        {
            "id": gid(SLUG, project.group_id, "VolunteerGroup"),
            "after": gid(SLUG, ids[2], "ServiceRecord"),
        },
        token,
    )
    (listed,) = [p for p in grouped["data"]["group"]["projects"] if p["id"] == gid(SLUG, project)]
    assert [row_key(r["id"]) for r in listed["records"]] == ids[3:6]
    assert any(f'"records_servicerecord"."id" > {ids[2]}' in q for q in sql)
    for variables, field in (({"first": 101}, "first"), ({"first": 3, "after": "x"}, "after")):
        bad = gql.region(
            SLUG, PROJECT_RECORDS, {"id": gid(SLUG, project), **variables}, token=token
        )
        assert bad["errors"][0]["extensions"] == {"code": "INVALID", "field": field}
    # Not prefetched (a mutation's payload, say): the resolver reads just its page.
    staff = SimpleNamespace(
        context=SimpleNamespace(principal=OperatorPrincipal("test"), policy=None),
        selected_fields=[SimpleNamespace(selections=[])],  # nothing asked under the records
        # … and the field's node in its document (prefetch.optimized keeps shapes by it)
        _raw_info=SimpleNamespace(
            field_nodes=[FieldNode(name=NameNode(value="records"))], fragments={}
        ),
        # the field being resolved, whose page (related(page=...)) the resolver reads
        path=SimpleNamespace(typename="Project"),
        field_name="records",
    )
    with tenant_context(region), CaptureQueriesContext(connection) as captured:
        fresh = ProjectModel.objects.get(id=project.id)
        page = Project(_model=fresh).records(
            staff, first=2, after=gid(SLUG, ids[0], "ServiceRecord")
        )
        assert [r._model.id for r in page] == ids[1:3]
    assert "LIMIT 2" in captured.captured_queries[-1]["sql"]


def test_instances_load_without_init_unless_someone_listens(region):
    """tenants/loading.py: rows become instances without ``Model.__init__`` (loaded,
    not adding, deferred fields still load on access), and through Django's own
    path as soon as a ``post_init`` receiver listens for the model."""
    from django.db import connection
    from django.db.models.signals import post_init
    from django.test.utils import CaptureQueriesContext

    from tenants.volunteers.models import Volunteer

    with tenant_context(region):
        volunteer = Volunteer.objects.only("id", "number").order_by("id").first()
        assert volunteer is not None
        assert volunteer._state.adding is False and volunteer._state.db == "default"
        assert volunteer.get_deferred_fields() >= {"name", "phone_masked"}
        with CaptureQueriesContext(connection) as captured:
            name = volunteer.name
        assert len(captured.captured_queries) == 1
        assert name == Volunteer.objects.get(pk=volunteer.pk).name
        seen = []

        def listener(sender, instance, **kwargs):
            seen.append(instance.pk)

        post_init.connect(listener, sender=Volunteer)
        try:
            loaded = [v.pk for v in Volunteer.objects.order_by("id")[:3]]
        finally:
            post_init.disconnect(listener, sender=Volunteer)
        assert seen == loaded


ALIASES = """query($f: RecordFilter) { page: groups(first: 3) { edges { node {
  few: volunteers(first: 2) { edges { node { number
    two: records(first: 2) { edges { cursor node { hours } } pageInfo { hasNextPage } }
    five: records(first: 5) { edges { node { serviceDate state } } }
    filtered: records(first: 3, filter: $f) { edges { node { state hours } } } } } }
  more: volunteers(first: 30) { pageInfo { hasNextPage endCursor } edges { node { name } } }
  members { status volunteer { number } } } } } }"""


@pytest.mark.parametrize("state", [None, "COUNTED"])
def test_aliases_with_different_arguments_answer_as_graphql_core(region, gql, state):
    """One relation asked for several ways in one query (aliases with different page
    sizes, a filter, the paged and the unpaged members): loaded once as the largest
    need, each alias answered as graphql-core answers it."""
    token = authority(gql, SLUG, level="province")
    variables = {"f": {"state": state} if state else None}
    on, on_sql = execute_in_process(SLUG, ALIASES, variables, token, compiled="on")
    off, _ = execute_in_process(SLUG, ALIASES, variables, token, compiled="off")
    assert "errors" not in on, on
    assert on == off
    node = on["data"]["page"]["edges"][0]["node"]
    volunteer = node["few"]["edges"][0]["node"]
    assert len(volunteer["two"]["edges"]) <= 2 and len(volunteer["five"]["edges"]) <= 5
    assert len(node["more"]["edges"]) == len(node["members"])
    # host, token, roles, groups, all memberships (members), each group's first active
    # ones with their volunteers (volunteers), the records once for every alias
    assert len(on_sql) == 7, on_sql


@pytest.mark.parametrize("literal", [True, False])
def test_pages_load_only_each_parents_first_rows(region, gql, literal):
    """``volunteers(first: 20)`` and ``records(first: 10)``, written in the query or
    passed as variables, load each group's first 20 memberships and each volunteer's
    first 10 records (LATERAL joins, tenants/related.py FirstRows; no row past the
    page, as no pageInfo is asked), not whole histories — and they are the first by id."""
    from tenants.groups.models import VolunteerGroup
    from tenants.records.models import ServiceRecord

    token = authority(gql, SLUG, level="province")
    query, variables = NESTED_PAGE, {"first": 3}
    if not literal:
        query = query.replace("query($first: Int!)", "query($first: Int!, $v: Int!, $r: Int!)")
        query = query.replace("volunteers(first: 20)", "volunteers(first: $v)")
        query = query.replace("records(first: 10)", "records(first: $r)")
        variables = {"first": 3, "v": 20, "r": 10}
    answer, sql = execute_in_process(SLUG, query, variables, token)
    assert "errors" not in answer, answer
    memberships = [s for s in sql if "groups_membership" in s.split(" FROM ")[-1]]
    records = [s for s in sql if '"records_servicerecord"' in s]
    assert len(memberships) == len(records) == 1, sql
    # Each by a LATERAL join: a range of an index per parent, whatever the
    # parents' size (a window function numbered every active membership of them).
    assert "CROSS JOIN LATERAL" in memberships[0] and "LIMIT 20" in memberships[0]
    assert "ROW_NUMBER" not in memberships[0]
    assert "CROSS JOIN LATERAL" in records[0] and "LIMIT 10" in records[0]
    with tenant_context(region):
        for edge in answer["data"]["groups"]["edges"]:
            group = VolunteerGroup.objects.get(name=edge["node"]["name"])
            members = group.memberships.filter(status="active").order_by("volunteer_id")
            numbers = [v["node"]["number"] for v in edge["node"]["volunteers"]["edges"]]
            assert numbers == [m.volunteer.number for m in members[:20]]
            for volunteer in edge["node"]["volunteers"]["edges"]:
                number = volunteer["node"]["number"]
                dates = [e["node"]["serviceDate"] for e in volunteer["node"]["records"]["edges"]]
                first = ServiceRecord.objects.filter(volunteer__number=number).order_by("id")
                assert dates == [r.service_date.isoformat() for r in first[:10]]


NESTED_PAGE_INFO = """query($first: Int!) { groups(first: $first) {
  pageInfo { hasNextPage } edges { node { name
  volunteers(first: 20) { info: pageInfo { hasNextPage } edges { node { number name
    records(first: 4) { ...more edges { node { hours serviceDate } } } } } } } } } }
fragment more on ServiceRecordConnection { pageInfo { hasNextPage } }"""


def test_a_page_reads_a_row_past_its_end_only_for_page_info(region, gql):
    """Issue 16 point 2: the row past a page only tells ``hasNextPage``. Without
    ``pageInfo`` the nested page reads each level's page and no more — on the old
    code 4 groups for 3 (and the 4th group's members and their records), 21
    members a group and 11 records a volunteer —;
    with ``pageInfo`` (as a field, under an alias, in a fragment) the row past the
    end is read at that level, and ``hasNextPage`` is right. Same edges both ways."""
    from tenants.records.models import ServiceRecord

    token = authority(gql, SLUG, level="province")
    lean, lean_sql = statements(
        NESTED_PAGE.replace("records(first: 10)", "records(first: 4)"), {"first": 3}, token
    )
    full, full_sql = statements(NESTED_PAGE_INFO, {"first": 3}, token)

    def limits(sql: list[str]) -> tuple[str, ...]:
        groups = next(s for s in sql if s.startswith('SELECT "groups_volunteergroup"."id"'))
        members = next(s for s in sql if "groups_membership" in s.split(" FROM ")[-1])
        records = next(s for s in sql if '"records_servicerecord"' in s)
        return tuple(
            s.rsplit("LIMIT ", 1)[1].split(")")[0].split()[0] for s in (groups, members, records)
        )

    assert limits(lean_sql) == ("3", "20", "4"), lean_sql
    assert limits(full_sql) == ("4", "21", "5"), full_sql
    assert len(lean_sql) == len(full_sql)

    def edges(answer: dict) -> list:
        return [
            (
                g["node"]["name"],
                [
                    (v["node"]["number"], v["node"]["records"]["edges"])
                    for v in g["node"]["volunteers"]["edges"]
                ],
            )
            for g in answer["data"]["groups"]["edges"]
        ]

    assert edges(lean) == edges(full)
    groups = full["data"]["groups"]
    with tenant_context(region):
        assert groups["pageInfo"]["hasNextPage"] is (VolunteerGroup.objects.count() > 3)
        for edge in groups["edges"]:
            group = VolunteerGroup.objects.get(name=edge["node"]["name"])
            active = group.memberships.filter(status="active").count()
            page = edge["node"]["volunteers"]
            assert page["info"]["hasNextPage"] is (active > 20)
            for volunteer in page["edges"]:
                number = volunteer["node"]["number"]
                records = ServiceRecord.objects.filter(volunteer__number=number).count()
                assert volunteer["node"]["records"]["pageInfo"]["hasNextPage"] is (records > 4)


def test_records_past_a_cursor_for_a_page_of_volunteers(region, gql):
    """``records(after:)`` under a page of volunteers: the keyset goes into the LATERAL
    join; a cursor past any id a column can hold is a typed error, not a failure."""
    from tenants.records.models import ServiceRecord

    token = authority(gql, SLUG, level="province")
    query = """query($after: String) { volunteers(first: 5) { edges { node { number
      records(first: 2, after: $after) { edges { node { id } } } } } } }"""
    with tenant_context(region):
        pivot = ServiceRecord.objects.order_by("id")[20].id
    answer, sql = statements(query, {"after": encode_cursor("r", pivot)}, token)
    (read,) = [q for q in sql if "CROSS JOIN LATERAL" in q]
    # (the page itself: no pageInfo asked, so no row past it)
    assert f'"records_servicerecord"."id" > {pivot}' in read and "LIMIT 2" in read
    with tenant_context(region):
        for edge in answer["data"]["volunteers"]["edges"]:
            wanted = ServiceRecord.objects.filter(
                volunteer__number=edge["node"]["number"], id__gt=pivot
            ).order_by("id")[:2]
            got = [row_key(e["node"]["id"]) for e in edge["node"]["records"]["edges"]]
            assert got == [r.id for r in wanted]
    for huge in ("r:9223372036854775808", "r:-9223372036854775809"):
        cursor = base64.urlsafe_b64encode(huge.encode()).decode()
        refused, _ = execute_in_process(SLUG, query, {"after": cursor}, token)
        assert refused["errors"][0]["extensions"] == {"code": "INVALID", "field": "after"}
    # Ids that are not numbers, or too large for a column, are typed errors too.
    for field, query in (
        ("id", '{ project(id: "9223372036854775808") { id } }'),
        ("id", '{ group(id: "abc") { id } }'),
        ("groupId", '{ volunteers(filter: {groupId: "x"}) { edges { cursor } } }'),
        ("liaisonGroupId", '{ groups(filter: {liaisonGroupId: "x"}) { edges { cursor } } }'),
    ):
        refused, _ = execute_in_process(SLUG, query, {}, token)
        assert refused["errors"][0]["extensions"] == {"code": "INVALID", "field": field}, query


def test_a_filtered_page_of_records_is_read_in_sql(region, gql):
    """``records(filter:)`` under a page of volunteers: the filter's lookups join the
    keyset and the limit in the LATERAL join (written in the query or passed as a
    variable), and a filter that does not parse reads no records at all."""
    from tenants.records.models import ServiceRecord

    token = authority(gql, SLUG, level="province")
    literal = """{ volunteers(first: 5) { edges { node { number
      records(first: 2, filter: {state: COUNTED, dateFrom: "2000-01-01"}) {
        edges { node { id } } } } } } }"""
    variable = """query($f: RecordFilter) { volunteers(first: 5) { edges { node { number
      records(first: 2, filter: $f) { edges { node { id } } } } } } }"""
    for query, variables in (
        (literal, {}),
        (variable, {"f": {"state": "COUNTED", "dateFrom": "2000-01-01"}}),
    ):
        answer, sql = statements(query, variables, token)
        (read,) = [q for q in sql if "CROSS JOIN LATERAL" in q]
        assert '"records_servicerecord"."state" = \'counted\'' in read and "LIMIT 2" in read
        with tenant_context(region):
            for edge in answer["data"]["volunteers"]["edges"]:
                wanted = ServiceRecord.objects.filter(
                    volunteer__number=edge["node"]["number"], state="counted"
                ).order_by("id")[:2]
                got = [row_key(e["node"]["id"]) for e in edge["node"]["records"]["edges"]]
                assert got == [r.id for r in wanted]
    bad, sql = execute_in_process(SLUG, variable, {"f": {"projectId": "x"}}, token)
    assert bad["errors"][0]["extensions"] == {"code": "INVALID", "field": "projectId"}
    assert not [q for q in sql if '"records_servicerecord"' in q], sql


def test_one_relation_asked_for_in_two_places_is_loaded_once(region, gql):
    """An edge's ``node`` and its ``membership { volunteer }`` are the same joined row:
    their records are one prefetch (Django refuses two prefetches of one path with
    different querysets — the query used to fail), and each place gets its own page."""
    from tenants.records.models import ServiceRecord

    token = authority(gql, SLUG, level="province")
    with tenant_context(region):
        big, _ = _groups_by_size()
    query = """query($id: ID!) { group(id: $id) { volunteers(first: 3) { edges {
      node { number records(first: 2) { edges { node { id } } } }
      membership { volunteer { number records(first: 3) { edges { node { id } } } } } } } } }"""
    answer, sql = statements(query, {"id": gid(SLUG, big)}, token)
    assert len([q for q in sql if '"records_servicerecord"' in q]) == 1, sql
    with tenant_context(region):
        for edge in answer["data"]["group"]["volunteers"]["edges"]:
            number = edge["node"]["number"]
            ids = [
                r.id for r in ServiceRecord.objects.filter(volunteer__number=number).order_by("id")
            ]
            assert [row_key(e["node"]["id"]) for e in edge["node"]["records"]["edges"]] == ids[:2]
            again = edge["membership"]["volunteer"]
            assert again["number"] == number
            assert [row_key(e["node"]["id"]) for e in again["records"]["edges"]] == ids[:3]
    # One place needs every column of the volunteer (totalHours: a reverse one-to-one),
    # the other only its number: every column is loaded, none deferred to a query per row.
    alone = """query($id: ID!) { group(id: $id) { volunteers(first: 5) { edges {
      node { number name totalHours } } } } }"""
    both = alone.replace("totalHours }", "totalHours } membership { volunteer { number } }")
    _, alone_sql = statements(alone, {"id": gid(SLUG, big)}, token)
    answer, both_sql = statements(both, {"id": gid(SLUG, big)}, token)
    assert len(both_sql) == len(alone_sql), both_sql
    assert all(e["node"]["name"] for e in answer["data"]["group"]["volunteers"]["edges"])


def test_every_prefetched_list_a_resolver_reads_is_in_relations():
    """A resolver that reads ``prefetched(..., "x")`` must be declared in RELATIONS
    (else a page reads it with one query per row, or with another field's columns)."""
    import re
    from pathlib import Path

    from schema.region.prefetch import RELATIONS

    declared = {name for fields in RELATIONS.values() for name, _ in fields.values()}
    read = set()
    for path in Path(compiled.__file__).parent.joinpath("region").rglob("*.py"):
        read |= set(re.findall(r'prefetched\(\s*[\w.]+,\s*"(\w+)"\)', path.read_text()))
    assert read and read <= declared, read - declared
    assert RELATIONS["VolunteerGroup"]["applications"] == ("memberships", "Membership")


APPLICATIONS = """{ groups(first: 4) { edges { node { members { id volunteer { name } }
  applications { appliedAt applicant { phoneMasked } } } } } }"""


def test_applications_are_prefetched_beside_members(region, gql):
    """Applied memberships alongside members: each list a page of its own, one query
    each for every group of the page (no query per row), each with its own rows."""
    from tenants.groups.models import MembershipStatus
    from tenants.volunteers.models import Volunteer

    token = authority(gql, SLUG, level="province")
    with tenant_context(region):
        group = VolunteerGroup.objects.order_by("id").first()
        assert group is not None
        applicants = list(Volunteer.objects.exclude(memberships__group=group)[:3])
        assert applicants
        for volunteer in applicants:
            Membership.objects.create(
                volunteer=volunteer,
                group=group,
                status=MembershipStatus.APPLIED,
                shared_fields=["phone"],  # what the applicant chose to show the group
            )
    answer, sql = execute_in_process(SLUG, APPLICATIONS, {}, token)
    assert "errors" not in answer, answer
    first = answer["data"]["groups"]["edges"][0]["node"]
    with tenant_context(region):
        pending = group.memberships.filter(status=MembershipStatus.APPLIED).order_by("id")
        active = group.memberships.filter(status=MembershipStatus.ACTIVE).order_by("id")
        # The authority oversees: it sees each application, not what was shared.
        assert [a["applicant"]["phoneMasked"] for a in first["applications"]] == [
            None for _ in pending
        ]
        assert [m["id"] for m in first["members"]] == [gid(SLUG, m) for m in active]
    assert len(first["applications"]) >= len(applicants)
    # host, token, roles, groups, members with their volunteers, applications with theirs
    assert len(sql) == 6, sql


MEMBERS_AFTER = """query($id: ID!, $after: ID) { group(id: $id) {
  members(first: 2, after: $after) { id } } }"""
PAYLOAD_MEMBERS = """mutation($id: ID!, $p: String!, $after: ID) {
  setPermissionGroup(groupId: $id, permissionGroup: $p) { group {
    members(first: 2, after: $after) { id } } errors { code } } }"""


def test_members_come_a_hundred_at_most_and_page_by_id(region, gql):
    """``members(first, after)``: active memberships by id, the keyset and the limit in
    the SQL whether prefetched (``group(id:)``) or read for a mutation's payload."""
    token = authority(gql, SLUG, level="province")
    with tenant_context(region):
        big, _ = _groups_by_size()
        ids = [
            gid(SLUG, i, "Membership")
            for i in big.memberships.filter(status="active")
            .order_by("id")
            .values_list("id", flat=True)
        ]
        permission_group = big.permission_group
    assert len(ids) > 4
    everything, _ = statements(
        """query($id: ID!) { group(id: $id) { members { id } } }""", {"id": gid(SLUG, big)}, token
    )
    assert [m["id"] for m in everything["data"]["group"]["members"]] == ids[:100]
    for query, variables, path in (
        (MEMBERS_AFTER, {"id": gid(SLUG, big), "after": ids[1]}, ("group",)),
        (
            PAYLOAD_MEMBERS,
            {"id": gid(SLUG, big), "p": permission_group, "after": ids[1]},
            ("setPermissionGroup", "group"),
        ),
    ):
        answer, sql = statements(query, variables, token)
        node = answer["data"]
        for key in path:
            node = node[key]
        assert [m["id"] for m in node["members"]] == ids[2:4]
        (read,) = [q for q in sql if 'FROM "groups_membership"' in q]
        assert f'"groups_membership"."id" > {row_key(ids[1])}' in read
    too_many = gql.region(
        SLUG,
        "query($id: ID!) { group(id: $id) { members(first: 101) { id } } }",
        {"id": gid(SLUG, big)},
        token=token,
    )
    assert too_many["errors"][0]["extensions"] == {"code": "INVALID", "field": "first"}


SUBGROUPS = """query($after: ID) { groups(first: 50) { edges { node { id
  subgroups(first: 1, after: $after) { id } } } } }"""


def test_subgroups_page_by_id_and_only_approved_ones_count(region, gql):
    """``subgroups(first, after)``: approved groups liaised by this one, by id; a
    pending subgroup neither shows nor takes a place in the page."""
    from tenants.groups.models import Review

    token = authority(gql, SLUG, level="province")
    with tenant_context(region):
        hub = VolunteerGroup.objects.filter(review=Review.APPROVED).order_by("id").first()
        assert hub is not None
        before = list(hub.liaised_groups.values_list("id", flat=True))
        added = []
        for index, review in enumerate((Review.APPROVED, Review.PENDING, *[Review.APPROVED] * 2)):
            clone = VolunteerGroup.objects.get(id=hub.id)
            clone.pk, clone._state.adding = None, True
            clone.name, clone.liaison_group, clone.review = f"{hub.name}分队{index}", hub, review
            clone.save()
            added.append(clone)
        shown = [
            gid(SLUG, g) for g in hub.liaised_groups.filter(review=Review.APPROVED).order_by("id")
        ]
    try:
        assert len(shown) >= 3 and gid(SLUG, added[1]) not in shown
        seen: list[str] = []
        after = None
        while True:
            answer, sql = statements(SUBGROUPS, {"after": after}, token)
            (node,) = [
                e["node"]
                for e in answer["data"]["groups"]["edges"]
                if e["node"]["id"] == gid(SLUG, hub)
            ]
            if not node["subgroups"]:
                break
            seen += [g["id"] for g in node["subgroups"]]
            after = seen[-1]
        assert seen == shown
        (read,) = [q for q in sql if 'FROM "groups_volunteergroup"' in q and "qual0" in q]
        assert f'"groups_volunteergroup"."id" > {row_key(seen[-1])}' in read
    finally:
        with tenant_context(region):
            VolunteerGroup.objects.filter(id__in=[g.id for g in added]).delete()
            assert list(hub.liaised_groups.values_list("id", flat=True)) == before


PROJECTS = """query($id: ID!, $after: ID) { group(id: $id) {
  projects(first: 1, after: $after) { id } } }"""


def test_projects_page_by_id_over_what_the_caller_may_see(region, gql):
    """``projects(first, after)``: the visibility (published for anyone, every one for
    the group's staff and the authority) is in the SQL with the keyset, so a draft
    takes no place in an outsider's page and no page comes back short."""
    from django.db.models import Count

    from tenants.projects.models import Project as ProjectModel
    from tenants.projects.models import ProjectStatus

    token = authority(gql, SLUG, level="province")
    with tenant_context(region):
        group = (
            VolunteerGroup.objects.filter(review="approved")
            .annotate(n=Count("projects"))
            .order_by("-n", "id")
            .first()
        )
        assert group is not None
        projects = list(group.projects.order_by("id"))
        assert len(projects) >= 3
        draft, was = projects[1], projects[1].status
        ProjectModel.objects.filter(id=draft.id).update(status=ProjectStatus.DRAFT)
        published = [
            gid(SLUG, p)
            for p in group.projects.filter(status=ProjectStatus.PUBLISHED).order_by("id")
        ]

    def pages(token) -> tuple[list[str], list[str]]:
        seen: list[str] = []
        after = None
        while True:
            answer, sql = execute_in_process(
                SLUG, PROJECTS, {"id": gid(SLUG, group), "after": after}, token
            )
            assert "errors" not in answer, answer
            got = [p["id"] for p in answer["data"]["group"]["projects"]]
            if not got:
                return seen, sql
            seen += got
            after = got[-1]

    try:
        anyone, sql = pages(None)
        assert anyone == published and gid(SLUG, draft) not in anyone
        (read,) = [q for q in sql if 'FROM "projects_project"' in q and "qual0" in q]
        assert '"projects_project"."status" = \'published\'' in read
        everything, _ = pages(token)
        assert everything == [gid(SLUG, p) for p in projects]
    finally:
        with tenant_context(region):
            ProjectModel.objects.filter(id=draft.id).update(status=was)


def test_no_arguments_make_a_page_read_every_row(region, gql):
    """Aliases past different cursors, refused arguments, an anonymous caller of a
    closed list, an omitted ``first``: none loads a group's every member. Either one
    bounded page per group, or nothing read at all before the typed error."""
    token = authority(gql, SLUG, level="province")
    with tenant_context(region):
        big, _ = _groups_by_size()
        ids = [
            gid(SLUG, i, "Membership")
            for i in big.memberships.filter(status="active")
            .order_by("id")
            .values_list("id", flat=True)
        ]
    assert len(ids) > 4

    def membership_reads(sql: list[str]) -> list[str]:
        return [q for q in sql if 'FROM "groups_membership"' in q]

    two_cursors = """query($id: ID!, $a: ID!, $b: ID!) { group(id: $id) {
      a: members(first: 2, after: $a) { id volunteer { number } }
      b: members(first: 2, after: $b) { id volunteer { number } } } }"""
    answer, sql = statements(two_cursors, {"id": gid(SLUG, big), "a": ids[0], "b": ids[2]}, token)
    group = answer["data"]["group"]
    assert [m["id"] for m in group["a"]] == ids[1:3]
    assert [m["id"] for m in group["b"]] == ids[3:5]
    reads = membership_reads(sql)
    assert len(reads) == 2 and all("LIMIT 2" in q for q in reads), reads
    # Each resolver's own page still joins what is selected under it: no query per row.
    assert len(sql) == 6, sql  # host, token, roles, the group, the two pages
    for variables, field in (({"first": 101}, "first"), ({"first": 2, "after": "x"}, "after")):
        refused, sql = execute_in_process(
            SLUG,
            """query($id: ID!, $first: Int!, $after: ID) { group(id: $id) {
              members(first: $first, after: $after) { id } } }""",
            {"id": gid(SLUG, big), **variables},
            token,
        )
        assert refused["errors"][0]["extensions"] == {"code": "INVALID", "field": field}
        assert membership_reads(sql) == [], sql
    anonymous, sql = execute_in_process(
        SLUG, "query($id: ID!) { group(id: $id) { members { id } } }", {"id": gid(SLUG, big)}, None
    )
    assert anonymous["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert membership_reads(sql) == [], sql
    # A logged-in outsider (a volunteer of no group's staff) is refused every group's
    # members: the prefetch reads only what the caller may see, here nothing.
    outsider = login(gql, SLUG, register_volunteer(SLUG)[1])
    nested = """{ groups(first: 50) { edges { node { members { volunteer {
      records(first: 1, filter: {state: COUNTED}) { edges { node { id } } } } } } } } }"""
    refused, sql = execute_in_process(SLUG, nested, {}, outsider)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert not [q for q in sql if '"records_servicerecord"' in q], sql
    assert membership_reads(sql) == [], sql
    omitted, sql = statements(
        "query($id: ID!, $f: Int) { group(id: $id) { members(first: $f) { id } } }",
        {"id": gid(SLUG, big)},
        token,
    )
    assert [m["id"] for m in omitted["data"]["group"]["members"]] == ids[:100]
    (read,) = membership_reads(sql)
    assert "CROSS JOIN LATERAL" in read and "LIMIT 100" in read  # a list: no pageInfo


def test_a_query_failing_part_way_loads_its_rows_once(region):
    """Compiled execution gives up on the first error and graphql-core answers,
    reusing what the root fields resolved to: the same statements as graphql-core
    alone, the same answer (members are not public)."""
    query = """query($n: Int!) { groups(first: 4) { edges { node { name
      volunteers(first: $n) { edges { node { number records(first: 5) {
        edges { node { hours } } } } } } } } } }"""
    on, on_sql = execute_in_process(SLUG, query, {"n": 5}, "", compiled="on")
    off, off_sql = execute_in_process(SLUG, query, {"n": 5}, "", compiled="off")
    assert on == off
    assert on["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert len(on_sql) == len(off_sql), on_sql


def test_only_compiled_queries_hooks_every_resolver():
    """Compiled fields skip strawberry's per-field middleware: no other extension
    may implement ``resolve`` (it would run for mutations but not for queries)."""
    from schema.region import schema

    hooking = [
        type(extension).__name__
        for extension in schema.get_extensions(sync=True)
        if extension._implements_resolve()
    ]
    assert hooking == ["CompiledQueries"]


def test_a_record_forgets_its_remembered_amendments_when_amended(region):
    """A record that answered from its own values (and remembered having no
    amendments) answers with the amendment once one is made for it."""
    from decimal import Decimal

    from django.db import transaction

    from tenants.records.models import Amendment, ServiceRecord

    with tenant_context(region), transaction.atomic():
        record = ServiceRecord.objects.order_by("id").first()
        assert record is not None
        assert record.current() is record  # never amended: its own values
        Amendment.objects.create(
            record=record, hours=Decimal("0.5"), place="改", reason="测", amended_by="t"
        )
        assert record.current_value("hours") == Decimal("0.5")
        assert record.current().place == "改"
        transaction.set_rollback(True)


LOOKUP = """query($n: String!) { volunteer(number: $n) { number name gender birthDate status
  verification serviceArea skills idNumberMasked phoneMasked } }"""


def test_a_single_lookup_reads_only_the_columns_it_shows(region, gql):
    """Issue 16 point 2 (bench/lookups.py): ``volunteer(number:)`` loads the columns its
    selected fields and the permission check read — never the ciphertexts of the ID
    number and phone, which a masked answer does not need — with no ORDER BY (the
    number is unique); the answer is graphql-core's, and who may not see the
    volunteer is still refused with a typed error (000 Art.3: personal information)."""
    with tenant_context(region):
        from tenants.volunteers.models import Volunteer

        number = Volunteer.objects.order_by("id").values_list("number", flat=True).first()
    token = authority(gql, SLUG, level="province")
    answer, sql = statements(LOOKUP, {"n": number}, token)
    verified, _ = execute_in_process(SLUG, LOOKUP, {"n": number}, token, "verify")
    assert verified == answer and answer["data"]["volunteer"]["number"] == number
    assert "*" in answer["data"]["volunteer"]["idNumberMasked"]
    (lookup,) = [s for s in sql if '"volunteers_volunteer"' in s.split(" FROM ")[1][:40]]
    for column in ("id_number_encrypted", "phone_encrypted", "id_number_hash", "ORDER BY"):
        assert column not in lookup, lookup
    assert len(sql) <= 4, sql  # host, token, roles, the volunteer

    _, username = register_volunteer(SLUG)
    stranger = login(gql, SLUG, username)
    refused, _ = execute_in_process(SLUG, LOOKUP, {"n": number}, stranger)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert refused["data"] == {"volunteer": None}
    anonymous, _ = execute_in_process(SLUG, LOOKUP, {"n": number}, None)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
