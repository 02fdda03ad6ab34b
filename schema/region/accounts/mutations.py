"""Logging in and out, passwords, locked accounts.

Every mutation returns a payload with ``errors``; a request the caller may not
make at all is a GraphQL error (UNAUTHENTICATED / PERMISSION_DENIED). Either
way nothing is written."""

from __future__ import annotations

import datetime
from typing import Annotated

import strawberry
from django.utils.translation import gettext as _
from strawberry.types import Info

from central.errors import InvalidInput
from central.throttle import client_address, one_login_per_request
from schema.context import bearer_token
from schema.errors import Payload, mutation_payload, user_errors
from schema.region.auth import caller
from tenants.accounts import services as accounts


@strawberry.type
class LoginPayload(Payload):
    token: str | None = None
    expires_at: datetime.datetime | None = None
    must_change_password: bool = strawberry.field(
        default=False,
        description="The password was right but is a temporary one (a reset): no token "
        "is issued; choose a new password with changePassword(username, currentPassword, "
        "newPassword), which logs in.",
    )


@strawberry.type
class ChangePasswordPayload(Payload):
    ok: bool = False
    revoked_tokens: int | None = strawberry.field(
        default=None, description="How many other tokens (and admin sessions) were revoked."
    )
    token: str | None = strawberry.field(
        default=None,
        description="Called without a token (to replace a temporary password): a new token.",
    )
    expires_at: datetime.datetime | None = None


@strawberry.type
class ResetPasswordPayload(Payload):
    username: str | None = None
    temporary_password: str | None = strawberry.field(
        default=None,
        description="Shown this once and never stored in clear: give it to the account's "
        "owner, who must replace it at the next login (changePassword).",
    )
    temporary_until: datetime.datetime | None = strawberry.field(
        default=None, description="The temporary password stops working then."
    )


@strawberry.type
class OkPayload(Payload):
    ok: bool = False


@strawberry.type
class AccountPayload(Payload):
    username: str | None = None


@strawberry.type
class AccountsMutation:
    @strawberry.mutation(
        description="Log in to this region; the token works only here. One login per request; "
        "repeated failures lock the username or address for a while (THROTTLED, retryAfter)."
    )
    @mutation_payload(LoginPayload)
    def login(self, info: Info, username: str, password: str) -> LoginPayload:
        request = info.context.request
        one_login_per_request(request)
        try:
            raw, token = accounts.login(
                username, password, info.context.region.code, client_address(request)
            )
        except accounts.PasswordChangeRequired as error:
            return LoginPayload(must_change_password=True, errors=user_errors(error))
        return LoginPayload(token=raw, expires_at=token.expires_at)

    @strawberry.mutation(
        description="Change your own password: the current one is checked like a login "
        "(throttled; wrong: INVALID on currentPassword), the new one by the registration "
        "rules. Every other token and admin session of the account is revoked. Without a "
        "token, give username: the way to replace a temporary password (answers a token)."
    )
    @mutation_payload(ChangePasswordPayload)
    def change_password(
        self,
        info: Info,
        current_password: str,
        new_password: str,
        username: Annotated[
            str | None,
            strawberry.argument(description="Only without a token: whose password."),
        ] = None,
    ) -> ChangePasswordPayload:
        request = info.context.request
        principal, _policy = caller(info)
        if principal is None and not username:
            accounts.require(principal)
        own = principal.account if principal is not None else None
        if own is not None and username and username != own.username:
            raise InvalidInput(_("you are logged in as another account"), field="username")
        one_login_per_request(request)
        address = client_address(request)
        account, revoked = accounts.change_password(
            own.username if own is not None else (username or ""),
            current_password,
            new_password,
            address=address,
            keep_token_id=accounts.token_id_of(bearer_token(request)) if principal else None,
        )
        if principal is not None:
            return ChangePasswordPayload(ok=True, revoked_tokens=revoked)
        raw, token = accounts.issue_token(account, info.context.region.code, address)
        return ChangePasswordPayload(
            ok=True, revoked_tokens=revoked, token=raw, expires_at=token.expires_at
        )

    @strawberry.mutation(
        description="Reset a volunteer's or group staff's password (the authority of every "
        "place the account belongs to; an authority account: central admins). Answers a "
        "one-time temporary password, to be replaced at the next login; the account's "
        "tokens are revoked; audited (never the password)."
    )
    @mutation_payload(ResetPasswordPayload)
    def reset_password(self, info: Info, username: str) -> ResetPasswordPayload:
        principal, _policy = caller(info)
        account, temporary, until = accounts.reset_password(username=username, principal=principal)
        return ResetPasswordPayload(
            username=account.username, temporary_password=temporary, temporary_until=until
        )

    @strawberry.mutation(
        description="Lift an account's login lock and forget its failed logins (authority only; "
        "audited with the reason)."
    )
    @mutation_payload(AccountPayload)
    def unlock_account(self, info: Info, username: str, reason: str) -> AccountPayload:
        principal, _ = caller(info)
        account = accounts.unlock_account(username=username, reason=reason, principal=principal)
        return AccountPayload(username=account.username)

    @strawberry.mutation(description="Revoke the token this request carries.")
    @mutation_payload(OkPayload)
    def logout(self, info: Info) -> OkPayload:
        accounts.require(info.context.principal)
        token = bearer_token(info.context.request)
        if token is not None:  # (a principal came from it)
            accounts.logout(token)
        return OkPayload(ok=True)
