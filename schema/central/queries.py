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


@strawberry.type(description="A region in the federation directory, with its signing key.")
class DirectoryRegion:
    code: str
    name: str
    public_key: str = strawberry.field(description="Ed25519, base64 of the raw 32 bytes.")
    local: bool = strawberry.field(description="Served by this deployment.")
    inbox_url: str = strawberry.field(description="Where a remote region receives packages.")


@strawberry.type
class CentralQuery:
    @strawberry.field(
        description="Every region this deployment knows, with its public key. "
        "Public: keys are what peers verify transfer packages with."
    )
    def federation_directory(self) -> list[DirectoryRegion]:
        from interop.signing import directory

        return [
            DirectoryRegion(
                code=e.code,
                name=e.name,
                public_key=e.public_key,
                local=e.local,
                inbox_url=e.inbox_url,
            )
            for e in directory()
        ]

    @strawberry.field(description="Every region of this deployment. Central admins only.")
    def regions(self, info: Info, status: RegionStatus | None = None) -> list[Region]:
        _admin(info)
        return [region_type(r) for r in services.regions(status.value if status else None)]

    @strawberry.field(description="One region by its division code. Central admins only.")
    def region(self, info: Info, code: str) -> Region | None:
        _admin(info)
        found = services.regions().filter(code=code).first()
        return region_type(found) if found else None
