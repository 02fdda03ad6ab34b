"""GraphQL types of the central side: regions as the federation sees them."""

from __future__ import annotations

import datetime
import enum

import strawberry

from central import models
from central.divisions import division_level, divisions_within
from schema.identity import CENTRAL, global_id
from schema.node import Node
from schema.policy_types import RegionPolicy, policy_type


@strawberry.enum(description="Administrative level of a region.")
class RegionLevel(enum.Enum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


@strawberry.enum(description="Whether a region serves requests.")
class RegionStatus(enum.Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


@strawberry.enum(description="Level of an administrative division (GB/T 2260).")
class DivisionLevel(enum.Enum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


@strawberry.type(description="A GB/T 2260 administrative division (行政区划) in force.")
class Division:
    code: str
    name: str
    level: DivisionLevel


@strawberry.type(description="A province or city (地区): one schema-isolated tenant.")
class Region(Node):
    code: str = strawberry.field(description="GB/T 2260 administrative division code.")
    name: str
    level: RegionLevel
    status: RegionStatus
    slug: str
    suspended_reason: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    _model: strawberry.Private[models.Region]

    @strawberry.field(description="Opaque, stable and unique across types and regions.")
    def id(self) -> strawberry.ID:
        # Central's object: the same id on central's API and on the region's own.
        return strawberry.ID(global_id("Region", self.code, schema=CENTRAL))

    @strawberry.field
    def parent(self) -> Region | None:
        parent = self._model.parent
        return region_type(parent) if parent else None

    @strawberry.field(description="Host names routed to this region; the primary one first.")
    def domains(self) -> list[str]:
        return [d.domain for d in self._model.domains.all()]

    @strawberry.field
    def policy(self) -> RegionPolicy:
        return policy_type(self._model.get_policy())

    @strawberry.field(
        description="The divisions inside the region (itself first), for the `divisionCode` "
        "of groups, volunteers and authority accounts."
    )
    def divisions(self) -> list[Division]:
        return [
            Division(code=code, name=name, level=DivisionLevel(division_level(code)))
            for code, name in sorted(divisions_within(self.code).items())
        ]


def region_type(region: models.Region) -> Region:
    return Region(
        code=region.code,
        name=region.name,
        level=RegionLevel(region.level),
        status=RegionStatus(region.status),
        slug=region.slug,
        suspended_reason=region.suspended_reason,
        created_at=region.created_at,
        updated_at=region.updated_at,
        _model=region,
    )
