from django.apps import AppConfig


class GroupsConfig(AppConfig):
    name = "tenants.groups"
    label = "groups"
    verbose_name = "Volunteer groups"
