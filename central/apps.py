from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CentralConfig(AppConfig):
    name = "central"
    verbose_name = _("Central (federation)")

    def ready(self) -> None:
        from central import checks  # noqa: F401  (registers the system checks)
