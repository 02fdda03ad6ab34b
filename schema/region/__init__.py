"""A region's GraphQL API, served at /graphql on each region's domains."""

import strawberry

from schema.region.mutations import RegionMutation
from schema.region.queries import RegionQuery

schema = strawberry.Schema(query=RegionQuery, mutation=RegionMutation)
