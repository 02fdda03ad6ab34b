"""The statistics pages (统计图表): ECharts charts of the figures the APIs give.

A region's page is part of the region's own admin (``/admin/statistics/`` on its
host) and so needs its login: an authority account, which sees its area. The
central page is part of the central admin (``/admin/statistics/`` on the central
host): a central admin, who sees every region summed. Both embed the figures in
the API's own shape (``statistics`` / ``federationStatistics``), and the charts
are drawn by the vendored ECharts (``central/static/echarts``) and
``central/static/statistics/charts.js``: nothing is loaded from another host.
"""

from __future__ import annotations

from typing import Any

from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from tenants.statistics import selectors


def _counts(rows) -> list[dict]:
    return [{"key": r.key, "label": r.label, "count": r.count} for r in rows]


def _hours(rows) -> list[dict]:
    return [
        {"key": r.key, "label": r.label, "hours": str(r.hours), "records": r.records} for r in rows
    ]


def _met(share, target):
    return None if share is None or target is None else share >= target


def as_api(stats: selectors.Statistics) -> dict:
    """The figures as the GraphQL API answers them (camelCase, hours as strings)."""
    v, g, p, h = stats.volunteers_by, stats.groups_by, stats.projects_by, stats.hours_by
    answer: dict[str, Any] = {
        "asOf": stats.as_of.isoformat(),
        "volunteers": {
            "total": stats.volunteers,
            "registered": stats.registered,
            "byStatus": _counts(v.get("status", [])),
            "byVerification": _counts(v.get("verification", [])),
            "byGender": _counts(v.get("gender", [])),
            "byAgeBand": _counts(v.get("age_band", [])),
            "byDivision": _counts(v.get("division", [])),
            "byStarLevel": _counts(v.get("star", [])),
        },
        "groups": {
            "total": stats.groups,
            "byLevel": _counts(g.get("level", [])),
            "byKind": _counts(g.get("kind", [])),
            "byReview": _counts(g.get("review", [])),
        },
        "projects": {
            "total": stats.projects,
            "byStatus": _counts(p.get("status", [])),
            "byCategory": _counts(p.get("category", [])),
        },
        "hours": {
            "total": str(stats.hours),
            "records": stats.records,
            "byMonth": _hours(h.get("month", [])),
            "byCategory": _hours(h.get("category", [])),
            "byDivision": _hours(h.get("division", [])),
            "byGroup": _hours(h.get("group", [])),
        },
        "registrationTargets": {
            "populationShare": stats.population_share,
            "divisions": [
                {
                    "divisionCode": d.division_code,
                    "name": d.name,
                    "population": d.population,
                    "registered": d.registered,
                    "share": d.share,
                    "target": d.target,
                    "met": _met(d.share, d.target),
                }
                for d in stats.divisions
            ],
            "sectors": [
                {
                    "sector": s.sector,
                    "label": s.label,
                    "units": s.units,
                    "staff": s.staff,
                    "registered": s.registered,
                    "share": s.share,
                    "target": s.target,
                    "met": _met(s.share, s.target),
                }
                for s in stats.sectors
            ],
        },
    }
    if isinstance(stats, selectors.FederationStatistics):
        answer["regions"] = [
            {
                "code": r.code,
                "name": r.name,
                "volunteers": r.volunteers,
                "registered": r.registered,
                "groups": r.groups,
                "hours": str(r.hours),
                "records": r.records,
            }
            for r in stats.regions
        ]
    return answer


def _charts(federation: bool) -> list[dict]:
    """What charts.js draws: a title, a kind, where the rows are in the figures and
    which of their fields is the value."""
    charts = [
        ("volunteers.byStatus", "count", "pie", _("Volunteers by status")),
        ("volunteers.byVerification", "count", "pie", _("Real-name verification")),
        ("volunteers.byGender", "count", "pie", _("Volunteers by gender")),
        ("volunteers.byAgeBand", "count", "bar", _("Volunteers by age band")),
        ("volunteers.byDivision", "count", "bar", _("Volunteers by county of residence")),
        ("volunteers.byStarLevel", "count", "bar", _("Volunteers by star level")),
        ("groups.byLevel", "count", "bar", _("Approved groups by level")),
        ("groups.byKind", "count", "pie", _("Approved groups by kind")),
        ("projects.byStatus", "count", "bar", _("Projects by status")),
        ("projects.byCategory", "count", "hbar", _("Projects by category")),
        ("hours.byMonth", "hours", "line", _("Counted hours by month")),
        ("hours.byCategory", "hours", "hbar", _("Counted hours by category")),
        ("hours.byDivision", "hours", "bar", _("Counted hours by division")),
        ("hours.byGroup", "hours", "hbar", _("Groups with the most counted hours")),
        ("registrationTargets.divisions", "share", "target", _("Registered share of residents")),
        ("registrationTargets.sectors", "share", "target", _("Registered share of unit staff")),
    ]
    if federation:
        charts[:0] = [
            ("regions", "volunteers", "bar", _("Volunteers by region")),
            ("regions", "hours", "bar", _("Counted hours by region")),
        ]
    return [
        {"id": f"chart-{i}", "path": path, "value": value, "kind": kind, "title": title}
        for i, (path, value, kind, title) in enumerate(charts)
    ]


def _render(request, stats, title: str, federation: bool, site) -> TemplateResponse:
    figures = as_api(stats)
    context = {
        **site.each_context(request),
        "title": title,
        "figures": figures,
        "charts": _charts(federation),
        "texts": {"target": _("target"), "none": _("no data yet")},
    }
    request.current_app = site.name
    response = TemplateResponse(request, "statistics/page.html", context)
    # Whatever the page shows, the browser loads it from this host only.
    response["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"
    )
    return response


def region_page(request):
    """The statistics of the logged-in authority's area (the region admin's login)."""
    from tenants.region_admin.admin import region_admin_site

    stats = selectors.region_statistics(
        request.region_principal, request.region.get_policy(), region_code=request.region.code
    )
    title = _("%(region)s volunteer-service statistics") % {"region": request.region.name}
    return _render(request, stats, title, False, region_admin_site)


def central_page(request):
    """Every active region's statistics, summed (a central admin, the admin's login)."""
    from django.contrib import admin

    from central import services

    stats = selectors.federation_statistics(services.regions("active").order_by("code"))
    return _render(request, stats, _("Federation volunteer-service statistics"), True, admin.site)
