"""The region this host serves, and the logged-in account."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from schema.central.types import Region, region_type
from schema.region.accounts.types import Me
from schema.region.auth import principal_of


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="The region this host serves, with its policy. Public.")
    def region(self, info: Info) -> Region:
        return region_type(info.context.region)

    @strawberry.field(description="The logged-in account, or null without a token.")
    def me(self, info: Info) -> Me | None:
        principal = principal_of(info)
        if principal is None or principal.account is None:
            return None
        return Me(_model=principal.account, _roles=list(principal.roles))
