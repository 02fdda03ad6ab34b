"""URLs of the central hosts: the central GraphQL API and the Django admin."""

from django.contrib import admin
from django.urls import path

from interop import views as interop_views
from interop.federation import home_region_view
from interop.invariant import transfer_status_view
from schema.views import central_view
from tenants.statistics import views as statistics_views

urlpatterns = [
    path("graphql", central_view(), name="central-graphql"),
    path("interop/inbox", interop_views.inbox, name="interop-inbox"),
    path("interop/directory", interop_views.directory, name="interop-directory"),
    path("interop/home-region", home_region_view, name="interop-home-region"),
    path("interop/transfer-status", transfer_status_view, name="interop-transfer-status"),
    # Every region's statistics summed, behind the central admin's login.
    path(
        "admin/statistics/",
        admin.site.admin_view(statistics_views.central_page),
        name="central-statistics",
    ),
    path("admin/", admin.site.urls),
]

# JSON for every error Django answers itself, never its HTML pages (issue 10 finding 13).
handler400 = "central.middleware.bad_request"
handler403 = "central.middleware.forbidden"
handler404 = "central.middleware.not_found"
handler500 = "central.middleware.server_error"
