"""gunicorn settings shared by ``manage.py up``, the tests and the benchmarks.

A nested GraphQL page creates ~100,000 short-lived objects; with CPython's
default gen-0 threshold (700) the cyclic collector then runs hundreds of times
per request and took ~0.6 s of a 1.3 s page (bench/nested_page.py profile).
Each worker freezes what it inherited at fork (Django, the schema) and
collects less often; reference counting frees a page's objects at once.

That holds only while a page builds no reference cycles. When its rows cached
the parents whose lists held them, each page survived into the oldest
generation, which under this threshold is collected only after ~100 million
allocations: a worker grew ~0.5 MB a page and the full collection that finally
ran stalled one request for 2.8 s (issue 16). Rows no longer point back
(tenants/related.py ``parentless``, checked by tests/test_memory.py), so what a
request leaves for the collector is a few hundred objects of its own (Django's
request and lazy user, graphql-core's executor). The automatic gen-0 threshold is
above what a worker's pages in flight hold (``DEFAULT_GC_THRESHOLD``), so the
collector itself seldom starts one inside a request; but one that did scanned
everything since the last (~1.1 s at full size). Young collections therefore run
between requests (``post_request``, ``DEFAULT_GC_BETWEEN``), often enough that
each finds little more than what the last few requests left, and the frozen
heap keeps full collections short. bench/memory.py measures RSS, latency and
each collection's pause (``PLATFORM_GC_LOG``) over thousands of pages.
"""

import gc
import os
import threading
from pathlib import Path

worker_class = "gthread"
# The platform writes its own access log, one JSON line per request with its request
# id (central/access.py); gunicorn's own lines are JSON too (logconfig_dict).
accesslog = None
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "central.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    # gunicorn's defaults would reset the root logger, which `up`'s workers inherit
    # from Django's LOGGING: the platform's lines go here too.
    "root": {"level": os.environ.get("PLATFORM_LOG_LEVEL", "WARNING"), "handlers": ["console"]},
    "loggers": {
        # Naming a logger here replaces the plain-text handler gunicorn gave it; its
        # level stays --log-level's.
        "gunicorn.error": {"handlers": [], "propagate": True},
        # A logging config switches gunicorn's access log on: the platform has its own.
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
}
graceful_timeout = 5
# For gunicorn served directly (the tests, the benchmarks on TCP). ``up`` sets 0: its
# front sends each request on a new connection (central/front.py, issue 16's tail).
keepalive = 5


# Automatic collections: gen 0 after 500,000 net allocations, more than the objects
# alive in a worker's four pages in flight, so the collector seldom starts one inside
# a request: young collections run between requests (below). At 50,000 an automatic
# one ran every page or two inside a request, scanned the pages in flight and freed
# next to nothing (a median of 6-12 objects each, 1M-record run of bench/memory.py),
# while stalling the worker's every thread. gen 1 every 10 of those, gen 2 every 100
# gen-1 collections, over what is not frozen.
DEFAULT_GC_THRESHOLD = (500_000, 10, 100)
# Between requests (``post_request``, on the thread whose request just ended, once
# its answer is sent): a young collection after every 5th request of the worker, at
# the first request end where fewer than 5,000 net allocations are pending (at the
# latest after 20 requests). Then the
# young generation holds little more than what the last few requests left (cycles of
# Django's request and graphql-core's executor) and the collection is short (0.4 ms
# median at under 5,000 pending, 34-114 ms at 10,000-50,000, under load 8, a 400-page
# run of bench/memory.py); at a busier moment it waits for the next request's end.
# gen 1 and gen 2 follow the counts of the thresholds above, as the collector does.
DEFAULT_GC_BETWEEN = (5, 5_000)


def _gc_threshold() -> tuple[int, ...]:
    """``PLATFORM_GC_THRESHOLD`` ("500000,10,100"), for measuring others; else the default."""
    given = os.environ.get("PLATFORM_GC_THRESHOLD", "")
    try:
        values = tuple(int(part) for part in given.split(","))
    except ValueError:
        values = ()
    return values if len(values) == 3 and all(v >= 0 for v in values) else DEFAULT_GC_THRESHOLD


