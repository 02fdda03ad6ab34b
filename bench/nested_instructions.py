"""The nested page's Python work in instructions, repeatable whatever the load.

Serves ``--pages`` nested pages (``bench/nested_page.py``'s query, an authority's
token) or as many served baselines (``GET /plain/nested``, bench/bench_urls.py)
in this process through Django's test client — the real middleware, host,
token, roles and compiled execution — over the database ``bench/nested_page.py
--reuse DIR`` generated (its embedded PostgreSQL is started, or joined, from
``DIR/pg``). The pages run inside ``itertools.starmap``, so callgrind counts them
alone with ``--toggle-collect=starmap_next``; garbage collection is off while
they run (a collection falls on one run and not the next: noise, not work).
PostgreSQL's own work is in its processes, which callgrind does not follow.

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=starmap_next \\
        --callgrind-out-file=/tmp/api.cg \\
        .venv/bin/python bench/nested_instructions.py --reuse /tmp/nested-page-db api
    valgrind ... --callgrind-out-file=/tmp/served.cg \\
        .venv/bin/python bench/nested_instructions.py --reuse /tmp/nested-page-db served
    callgrind_annotate /tmp/api.cg | head -30    # instructions (Ir) of the pages

Without valgrind it prints the process CPU time per page (load-dependent).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import gc  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("side", choices=["api", "served"])
    parser.add_argument("--reuse", type=Path, required=True, help="bench/nested_page.py's DIR")
    parser.add_argument("--pages", type=int, default=2)
    args = parser.parse_args()

    from central.database import database_url, parse_database_url, start_embedded_server

    admin_uri = start_embedded_server(args.reuse / "pg", cleanup="stop")
    from bench.nested_page import (
        DB_NAME,
        HOST,
        MEMBERS,
        PAGE,
        PASSWORD,
        QUERY,
        RECORDS,
        USERNAME,
    )

    os.environ.update(
        DATABASE_URL=database_url({**parse_database_url(admin_uri), "NAME": DB_NAME}),
        DJANGO_SETTINGS_MODULE="bench.bench_settings",
        DJANGO_DEBUG="0",
        PLATFORM_LOG_LEVEL=os.environ.get("PLATFORM_LOG_LEVEL", "WARNING"),
    )
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    gc.freeze()
    gc.set_threshold(500_000, 20, 100)  # as central/gunicorn_conf.py
    client = Client(HTTP_HOST=HOST)
    login = client.post(
        "/graphql",
        json.dumps(
            {
                "query": "mutation($u: String!, $p: String!) "
                "{ login(username: $u, password: $p) { token } }",
                "variables": {"u": USERNAME, "p": PASSWORD},
            }
        ),
        content_type="application/json",
    )
    headers = {"Authorization": f"Bearer {login.json()['data']['login']['token']}"}
    payload = json.dumps({"query": QUERY})
    path = f"/plain/nested?groups={PAGE}&members={MEMBERS}&records={RECORDS}"

    def api() -> bytes:
        response = client.post(
            "/graphql", payload, content_type="application/json", headers=headers
        )
        assert response.status_code == 200 and b'"errors"' not in response.content
        return response.content

    def served() -> bytes:
        response = client.get(path, headers=headers)
        assert response.status_code == 200
        return response.content

    if json.loads(api()) != json.loads(served()):
        raise RuntimeError("the served baseline's JSON differs from the API's answer")
    page = api if args.side == "api" else served
    page()  # warm: caches, compiled fillers
    gc.collect()
    gc.disable()
    started = time.process_time()
    list(itertools.starmap(page, [()] * args.pages))  # what callgrind counts
    each = (time.process_time() - started) / args.pages
    gc.enable()
    connection.close()
    print(f"{args.side}: {args.pages} pages, {each * 1000:.1f} ms of CPU each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
