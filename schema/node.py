"""The Relay ``Node`` interface: an object a client may cache and refetch by ``id``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry


@strawberry.interface(
    description="An object with a global id: opaque, stable, unique across types and "
    "regions (Relay Global Object Identification). `node(id:)` refetches it."
)
class Node:
    if TYPE_CHECKING:
        # Each type answers it in its own way (a resolver, or a field read from its
        # model): to mypy a read-only attribute, not a field every constructor takes.
        @property
        def id(self) -> strawberry.ID: ...
    else:
        id: strawberry.ID
