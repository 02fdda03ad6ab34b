"""URLs of a region's hosts: that region's GraphQL API and its files."""

from django.urls import path

from schema.views import region_view
from tenants.groups.views import group_certificate

urlpatterns = [
    path("graphql", region_view(), name="region-graphql"),
    path("groups/<int:group_id>/certificate", group_certificate, name="group-certificate"),
]
