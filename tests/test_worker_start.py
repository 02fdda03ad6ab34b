"""A worker loads both GraphQL schemas before it takes traffic (``central/wsgi.py``).

gunicorn listens before its worker has loaded the app. When the URLconf, and with
it the schemas, loaded only at the first request, that request took 6 s under load
and a peer's 10 s directory fetch timed out against a fresh server.
"""

from __future__ import annotations

import subprocess
import sys

from tests.support import REPO, child_env, platform_database_url

ASK = (
    "import sys; import central.wsgi; "
    "print(*(name in sys.modules for name in "
    "('central.urls_region', 'central.urls_public', 'schema.region', 'schema.central')))"
)


def test_importing_the_wsgi_app_loads_both_urlconfs_and_both_schemas():
    env = child_env(platform_database_url(), DJANGO_SETTINGS_MODULE="central.settings")
    out = subprocess.run(
        [sys.executable, "-c", ASK], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True"] * 4, out.stderr
