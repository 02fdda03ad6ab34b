from __future__ import annotations

import strawberry
from strawberry.types import Info

from central import services
from central.errors import ServiceError
from schema.central.types import Region, RegionStatus, region_type
from schema.errors import AccessError


def _admin(info: Info):
    try:
        return info.context.require_admin()
    except ServiceError as error:
        raise AccessError(error) from None


@strawberry.type
class CentralQuery:
    @strawberry.field(description="Every region of this deployment. Central admins only.")
    def regions(self, info: Info, status: RegionStatus | None = None) -> list[Region]:
        _admin(info)
        return [region_type(r) for r in services.regions(status.value if status else None)]

    @strawberry.field(description="One region by its division code. Central admins only.")
    def region(self, info: Info, code: str) -> Region | None:
        _admin(info)
        found = services.regions().filter(code=code).first()
        return region_type(found) if found else None
