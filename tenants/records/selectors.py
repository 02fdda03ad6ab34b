"""Reading records by area: what an authority answers for (the region's admin)."""

from __future__ import annotations

from django.db.models import QuerySet

from tenants.records.models import ServiceRecord
from tenants.records.permissions import record_area_q


def records_in_area(principal) -> QuerySet[ServiceRecord]:
    """Records whose division (``permissions.record_division``: the project's group's,
    or the volunteer's for a record without a project) lies in the authority's area."""
    return (
        ServiceRecord.objects.filter(record_area_q(principal.authority_prefixes))
        .select_related("volunteer", "group", "project__group")
        .order_by("-id")
    )
