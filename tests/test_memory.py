"""Issue 16 point 1: a page leaves nothing for the cycle collector.

A row that caches its parent while the parent's prefetched list holds the row
is a reference cycle: reference counting never frees it, so every page's rows
stayed in a worker until a full collection (under the frozen-heap GC tuning of
central/gunicorn_conf.py, ~0.5 MB a nested page, and seconds-long stalls).

Each query runs in this process exactly as a gunicorn worker runs it — Django's
WSGI handler, the real middleware, host routing, token and roles, compiled
execution — over a region filled by ``manage.py generate_data`` (some records
amended). With ``gc.DEBUG_SAVEALL`` the cycle collector keeps what it would
have freed in ``gc.garbage``: after a page no row of it may be there, and what
is there must not grow with the page (the same for 1 group as for 3, for 2
volunteers as for 30).

What a request leaves whatever its size, and is left alone: Django's request
with its lazy ``user`` (a closure over the request, which holds the region, the
caller's account and roles), a compiler closure per joined query, graphql-core's
executor — a few hundred objects, freed by the next young collection.
"""

from __future__ import annotations

import collections
import gc
import json
import types

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished
from django.db import close_old_connections, models
from django.test import RequestFactory
from django_tenants.utils import tenant_context

from central.tenancy import connection
from tenants.records.models import ServiceRecord
from tests.registry_support import authority
from tests.support import generated_region, gid, unique_city_code
from tests.test_query_counts import (
    GROUP_PROJECTS,
    GROUP_TREE,
    MEMBERS_PAGE,
    NESTED_PAGE,
    RECOGNITION_PAGE,
    VOLUNTEER_PAGE,
    _groups_by_size,
)
from tests.world_support import amended

CODE = unique_city_code("13")
SLUG = f"memory{CODE}"

# The signed-in caller's own lists (README "Accounts": me).
ME = """{ me { username roles { kind group { name } authorityLevel } volunteer { number } } }"""


@pytest.fixture(scope="module")
def region(seed_regions):
    region = generated_region(CODE, SLUG, volunteers=60, groups=3, records_per_volunteer=5, seed=16)
    with tenant_context(region):
        # Amended records on the page: their amendments are loaded (related.py _load_few).
        # Through the service (the counted hours follow): records it may amend.
        amendable = ServiceRecord.objects.exclude(state__in=("rejected", "void", "declared"))
        policy = region.get_policy()
        for record in amendable.select_related("project__group").order_by("id")[:40:3]:
            amended(record, hours="0.5", place="新地点", reason="更正", policy=policy)
    return region


@pytest.fixture(scope="module")
def handler():
    """One WSGI application for the module, as a gunicorn worker has one."""
    return WSGIHandler()


