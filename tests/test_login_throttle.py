"""Issue 10 finding 8: login throttling with backoff, audited failures, unlocking,
one login per request, and a second factor (TOTP) for central admins.

A server of its own trusts ``X-Test-Client`` as the client's address
(``PLATFORM_CLIENT_ADDRESS_HEADER``), so each test is its own client and the
per-address limit (8 here) is reached quickly; two workers with four threads
each, as in production, share the state through the database.

The models this change adds are imported inside the tests that use them, so the
file runs (and fails) against the code before it.
"""

from __future__ import annotations

import datetime
import itertools
import re
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from django_otp.oath import totp
from django_tenants.utils import tenant_context

from central.models import CentralAuditEntry
from tenants.audit.models import AuditEntry
from tests.registry_support import authority, region, register_volunteer
from tests.support import PlatformServer, platform_database_url, search

PASSWORD = "Strong-pass-2026"
LOGIN = (
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) "
    "{ token errors { field code message retryAfter } } }"
)
CENTRAL_LOGIN = (
    "mutation($u: String!, $p: String!, $otp: String) { login(username: $u, password: $p, "
    "otp: $otp) { token errors { field code message retryAfter } } }"
)
UNLOCK = (
    "mutation($u: String!, $r: String!) { unlockAccount(username: $u, reason: $r) "
    "{ username errors { field code message } } }"
)
_addresses = itertools.count(1)


@pytest.fixture(scope="module")
def throttle_server(seed_regions):
    env = {"PLATFORM_CLIENT_ADDRESS_HEADER": "X-Test-Client", "PLATFORM_LOGIN_ADDRESS_LIMIT": "8"}
    with PlatformServer(platform_database_url(), workers=2, threads=4, env=env) as running:
        yield running


