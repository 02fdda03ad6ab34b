"""Who is acting: the one type every service, selector and permission takes.

Two kinds of caller implement it. ``AccountPrincipal`` is a signed-in account
of the region with its roles (the API, the admin, the region's own pages);
``OperatorPrincipal`` is a central operator at the command line, with the
authority's powers over the whole region (``tenants.accounts.services``).
Services are written against this protocol only, so mypy checks that neither
kind is asked for something it does not have (an operator has no account and
no volunteer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tenants.accounts.models import Account, Role
    from tenants.volunteers.models import Volunteer


class Principal(Protocol):
    @property
    def actor(self) -> str:
        """What the audit log records as the actor."""
        ...

    @property
    def account(self) -> Account | None: ...

    @property
    def volunteer(self) -> Volunteer | None: ...

    @property
    def roles(self) -> Sequence[Role]: ...

    @property
    def own_group_ids(self) -> frozenset[int]:
        """Every group the caller is staff of, approved or not."""
        ...

    @property
    def admin_group_ids(self) -> frozenset[int]:
        """Approved groups the caller administers."""
        ...

    @property
    def staff_group_ids(self) -> frozenset[int]:
        """Approved groups the caller is admin or recorder of."""
        ...

    @property
    def authority_roles(self) -> Sequence[Role]: ...

    @property
    def authority_levels(self) -> frozenset[str]: ...

    @property
    def is_authority(self) -> bool: ...

    @property
    def authority_prefixes(self) -> tuple[str, ...]: ...

    @property
    def memo(self) -> dict[str, frozenset[int]]:
        """Group ids a permission worked out once for this caller (one request)."""
        ...

    def covers(self, division_code: str, level: str | None = None) -> bool: ...

    def recorder_role(self, group_id: int) -> Role | None: ...
