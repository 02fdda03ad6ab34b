from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CentralConfig(AppConfig):
    name = "central"
    verbose_name = _("Central (federation)")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from central import (
            checks,  # noqa: F401  (registers the system checks)
            citus,
            compat,  # noqa: F401  (checks the libraries' private parts: platform.E001)
            region_guard,
        )

        # Citus: the session settings the platform needs, with no manual step
        # (central/citus.py); nothing on plain PostgreSQL.
        connection_created.connect(citus.configure_connection, dispatch_uid="central.citus")
        # Opt-in check that no statement touches two regions (central/region_guard.py).
        connection_created.connect(
            region_guard.install_from_environment, dispatch_uid="central.region_guard"
        )
