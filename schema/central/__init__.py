"""The central GraphQL API, served at /graphql on the central hosts."""

from schema.central.mutations import CentralMutation
from schema.central.queries import CentralQuery
from schema.hardening import Schema, config, extensions

schema = Schema(
    query=CentralQuery, mutation=CentralMutation, extensions=extensions(), config=config()
)