class Client:
    """Posts GraphQL from one client address (or a batch: a JSON list)."""

    def __init__(self, server, host: str = "chongqing.localhost"):
        self.http = httpx.Client(base_url=server.base_url, timeout=120)
        self.host = host
        self.address = f"198.51.100.{next(_addresses)}"

    def post(self, body, token: str | None = None, address: str | None = None):
        headers = {
            "Host": self.host,
            "X-Test-Client": address or self.address,
            "Accept-Language": "en",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.http.post("/graphql", json=body, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    def login(self, username: str, password: str, **kwargs) -> dict:
        body = {"query": LOGIN, "variables": {"u": username, "p": password}}
        return self.post(body, **kwargs)["data"]["login"]

    def central_login(self, username: str, password: str, otp: str | None = None) -> dict:
        body = {"query": CENTRAL_LOGIN, "variables": {"u": username, "p": password, "otp": otp}}
        return self.post(body)["data"]["login"]


def codes(answer: dict) -> list[str]:
    return [error["code"] for error in answer["errors"]]


def failures_audited(username: str) -> list[dict]:
    with tenant_context(region("chongqing")):
        return [
            entry.detail
            for entry in AuditEntry.objects.filter(
                action="account.login_failed", target=username
            ).order_by("id")
        ]


def test_five_failures_lock_the_account_even_for_the_right_password(throttle_server):
    _, username = register_volunteer("chongqing")
    client = Client(throttle_server)
    for _ in range(5):
        assert codes(client.login(username, "wrong-password")) == ["INVALID"]
    locked = client.login(username, PASSWORD)
    assert locked["token"] is None
    (error,) = locked["errors"]
    assert error["code"] == "THROTTLED" and error["field"] == "username"
    assert 50 <= error["retryAfter"] <= 60, error
    assert f"try again in {error['retryAfter']} s" in error["message"]
    # From another address too: the lock is the account's.
    assert codes(client.login(username, PASSWORD, address="203.0.113.1")) == ["THROTTLED"]
    # Every failure is audited with the username, address and reason, never the password.
    audited = failures_audited(username)
    assert [entry["reason"] for entry in audited] == ["wrong_password"] * 5 + ["account_locked"] * 2
    assert {entry["address"] for entry in audited[:6]} == {client.address}
    assert "wrong-password" not in str(audited) and PASSWORD not in str(audited)


def test_locks_grow_and_the_authority_unlocks_with_a_reason(throttle_server, gql):
    _, username = register_volunteer("chongqing")
    client = Client(throttle_server)
    for _ in range(5):
        client.login(username, "wrong-password")
    from tenants.accounts.models import LoginThrottle

    with tenant_context(region("chongqing")):
        # The first lock (60 s) has passed.
        LoginThrottle.objects.filter(scope="account", key=username).update(
            locked_until=timezone.now() - datetime.timedelta(seconds=1)
        )
    client = Client(throttle_server)  # another address: each allows 8 failures here
    for _ in range(5):
        assert codes(client.login(username, "wrong-password")) == ["INVALID"]
    second = client.login(username, PASSWORD)["errors"][0]
    assert second["code"] == "THROTTLED" and 110 <= second["retryAfter"] <= 120  # doubled

    volunteer_token = gql.region(
        "chongqing",
        LOGIN,
        {"u": register_volunteer("chongqing")[1], "p": PASSWORD},
    )["data"]["login"]["token"]
    denied = client.post(
        {"query": UNLOCK, "variables": {"u": username, "r": "本人来电核实"}}, token=volunteer_token
    )
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    staff = authority(gql, "chongqing")
    for variables, expected in [
        ({"u": "nobody-at-all", "r": "核实"}, [("username", "NOT_FOUND")]),
        ({"u": username, "r": " "}, [("reason", "INVALID")]),
    ]:
        answer = client.post({"query": UNLOCK, "variables": variables}, token=staff)
        errors = answer["data"]["unlockAccount"]["errors"]
        assert [(e["field"], e["code"]) for e in errors] == expected
    assert codes(client.login(username, PASSWORD)) == ["THROTTLED"]  # still locked

    answer = client.post(
        {"query": UNLOCK, "variables": {"u": username, "r": "本人来电核实"}}, token=staff
    )
    assert answer["data"]["unlockAccount"] == {"username": username, "errors": []}
    assert client.login(username, PASSWORD)["token"].startswith("rt_500000_")
    with tenant_context(region("chongqing")):
        entry = AuditEntry.objects.filter(action="account.unlocked", target=username).get()
        assert entry.detail == {"reason": "本人来电核实", "was_locked": True}
        assert entry.actor.startswith("account:")


def test_one_address_is_locked_after_its_own_limit(throttle_server):
    client = Client(throttle_server)
    for n in range(8):  # PLATFORM_LOGIN_ADDRESS_LIMIT=8, each a different username
        assert codes(client.login(f"guess{n}-{client.address}", "x")) == ["INVALID"]
    _, username = register_volunteer("chongqing")
    refused = client.login(username, PASSWORD)["errors"][0]
    assert refused["code"] == "THROTTLED" and refused["field"] is None
    assert "your address" in refused["message"] and refused["retryAfter"] > 0
    # The account itself is not locked: another address logs in.
    assert client.login(username, PASSWORD, address="203.0.113.2")["token"]


def test_a_batch_of_aliased_logins_costs_one_password_check(throttle_server):
    _, username = register_volunteer("chongqing")
    client = Client(throttle_server)
    fields = " ".join(
        f'a{i}: login(username: "{username}", password: "guess{i}") {{ token errors {{ code }} }}'
        for i in range(15)
    )
    batch = [{"query": f"mutation {{ {fields} }}"} for _ in range(10)]  # 150 logins
    started = time.monotonic()
    answers = client.post(batch)
    elapsed = time.monotonic() - started
    found = [
        code for answer in answers for field in answer["data"].values() for code in codes(field)
    ]
    assert len(found) == 150
    assert found.count("INVALID") == 1 and found.count("THROTTLED") == 149
    assert elapsed < 10, elapsed  # 150 password checks take ~27 s
    assert [entry["reason"] for entry in failures_audited(username)] == ["wrong_password"]
    # The account is not locked by one request: the right password still works.
    assert client.login(username, PASSWORD)["token"]


def test_concurrent_attempts_check_at_most_the_limit(throttle_server):
    _, username = register_volunteer("chongqing")
    clients = [Client(throttle_server) for _ in range(16)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda c: c.login(username, "wrong-password"), clients))
    found = [code for answer in answers for code in codes(answer)]
    assert found.count("INVALID") <= 5 and found.count("THROTTLED") >= 11, found
    assert codes(clients[0].login(username, PASSWORD)) == ["THROTTLED"]


# --- central admins: the same throttle, and TOTP ----------------------------------


def staff_user(name: str):
    user, _ = get_user_model().objects.get_or_create(
        username=f"{name}-{next(_addresses)}", defaults={"is_staff": True}
    )
    user.set_password(PASSWORD)
    user.save()
    return user


def code_for(device, drift: int = 0) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, drift):06d}"


