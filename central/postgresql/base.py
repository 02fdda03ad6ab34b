"""The platform's database backend: django-tenants' PostgreSQL backend, except
that the embedded PostgreSQL starts on the first connection, not when settings
are imported (issue 15 point 4: a tool that imports ``central.settings`` —
mypy's Django plugin, an IDE, ``manage.py help`` — leaves no server running).

With ``DATABASE_URL`` there is nothing to start and this is django-tenants'
backend unchanged.
"""

from __future__ import annotations

from django.db.backends.postgresql.client import DatabaseClient as PostgresClient
from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper

from central.database import resolve_embedded


class DatabaseClient(PostgresClient):
    def runshell(self, parameters):
        resolve_embedded(self.connection.settings_dict)  # dbshell before any query
        super().runshell(parameters)


class DatabaseWrapper(TenantDatabaseWrapper):
    client_class = DatabaseClient

    def get_connection_params(self):
        resolve_embedded(self.settings_dict)
        return super().get_connection_params()
