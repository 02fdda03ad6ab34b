"""Audit round 6: three holes an attacker or an operator meets, tried over real HTTP.

- ``verifyCertificate`` (and ``node`` of a verification's id, and the public
  verification page) answered whether a code exists at line rate. Lookups that
  find nothing are now counted per client address with the login throttle's code
  and table (``central.throttle.count_refusal``, scope ``verify``); past the limit
  every lookup from the address is ``THROTTLED`` (``retryAfter``; the page: 429,
  ``Retry-After``), in Chinese first, English on request. A holder checking a
  real code is never counted.
- An export link was authorised only by its signature: a staff member whose role
  was removed, whose account was disabled or whose token was revoked inside the
  link's five minutes still downloaded ID numbers. The download now asks the
  export's own permission check again (``reports.services.check_signer``).
- A certificate's PDF link (``certificateDownloadLink``) had the same hole: it
  now carries its asker and their token too, and the download asks
  ``may_download`` again (``certificates.services.check_link_signer``).
- ``PLATFORM_TLS_FRONT=1`` marks the session and CSRF cookies ``Secure`` (and
  trusts ``X-Forwarded-Proto: https``); off by default.

A server of its own trusts ``X-Test-Client`` as the client's address and locks
an address after 3 certificate codes not found. Each test fails on the code
before audit round 6.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import httpx
import pytest
from django_tenants.utils import tenant_context

from tenants.accounts.models import Account, LoginThrottle, Role
from tenants.audit.models import AuditEntry
from tenants.certificates.services import CODE_ALPHABET, CODE_LENGTH
from tenants.volunteers.models import PersonalInfoAccess
from tests.registry_support import login, region
from tests.support import GraphQLClient, PlatformServer, gid, html_forms, platform_database_url
from tests.test_certificates import issue, stage, upload_seal

SLUG = "chongqing"
HOST = f"{SLUG}.localhost"
LIMIT = 3  # PLATFORM_VERIFY_MISS_LIMIT on this file's server
_addresses = itertools.count(1)
VERIFY = "query($c: String!) { verifyCertificate(code: $c) { genuine number name } }"
NODE = "query($id: ID!) { node(id: $id) { ... on CertificateVerification { genuine } } }"
EXPORT = """mutation($input: ExportInput!) { exportLink(input: $input) { url
  errors { field code message } } }"""


@pytest.fixture(scope="module")
def verify_server(seed_regions):
    env = {
        "PLATFORM_CLIENT_ADDRESS_HEADER": "X-Test-Client",
        "PLATFORM_VERIFY_MISS_LIMIT": str(LIMIT),
    }
    # Two workers of eight threads: concurrent requests from one address really race.
    with PlatformServer(platform_database_url(), workers=2, threads=8, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def scene(server):
    """A real certificate of 重庆, issued over HTTP, and the stage it was issued on."""
    from tenants.certificates.pdf import render_seal_placeholder_png

    gql = GraphQLClient(server.base_url)
    s = stage()
    admin = login(gql, SLUG, s.admin)
    upload_seal(gql, s.group_id, render_seal_placeholder_png("测试志愿服务队"), admin)
    issued = issue(gql, s, login(gql, SLUG, s.volunteer_username))["data"]["issueCertificate"]
    assert issued["errors"] == [], issued
    return s, issued["certificate"]["verificationCode"]


def unknown_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class Client:
    """One client address on the throttle's server: GraphQL and pages of 重庆."""

    def __init__(self, server, language: str = "en"):
        self.http = httpx.Client(base_url=server.base_url, timeout=120)
        self.address = f"198.51.100.{next(_addresses)}"
        self.language = language

    def headers(self, language: str | None = None) -> dict[str, str]:
        return {
            "Host": HOST,
            "X-Test-Client": self.address,
            "Accept-Language": language or self.language,
        }

    def query(self, query: str, variables: dict, language: str | None = None) -> dict:
        response = self.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers=self.headers(language),
        )
        assert response.status_code == 200, response.text
        return response.json()

    def verify(self, code: str, language: str | None = None) -> dict:
        return self.query(VERIFY, {"c": code}, language)

    def page(self, path: str, language: str | None = None) -> httpx.Response:
        return self.http.get(path, headers=self.headers(language))


def throttled(body: dict) -> dict:
    """The one THROTTLED error of an answer (its data null)."""
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "THROTTLED", body
    assert error["extensions"]["retryAfter"] > 0, body
    assert body["data"]["verifyCertificate"] is None
    return error


