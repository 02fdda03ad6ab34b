"""gunicorn settings shared by ``manage.py up``, the tests and the benchmarks.

A nested GraphQL page creates ~100,000 short-lived objects; with CPython's
default gen-0 threshold (700) the cyclic collector then runs hundreds of times
per request and took ~0.6 s of a 1.3 s page (bench/nested_page.py profile).
Each worker freezes what it inherited at fork (Django, the schema) and
collects less often; reference counting still frees almost everything at once.
"""

import gc

worker_class = "gthread"
accesslog = None
graceful_timeout = 5
# Longer than the front's POOL_IDLE (central/front.py), so the front never sends on a
# connection gunicorn is closing.
keepalive = 5


def post_fork(server, worker):
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
