"""Issue 13 point 5: every account changes its own password; the authority resets
its area's volunteers' and group staff's passwords, central admins authority
accounts'; a reset gives a one-time temporary password that must be replaced
before anything else.

A server of its own trusts ``X-Test-Client`` as the client's address, so each test
is its own client for the login throttle (which a wrong current password feeds).
"""

from __future__ import annotations

import datetime
import itertools

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_tenants.utils import tenant_context

from central.models import CentralApiToken, CentralAuditEntry
from tenants.accounts import services as accounts
from tenants.accounts.models import Account
from tenants.audit.models import AuditEntry
from tests import registry_support
from tests.registry_support import (
    first_county,
    hierarchy,
    join_group,
    login,
    region,
    register_volunteer,
    unique,
)
from tests.support import GraphQLClient, PlatformServer, platform_database_url, search

PASSWORD = "Strong-pass-2026"
NEW = "Quite-another-2027"
SLUG = "chongqing"
LOGIN = """mutation($u: String!, $p: String!) { login(username: $u, password: $p)
  { token mustChangePassword errors { field code message } } }"""
CHANGE = """mutation($c: String!, $n: String!, $u: String) { changePassword(currentPassword: $c,
  newPassword: $n, username: $u) { ok revokedTokens token errors { field code message } } }"""
RESET = """mutation($u: String!) { resetPassword(username: $u)
  { username temporaryPassword temporaryUntil errors { field code message } } }"""
CENTRAL_CHANGE = """mutation($c: String!, $n: String!) { changePassword(currentPassword: $c,
  newPassword: $n) { ok revokedTokens errors { field code message } } }"""
CENTRAL_RESET = """mutation($r: String!, $u: String!) { resetAuthorityPassword(regionCode: $r,
  username: $u) { username temporaryPassword errors { field code message } } }"""
ME = "{ me { username } }"
_clients = itertools.count(1)


@pytest.fixture(scope="module")
def password_server(seed_regions):
    env = {"PLATFORM_CLIENT_ADDRESS_HEADER": "X-Test-Client"}
    with PlatformServer(platform_database_url(), env=env) as running:
        yield running


@pytest.fixture
def gql(password_server) -> GraphQLClient:
    """A GraphQL client with an address of its own (and English messages)."""
    client = GraphQLClient(password_server.base_url)
    client.http.headers["X-Test-Client"] = f"10.13.5.{next(_clients)}"
    client.http.headers["Accept-Language"] = "en"
    return client


@pytest.fixture(scope="module")
def groups():
    return hierarchy(SLUG)


def authority_account(slug: str = SLUG, level: str = "city", division: str | None = None) -> str:
    return registry_support.authority_account(slug, level, division)


def account_of(kind: str, groups) -> str:
    """A new account of each kind a region has."""
    if kind == "volunteer":
        return register_volunteer(SLUG)[1]
    if kind == "group staff":
        username = unique("staff")
        from tenants.groups import services as group_services
        from tests.registry_support import principal_of_account

        target = region(SLUG)
        with tenant_context(target):
            group_services.create_staff_account(
                group_id=groups.team.id,
                kind="recorder",
                username=username,
                password=PASSWORD,
                display_name="记录员",
                recorder_certificate="记录员证2026",
                principal=principal_of_account(groups.admins["team"]),
                policy=target.get_policy(),
            )
        return username
    return authority_account()


def audit(action: str, target: str) -> list[AuditEntry]:
    with tenant_context(region(SLUG)):
        return list(AuditEntry.objects.filter(action=action, target=target))


def payload(body: dict, name: str) -> dict:
    assert "errors" not in body, body
    return body["data"][name]


@pytest.mark.parametrize("kind", ["volunteer", "group staff", "authority"])
def test_every_region_account_changes_its_password(gql, groups, kind):
    username = account_of(kind, groups)
    kept, other = login(gql, SLUG, username), login(gql, SLUG, username)
    changed = payload(
        gql.region(SLUG, CHANGE, {"c": PASSWORD, "n": NEW}, token=kept), "changePassword"
    )
    assert changed == {"ok": True, "revokedTokens": 1, "token": None, "errors": []}
    # The token the change came with works; the account's other one is revoked.
    assert gql.region(SLUG, ME, token=kept)["data"]["me"]["username"] == username
    assert gql.region(SLUG, ME, token=other)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    old = payload(gql.region(SLUG, LOGIN, {"u": username, "p": PASSWORD}), "login")
    assert old["token"] is None and old["errors"][0]["field"] == "password"
    assert login(gql, SLUG, username, NEW)
    entries = audit("account.password_changed", username)
    assert [e.detail for e in entries] == [{"revoked": 1}]
    assert NEW not in str(entries[0].detail) and PASSWORD not in str(entries[0].detail)


