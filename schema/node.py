"""The Relay ``Node`` interface: an object a client may cache and refetch by ``id``."""

from __future__ import annotations

import strawberry


@strawberry.interface(
    description="An object with a global id: opaque, stable, unique across types and "
    "regions (Relay Global Object Identification). `node(id:)` refetches it."
)
class Node:
    id: strawberry.ID
