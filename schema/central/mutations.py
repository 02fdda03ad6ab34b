from __future__ import annotations

import datetime
from typing import Annotated

import strawberry
from django.utils.translation import gettext as _
from strawberry.scalars import JSON
from strawberry.types import Info

from central import accounts, services
from central.errors import InvalidInput, ServiceError
from central.models import _hash_token
from central.throttle import client_address, one_login_per_request
from schema.central.queries import _admin
from schema.central.types import Region, RegionLevel, region_type
from schema.errors import Payload, mutation_payload


@strawberry.type
class CentralLoginPayload(Payload):
    token: str | None = None
    expires_at: datetime.datetime | None = None


@strawberry.type
class RegionPayload(Payload):
    region: Region | None = None


@strawberry.type
class CentralOkPayload(Payload):
    ok: bool = False
    revoked_tokens: int | None = strawberry.field(
        default=None, description="How many of your other API tokens were revoked."
    )


@strawberry.type
class AuthorityPasswordResetPayload(Payload):
    username: str | None = None
    temporary_password: str | None = strawberry.field(
        default=None,
        description="Shown this once and never stored in clear; the account must replace "
        "it at its next login (the region's changePassword).",
    )
    temporary_until: datetime.datetime | None = None


@strawberry.input(description="A new region. Its policy starts from a preset, then overrides.")
class ProvisionRegionInput:
    code: str = strawberry.field(description="GB/T 2260 code, e.g. 500000.")
    name: str
    level: RegionLevel
    slug: str = strawberry.field(description="Stable ASCII slug; the schema is region_<slug>.")
    parent_code: str | None = None
    domains: list[str] | None = strawberry.field(
        default=None, description="Host names; default <slug>.<suffix>."
    )
    preset: str = strawberry.field(
        default="default", description="default, chongqing, yunnan, fuxin or suizhou."
    )
    policy: JSON | None = strawberry.field(
        default=None, description="Policy fields (camelCase) that override the preset."
    )


@strawberry.type
class CentralMutation:
    @strawberry.mutation(
        description="Exchange a central admin's password (and, with a TOTP device, its "
        "one-time password) for a bearer token. One login per request; repeated failures "
        "lock the username or address for a while (THROTTLED, retryAfter)."
    )
    @mutation_payload(CentralLoginPayload)
    def login(
        self,
        info: Info,
        username: str,
        password: str,
        otp: Annotated[
            str | None,
            strawberry.argument(description="The authenticator app's current code (TOTP)."),
        ] = None,
    ) -> CentralLoginPayload:
        request = info.context.request
        one_login_per_request(request)
        token, raw = accounts.api_login(username, password, otp, client_address(request))
        return CentralLoginPayload(token=raw, expires_at=token.expires_at)

    @strawberry.mutation(
        description="Change your own password (central admin): the current one is checked "
        "like a login (throttled; wrong: INVALID on currentPassword), the new one by the "
        "password rules. Your other API tokens are revoked and your admin sessions end."
    )
    @mutation_payload(CentralOkPayload)
    def change_password(
        self, info: Info, current_password: str, new_password: str
    ) -> CentralOkPayload:
        from central.models import CentralApiToken
        from schema.context import bearer_token

        admin = _admin(info)
        request = info.context.request
        one_login_per_request(request)
        raw = bearer_token(request)
        revoked = accounts.change_admin_password(
            admin,
            current_password,
            new_password,
            address=client_address(request),
            keep_token=CentralApiToken.objects.live().filter(key_hash=_hash_token(raw)).first()
            if raw is not None
            else None,
        )
        return CentralOkPayload(ok=True, revoked_tokens=revoked)

    @strawberry.mutation(
        description="Reset the password of a region's authority account (民政部门/文明办 "
        "staff): answers a one-time temporary password, replaced at the account's next "
        "login; its tokens are revoked. Audited in both logs, never the password."
    )
    @mutation_payload(AuthorityPasswordResetPayload)
    def reset_authority_password(
        self, info: Info, region_code: str, username: str
    ) -> AuthorityPasswordResetPayload:
        _admin(info)
        name, temporary, until = services.reset_authority_password(
            region_code, username, actor=info.context.actor
        )
        return AuthorityPasswordResetPayload(
            username=name, temporary_password=temporary, temporary_until=until
        )

    @strawberry.mutation(description="Create a region with its schema, domains and policy.")
    @mutation_payload(RegionPayload)
    def provision_region(self, info: Info, input: ProvisionRegionInput) -> RegionPayload:
        _admin(info)
        spec = services.RegionSpec(
            code=input.code,
            name=input.name,
            level=input.level.value,
            slug=input.slug,
            parent_code=input.parent_code or None,
            domains=input.domains or [],
            preset=input.preset,
            policy_overrides=_json_object(input.policy),
        )
        region = services.provision_region(spec, actor=info.context.actor)
        return RegionPayload(region=region_type(region))

    @strawberry.mutation(description="Change policy fields (camelCase JSON) of a region.")
    @mutation_payload(RegionPayload)
    def update_region_policy(self, info: Info, code: str, policy: JSON) -> RegionPayload:
        _admin(info)
        region = services.update_region_policy(code, _json_object(policy), actor=info.context.actor)
        return RegionPayload(region=region_type(region))

    @strawberry.mutation(description="Stop a region from serving any request.")
    @mutation_payload(RegionPayload)
    def suspend_region(self, info: Info, code: str, reason: str) -> RegionPayload:
        _admin(info)
        region = services.suspend_region(code, reason, actor=info.context.actor)
        return RegionPayload(region=region_type(region))

    @strawberry.mutation(description="Let a suspended region serve requests again.")
    @mutation_payload(RegionPayload)
    def resume_region(self, info: Info, code: str) -> RegionPayload:
        _admin(info)
        region = services.resume_region(code, actor=info.context.actor)
        return RegionPayload(region=region_type(region))


def _json_object(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(_("must be a JSON object"), field="policy")
    return value


__all__ = ["CentralMutation", "ServiceError"]