def serve(handler, query: str, variables: dict, token: str) -> dict:
    """POST /graphql through ``handler`` as gunicorn would call it; the answer."""
    request = RequestFactory().post(
        "/graphql",
        json.dumps({"query": query, "variables": variables}),
        content_type="application/json",
        HTTP_HOST=f"{SLUG}.localhost",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    status = []
    # The end of a request would close this process's (the tests') connection.
    request_finished.disconnect(close_old_connections)
    try:
        chunks = handler(request.environ, lambda s, headers, exc_info=None: status.append(s))
        body = b"".join(chunks)
        chunks.close()
    finally:
        request_finished.connect(close_old_connections)
        connection.set_schema_to_public()
    assert status == ["200 OK"], (status, body[:300])
    return json.loads(body)


def left_for_the_collector(handler, query: str, variables: dict, token: str):
    """Serve the page; what of it only the cycle collector would free."""
    serve(handler, query, variables, token)  # warm: caches filled once per process
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        answer = serve(handler, query, variables, token)
        del answer["data"]  # the answer itself is freed by reference counting
        gc.collect()
        garbage = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return answer, garbage


def kinds(garbage) -> collections.Counter:
    return collections.Counter(type(o).__qualname__ for o in garbage)


PAGES = {
    # groups → volunteers (memberships) → records (FirstRows)
    "nested-page": (NESTED_PAGE, ({"first": 1}, {"first": 3})),
    # groups → members (Django's reverse-FK prefetch) → volunteer → records
    "members-page": (MEMBERS_PAGE, ({"first": 1}, {"first": 3})),
    # volunteers joined with totals (a reverse one-to-one), memberships → group,
    # records → amendments (some amended)
    "volunteer-page": (VOLUNTEER_PAGE, ({"first": 2}, {"first": 30})),
    # volunteers → trainings → group, awards, complaints
    "recognition-page": (RECOGNITION_PAGE, ({"first": 2}, {"first": 30})),
}


# Model instances a request holds whatever the page: the region, the caller's account
# and roles (request.user's closure keeps them; see the module docstring).
OF_THE_REQUEST = {"Region", "Account", "Role"}


def rows_of_the_page(garbage) -> collections.Counter:
    return kinds(
        o for o in garbage if isinstance(o, models.Model) and type(o).__name__ not in OF_THE_REQUEST
    )


def assert_does_not_grow(large, small) -> None:
    """A larger page leaves no more than a smaller one (give or take a few objects:
    what a request leaves is a few hundred, whatever its rows; before the fix a
    page left thousands, growing with its rows)."""
    assert len(large) <= len(small) + 10, (kinds(large) - kinds(small)).most_common(20)


@pytest.mark.parametrize("name", list(PAGES))
def test_a_page_leaves_no_reference_cycles(region, gql, handler, name):
    query, (small, large) = PAGES[name]
    token = authority(gql, SLUG, level="province")
    answer, garbage = left_for_the_collector(handler, query, large, token)
    assert "errors" not in answer, answer
    assert not rows_of_the_page(garbage)
    _, few = left_for_the_collector(handler, query, small, token)
    assert_does_not_grow(garbage, few)


def test_the_amended_records_were_on_the_page(region, gql, handler):
    """The volunteer page above really loaded amendments (the rows ``_load_few`` reads)."""
    token = authority(gql, SLUG, level="province")
    query, (_, large) = PAGES["volunteer-page"]
    edges = serve(handler, query, large, token)["data"]["volunteers"]["edges"]
    reasons = [
        a["reason"]
        for e in edges
        for r in e["node"]["records"]["edges"]
        for a in r["node"]["amendments"]
    ]
    assert "更正" in reasons


@pytest.mark.parametrize("query", [GROUP_TREE, GROUP_PROJECTS], ids=["group-tree", "projects"])
def test_a_group_with_its_lists_leaves_no_reference_cycles(region, gql, handler, query):
    token = authority(gql, SLUG, level="province")
    with tenant_context(region):
        big, small = _groups_by_size()
    answer, garbage = left_for_the_collector(handler, query, {"id": gid(SLUG, big)}, token)
    assert "errors" not in answer, answer
    assert not rows_of_the_page(garbage)
    _, few = left_for_the_collector(handler, query, {"id": gid(SLUG, small)}, token)
    assert_does_not_grow(garbage, few)


def test_me_leaves_no_reference_cycles(region, gql, handler):
    token = authority(gql, SLUG, level="province")
    answer, garbage = left_for_the_collector(handler, ME, {}, token)
    assert "errors" not in answer, answer
    assert not rows_of_the_page(garbage)


def test_a_refused_page_leaves_no_reference_cycles(region, gql, handler):
    """An anonymous caller is refused the members (PERMISSION_DENIED, one error per
    group): each error's traceback holds the frames that raised it, which hold the
    page — dropped once the errors are logged and answered (schema/views.py). The
    errors themselves are a few small objects each, whatever the page's rows."""
    query = """query($first: Int!) { groups(first: $first) { edges { node { name
      members { id } } } } }"""
    anonymous = ""
    answer, garbage = left_for_the_collector(handler, query, {"first": 3}, anonymous)
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["PERMISSION_DENIED"] * 3
    assert not rows_of_the_page(garbage)
    assert not [o for o in garbage if isinstance(o, types.FrameType)]
