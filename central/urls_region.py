"""URLs of a region's hosts: that region's GraphQL API."""

from django.urls import path

from schema.views import region_view

urlpatterns = [
    path("graphql", region_view(), name="region-graphql"),
]
