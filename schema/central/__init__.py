"""The central GraphQL API, served at /graphql on the central hosts."""

import strawberry

from schema.central.mutations import CentralMutation
from schema.central.queries import CentralQuery
from schema.hardening import config, extensions

schema = strawberry.Schema(
    query=CentralQuery, mutation=CentralMutation, extensions=extensions(), config=config()
)