def lock_of(address: str):
    with tenant_context(region(SLUG)):
        return (
            LoginThrottle.objects.filter(scope="verify", key=address)
            .values_list("locked_until", flat=True)
            .first()
        )


# --- 1. verifyCertificate, node and the verification page are throttled ---------------


def test_codes_not_found_are_throttled_per_address_and_a_holder_never(verify_server, scene):
    _s, code = scene
    attacker, holder = Client(verify_server), Client(verify_server)
    # A real holder checking a real code, again and again: never counted.
    for _ in range(LIMIT + 3):
        assert attacker.verify(code)["data"]["verifyCertificate"]["genuine"] is True
    assert lock_of(attacker.address) is None
    # Codes that do not exist: the first LIMIT are answered (null), the LIMIT-th locks.
    for _ in range(LIMIT):
        assert attacker.verify(unknown_code()) == {"data": {"verifyCertificate": None}}
    assert lock_of(attacker.address) is not None
    # Locked: every lookup is THROTTLED, the real code's too (else the lock would
    # answer "not found" in the miss's place), in English on request, Chinese first.
    english = throttled(attacker.verify(code))
    assert "too many certificate codes not found" in english["message"]
    assert throttled(attacker.verify(unknown_code()))["message"] == english["message"]
    chinese = throttled(attacker.verify(code, language="zh-CN"))
    assert "核验码" in chinese["message"]
    # One audit entry per lock, naming the address.
    with tenant_context(region(SLUG)):
        logged = AuditEntry.objects.filter(
            action="certificate.verify_throttled", detail__address=attacker.address
        )
        assert logged.count() == 1
    # Another address is answered as before.
    assert holder.verify(code)["data"]["verifyCertificate"]["genuine"] is True
    assert holder.verify(unknown_code())["data"]["verifyCertificate"] is None


def test_each_alias_counts_and_node_counts_too(verify_server, scene):
    _s, code = scene
    prober = Client(verify_server)
    aliases = " ".join(
        f'c{i}: verifyCertificate(code: "{unknown_code()}") {{ genuine }}' for i in range(LIMIT + 2)
    )
    body = prober.query(f"{{ {aliases} }}", {})
    answered = [key for key, value in body["data"].items() if value is None]
    assert len(answered) == LIMIT + 2  # every alias null …
    codes = [error["extensions"]["code"] for error in body["errors"]]
    assert codes == ["THROTTLED", "THROTTLED"], body  # … the two past the limit refused
    assert [error["path"] for error in body["errors"]] == [[f"c{LIMIT}"], [f"c{LIMIT + 1}"]]

    # node(id) of a verification holds the code: counted the same way.
    by_node = Client(verify_server)
    for _ in range(LIMIT):
        found = by_node.query(NODE, {"id": gid(SLUG, unknown_code(), "CertificateVerification")})
        assert found == {"data": {"node": None}}, found
    throttled(by_node.verify(code))
    refused = by_node.query(NODE, {"id": gid(SLUG, code, "CertificateVerification")})
    assert refused["errors"][0]["extensions"]["code"] == "THROTTLED", refused