def _gc_between() -> tuple[int, int]:
    """``PLATFORM_GC_BETWEEN`` ("5,5000": every how many requests, below how many
    pending allocations; "0,0": never between requests, for measuring); else the
    default."""
    try:
        values = tuple(int(part) for part in os.environ.get("PLATFORM_GC_BETWEEN", "").split(","))
    except ValueError:
        values = ()
    return values if len(values) == 2 and all(v >= 0 for v in values) else DEFAULT_GC_BETWEEN


GC_THRESHOLD = _gc_threshold()
GC_BETWEEN = _gc_between()
_collecting = threading.local()  # set while post_request collects: the GC log says so


def post_fork(server, worker):
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    directory = os.environ.get("PLATFORM_GC_LOG")
    if directory:
        gc.callbacks.append(_gc_logger(Path(directory) / f"gc-{os.getpid()}.jsonl"))


def post_request(worker, req, environ, resp):
    collect_between_requests()


# A collection skipped at this many times ``every`` requests runs whatever is pending:
# what a worker's first pages leave (caches, imports) would keep it above the bound.
OVERDUE = 4
_since_collection = [0]  # requests ended since the last collection between requests


def collect_between_requests(
    between: tuple[int, int] | None = None, threshold: tuple[int, ...] | None = None
) -> int | None:
    """After every ``between[0]``-th request, at the first request end where fewer
    than ``between[1]`` net allocations are pending (``gc.get_count()[0]``), collect
    the oldest generation whose count calls for it, as the collector itself would
    (gen 1 once 10 young collections ran since the last, …). The generation
    collected, or None. gunicorn calls it after each request, once the answer is
    sent; a collection still pauses the worker's other threads, so it runs only
    when it is short."""
    every, cap = GC_BETWEEN if between is None else between
    threshold = GC_THRESHOLD if threshold is None else threshold
    _since_collection[0] += 1
    pending, young_runs, middle_runs = gc.get_count()
    if not every or _since_collection[0] < every:
        return None
    if pending >= cap and _since_collection[0] < OVERDUE * every:
        return None  # a busy moment: the next request's end, unless overdue
    _since_collection[0] = 0
    generation = 0
    if young_runs + 1 > threshold[1]:
        generation = 2 if middle_runs + 1 > threshold[2] else 1
    _collecting.between = True
    try:
        gc.collect(generation)
    finally:
        _collecting.between = False
    return generation


def _gc_logger(path: Path):
    """A ``gc.callbacks`` hook writing one JSON line per collection: wall time at its
    start, generation, pause in ms, objects collected, allocations pending when it
    started, whether it ran between requests (``post_request``) and the request of
    the thread that triggered it (it pauses the worker's every thread). Opt-in
    (``PLATFORM_GC_LOG``, a directory): bench/memory.py reads it to tell GC pauses
    from the rest of a slow page's time."""
    import json
    import time

    from central.logs import current_request_id

    out = path.open("a", buffering=1)
    started = [0.0, 0.0, 0]

    def hook(phase, info):
        if phase == "start":
            started[:] = time.time(), time.perf_counter(), gc.get_count()[0]
            return
        line = {
            "t": started[0],
            "gen": info["generation"],
            "ms": round((time.perf_counter() - started[1]) * 1000, 3),
            "collected": info["collected"],
            "pending": started[2],
            "between": getattr(_collecting, "between", False),
            "request_id": current_request_id.get(),
        }
        out.write(json.dumps(line) + "\n")

    return hook


def on_starting(server):
    """Prometheus' multiprocess directory (central/metrics.py) starts empty: files
    of an earlier run's processes would be added to this run's counters. Workers
    inherit the variable, so every process of this server uses the same one."""
    default = Path(__file__).resolve().parent.parent / ".data" / "metrics"
    directory = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(default)))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
