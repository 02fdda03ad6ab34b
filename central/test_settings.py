"""Settings for the test suite.

Without ``DATABASE_URL`` the suite starts its own throwaway embedded PostgreSQL
in a temporary directory that is deleted when the run ends; it never touches
the developer's ``.data/``. With ``DATABASE_URL`` pytest-django creates (and
drops) a ``test_``-prefixed database on that server.
"""

import os
import tempfile

if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("PLATFORM_PG_DATA", tempfile.mkdtemp(prefix="vrp-test-pg-"))
    os.environ.setdefault("PLATFORM_PG_CLEANUP", "delete")
os.environ.setdefault("PLATFORM_MEDIA_ROOT", tempfile.mkdtemp(prefix="vrp-test-media-"))
# An empty static root of the suite's own (WhiteNoise warns about a missing one); the
# tests of the pages run `manage.py up`, which collects into a directory of its own.
os.environ.setdefault("PLATFORM_STATIC_ROOT", tempfile.mkdtemp(prefix="vrp-test-static-"))
# Every query the suite sends runs both compiled and by graphql-core, and the answers
# are compared (schema/compiled.py); the gunicorn test server inherits this.
os.environ.setdefault("PLATFORM_GRAPHQL_COMPILED_EXECUTION", "verify")

# Each pytest-xdist worker (``pytest -n 2``) inherits the controller's environment:
# it shares the embedded server (and gets a test database of its own from
# pytest-django), but its media files go to a directory of its own, as two
# workers' regions number their rows alike.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["PLATFORM_MEDIA_ROOT"] = tempfile.mkdtemp(
        prefix=f"vrp-test-media-{os.environ['PYTEST_XDIST_WORKER']}-"
    )

from central.test_server_settings import *  # noqa: F403

# This process's own metrics (requests through Django's test client) stay out of the
# clone's .data; every server the tests start gets a directory of its own
# (tests/support.py).
METRICS_DIR = tempfile.mkdtemp(prefix="vrp-test-metrics-")