def test_a_wrong_current_password_is_invalid_counted_and_audited(gql):
    username = register_volunteer(SLUG)[1]
    token = login(gql, SLUG, username)
    for _ in range(5):  # PLATFORM_LOGIN_ACCOUNT_LIMIT
        wrong = payload(
            gql.region(SLUG, CHANGE, {"c": "not-it", "n": NEW}, token=token), "changePassword"
        )
        assert wrong["ok"] is False
        assert [(e["field"], e["code"]) for e in wrong["errors"]] == [
            ("currentPassword", "INVALID")
        ]
    # The login throttle counted them: the account is locked for the login too.
    locked = payload(
        gql.region(SLUG, CHANGE, {"c": PASSWORD, "n": NEW}, token=token), "changePassword"
    )
    assert locked["errors"][0]["code"] == "THROTTLED"
    refused = payload(gql.region(SLUG, LOGIN, {"u": username, "p": PASSWORD}), "login")
    assert refused["errors"][0]["code"] == "THROTTLED"
    failures = audit("account.password_change_failed", username)
    assert [e.detail["reason"] for e in failures].count("wrong_password") == 5
    with tenant_context(region(SLUG)):
        assert Account.objects.get(username=username).password.startswith("pbkdf2")
    # Nothing changed: the old password still is the password once the lock is lifted.
    with tenant_context(region(SLUG)):
        accounts.unlock_account(
            username=username, reason="测试", principal=accounts.OperatorPrincipal("test")
        )
    assert login(gql, SLUG, username)


def test_the_new_password_follows_the_registration_rules(gql):
    username = register_volunteer(SLUG)[1]
    token = login(gql, SLUG, username)
    for weak in ["short", "12345678", PASSWORD]:
        body = gql.region(SLUG, CHANGE, {"c": PASSWORD, "n": weak}, token=token)
        errors = payload(body, "changePassword")["errors"]
        assert [(e["field"], e["code"]) for e in errors] == [("newPassword", "INVALID")], weak
    assert gql.region(SLUG, ME, token=token)["data"]["me"]["username"] == username
    assert login(gql, SLUG, username)  # unchanged


def test_change_password_needs_a_token_or_a_username(gql):
    body = gql.region(SLUG, CHANGE, {"c": PASSWORD, "n": NEW})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    username = register_volunteer(SLUG)[1]
    token = login(gql, SLUG, username)
    other = register_volunteer(SLUG)[1]
    mismatch = gql.region(SLUG, CHANGE, {"c": PASSWORD, "n": NEW, "u": other}, token=token)
    assert payload(mismatch, "changePassword")["errors"][0]["field"] == "username"
    assert login(gql, SLUG, other)  # untouched


def test_the_authority_resets_a_password_in_its_area(gql, groups):
    volunteer, username = register_volunteer(SLUG, divisionCode=first_county("500000"))
    join_group(SLUG, groups.team, volunteer.number, groups.admins["team"])
    before = login(gql, SLUG, username)
    city = login(gql, SLUG, authority_account())
    reset = payload(gql.region(SLUG, RESET, {"u": username}, token=city), "resetPassword")
    assert reset["errors"] == [] and reset["username"] == username
    temporary = reset["temporaryPassword"]
    assert len(temporary) >= 12
    # The account's tokens are revoked; the old password is gone.
    assert (
        gql.region(SLUG, ME, token=before)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    )
    assert (
        payload(gql.region(SLUG, LOGIN, {"u": username, "p": PASSWORD}), "login")["token"] is None
    )
    # The temporary password gives no token: it must be replaced first.
    first = payload(gql.region(SLUG, LOGIN, {"u": username, "p": temporary}), "login")
    assert first["token"] is None and first["mustChangePassword"] is True
    assert first["errors"][0]["field"] == "password"
    changed = payload(
        gql.region(SLUG, CHANGE, {"c": temporary, "n": NEW, "u": username}), "changePassword"
    )
    assert changed["ok"] is True and changed["token"].startswith("rt_500000_")
    assert gql.region(SLUG, ME, token=changed["token"])["data"]["me"]["username"] == username
    # One-time: the temporary password works no more.
    again = payload(gql.region(SLUG, LOGIN, {"u": username, "p": temporary}), "login")
    assert again["token"] is None and again["mustChangePassword"] is False
    entries = audit("account.password_reset", username)
    assert len(entries) == 1 and entries[0].actor.startswith("account:")
    assert temporary not in str(entries[0].detail)


