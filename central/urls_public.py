"""URLs of the central hosts: the central GraphQL API and the Django admin."""

from django.contrib import admin
from django.urls import path

from interop import views as interop_views
from schema.views import central_view

urlpatterns = [
    path("graphql", central_view(), name="central-graphql"),
    path("interop/inbox", interop_views.inbox, name="interop-inbox"),
    path("interop/directory", interop_views.directory, name="interop-directory"),
    path("admin/", admin.site.urls),
]
