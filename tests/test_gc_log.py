"""Issue 16 point 1: the workers' GC log that bench/memory.py reads to tell GC
pauses from the rest of a slow page's time (central/gunicorn_conf.py), and the
threshold override its A/B runs use. Off unless ``PLATFORM_GC_LOG`` is set."""

from __future__ import annotations

import gc
import json

import pytest

from central import gunicorn_conf
from central.logs import current_request_id


@pytest.fixture
def gc_state():
    """post_fork changes the process's collector: put it back afterwards."""
    threshold, callbacks = gc.get_threshold(), list(gc.callbacks)
    yield
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
