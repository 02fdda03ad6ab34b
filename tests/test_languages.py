"""Chinese first (issue 13 point 2): every message the platform writes is zh-Hans
unless the request asks for English (``Accept-Language: en``), on the central
host and on region hosts, in GraphQL errors, payload errors, JSON refusals, the
admin, the verification page and the command line; library messages (python-stdnum,
Django's password validators, pydantic) are replaced by the platform's own.

The catalog (``locale/zh_Hans/LC_MESSAGES/django.po`` and its compiled ``.mo``)
is checked against the code: every message the code wraps has a translation,
with the same placeholders, and the committed ``.mo`` says what the ``.po`` says.
"""

from __future__ import annotations

import ast
import gettext
import re
import subprocess
import sys
import uuid

import httpx
import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import translation

from tests.registry_support import REGISTER_VOLUNTEER, authority, unique, volunteer_input
from tests.support import REPO, GraphQLClient, child_env, platform_database_url

CATALOG = REPO / "locale" / "zh_Hans" / "LC_MESSAGES"
SOURCES = ("central", "tenants", "schema", "interop")
CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdr]")


@pytest.fixture
def zh(server) -> GraphQLClient:
    """A client that sends no Accept-Language: the platform's default, zh-Hans."""
    return GraphQLClient(server.base_url, language=None)


@pytest.fixture
def zh_cn(server) -> GraphQLClient:
    """A browser in mainland China (Accept-Language: zh-CN,zh;q=0.9,en;q=0.8)."""
    return GraphQLClient(server.base_url, language="zh-CN,zh;q=0.9,en;q=0.8")


def chinese(message: str) -> bool:
    return bool(CJK.search(message))


# --- The catalog --------------------------------------------------------------------


def read_po(path) -> dict[str, str]:
    """msgid → msgstr of a .po file (``context\x04msgid`` for a ``msgctxt`` entry, as
    gettext keys them; obsolete ``#~`` entries left out)."""
    entries: dict[str, str] = {}
    context = msgid = msgstr = key = None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("msgctxt "):
            context, key = ast.literal_eval(line[8:]), "msgctxt"
        elif line.startswith("msgid "):
            msgid, msgstr, key = ast.literal_eval(line[6:]), "", "msgid"
        elif line.startswith("msgstr "):
            msgstr, key = ast.literal_eval(line[7:]), "msgstr"
        elif line.startswith('"') and key == "msgctxt":
            context += ast.literal_eval(line)
        elif line.startswith('"') and key == "msgid":
            msgid += ast.literal_eval(line)
        elif line.startswith('"') and key == "msgstr":
            msgstr += ast.literal_eval(line)
        elif not line.strip() and msgid is not None:
            entries[f"{context}\x04{msgid}" if context else msgid] = msgstr or ""
            context = msgid = msgstr = key = None
    entries.pop("", None)  # the header
    return entries


_MARKERS = {"_", "gettext", "gettext_lazy", "gettext_noop"}


def messages_in_code() -> dict[str, str]:
    """Every literal the Python code passes to gettext (or marks with gettext_noop),
    with where it is; implicit concatenation is one literal to ``ast``."""
    found: dict[str, str] = {}
    for package in SOURCES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in _MARKERS
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    where = f"{path.relative_to(REPO)}:{node.lineno}"
                    found.setdefault(node.args[0].value, where)
                elif (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in ("pgettext", "pgettext_lazy")
                    and len(node.args) >= 2
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[1], ast.Constant)
                    and isinstance(node.args[0].value, str)
                    and isinstance(node.args[1].value, str)
                ):
                    where = f"{path.relative_to(REPO)}:{node.lineno}"
                    found.setdefault(f"{node.args[0].value}\x04{node.args[1].value}", where)
    templates = (path for package in SOURCES for path in (REPO / package).rglob("*.html"))
    for path in sorted(templates):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r'{% translate "([^"]+)" %}|_\("([^"]+)"\)', text):
            found.setdefault(match.group(1) or match.group(2), str(path.relative_to(REPO)))
        for match in re.finditer(
            r"{% blocktranslate( trimmed)? %}(.*?){% endblocktranslate %}", text, re.S
        ):
            body = match.group(2)
            if match.group(1):
                body = " ".join(line.strip() for line in body.strip().splitlines())
            body = re.sub(r"{{ (\w+) }}", r"%(\1)s", body)
            found.setdefault(body, str(path.relative_to(REPO)))
    return found


