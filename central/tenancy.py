"""``django.db.connection`` as django-tenants' backend makes it, typed.

django-stubs types the connection as Django's ``BaseDatabaseWrapper``; the
platform's backend (``central.postgresql``, on django-tenants') adds the region's
schema to it. Code that switches or reads the schema imports ``connection`` from
here: the same object, with those attributes known to mypy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.db import connection as _connection

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from central.models import Region

    class TenantDatabaseWrapper(BaseDatabaseWrapper):
        schema_name: str
        tenant: Region
        search_path_set_schemas: list[str] | None

        def set_tenant(self, tenant: Region, include_public: bool = True) -> None: ...
        def set_schema(
            self, schema_name: str, include_public: bool = True, tenant_type: str | None = None
        ) -> None: ...
        def set_schema_to_public(self) -> None: ...


connection = cast("TenantDatabaseWrapper", _connection)
