from django.apps import AppConfig


class VolunteersConfig(AppConfig):
    name = "tenants.volunteers"
    label = "volunteers"
    verbose_name = "Volunteer registry"
