from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class RegionAdminConfig(AppConfig):
    name = "tenants.region_admin"
    label = "region_admin"
    verbose_name = gettext_lazy("Region admin")
