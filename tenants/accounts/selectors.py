"""Reading accounts: which ones an authority keeps (lists in the region's admin)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from central.divisions import prefixes_q
from tenants.accounts.models import Account, Role


def kept_accounts(principal) -> QuerySet[Account]:
    """The accounts every place of which lies in the authority's area: those
    ``permissions.require_account_keeper`` lets it act on, in SQL."""
    prefixes = principal.authority_prefixes
    outside = Role.objects.filter(account=OuterRef("pk")).exclude(
        prefixes_q("group__division_code", prefixes) | prefixes_q("division_code", prefixes)
    )
    return (
        Account.objects.filter(
            Q(volunteer__isnull=True) | prefixes_q("volunteer__division_code", prefixes)
        )
        .exclude(Exists(outside))
        .order_by("id")
    )