def test_every_message_in_the_code_has_a_chinese_translation():
    catalog = read_po(CATALOG / "django.po")
    code = messages_in_code()
    assert len(code) > 500  # the walk finds the platform's messages, not nothing
    missing = [f"{where}: {msgid!r}" for msgid, where in code.items() if not catalog.get(msgid)]
    assert not missing, "untranslated (run makemessages, translate):\n" + "\n".join(missing)
    for msgid, msgstr in catalog.items():
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(msgstr)), msgid


def test_the_committed_mo_matches_the_po():
    catalog = read_po(CATALOG / "django.po")
    with (CATALOG / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    assert {msgid: compiled.gettext(msgid) for msgid in catalog} == catalog
    # Nothing stale: the .mo holds no message the .po has dropped.
    assert set(vars(compiled)["_catalog"]) - {""} <= set(catalog)  # every msgid it holds


def test_django_serves_the_catalog_in_zh_hans_and_english_on_request():
    with translation.override("zh-hans"):
        assert translation.gettext("no such group") == "没有这个志愿服务组织"
    with translation.override("en"):
        assert translation.gettext("no such group") == "no such group"
    # zh-CN, zh-SG and plain zh all read the zh-Hans catalog.
    for tag in ("zh-cn", "zh-sg", "zh"):
        assert translation.get_supported_language_variant(tag) == "zh-hans"


# --- Every error code, both languages ---------------------------------------------


def _error(body: dict) -> dict:
    return body["errors"][0]


def test_invalid_query_argument_in_both_languages(gql, zh, seed_regions):
    query = "{ groups(first: 101) { edges { node { name } } } }"
    english = _error(gql.region("chongqing", query))
    chinese_ = _error(zh.region("chongqing", query))
    assert english["extensions"]["code"] == chinese_["extensions"]["code"] == "INVALID"
    assert english["message"] == "first: first must be between 1 and 100"
    assert chinese_["message"] == "first: first 必须在 1 至 100 之间"


def test_unauthenticated_and_permission_denied_in_both_languages(gql, zh_cn, seed_regions):
    query = "{ myCard { code } }"
    anonymous = {
        c: _error(client.region("chongqing", query)) for c, client in (("en", gql), ("zh", zh_cn))
    }
    assert {e["extensions"]["code"] for e in anonymous.values()} == {"UNAUTHENTICATED"}
    assert anonymous["en"]["message"] == "log in as a volunteer to show your card"
    assert anonymous["zh"]["message"] == "请以志愿者身份登录后出示志愿者证"

    token = authority(gql, "chongqing")
    staff = {
        c: _error(client.region("chongqing", query, token=token))
        for c, client in (("en", gql), ("zh", zh_cn))
    }
    assert {e["extensions"]["code"] for e in staff.values()} == {"PERMISSION_DENIED"}
    assert staff["en"]["message"] == "log in as a volunteer to show your card"
    assert staff["zh"]["message"] == "请以志愿者身份登录后出示志愿者证"


LOGIN_TWICE = """
mutation($u: String!, $p: String!) {
  first: login(username: $u, password: $p) { token errors { code message } }
  second: login(username: $u, password: $p) { token errors { code message retryAfter } }
}
"""


def test_throttled_in_both_languages(gql, zh, seed_regions):
    from django_tenants.utils import tenant_context

    from tenants.accounts import services as accounts
    from tests.registry_support import region

    username = unique("lang")
    target = region("chongqing")
    with tenant_context(target):
        accounts.create_authority_account(
            username,
            "Strong-pass-2026",
            "民政干部",
            "province",
            "重庆市民政局",
            division_code=target.code,
            region_code=target.code,
            actor="test",
        )
    variables = {"u": username, "p": "Strong-pass-2026"}
    english = gql.region("chongqing", LOGIN_TWICE, variables)["data"]["second"]["errors"][0]
    chinese_ = zh.region("chongqing", LOGIN_TWICE, variables)["data"]["second"]["errors"][0]
    assert english["code"] == chinese_["code"] == "THROTTLED"
    assert english["message"] == "one login per request: this request already carried a login"
    assert chinese_["message"] == "每个请求只能登录一次：本请求已包含一次登录"


RESUME = "mutation($code: String!) { resumeRegion(code: $code) { errors { field code message } } }"


def test_central_host_not_found_conflict_and_unauthenticated_in_both_languages(
    gql, zh, central_admin, seed_regions
):
    token = central_admin["token"]
    conflict = {
        c: client.central(RESUME, {"code": "500000"}, token)["data"]["resumeRegion"]["errors"][0]
        for c, client in (("en", gql), ("zh", zh))
    }
    assert {e["code"] for e in conflict.values()} == {"CONFLICT"}
    assert conflict["en"]["message"] == "重庆市 (500000) is not suspended"
    assert conflict["zh"]["message"] == "重庆市 (500000) 未被暂停"

    missing = {
        c: client.central(RESUME, {"code": "659999"}, token)["data"]["resumeRegion"]["errors"][0]
        for c, client in (("en", gql), ("zh", zh))
    }
    assert {e["code"] for e in missing.values()} == {"NOT_FOUND"}
    assert missing["en"]["message"] == "no region with code 659999"
    assert missing["zh"]["message"] == "没有代码为 659999 的地区"

    anonymous = {
        c: _error(client.central(RESUME, {"code": "500000"}))
        for c, client in (("en", gql), ("zh", zh))
    }
    assert {e["extensions"]["code"] for e in anonymous.values()} == {"UNAUTHENTICATED"}
    assert anonymous["en"]["message"] == "send a central-admin token: Authorization: Bearer <token>"
    assert anonymous["zh"]["message"] == "请发送中心管理员令牌：Authorization: Bearer <token>"


def test_unavailable_in_both_languages(seed_regions):
    """A peer deployment is known but the federation key is not set: registering is
    refused UNAVAILABLE. The peer row is rolled back (other tests register people)."""
    from central.models import Region, RemoteRegion
    from interop.federation import FederationUnavailable, home_elsewhere

    asker = Region.objects.get(slug="chongqing")
    messages = {}
    with transaction.atomic():
        RemoteRegion.objects.create(
            code="659001", name="石河子市", public_key="A" * 43, inbox_url="https://peer.test/in"
        )
        with override_settings(FEDERATION_HASH_KEY=""):
            for language in ("en", "zh-hans"):
                with translation.override(language), pytest.raises(FederationUnavailable) as raised:
                    home_elsewhere("110101199003077777", asker)
                problem = raised.value.problems[0]
                assert problem.code == "UNAVAILABLE"
                messages[language] = problem.message
        transaction.set_rollback(True)
    assert messages["en"].startswith(
        "this deployment has peers but no PLATFORM_FEDERATION_HASH_KEY"
    )
    assert messages["zh-hans"].startswith(
        "本部署已有对端部署，但未设置 PLATFORM_FEDERATION_HASH_KEY"
    )


def test_json_refusals_of_the_middleware_in_both_languages(server):
    host = {"Host": "nowhere.localhost"}
    english = httpx.get(f"{server.base_url}/graphql", headers={**host, "Accept-Language": "en"})
    chinese_ = httpx.get(f"{server.base_url}/graphql", headers=host)
    assert english.status_code == chinese_.status_code == 404
    assert _error(english.json())["message"] == "no region is served at nowhere.localhost"
    assert _error(chinese_.json())["message"] == "nowhere.localhost 上没有提供服务的地区"
    assert chinese_.headers["Content-Language"] == "zh-hans"
    assert "Accept-Language" in chinese_.headers["Vary"]


# --- Library messages replaced by the platform's own -----------------------------


def _register(client, **overrides) -> list[dict]:
    data = volunteer_input(**overrides)
    body = client.region("chongqing", REGISTER_VOLUNTEER, {"input": data})
    payload = body["data"]["registerVolunteer"]
    assert payload["volunteer"] is None
    return payload["errors"]


def test_id_number_messages_are_the_platforms_own(gql, zh, seed_regions):
    good = volunteer_input()["idNumber"]
    wrong_check_digit = good[:-1] + ("0" if good[-1] != "0" else "1")
    english = _register(gql, idNumber=wrong_check_digit)
    chinese_ = _register(zh, idNumber=wrong_check_digit)
    assert [(e["field"], e["code"]) for e in english] == [("idNumber", "INVALID")]
    assert english[0]["message"] == (
        "not a valid resident ID number (GB 11643): the last character (check digit) "
        "does not match; check the number for a typing error"
    )
    assert chinese_[0]["message"] == (
        "不是有效的居民身份证号码（GB 11643）：最后一位（校验码）不符，请检查是否输入有误"
    )
    # python-stdnum's own text ("The number's checksum or check digit is invalid.") is gone.
    assert "checksum" not in english[0]["message"]


def test_password_messages_are_the_platforms_own(gql, zh, seed_regions):
    english = _register(gql, password="x7Qz")
    chinese_ = _register(zh, password="x7Qz")
    assert [e["message"] for e in english if e["field"] == "password"] == [
        "too short: at least 8 characters"
    ]
    assert [e["message"] for e in chinese_ if e["field"] == "password"] == [
        "密码过短：至少 8 个字符"
    ]
    common = _register(zh, password="password")
    assert [e["message"] for e in common if e["field"] == "password"] == [
        "密码过于常见：请选择更难猜到的密码"
    ]
    # Django's validators no longer speak (neither "This password…" nor "这个密码…").
    for error in english + chinese_ + common:
        assert "This password" not in error["message"] and "这个密码" not in error["message"]


POLICY = (
    "mutation($code: String!, $policy: JSON!) { updateRegionPolicy(code: $code, policy: $policy)"
    " { errors { field code message } } }"
)


def test_policy_messages_are_the_platforms_own(gql, zh, central_admin, seed_regions):
    changes = {
        "code": "500000",
        "policy": {"publicityWorkingDays": 99, "correctionDeadlineDays": "x"},
    }
    token = central_admin["token"]
    english = gql.central(POLICY, changes, token)["data"]["updateRegionPolicy"]["errors"]
    chinese_ = zh.central(POLICY, changes, token)["data"]["updateRegionPolicy"]["errors"]
    assert {(e["field"], e["code"], e["message"]) for e in english} == {
        ("policy.publicityWorkingDays", "INVALID", "must be at most 30"),
        ("policy.correctionDeadlineDays", "INVALID", "give a whole number"),
    }
    assert {(e["field"], e["message"]) for e in chinese_} == {
        ("policy.publicityWorkingDays", "不得大于 30"),
        ("policy.correctionDeadlineDays", "请填写整数"),
    }


# --- The admin, the verification page, the command line ---------------------------


def test_admin_labels_are_chinese_and_english_on_request(server, seed_regions):
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.test_login_throttle import PASSWORD, admin_login, code_for

    user = get_user_model().objects.create(
        username=unique("lang-admin"), is_staff=True, is_superuser=True
    )
    user.set_password(PASSWORD)
    user.save()
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    http = httpx.Client(base_url=server.base_url, timeout=30)
    form = {"username": user.username, "password": PASSWORD, "otp_token": code_for(device)}
    assert admin_login(http, "localhost", "127.0.0.1", form).status_code == 302
    chinese_ = http.get("/admin/", headers={"Host": "localhost", "Accept-Language": "zh-CN"})
    english = http.get("/admin/", headers={"Host": "localhost", "Accept-Language": "en"})
    assert chinese_.status_code == english.status_code == 200
    for label in ("志愿服务记录平台 · 中心管理", "中心（联盟）", "中心审计记录", "外部署地区"):
        assert label in chinese_.text, label
    for label in ("Central (federation)", "Central audit entries", "Remote regions"):
        assert label in english.text, label
    assert "entrys" not in english.text
    actions = http.get("/admin/central/region/", headers={"Host": "localhost"})
    assert "暂停所选地区" in actions.text and "恢复所选地区" in actions.text
    # The login page's second-factor field too (django-otp has no Chinese of its own).
    login_page = httpx.get(f"{server.base_url}/admin/login/", headers={"Host": "localhost"})
    assert "动态验证码（TOTP）" in login_page.text and "OTP Token" not in login_page.text


def test_verification_page_is_chinese_first(gql, seed_regions):
    unknown = "/certificates/verify/AAAAAAAAAAAA"
    chinese_ = gql.http.get(unknown, headers={"Host": "chongqing.localhost", "Accept-Language": ""})
    english = gql.http.get(unknown, headers={"Host": "chongqing.localhost"})
    assert chinese_.status_code == english.status_code == 404
    assert '<html lang="zh-hans">' in chinese_.text and "志愿服务记录证明核验" in chinese_.text
    assert "未找到该验证码对应的证明" in chinese_.text
    assert '<html lang="en">' in english.text
    assert "No certificate has this verification code" in english.text
    assert not chinese(english.text)


def test_command_line_speaks_chinese_unless_asked(seed_regions):
    def resume(language: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", "region", "resume", "500000"],
            cwd=REPO,
            env=child_env(platform_database_url(), PLATFORM_LANGUAGE=language),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 1, result.stderr
        return result.stderr

    assert "code: 重庆市 (500000) 未被暂停" in resume("")
    assert "code: 重庆市 (500000) is not suspended" in resume("en")


def test_an_unknown_transfer_is_not_found_in_both_languages(gql, zh, seed_regions):
    token = authority(gql, "chongqing")
    query = (
        "mutation($t: ID!) { consentTransfer(transferId: $t) { errors { field code message } } }"
    )
    variables = {"t": str(uuid.uuid4())}
    english = gql.region("chongqing", query, variables, token)["data"]["consentTransfer"]["errors"]
    chinese_ = zh.region("chongqing", query, variables, token)["data"]["consentTransfer"]["errors"]
    assert [(e["field"], e["code"], e["message"]) for e in english] == [
        ("transferId", "NOT_FOUND", "no such transfer")
    ]
    assert [e["message"] for e in chinese_] == ["没有这项转移"]
