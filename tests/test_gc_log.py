"""Issue 16 point 1: the workers' GC log that bench/memory.py reads to tell GC
pauses from the rest of a slow page's time (central/gunicorn_conf.py), the
threshold override its A/B runs use, and the young collections a worker runs
between requests (gunicorn's ``post_request``) rather than inside them. The log
is off unless ``PLATFORM_GC_LOG`` is set."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest

from central import gunicorn_conf
from central.logs import current_request_id
from central.management.commands import up
from tests.support import GraphQLClient, PlatformServer, platform_database_url


@pytest.fixture
def gc_state():
    """post_fork changes the process's collector: put it back afterwards."""
    threshold, callbacks = gc.get_threshold(), list(gc.callbacks)
    gunicorn_conf._since_collection[0] = 0
    yield
    gunicorn_conf._since_collection[0] = 0
    gc.unfreeze()
    gc.set_threshold(*threshold)
    gc.callbacks[:] = callbacks


def test_threshold_from_the_environment_or_the_default(monkeypatch):
    monkeypatch.setenv("PLATFORM_GC_THRESHOLD", "500000,10,100")
    assert gunicorn_conf._gc_threshold() == (500_000, 10, 100)
    for bad in ("", "1,2", "a,b,c", "1,-2,3"):
        monkeypatch.setenv("PLATFORM_GC_THRESHOLD", bad)
        assert gunicorn_conf._gc_threshold() == (500_000, 10, 100)


def test_without_the_variable_no_hook_is_added(monkeypatch, gc_state):
    monkeypatch.delenv("PLATFORM_GC_LOG", raising=False)
    before = list(gc.callbacks)
    gunicorn_conf.post_fork(None, None)
    assert gc.callbacks == before
    assert gc.get_threshold() == gunicorn_conf.GC_THRESHOLD


def test_each_collection_is_logged_with_its_request(monkeypatch, tmp_path, gc_state):
    monkeypatch.setenv("PLATFORM_GC_LOG", str(tmp_path))
    gunicorn_conf.post_fork(None, None)
    token = current_request_id.set("req-gc-1")
    try:
        gc.collect(0)
        gc.collect(2)
    finally:
        current_request_id.reset(token)
    [log] = tmp_path.glob("gc-*.jsonl")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    mine = [line for line in lines if line["request_id"] == "req-gc-1"]
    assert [line["gen"] for line in mine] == [0, 2]
    for line in mine:
        assert line["ms"] >= 0 and line["collected"] >= 0 and line["t"] > 1.7e9


def test_between_from_the_environment_or_the_default(monkeypatch):
    monkeypatch.setenv("PLATFORM_GC_BETWEEN", "0,0")
    assert gunicorn_conf._gc_between() == (0, 0)
    for bad in ("", "5", "a,b", "5,-1"):
        monkeypatch.setenv("PLATFORM_GC_BETWEEN", bad)
        assert gunicorn_conf._gc_between() == (5, 5_000)


def _collect(between, threshold=(10**9, 10, 100)):
    """collect_between_requests with the automatic collector kept out of the way."""
    return gunicorn_conf.collect_between_requests(between, threshold)


def test_a_young_collection_every_nth_request_when_little_is_pending(gc_state):
    gc.set_threshold(10**9, 10, 100)
    gc.collect()
    # Every 3rd request end, while fewer than a million allocations are pending.
    assert [_collect((3, 10**6)) for _ in range(6)] == [None, None, 0, None, None, 0]
    assert gc.get_count()[1] == 2  # two young collections since the last older one
    assert [_collect((0, 10**6)) for _ in range(5)] == [None] * 5  # "0": never


def test_a_busy_moment_waits_unless_the_collection_is_overdue(gc_state):
    gc.set_threshold(10**9, 10, 100)
    gc.collect()
    held: list[list[object]] = [[] for _ in range(200)]  # 200 net allocations pending
    assert gc.get_count()[0] >= 200
    every, overdue = 2, gunicorn_conf.OVERDUE
    # Above the bound (100): skipped until every × OVERDUE requests have ended.
    done = [_collect((every, 100)) for _ in range(every * overdue)]
    assert done == [None] * (every * overdue - 1) + [0]
    assert gc.get_count()[0] < 200
    del held


def test_older_generations_follow_the_thresholds(gc_state):
    gc.set_threshold(10**9, 10, 100)
    gc.collect()
    # After 10 young collections since the last gen-1 one the next is a gen-1
    # collection, and after 100 of those a full one: the collector's own rule
    # (a generation's count above its threshold).
    assert [_collect((1, 10**6)) for _ in range(11)] == [0] * 10 + [1]
    gc.collect()
    for _ in range(99):
        gc.collect(1)
    assert _collect((1, 10**6), (10**9, 0, 100)) == 1
    assert _collect((1, 10**6), (10**9, 0, 100)) == 2


def test_up_runs_the_hooks_of_gunicorn_conf(monkeypatch):
    """``manage.py up`` hands gunicorn the same hooks as ``--config``: post_request too."""
    from gunicorn.app.base import BaseApplication

    seen: dict[str, Any] = {}  # gunicorn's Config, which ships no types
    monkeypatch.setattr(BaseApplication, "run", lambda app: seen.setdefault("cfg", app.cfg))
    up.serve(bind="127.0.0.1", port=0, workers=1, threads=1)
    for hook in ("post_fork", "post_request", "on_starting"):
        given = seen["cfg"].settings[hook].get()
        # up wraps post_fork (its workers close up's listening socket), calling ours.
        assert getattr(given, "__wrapped__", given) is getattr(gunicorn_conf, hook), hook


def test_a_served_worker_collects_between_requests_not_inside(tmp_path, seed_regions):
    """A real gunicorn worker (one, four threads) collecting at every request end:
    each collection in its GC log ran between requests — on the thread whose
    request had ended, with no request of its own — and none inside one."""
    env = {
        "PLATFORM_GC_LOG": str(tmp_path),
        "PLATFORM_GC_BETWEEN": "1,1000000000",
        # Only cycles that pile up for 50 requests (not a page's worth) would make
        # the automatic collector start one; it must not.
        "PLATFORM_GC_THRESHOLD": "1000000,10,100",
    }
    requests = 12
    with PlatformServer(platform_database_url(), workers=1, env=env) as running:
        client = GraphQLClient(running.base_url)
        for _ in range(requests):
            assert client.central("{ __typename }")["data"] == {"__typename": "CentralQuery"}
    [log] = tmp_path.glob("gc-*.jsonl")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    between = [line for line in lines if line["between"]]
    inside = [line for line in lines if line["request_id"] is not None]
    assert len(between) >= requests - 1, lines  # the last may end after the log is read
    assert all(line["request_id"] is None for line in between), between
    assert inside == [], inside
    assert {line["gen"] for line in between} <= {0, 1}
