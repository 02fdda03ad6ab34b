"""Who signed a short-lived download link, as they are now (audit round 6).

An export link (``tenants/reports/services.py``) and a certificate's PDF link
(``tenants/certificates/services.py``) work without a token for a few minutes,
so each carries, signed, the actor who asked for it and the id of the access
token they asked with. At download ``signer`` gives that caller's principal as
it is *now* — or None once the account is gone or disabled, or the token is
revoked (a logout, a password change) or expired — and the link's own
permission function is then asked again with it.
"""

from __future__ import annotations

from django.utils import timezone

from tenants.accounts import services as accounts
from tenants.accounts.models import AccessToken, Account
from tenants.accounts.principal import Principal


def signer(actor: str, token_id: int | None) -> Principal | None:
    """The principal behind ``actor`` (``account:<id>:…`` or ``cli:<name>``) if the
    account exists, is active and ``token_id`` (when given) is still live."""
    if actor.startswith("cli:"):  # an operator at the command line
        return accounts.OperatorPrincipal(actor.removeprefix("cli:"))
    kind, _sep, rest = actor.partition(":")
    account_id = rest.partition(":")[0]
    if kind != "account" or not account_id.isdigit():
        return None
    account = (
        Account.objects.select_related("volunteer")
        .filter(id=int(account_id), is_active=True)
        .first()
    )
    if account is None:
        return None
    if token_id is not None:
        live = AccessToken.objects.filter(
            id=token_id,
            account=account,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        if not live.exists():
            return None
    return accounts.principal_for(account)
