"""gunicorn settings shared by ``manage.py up``, the tests and the benchmarks.

A nested GraphQL page creates ~100,000 short-lived objects; with CPython's
default gen-0 threshold (700) the cyclic collector then runs hundreds of times
per request and took ~0.6 s of a 1.3 s page (bench/nested_page.py profile).
Each worker freezes what it inherited at fork (Django, the schema) and
collects less often; reference counting still frees almost everything at once.
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


def post_fork(server, worker):
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def on_starting(server):
    """Prometheus' multiprocess directory (central/metrics.py) starts empty: files
    of an earlier run's processes would be added to this run's counters. Workers
    inherit the variable, so every process of this server uses the same one."""
    default = Path(__file__).resolve().parent.parent / ".data" / "metrics"
    directory = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(default)))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
