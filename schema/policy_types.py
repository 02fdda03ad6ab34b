"""GraphQL types of a region's policy, generated from the pydantic model in
``central/policy.py`` so the two cannot drift apart."""

from __future__ import annotations

import strawberry
from strawberry.experimental.pydantic import type as pydantic_type

from central import policy

# Registered once, here, so every schema names them the same way.
# strawberry.enum marks the class itself as the GraphQL enum (and returns it).
strawberry.enum(policy.Power, description="The five powers of 002's annex table.")
Power = policy.Power


@pydantic_type(model=policy.PermissionGroupRule, all_fields=True)
class PermissionGroupRule:
    """A permission group (权限组别) and its powers (002 annex)."""


@pydantic_type(model=policy.HubNamePattern, all_fields=True)
class HubNamePattern:
    """How hub groups of one level must be named (002 §3(1)1)."""


@pydantic_type(model=policy.HubPermissionGroup, all_fields=True)
class HubPermissionGroup:
    """The permission group a hub of one level gets when approved (002 §3(4))."""


@pydantic_type(model=policy.GroupNaming, all_fields=True)
class GroupNaming:
    """Group naming rules (002 §3(1), 004)."""


@pydantic_type(model=policy.RegistrationTargets, all_fields=True)
class RegistrationTargets:
    """Registration targets (004 §4.2)."""


@pydantic_type(model=policy.RegionPolicy, all_fields=True)
class RegionPolicy:
    """A region's policy: every rule that differs between regions (docs/rules.md)."""


def policy_type(value: policy.RegionPolicy) -> RegionPolicy:
    return RegionPolicy.from_pydantic(value)
