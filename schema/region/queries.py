from __future__ import annotations

import strawberry
from strawberry.types import Info

from schema.central.types import Region, region_type


@strawberry.type
class RegionQuery:
    @strawberry.field(description="The region this host serves, with its policy. Public.")
    def region(self, info: Info) -> Region:
        return region_type(info.context.region)
