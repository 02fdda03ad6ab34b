from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "tenants.records"
    label = "records"
    verbose_name = "Service records"
