import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
application = get_wsgi_application()
# Load both URLconfs (a region's hosts', the public host's), and with them both
# GraphQL schemas, now: a worker then answers its first request as fast as its
# thousandth (under load the lazy load took 6 s and a peer's 10 s directory fetch
# timed out), and a schema that cannot be built (a wrong declaration,
# schema/region/prefetch.py) stops the worker before it takes traffic.
for urlconf in (settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF):
    import_module(urlconf)
