from __future__ import annotations

import strawberry
from django.conf import settings
from django.utils.translation import gettext as _
from strawberry.types import Info

from central import services
from central.errors import InvalidInput, ServiceError
from schema.central.types import Region, RegionStatus, region_type
from schema.errors import AccessError, QueryError
from schema.identity import CENTRAL, NotAnId, decode, global_id
from schema.node import Node
from schema.statistics import FederationStatistics, federation_statistics_type


def _admin(info: Info):
    try:
        return info.context.require_admin()
    except ServiceError as error:
        raise AccessError(error) from None


@strawberry.type(description="A region in the federation directory, with its signing key.")
class DirectoryRegion(Node):
    code: str
    name: str
    public_key: str = strawberry.field(description="Ed25519, base64 of the raw 32 bytes.")
    local: bool = strawberry.field(description="Served by this deployment.")
    inbox_url: str = strawberry.field(description="Where a remote region receives packages.")

    @strawberry.field(description="Opaque, stable and unique across types and regions.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(global_id("DirectoryRegion", self.code, schema=CENTRAL))


def directory_regions(code: str | None = None) -> list[DirectoryRegion]:
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
        if code is None or e.code == code
    ]


def central_node(info: Info, value, field: str = "id") -> Node | None:
    """node(id:) on central: a directory entry for anyone, a region for central
    admins (as ``region(code:)``); anything else null."""
    try:
        kind, schema, key = decode(value)
    except NotAnId:
        raise QueryError(InvalidInput(_("not an id"), field=field)) from None
    if schema != CENTRAL:
        return None
    if kind == "DirectoryRegion":
        return next(iter(directory_regions(key)), None)
    if kind == "Region":
        _admin(info)
        found = services.regions().filter(code=key).first()
        return region_type(found) if found else None
    return None


@strawberry.type
class CentralQuery:
    @strawberry.field(
        description="Every region this deployment knows, with its public key. "
        "Public: keys are what peers verify transfer packages with."
    )
    def federation_directory(self) -> list[DirectoryRegion]:
        return directory_regions()

    @strawberry.field(description="Every region of this deployment. Central admins only.")
    def regions(self, info: Info, status: RegionStatus | None = None) -> list[Region]:
        _admin(info)
        return [region_type(r) for r in services.regions(status.value if status else None)]

    @strawberry.field(description="One region by its division code. Central admins only.")
    def region(self, info: Info, code: str) -> Region | None:
        _admin(info)
        found = services.regions().filter(code=code).first()
        return region_type(found) if found else None

    @strawberry.field(
        description="统计 of every active region of this deployment, computed region by "
        "region (never one query across two regions' schemas) and summed. Central admins only."
    )
    def federation_statistics(self, info: Info, top_groups: int = 20) -> FederationStatistics:
        from tenants.statistics.selectors import federation_statistics

        _admin(info)
        regions = services.regions("active").order_by("code")
        return federation_statistics_type(
            federation_statistics(regions, top_groups=max(1, min(top_groups, 100)))
        )

    @strawberry.field(
        description="Refetch an object by its id: a directory entry (public) or a region "
        "(central admins, as region(code:)); null for anything else."
    )
    def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return central_node(info, id)

    @strawberry.field(description="node(id:) for each id (at most 100), in order.")
    def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        limit = settings.GRAPHQL["MAX_PAGE"]
        if len(ids) > limit:
            raise QueryError(
                InvalidInput(_("at most %(limit)s ids") % {"limit": limit}, field="ids")
            )
        answers: list[Node | None] = []
        for value in ids:
            try:
                answers.append(central_node(info, value, "ids"))
            except (AccessError, QueryError) as error:
                # graphql-core reports an error in a list at this item's path.
                answers.append(error)  # type: ignore[arg-type]
        return answers