def test_concurrent_misses_from_one_address_get_no_more_than_the_limit(verify_server):
    """12 codes not found sent at once from one address: each miss is told only once
    counted under the address's row lock, so exactly LIMIT are answered (null) and
    every other is THROTTLED, however the workers' threads interleave."""
    address = Client(verify_server).address
    concurrent = 12
    start = threading.Barrier(concurrent)
    answers: list[dict] = []

    def attempt() -> None:
        mine = Client(verify_server)  # a connection of its own, the same address
        mine.address = address
        start.wait()
        answers.append(mine.verify(unknown_code()))

    threads = [threading.Thread(target=attempt) for _ in range(concurrent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == concurrent
    told = [a for a in answers if "errors" not in a]
    assert told == [{"data": {"verifyCertificate": None}}] * LIMIT, answers
    for answer in answers:
        if "errors" in answer:
            throttled(answer)
    with tenant_context(region(SLUG)):
        row = LoginThrottle.objects.get(scope="verify", key=address)
    assert row.locked_until is not None and row.lockouts == 1


def test_the_verification_page_is_throttled_alike(verify_server, scene):
    _s, code = scene
    visitor = Client(verify_server, language="zh-CN")
    assert visitor.page(f"/certificates/verify/{code}").status_code == 200
    for _ in range(LIMIT - 1):
        assert visitor.page(f"/certificates/verify/{unknown_code()}").status_code == 404
    typed = visitor.page(f"/certificates/verify?code={unknown_code()}")  # the form's
    assert typed.status_code == 404
    for path in (f"/certificates/verify/{code}", f"/certificates/verify?code={code}"):
        page = visitor.page(path)
        assert page.status_code == 429, page.text[:500]
        assert int(page.headers["Retry-After"]) > 0
        assert 'id="throttled"' in page.text and "核验码" in page.text
        assert "张志愿" not in page.text and "真实有效" not in page.text
    english = visitor.page(f"/certificates/verify/{code}", language="en")
    assert english.status_code == 429 and "too many certificate codes" in english.text
    # The form alone looks nothing up: still served.
    assert visitor.page("/certificates/verify").status_code == 200
    # The page and the API count against one lock.
    throttled(visitor.verify(code))


def test_a_found_code_costs_one_read_of_the_throttle_and_no_write(scene):
    """The holder's lookup pays one indexed read of the address's row, no lock, no
    write; a miss pays the count (insert-if-absent, the row's lock, its update)."""
    from tests.support import execute_in_process

    _s, code = scene
    found, statements = execute_in_process(SLUG, VERIFY, {"c": code}, None)
    assert found["data"]["verifyCertificate"]["genuine"] is True
    throttle = [sql for sql in statements if "loginthrottle" in sql]
    assert len(throttle) == 1 and throttle[0].startswith("SELECT"), throttle
    assert "FOR UPDATE" not in throttle[0]
    assert not [sql for sql in statements if sql.startswith(("INSERT", "UPDATE", "DELETE"))]
    missed, statements = execute_in_process(SLUG, VERIFY, {"c": unknown_code()}, None)
    assert missed["data"]["verifyCertificate"] is None
    throttle = [sql.split()[0] for sql in statements if "loginthrottle" in sql]
    assert throttle == ["SELECT", "INSERT", "SELECT", "UPDATE"], throttle


# --- 2. an export link is authorised again at download --------------------------------


def _reveal_link(gql, token: str, group_id: int) -> str:
    body = gql.region(
        SLUG,
        EXPORT,
        {
            "input": {
                "kind": "VOLUNTEERS",
                "format": "CSV",
                "groupId": gid(SLUG, group_id, "VolunteerGroup"),
                "reveal": True,
                "reason": "保险投保核对",
            }
        },
        token=token,
    )
    payload = body["data"]["exportLink"]
    assert payload["errors"] == [], payload
    parts = urlsplit(payload["url"])
    return f"{parts.path}?{parts.query}"


def _reveals(s) -> int:
    with tenant_context(region(SLUG)):
        return PersonalInfoAccess.objects.filter(volunteer__number=s.number).count()


def _refused(gql, path: str, s) -> dict:
    before = _reveals(s)
    response = gql.http.get(path, headers={"Host": HOST})
    assert response.status_code == 403, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    assert s.id_number not in response.text
    assert _reveals(s) == before  # nothing revealed, nothing logged
    return response.json()["error"]


@pytest.mark.parametrize("change", ["role_removed", "account_disabled", "token_revoked"])
def test_an_export_link_dies_with_its_signers_right(server, gql, change):
    s = stage()  # a hierarchy of its own: its admin loses the role
    token = login(gql, SLUG, s.admin)
    # The right still held: the link serves the file, and logs the reveal.
    before = _reveals(s)
    served = gql.http.get(_reveal_link(gql, token, s.group_id), headers={"Host": HOST})
    assert served.status_code == 200 and s.id_number in served.text
    assert _reveals(s) == before + 1

    path = _reveal_link(gql, token, s.group_id)
    _take_away_right(gql, s, token, change)
    error = _refused(gql, path, s)
    assert error["code"] == "PERMISSION_DENIED", error
    expected = "may no longer export" if change == "role_removed" else "disabled or logged out"
    assert expected in error["message"]


def _take_away_right(gql, s, token: str, change: str) -> None:
    """What a signer loses inside a link's minutes: the group role, the account
    (disabled), or the token (``logout``)."""
    with tenant_context(region(SLUG)):
        account = Account.objects.get(username=s.admin)
        if change == "role_removed":
            Role.objects.filter(account=account, group_id=s.group_id).delete()
        elif change == "account_disabled":
            Account.objects.filter(id=account.id).update(is_active=False)
    if change == "token_revoked":
        out = gql.region(SLUG, "mutation { logout { ok } }", token=token)
        assert out["data"]["logout"]["ok"] is True, out


# --- 2b. a certificate's PDF link is authorised again at download ---------------------

LINK = """mutation($c: String!) { certificateDownloadLink(code: $c) { url
  errors { field code message } } }"""


def _pdf_link(gql, token: str, code: str) -> str:
    payload = gql.region(SLUG, LINK, {"c": code}, token=token)["data"]["certificateDownloadLink"]
    assert payload["errors"] == [], payload
    parts = urlsplit(payload["url"])
    return f"{parts.path}?{parts.query}"


@pytest.mark.parametrize("change", ["role_removed", "account_disabled", "token_revoked"])
def test_a_certificate_link_dies_with_its_signers_right(server, gql, change):
    """As an export link: the group admin who asked for the link loses the right
    (``may_download`` no longer grants it), is disabled or logs out inside the
    link's minutes; the link then answers a typed 403 and no PDF."""
    from tenants.certificates.pdf import render_seal_placeholder_png

    s = stage()  # a hierarchy of its own: its admin loses the role
    token = login(gql, SLUG, s.admin)
    upload_seal(gql, s.group_id, render_seal_placeholder_png("测试志愿服务队"), token)
    issued = issue(gql, s, token)["data"]["issueCertificate"]
    assert issued["errors"] == [], issued
    code = issued["certificate"]["verificationCode"]
    # The right still held: the link serves the PDF.
    served = gql.http.get(_pdf_link(gql, token, code), headers={"Host": HOST})
    assert served.status_code == 200, served.text[:500]
    assert served.headers["Content-Type"] == "application/pdf"
    assert served.content.startswith(b"%PDF")

    path = _pdf_link(gql, token, code)
    _take_away_right(gql, s, token, change)
    refused = gql.http.get(path, headers={"Host": HOST, "Accept-Language": "en"})
    assert refused.status_code == 403, refused.text[:500]
    assert refused.headers["Content-Type"].startswith("application/json")
    assert not refused.content.startswith(b"%PDF")
    error = refused.json()["error"]
    assert error["code"] == "PERMISSION_DENIED", error
    expected = (
        "may no longer download this certificate"
        if change == "role_removed"
        else "disabled or logged out"
    )
    assert expected in error["message"], error
    # In Chinese first.
    chinese = gql.http.get(path, headers={"Host": HOST, "Accept-Language": "zh-CN"})
    assert chinese.status_code == 403 and "申请此链接的账号" in chinese.json()["error"]["message"]


# --- 3. the session cookie is Secure behind a TLS front -------------------------------


def _admin_login_cookies(base_url: str, scheme: str) -> dict[str, SimpleCookie]:
    """The cookies the Django admin's login sets, as a browser behind the front
    would get them (``X-Forwarded-Proto`` as a TLS front sets it); by name."""
    import uuid

    from django.contrib.auth import get_user_model
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    password = "correct horse battery staple"
    user = get_user_model().objects.create_superuser(f"tls-{uuid.uuid4().hex[:8]}", "", password)
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    headers = {"Host": "localhost", "X-Forwarded-Proto": scheme}
    with httpx.Client(base_url=base_url, timeout=60) as http:
        page = http.get("/admin/login/", headers=headers)
        cookies: dict[str, SimpleCookie] = {}
        for raw in page.headers.get_list("set-cookie"):
            jar = SimpleCookie(raw)
            cookies.update({name: jar for name in jar})
        csrf = cookies["csrftoken"]["csrftoken"].value
        (form,) = [f for f in html_forms(page.text) if "username" in dict(f["fields"])]
        otp = f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"
        answer = http.post(
            "/admin/login/?next=/admin/",
            data={
                **dict(form["fields"]),
                "username": user.username,
                "password": password,
                "otp_token": otp,
            },
            # Sent by hand: a Secure cookie is not sent back over http:// by the jar.
            headers={
                **headers,
                "Referer": f"{scheme}://localhost/admin/login/",
                "Cookie": f"csrftoken={csrf}",
            },
        )
        assert answer.status_code == 302, answer.text[:2000]
        for raw in answer.headers.get_list("set-cookie"):
            jar = SimpleCookie(raw)
            cookies.update({name: jar for name in jar})
    return cookies


def test_behind_a_tls_front_the_cookies_are_secure(seed_regions):
    with PlatformServer(platform_database_url(), env={"PLATFORM_TLS_FRONT": "1"}) as tls:
        cookies = _admin_login_cookies(tls.base_url, "https")
    for name in ("sessionid", "csrftoken"):
        assert cookies[name][name]["secure"], (name, cookies[name].output())


def test_without_the_setting_the_cookies_are_not_secure(server):
    cookies = _admin_login_cookies(server.base_url, "http")
    for name in ("sessionid", "csrftoken"):
        assert not cookies[name][name]["secure"], (name, cookies[name].output())
