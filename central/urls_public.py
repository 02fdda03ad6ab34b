"""URLs of the central hosts: the central GraphQL API and the Django admin."""

from django.contrib import admin
from django.urls import path

from schema.views import central_view

urlpatterns = [
    path("graphql", central_view(), name="central-graphql"),
    path("admin/", admin.site.urls),
]
