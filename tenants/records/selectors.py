"""Reading records by area: what an authority answers for (the region's admin)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from central.divisions import prefixes_q
from tenants.records.models import ServiceRecord


def records_in_area(principal) -> QuerySet[ServiceRecord]:
    """Records whose division (``permissions.record_division``: the project's group's,
    or the volunteer's for a record without a project) lies in the authority's area."""
    prefixes = principal.authority_prefixes
    return (
        ServiceRecord.objects.filter(
            Q(project__isnull=False) & prefixes_q("project__group__division_code", prefixes)
            | Q(project__isnull=True) & prefixes_q("volunteer__division_code", prefixes)
        )
        .select_related("volunteer", "group", "project__group")
        .order_by("-id")
    )