def test_who_may_not_reset_is_denied_and_nothing_changes(gql, groups):
    _volunteer, username = register_volunteer(SLUG, divisionCode=first_county("500000"))
    token = login(gql, SLUG, username)
    other_county = login(gql, SLUG, authority_account(level="county", division="500106"))
    group_admin = login(gql, SLUG, groups.admins["team"])
    stranger = login(gql, SLUG, register_volunteer(SLUG)[1])
    for caller in (other_county, group_admin, stranger, token):
        body = gql.region(SLUG, RESET, {"u": username}, token=caller)
        assert body["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED", body
    assert gql.region(SLUG, RESET, {"u": username})["errors"][0]["extensions"]["code"] == (
        "UNAUTHENTICATED"
    )
    # An authority account is reset by central admins only, even by a region-wide office.
    colleague = authority_account(level="county", division=first_county("500000"))
    city = login(gql, SLUG, authority_account())
    body = gql.region(SLUG, RESET, {"u": colleague}, token=city)
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert gql.region(SLUG, ME, token=token)["data"]["me"]["username"] == username
    assert login(gql, SLUG, colleague)
    assert audit("account.password_reset", username) == []
    missing = payload(gql.region(SLUG, RESET, {"u": "nobody-here"}, token=city), "resetPassword")
    assert missing["errors"][0]["code"] == "NOT_FOUND"


def test_an_expired_temporary_password_is_refused(gql):
    _, username = register_volunteer(SLUG)
    with tenant_context(region(SLUG)):
        _, temporary, _ = accounts.reset_password(
            username=username, principal=accounts.OperatorPrincipal("test")
        )
        Account.objects.filter(username=username).update(
            password_temporary_until=timezone.now() - datetime.timedelta(seconds=1)
        )
    body = gql.region(SLUG, CHANGE, {"c": temporary, "n": NEW, "u": username})
    assert payload(body, "changePassword")["errors"][0]["field"] == "currentPassword"
    login_body = payload(gql.region(SLUG, LOGIN, {"u": username, "p": temporary}), "login")
    assert login_body["token"] is None and login_body["mustChangePassword"] is False


@pytest.fixture
def central_user():
    user = get_user_model().objects.create_user(unique("central"), password=PASSWORD, is_staff=True)
    tokens = [CentralApiToken.issue(user, datetime.timedelta(hours=1))[1] for _ in range(2)]
    return user, tokens


def test_a_central_admin_changes_their_password(gql, central_user):
    user, (kept, other) = central_user
    wrong = gql.central(CENTRAL_CHANGE, {"c": "not-it", "n": NEW}, token=kept)
    assert payload(wrong, "changePassword")["errors"][0]["field"] == "currentPassword"
    weak = gql.central(CENTRAL_CHANGE, {"c": PASSWORD, "n": "short"}, token=kept)
    assert payload(weak, "changePassword")["errors"][0]["field"] == "newPassword"
    changed = payload(
        gql.central(CENTRAL_CHANGE, {"c": PASSWORD, "n": NEW}, token=kept), "changePassword"
    )
    assert changed == {"ok": True, "revokedTokens": 1, "errors": []}
    user.refresh_from_db()
    assert user.check_password(NEW)
    regions = "{ regions { code } }"
    assert "errors" not in gql.central(regions, token=kept)
    assert gql.central(regions, token=other)["errors"][0]["extensions"]["code"] == (
        "PERMISSION_DENIED"
    )
    actions = CentralAuditEntry.objects.filter(actor=f"central:{user.username}")
    assert list(actions.values_list("action", flat=True)) == ["central.password_changed"]
    failed = CentralAuditEntry.objects.filter(action="central.password_change_failed")
    assert failed.filter(detail__username=user.username).count() == 1
    anonymous = gql.central(CENTRAL_CHANGE, {"c": PASSWORD, "n": NEW})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_central_admins_reset_authority_accounts_only(gql, central_user):
    _, (token, _other) = central_user
    username = authority_account()
    before = login(gql, SLUG, username)
    reset = payload(
        gql.central(CENTRAL_RESET, {"r": "500000", "u": username}, token=token),
        "resetAuthorityPassword",
    )
    assert reset["errors"] == [] and reset["username"] == username
    assert (
        gql.region(SLUG, ME, token=before)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    )
    first = payload(
        gql.region(SLUG, LOGIN, {"u": username, "p": reset["temporaryPassword"]}), "login"
    )
    assert first["mustChangePassword"] is True
    entry = CentralAuditEntry.objects.get(
        action="account.password_reset", detail__username=username
    )
    assert entry.region_code == "500000" and reset["temporaryPassword"] not in str(entry.detail)
    assert [e.actor for e in audit("account.password_reset", username)] == [entry.actor]
    # A volunteer's account is its authority's to reset; another region's name is unknown here.
    volunteer = register_volunteer(SLUG)[1]
    refused = gql.central(CENTRAL_RESET, {"r": "500000", "u": volunteer}, token=token)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert login(gql, SLUG, volunteer)
    unknown = gql.central(CENTRAL_RESET, {"r": "530000", "u": username}, token=token)
    assert payload(unknown, "resetAuthorityPassword")["errors"][0]["code"] == "NOT_FOUND"
    nobody = gql.central(CENTRAL_RESET, {"r": "500000", "u": username})
    assert nobody["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    region_token = login(gql, SLUG, authority_account())
    assert gql.central(CENTRAL_RESET, {"r": "500000", "u": username}, token=region_token)["errors"][
        0
    ]["extensions"]["code"] in ("PERMISSION_DENIED", "UNAUTHENTICATED")


def test_central_admins_reset_an_authority_password_in_the_django_admin(password_server):
    """The central admin's action on a region: over HTTP, after the admin's own login
    (password and TOTP), the username asked, the temporary password shown once."""

    import httpx
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from central.models import Region

    user = get_user_model().objects.create_user(
        unique("central"), password=PASSWORD, is_staff=True, is_superuser=True
    )
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    http = httpx.Client(
        base_url=password_server.base_url,
        headers={"Host": "localhost", "X-Test-Client": f"10.13.6.{next(_clients)}"},
        timeout=30,
    )

    def csrf(path: str) -> str:
        page = http.get(path)
        return search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    code = f"{totp(device.bin_key, device.step, device.t0, device.digits, 0):06d}"
    entered = http.post(
        "/admin/login/?next=/admin/",
        data={
            "username": user.username,
            "password": PASSWORD,
            "otp_token": code,
            "csrfmiddlewaretoken": csrf("/admin/login/"),
        },
    )
    assert entered.status_code == 302, entered.text[:500]
    username = authority_account()
    before = login(GraphQLClient(password_server.base_url), SLUG, username)
    changelist = "/admin/central/region/"
    selected = {
        "action": "reset_authority_password",
        "_selected_action": [str(Region.objects.get(code="500000").pk)],
    }
    asked = http.post(
        changelist, data={**selected, "index": "0", "csrfmiddlewaretoken": csrf(changelist)}
    )
    assert asked.status_code == 200 and 'name="username"' in asked.text
    done = http.post(
        changelist,
        data={
            **selected,
            "apply": "1",
            "username": username,
            "csrfmiddlewaretoken": csrf(changelist),
        },
    )
    assert done.status_code == 200 and "no-store" in done.headers["cache-control"]
    temporary = search(r'<code id="temporary-password">([^<]+)</code>', done.text).group(1)
    gql = GraphQLClient(password_server.base_url)
    assert gql.region(SLUG, ME, token=before)["errors"][0]["extensions"]["code"] == (
        "UNAUTHENTICATED"
    )
    first = payload(gql.region(SLUG, LOGIN, {"u": username, "p": temporary}), "login")
    assert first["mustChangePassword"] is True
    assert CentralAuditEntry.objects.filter(
        action="account.password_reset", actor=f"central:{user.username}"
    ).exists()
    # Not an authority account: refused on the form, nothing reset.
    volunteer = register_volunteer(SLUG)[1]
    refused = http.post(
        changelist,
        data={
            **selected,
            "apply": "1",
            "username": volunteer,
            "csrfmiddlewaretoken": csrf(changelist),
        },
    )
    assert refused.status_code == 200 and 'id="temporary-password"' not in refused.text
    assert login(gql, SLUG, volunteer)
    # The admin's own password, from the admin's top bar: the same service (audited,
    # API tokens revoked), this session kept.
    api = CentralApiToken.issue(user, datetime.timedelta(hours=1))[1]
    changed = http.post(
        "/admin/password_change/",
        data={
            "old_password": PASSWORD,
            "new_password1": NEW,
            "new_password2": NEW,
            "csrfmiddlewaretoken": csrf("/admin/password_change/"),
        },
    )
    assert changed.status_code == 302, changed.text[:500]
    assert http.get("/admin/").status_code == 200
    user.refresh_from_db()
    assert user.check_password(NEW)
    regions = gql.central("{ regions { code } }", token=api)
    assert regions["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert CentralAuditEntry.objects.filter(
        actor=f"central:{user.username}", action="central.password_changed"
    ).exists()


def test_an_operator_resets_from_the_shell(gql, capsys):
    import json

    from django.core.management import call_command

    username = authority_account()
    volunteer = register_volunteer(SLUG)[1]
    for name in (username, volunteer):
        call_command(
            "registry",
            "--region",
            "500000",
            "--operator",
            "ops",
            "reset-password",
            "--username",
            name,
        )
        printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert printed["username"] == name
        first = payload(
            gql.region(SLUG, LOGIN, {"u": name, "p": printed["temporaryPassword"]}), "login"
        )
        assert first["mustChangePassword"] is True
        assert [e.actor for e in audit("account.password_reset", name)] == ["cli:ops"]
