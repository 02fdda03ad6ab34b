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
request and lazy user, graphql-core's executor). Young collections then find
almost nothing to free: the gen-0 threshold is above what a worker's pages in
flight hold (``DEFAULT_GC_THRESHOLD``), so they run every few thousand pages,
not every page or two, and the frozen heap keeps full collections short.
bench/memory.py measures RSS, latency and each collection's pause
(``PLATFORM_GC_LOG``) over thousands of pages.
"""

import gc
import os
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
# Longer than the front's POOL_IDLE (central/front.py), so the front never sends on a
# connection gunicorn is closing.
keepalive = 5


# gen 0 after 500,000 net allocations: more than the objects alive in a worker's four
# pages in flight (~100,000 each), so a young collection seldom runs at all. At
# 50,000 it ran every page or two, scanned the pages in flight and freed next to
# nothing (a median of 6-12 objects each, 1M-record run of bench/memory.py), while
# stalling the worker's every thread (280 ms median under load 15-20). gen 1 every
# 10 of those, gen 2 every 100 gen-1 collections, over what is not frozen.
DEFAULT_GC_THRESHOLD = (500_000, 10, 100)


def _gc_threshold() -> tuple[int, ...]:
    """``PLATFORM_GC_THRESHOLD`` ("500000,10,100"), for measuring others; else the default."""
    given = os.environ.get("PLATFORM_GC_THRESHOLD", "")
    try:
        values = tuple(int(part) for part in given.split(","))
    except ValueError:
        values = ()
    return values if len(values) == 3 and all(v >= 0 for v in values) else DEFAULT_GC_THRESHOLD


GC_THRESHOLD = _gc_threshold()


def post_fork(server, worker):
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    directory = os.environ.get("PLATFORM_GC_LOG")
    if directory:
        gc.callbacks.append(_gc_logger(Path(directory) / f"gc-{os.getpid()}.jsonl"))


def _gc_logger(path: Path):
    """A ``gc.callbacks`` hook writing one JSON line per collection: wall time at its
    start, generation, pause in ms, objects collected, the request of the thread
    that triggered it (it pauses the worker's every thread). Opt-in
    (``PLATFORM_GC_LOG``, a directory): bench/memory.py reads it to tell GC pauses
    from the rest of a slow page's time."""
    import json
    import time

    from central.logs import current_request_id

    out = path.open("a", buffering=1)
    started = [0.0, 0.0]

    def hook(phase, info):
        if phase == "start":
            started[:] = time.time(), time.perf_counter()
            return
        line = {
            "t": started[0],
            "gen": info["generation"],
            "ms": round((time.perf_counter() - started[1]) * 1000, 3),
            "collected": info["collected"],
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
