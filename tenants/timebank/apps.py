from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TimeBankConfig(AppConfig):
    name = "tenants.timebank"
    label = "timebank"
    verbose_name = _("Time bank")
