"""Issue 3 §1: region accounts, hashed passwords, region-bound revocable tokens."""

from __future__ import annotations

import datetime
import subprocess
import sys

from django.utils import timezone
from django_tenants.utils import tenant_context

from central.tenancy import connection
from tenants.accounts.models import AccessToken, Account
from tests.registry_support import login, region, register_volunteer
from tests.support import REPO, child_env, platform_database_url

ME = "{ me { username volunteer { number } roles { kind } } }"


def test_login_me_logout(gql, seed_regions):
    volunteer, username = register_volunteer("chongqing")
    token = login(gql, "chongqing", username)
    assert token.startswith("rt_500000_")
    me = gql.region("chongqing", ME, token=token)["data"]["me"]
    assert me == {"username": username, "volunteer": {"number": volunteer.number}, "roles": []}
    out = gql.region("chongqing", "mutation { logout { ok errors { message } } }", token=token)
    assert out["data"]["logout"] == {"ok": True, "errors": []}
    revoked = gql.region("chongqing", ME, token=token)
    assert revoked["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert gql.region("chongqing", ME)["data"]["me"] is None  # no token: anonymous


def test_wrong_password_and_unknown_user_look_the_same(gql, seed_regions):
    _, username = register_volunteer("chongqing")
    query = (
        'mutation($u: String!) { login(username: $u, password: "nope") '
        "{ token errors { field code message } } }"
    )
    wrong = gql.region("chongqing", query, {"u": username})["data"]["login"]
    unknown = gql.region("chongqing", query, {"u": "nobody-here"})["data"]["login"]
    assert (
        wrong
        == unknown
        == {
            "token": None,
            "errors": [
                {"field": "password", "code": "INVALID", "message": "wrong username or password"}
            ],
        }
    )


def test_production_hashes_passwords_at_djangos_full_cost():
    """The suite's servers hash with 1,000 PBKDF2 iterations
    (``central/test_server_settings.py``); production's settings must keep Django's
    own hasher and count. Asked of a fresh process, as a deployment starts one."""
    ask = (
        "import django; django.setup(); "
        "from django.contrib.auth.hashers import get_hasher, make_password; "
        "h = get_hasher(); print(type(h).__module__, h.iterations, make_password('x')[:14])"
    )
    env = child_env(platform_database_url(), DJANGO_SETTINGS_MODULE="central.settings")
    out = subprocess.run(
        [sys.executable, "-c", ask], cwd=REPO, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == "django.contrib.auth.hashers"
    assert int(out[1]) >= 1_000_000
    assert out[2] == "pbkdf2_sha256$"


def test_passwords_and_tokens_are_stored_hashed(gql, seed_regions):
    _, username = register_volunteer("chongqing")
    token = login(gql, "chongqing", username)
    with tenant_context(region("chongqing")):
        account = Account.objects.get(username=username)
        assert account.password.startswith("pbkdf2_sha256$")
        assert "Strong-pass-2026" not in account.password
        stored = AccessToken.objects.filter(account=account).values_list("key_hash", flat=True)
        assert token not in stored and len(stored[0]) == 64


def test_a_token_of_one_region_is_rejected_on_another(gql, seed_regions):
    _, username = register_volunteer("chongqing")
    token = login(gql, "chongqing", username)
    body = gql.region("yunnan", ME, token=token)
    assert body["data"] == {"me": None}
    error = body["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "another region" in error["message"]
    # Even with its region prefix forged, the digest is unknown in 云南's schema.
    forged = "rt_530000_" + token.split("_", 2)[2]
    body = gql.region("yunnan", ME, token=forged)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_expired_token_is_rejected(gql, seed_regions):
    _, username = register_volunteer("chongqing")
    token = login(gql, "chongqing", username)
    with tenant_context(region("chongqing")):
        AccessToken.objects.filter(account__username=username).update(
            expires_at=timezone.now() - datetime.timedelta(seconds=1)
        )
    body = gql.region("chongqing", ME, token=token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert connection.schema_name == "public"