def test_central_login_is_throttled_audited_and_unlocked(throttle_server):
    user = staff_user("thr")
    client = Client(throttle_server, host="localhost")
    for _ in range(5):
        assert codes(client.central_login(user.username, "wrong")) == ["INVALID"]
    refused = client.central_login(user.username, PASSWORD)["errors"][0]
    assert refused["code"] == "THROTTLED" and refused["retryAfter"] > 0
    reasons = [
        entry.detail["reason"]
        for entry in CentralAuditEntry.objects.filter(action="central.login_failed").order_by("id")
        if entry.detail["username"] == user.username
    ]
    assert reasons == ["wrong_credentials"] * 5 + ["account_locked"]
    from central.models import LoginThrottle as CentralThrottle

    call_command("totp", "unlock", user.username)
    assert client.central_login(user.username, PASSWORD)["token"].startswith("cat_")
    assert not CentralThrottle.objects.filter(key=user.username, locked_until__isnull=False)


def test_central_login_needs_the_totp_code_once_a_device_is_confirmed(throttle_server, capsys):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = staff_user("otp")
    client = Client(throttle_server, host="localhost")
    call_command("totp", "enrol", user.username, "--no-qr")
    uri = capsys.readouterr().out.split("otpauth URI: ")[1].split()[0]
    assert urlparse(uri).scheme == "otpauth" and "secret" in parse_qs(urlparse(uri).query)
    assert client.central_login(user.username, PASSWORD)["token"]  # not confirmed yet
    device = TOTPDevice.objects.get(user=user)
    call_command("totp", "confirm", user.username, code_for(device))

    missing = client.central_login(user.username, PASSWORD)
    assert missing["token"] is None
    assert [(e["field"], e["code"]) for e in missing["errors"]] == [("otp", "INVALID")]
    wrong = client.central_login(user.username, PASSWORD, otp="000000")
    assert [(e["field"], e["code"]) for e in wrong["errors"]] == [("otp", "INVALID")]
    device.refresh_from_db()
    good = client.central_login(user.username, PASSWORD, otp=code_for(device, drift=1))
    assert good["token"].startswith("cat_"), good


def admin_login(http: httpx.Client, host: str, address: str, data: dict) -> httpx.Response:
    headers = {"Host": host, "X-Test-Client": address, "Accept-Language": "en"}
    page = http.get("/admin/login/", headers=headers)
    csrf = search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return http.post(
        "/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": csrf, **data},
        headers={**headers, "Referer": f"http://{host}/admin/login/"},
    )


def test_django_admin_needs_totp_and_is_throttled(throttle_server):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = staff_user("adm")
    user.is_superuser = True
    user.save()
    http = httpx.Client(base_url=throttle_server.base_url, timeout=60)
    address = f"198.51.100.{next(_addresses)}"
    form = {"username": user.username, "password": PASSWORD}
    # Without a device, the right password is not enough.
    no_device = admin_login(http, "localhost", address, {**form, "otp_token": "123456"})
    assert no_device.status_code == 200 and "/admin/login/" in str(no_device.url)

    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    http.cookies.clear()
    # One submission: the only device is chosen without asking.
    answer = admin_login(http, "localhost", address, {**form, "otp_token": code_for(device)})
    assert answer.status_code == 302, re.findall(
        r"errornote.*?</p>|errorlist.*?</ul>", answer.text, re.S
    )
    assert answer.headers["location"] == "/admin/"
    assert http.get("/admin/", headers={"Host": "localhost"}).status_code == 200

    for _ in range(5):  # a wrong password 5 times: the account is locked
        http.cookies.clear()
        admin_login(http, "localhost", address, {**form, "password": "wrong"})
    http.cookies.clear()
    device.refresh_from_db()
    locked = admin_login(http, "localhost", address, {**form, "otp_token": code_for(device, 1)})
    assert locked.status_code == 200
    assert "too many failed logins" in locked.text
