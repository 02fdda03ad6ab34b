from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InteropConfig(AppConfig):
    name = "interop"
    label = "interop"
    verbose_name = _("Transfers between regions (转移接续)")
