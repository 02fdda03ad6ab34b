"""ASGI entry point. Kept for completeness; the platform is served over WSGI
(see README, "Serving") because sync views under ASGI cannot reuse database
connections with psycopg2."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
application = get_asgi_application()
