"""Transfers and batches the caller may see."""

from __future__ import annotations

import strawberry
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from strawberry.types import Info

from central.errors import InvalidInput
from interop import permissions
from interop.models import Transfer
from schema.errors import QueryError
from schema.region.auth import guarded, principal_of
from schema.region.interop.types import (
    TransferBatchType,
    TransferDirection,
    TransferState,
    TransferType,
    _public_id,
)
from schema.region.pagination import page_size
from tenants.accounts.principal import Principal


def _visible(principal: Principal | None) -> QuerySet[Transfer]:
    return guarded(permissions.visible_transfers, principal).select_related("batch")


@strawberry.type
class InteropQuery:
    @strawberry.field(
        description="Transfers the caller may see: their own, or all (authority); newest "
        "first, `first` at a time (at most 100), `after` the last one's id for the next."
    )
    def transfers(
        self,
        info: Info,
        direction: TransferDirection | None = None,
        state: TransferState | None = None,
        first: int = 50,
        after: strawberry.ID | None = None,
    ) -> list[TransferType]:
        first = page_size(first)
        visible = queryset = _visible(principal_of(info))
        if direction:
            queryset = queryset.filter(direction=direction.value)
        if state:
            queryset = queryset.filter(state=state.value)
        if after is not None:
            # Any transfer the caller sees, even one that has since left the state asked for.
            anchor = _public_id(after)
            last_seen = anchor and visible.filter(public_id=anchor).values_list("id").first()
            if not last_seen:
                raise QueryError(InvalidInput(_("not a transfer of this list"), field="after"))
            queryset = queryset.filter(id__lt=last_seen[0])
        return [TransferType(_model=t) for t in queryset.order_by("-id")[:first]]

    @strawberry.field
    def transfer(self, info: Info, id: strawberry.ID) -> TransferType | None:
        public_id = _public_id(id)
        if public_id is None:
            return None
        found = _visible(principal_of(info)).filter(public_id=public_id).first()
        return TransferType(_model=found) if found else None

    @strawberry.field(
        description="A batch transfer (issue 11) with its progress, for the authority of "
        "the area holding the group; null if there is none such for the caller."
    )
    def transfer_batch(self, info: Info, id: strawberry.ID) -> TransferBatchType | None:
        public_id = _public_id(id)
        if public_id is None:
            return None
        visible = guarded(permissions.visible_batches, principal_of(info))
        found = visible.filter(public_id=public_id).first()
        return TransferBatchType(_model=found) if found else None
