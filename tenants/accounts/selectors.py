"""Reading accounts: which ones an authority keeps (lists in the region's admin)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from central.divisions import prefixes_q
from tenants.accounts.models import Account, Role
from tenants.accounts.principal import Principal


def kept_accounts(principal: Principal) -> QuerySet[Account]:
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


class ActorNames:
    """Names to show for the actors kept in records (``account:<id>:<username>``,
    ``cli:<name>``, ``system:<job>``): the internal key never reaches the API
    (issue 12, "Also seen"). One instance per request: the first account looked up
    loads every staff account's display name in one query (records are written by
    staff), any other account is looked up once."""

    def __init__(self) -> None:
        self._names: dict[int, str | None] | None = None

    def account_name(self, account_id: int) -> str | None:
        if self._names is None:
            self._names = dict(
                Account.objects.filter(Exists(Role.objects.filter(account=OuterRef("pk"))))
                .values_list("id", "display_name")
                .order_by()
            )
        if account_id not in self._names:
            self._names[account_id] = (
                Account.objects.filter(id=account_id).values_list("display_name", flat=True).first()
            )
        return self._names[account_id]

    def name(self, actor: str) -> str | None:
        """The account's display name, an operator's name, or None (a platform job,
        or an account gone)."""
        kind, _sep, rest = (actor or "").partition(":")
        if kind == "account":
            key = rest.partition(":")[0]
            return self.account_name(int(key)) if key.isdigit() else None
        if kind == "cli":
            return rest or None
        return None
