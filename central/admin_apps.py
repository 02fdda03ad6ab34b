"""The admin app with the platform's own default site (``central.admin_site``):
every ``admin.site`` registration and ``admin.site.urls`` use it."""

from django.contrib.admin.apps import AdminConfig


class CentralAdminConfig(AdminConfig):
    default_site = "central.admin_site.CentralAdminSite"
