"""URLs of a region's hosts: that region's GraphQL API and its files."""

from django.urls import path, re_path

from schema.views import region_view
from tenants.certificates.views import certificate_pdf, verify_page
from tenants.groups.views import group_certificate
from tenants.imports.views import import_template
from tenants.region_admin.admin import region_admin_site
from tenants.reports.views import download as export_download
from tenants.statistics import views as statistics_views

urlpatterns = [
    path("graphql", region_view(), name="region-graphql"),
    # The statistics of an authority's area, behind the region admin's login.
    path(
        "admin/statistics/",
        region_admin_site.admin_view(statistics_views.region_page),
        name="region-statistics",
    ),
    # The region's own admin, for its authority staff (tenants/region_admin).
    path("admin/", region_admin_site.urls),
    path("groups/<str:group_id>/certificate", group_certificate, name="group-certificate"),
    path("certificates/verify", verify_page, name="certificate-verify-form"),
    re_path(
        r"^certificates/verify/(?P<code>[A-Za-z0-9-]{1,40})$",
        verify_page,
        name="certificate-verify",
    ),
    re_path(
        r"^imports/templates/(?P<kind>[a-z]{1,20})\.(?P<fmt>[a-z]{1,5})$",
        import_template,
        name="import-template",
    ),
    re_path(
        r"^certificates/(?P<code>[A-Za-z0-9-]{1,40})\.pdf$", certificate_pdf, name="certificate-pdf"
    ),
    # Reports and exports, by the signed link of exportLink (tenants/reports).
    path("exports/download", export_download, name="export-download"),
]

# JSON for every error Django answers itself, never its HTML pages (issue 10 finding 13).
handler400 = "central.middleware.bad_request"
handler403 = "central.middleware.forbidden"
handler404 = "central.middleware.not_found"
handler500 = "central.middleware.server_error"
