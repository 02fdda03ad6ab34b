"""Who is calling: the bearer token on the request, resolved once per request."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from django.http import HttpRequest
from django.utils.translation import gettext as _

from central.errors import PermissionDenied, Unauthenticated

if TYPE_CHECKING:
    from central.models import Region


def bearer_token(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _unused, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@dataclass
class CentralContext:
    """Context of the central API (public domain)."""

    request: HttpRequest
    response: object = None

    @cached_property
    def admin(self):
        """The central admin behind the token, or None."""
        from central.models import CentralApiToken

        token = bearer_token(self.request)
        if not token:
            return None
        user = CentralApiToken.authenticate(token)
        return user if user is not None and user.is_staff else None

    def require_admin(self):
        if bearer_token(self.request) is None:
            raise Unauthenticated(_("send a central-admin token: Authorization: Bearer <token>"))
        if self.admin is None:
            raise PermissionDenied(
                _("the token is unknown, expired, revoked or not a central admin's")
            )
        return self.admin

    @property
    def actor(self) -> str:
        return f"central:{self.admin.username}" if self.admin else "anonymous"


@dataclass
class RegionContext:
    """Context of a region's API: the region resolved from the Host header, its
    policy, and the caller (from the bearer token), each loaded once per request."""

    request: HttpRequest
    response: object = None

    @property
    def region(self) -> Region:
        return self.request.region  # type: ignore[attr-defined]  # set by the region routing

    @cached_property
    def policy(self):
        return self.region.get_policy()

    @cached_property
    def principal(self):
        """The caller, or None when no token was sent. A bad token is an error."""
        from tenants.accounts.services import authenticate

        return authenticate(bearer_token(self.request), self.region.code)

    @property
    def actor(self) -> str:
        return self.principal.actor if self.principal else "anonymous"

    @cached_property
    def actor_names(self):
        """Names for the actors kept in rows (``accounts.selectors.ActorNames``)."""
        from tenants.accounts.selectors import ActorNames

        return ActorNames()
