"""Issue 13 point 5: a region's own Django admin (``/admin/`` on the region's host)
for its authority staff, over real HTTP with a browser-like session: the login
page's CSRF token, the region's login service, then pages and actions that call
the same services as the API.
"""

from __future__ import annotations

import datetime
import itertools
import re
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from central.policy import RecordConfirmation
from tenants.accounts import services as accounts
from tenants.accounts.models import AccessToken, Account
from tenants.audit.models import AuditEntry
from tenants.groups.models import Review, VolunteerGroup
from tenants.records import services as records
from tenants.records.models import RecordState, ServiceRecord
from tests import registry_support
from tests.records_support import stage
from tests.registry_support import (
    hierarchy,
    login,
    principal_of_account,
    region,
    register,
    register_volunteer,
    unique,
)
from tests.support import row_key, search

PASSWORD = "Strong-pass-2026"
SLUG = "chongqing"
GROUPS = "/admin/groups/volunteergroup/"
VOLUNTEERS = "/admin/volunteers/volunteer/"
RECORDS = "/admin/records/servicerecord/"
ACCOUNTS = "/admin/accounts/account/"
_minutes = itertools.count()


class AdminSession:
    """A browser on a region's admin: cookies kept, CSRF token from each form."""

    def __init__(self, server, slug: str = SLUG):
        self.http = httpx.Client(
            base_url=server.base_url,
            headers={"Host": f"{slug}.localhost", "Accept-Language": "en"},
            timeout=30,
        )

    def csrf(self, path: str) -> str:
        page = self.http.get(path)
        assert page.status_code == 200, (path, page.status_code, page.text[:300])
        return search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return self.http.post(
            "/admin/login/",
            data={
                "username": username,
                "password": password,
                "next": "/admin/",
                "csrfmiddlewaretoken": self.csrf("/admin/login/"),
            },
        )

    def get(self, path: str, **params) -> httpx.Response:
        return self.http.get(path, params=params)

    def action(self, changelist: str, action: str, ids, **extra) -> httpx.Response:
        """Run an action on rows of a list, as its form does."""
        return self.http.post(
            changelist,
            data={
                "action": action,
                "_selected_action": [str(i) for i in ids],
                "index": "0",
                "csrfmiddlewaretoken": self.csrf(changelist),
                **extra,
            },
        )

    def confirm(self, changelist: str, action: str, ids, **fields) -> httpx.Response:
        """The second step of an action that asked for more (a reason)."""
        return self.http.post(
            changelist,
            data={
                "action": action,
                "_selected_action": [str(i) for i in ids],
                "select_across": "0",
                "apply": "1",
                "csrfmiddlewaretoken": self.csrf("/admin/"),
                **fields,
            },
        )

    def logged_in(self) -> bool:
        return self.http.get("/admin/").status_code == 200


def listed(page: httpx.Response, changelist: str) -> set[int]:
    """The ids of the rows a list page shows (their links; the search box echoes the
    query, so the page's text alone proves nothing)."""
    assert page.status_code == 200, page.status_code
    return {int(i) for i in re.findall(rf'href="{changelist}(\d+)/change/', page.text)}


def authority_account(slug: str = SLUG, level: str = "city", division: str | None = None) -> str:
    return registry_support.authority_account(slug, level, division)


@pytest.fixture(scope="module")
def groups():
    return hierarchy(SLUG)


@pytest.fixture
def city(server) -> AdminSession:
    session = AdminSession(server)
    assert session.login(authority_account()).status_code == 302
    return session


def audit(action: str, target: str) -> list[AuditEntry]:
    with tenant_context(region(SLUG)):
        return list(AuditEntry.objects.filter(action=action, target=target))


def test_authority_staff_log_in_with_their_region_account(server):
    username = authority_account()
    session = AdminSession(server)
    assert session.get("/admin/").status_code == 302  # to the login page
    response = session.login(username)
    assert response.status_code == 302 and response.headers["location"] == "/admin/"
    index = session.get("/admin/")
    assert index.status_code == 200
    for changelist in (GROUPS, VOLUNTEERS, RECORDS, ACCOUNTS):
        assert changelist in index.text
    # The login is the region's own, audited like the API's, with a token behind it.
    [entry] = [e for e in audit("account.login", username) if e.detail.get("via") == "admin"]
    assert entry.actor.startswith("account:")
    # Logging out ends the session and revokes its token.
    logout = session.http.post(
        "/admin/logout/", data={"csrfmiddlewaretoken": session.csrf("/admin/")}
    )
    assert logout.status_code == 200
    assert not session.logged_in()
    with tenant_context(region(SLUG)):
        tokens = AccessToken.objects.filter(account__username=username)
        assert tokens.count() == 1 and tokens.get().revoked_at is not None


def test_wrong_password_and_other_roles_are_refused(server, groups):
    session = AdminSession(server)
    wrong = session.login(authority_account(), "not-the-password")
    assert wrong.status_code == 200 and "wrong username or password" in wrong.text
    assert not session.logged_in()
    volunteer = register_volunteer(SLUG)[1]
    for username in (volunteer, groups.admins["team"]):
        refused = session.login(username)
        assert refused.status_code == 200, username
        assert "only the region&#x27;s authority staff" in refused.text
        assert not session.logged_in()
        assert audit("account.admin_refused", username)
    failed = audit("account.login_failed", "nobody-here")
    session.login("nobody-here")
    assert len(audit("account.login_failed", "nobody-here")) == len(failed) + 1


def test_a_session_of_one_region_is_nothing_on_another(server, groups):
    chongqing = AdminSession(server)
    assert chongqing.login(authority_account()).status_code == 302
    # The same cookies sent to 云南's host: no session there.
    yunnan = httpx.Client(
        base_url=server.base_url,
        headers={"Host": "yunnan.localhost"},
        cookies=chongqing.http.cookies,
    )
    assert yunnan.get("/admin/").status_code == 302
    assert yunnan.get(GROUPS).status_code == 302
    # 云南's own authority sees 云南's data only.
    name = f"测{unique('')}区图书馆志愿服务队"
    register(SLUG, name, "non_hub", "district", groups.district)
    own = AdminSession(server, "yunnan")
    assert own.login(authority_account("yunnan")).status_code == 302
    assert name not in own.get(GROUPS, q=name[:6]).text
    assert name in chongqing.get(GROUPS, q=name[:6]).text


def test_volunteers_are_listed_masked_in_the_area_only(server, city):
    volunteer, _ = register_volunteer(SLUG, divisionCode="500103")
    with tenant_context(region(SLUG)):
        from tenants.volunteers import pii

        id_number = pii.decrypt(volunteer.id_number_encrypted)
        phone = pii.decrypt(volunteer.phone_encrypted)
    page = city.get(VOLUNTEERS, q=volunteer.number)
    assert listed(page, VOLUNTEERS) == {volunteer.id}
    assert volunteer.id_number_masked in page.text and volunteer.phone_masked in page.text
    assert id_number not in page.text and phone not in page.text
    detail = city.get(f"{VOLUNTEERS}{volunteer.id}/change/")
    assert detail.status_code == 200 and volunteer.id_number_masked in detail.text
    assert id_number not in detail.text and volunteer.id_number_encrypted not in detail.text
    # Another county's authority does not see a volunteer of 渝中.
    other = AdminSession(server)
    assert other.login(authority_account(level="county", division="500106")).status_code == 302
    assert listed(other.get(VOLUNTEERS, q=volunteer.number), VOLUNTEERS) == set()
    assert other.get(f"{VOLUNTEERS}{volunteer.id}/change/").status_code == 302  # not there
    # Nothing is added, changed or deleted here.
    assert city.get(f"{VOLUNTEERS}add/").status_code == 403


def test_groups_are_approved_and_rejected_through_the_review_service(server, city, groups):
    pending = [
        register(SLUG, f"测{unique('')}区医院志愿服务队", "non_hub", "district", groups.district)[0]
        for _ in range(2)
    ]
    approved = city.action(GROUPS, "approve", [pending[0].id])
    assert approved.status_code == 302
    asked = city.action(GROUPS, "reject", [pending[1].id])
    assert asked.status_code == 200 and 'name="reason"' in asked.text
    rejected = city.confirm(GROUPS, "reject", [pending[1].id], reason="名称不符合规范")
    assert rejected.status_code == 302
    with tenant_context(region(SLUG)):
        first, second = (VolunteerGroup.objects.get(id=g.id) for g in pending)
    assert first.review == Review.APPROVED and first.reviewed_by.startswith("account:")
    assert second.review == Review.REJECTED and second.review_reason == "名称不符合规范"
    assert audit("group.reviewed", str(first.id)) and audit("group.reviewed", str(second.id))
    # A county authority elsewhere is refused by the service: nothing changes.
    third = register(
        SLUG, f"测{unique('')}区医院志愿服务队", "non_hub", "district", groups.district
    )[0]
    other = AdminSession(server)
    assert other.login(authority_account(level="county", division="500106")).status_code == 302
    other.action(GROUPS, "approve", [third.id])
    with tenant_context(region(SLUG)):
        assert VolunteerGroup.objects.get(id=third.id).review == Review.PENDING


@pytest.fixture(scope="module")
def recorded(server):
    from tests.support import GraphQLClient

    return stage(GraphQLClient(server.base_url), SLUG, participants=1)


def _record(s, then: str) -> ServiceRecord:
    target = region(SLUG)
    policy = target.get_policy()
    if then == "awaiting":
        policy = policy.model_copy(
            update={"record_confirmation": RecordConfirmation.COUNTY_CIVIL_AFFAIRS}
        )
    else:
        policy = policy.model_copy(update={"publicity_working_days": 3})
    n = next(_minutes)
    entry = records.RecordEntry(
        timezone.localdate() - datetime.timedelta(days=1 + n // 20),
        datetime.time(n % 20, 0),
        datetime.time(n % 20, 45),
        Decimal("0.5"),
        "陪伴老人聊天、读报",
    )
    volunteer, username = s.volunteers[0]
    with tenant_context(target):
        record = records.record_hours(
            project_id=row_key(s.project_id),
            number=volunteer.number,
            entry=entry,
            principal=principal_of_account(s.h.admins["team"]),
            policy=policy,
        )
        if then == "objected":
            records.raise_objection(
                record_id=record.id,
                reason="时长与实际不符",
                principal=principal_of_account(username),
                policy=policy,
            )
    return record


def test_records_are_confirmed_and_voided_through_the_record_services(server, city, recorded):
    awaiting, objected, kept = (_record(recorded, t) for t in ("awaiting", "objected", "objected"))
    listed = city.get(RECORDS)
    assert listed.status_code == 200
    assert city.action(RECORDS, "confirm", [awaiting.id]).status_code == 302
    asked = city.action(RECORDS, "uphold_objections", [objected.id])
    assert asked.status_code == 200 and 'name="reason"' in asked.text
    city.confirm(RECORDS, "uphold_objections", [objected.id], reason="核实未到岗")
    city.confirm(RECORDS, "dismiss_objections", [kept.id], reason="核实属实")
    with tenant_context(region(SLUG)):
        states = {
            r.id: r
            for r in ServiceRecord.objects.filter(id__in=[awaiting.id, objected.id, kept.id])
        }
    assert states[awaiting.id].state == RecordState.COUNTED
    assert states[awaiting.id].confirmed_by.startswith("account:")
    assert states[objected.id].state == RecordState.VOID
    assert states[objected.id].state_reason == "核实未到岗"
    assert states[kept.id].state == RecordState.IN_PUBLICITY
    assert audit("record.objection_resolved", str(objected.id))
    # The team's admin is no authority: no admin for them, the API is theirs.
    team = AdminSession(server)
    team.login(recorded.h.admins["team"])
    assert team.get(RECORDS).status_code == 302


def test_passwords_are_reset_in_the_admin_and_shown_once(server, city, groups):
    volunteer = register_volunteer(SLUG, divisionCode="500103")[1]
    colleague = authority_account(level="county", division="500103")
    with tenant_context(region(SLUG)):
        ids = dict(
            Account.objects.filter(username__in=[volunteer, colleague]).values_list(
                "username", "id"
            )
        )
    answer = city.action(ACCOUNTS, "reset_password", [ids[volunteer], ids[colleague]])
    assert answer.status_code == 200
    assert "no-store" in answer.headers["cache-control"]
    temporary = search(r'<code class="temporary">([^<]+)</code>', answer.text).group(1)
    # An authority account is central admins' to reset: refused, and unchanged.
    refused = search(r'<ul class="errorlist" id="refused">(.*?)</ul>', answer.text, re.S).group(1)
    assert colleague in refused and volunteer not in refused
    assert audit("account.password_reset", colleague) == []
    [entry] = audit("account.password_reset", volunteer)
    assert temporary not in str(entry.detail)
    # Shown once: the list page does not carry it.
    assert temporary not in city.get(ACCOUNTS).text
    # Another county's authority lists neither account: none of their places is its own.
    other = AdminSession(server)
    assert other.login(authority_account(level="county", division="500106")).status_code == 302
    for name in (volunteer, colleague):
        assert listed(other.get(ACCOUNTS, q=name), ACCOUNTS) == set()
    assert listed(city.get(ACCOUNTS, q=volunteer), ACCOUNTS) == {ids[volunteer]}
    from tests.support import GraphQLClient

    gql = GraphQLClient(server.base_url)
    first = gql.region(
        SLUG,
        "mutation($u: String!, $p: String!) { login(username: $u, password: $p) "
        "{ token mustChangePassword } }",
        {"u": volunteer, "p": temporary},
    )["data"]["login"]
    assert first == {"token": None, "mustChangePassword": True}


def test_a_reset_authority_chooses_a_password_before_the_admin_opens(server):
    username = authority_account()
    with tenant_context(region(SLUG)):
        with_temporary = accounts.reset_authority_password(username, actor="central:test")
    temporary = with_temporary[1]
    session = AdminSession(server)
    asked = session.login(username, temporary)
    assert asked.status_code == 302 and "/admin/set-password/" in asked.headers["location"]
    assert not session.logged_in()
    page = session.csrf(f"/admin/set-password/?username={username}")
    done = session.http.post(
        "/admin/set-password/",
        data={
            "username": username,
            "old_password": temporary,
            "new_password1": "Own-choice-2027",
            "new_password2": "Own-choice-2027",
            "csrfmiddlewaretoken": page,
        },
    )
    assert done.status_code == 302 and session.logged_in()
    with tenant_context(region(SLUG)):
        assert Account.objects.get(username=username).password_temporary_until is None


def test_a_password_change_in_the_admin_revokes_the_accounts_api_tokens(server):
    from tests.support import GraphQLClient

    gql = GraphQLClient(server.base_url)
    username = authority_account()
    api_token = login(gql, SLUG, username)
    session = AdminSession(server)
    session.login(username)
    other_session = AdminSession(server)
    other_session.login(username)
    form = session.csrf("/admin/password_change/")
    weak = session.http.post(
        "/admin/password_change/",
        data={
            "old_password": PASSWORD,
            "new_password1": "short",
            "new_password2": "short",
            "csrfmiddlewaretoken": form,
        },
    )
    assert weak.status_code == 200 and "errorlist" in weak.text
    changed = session.http.post(
        "/admin/password_change/",
        data={
            "old_password": PASSWORD,
            "new_password1": "Own-choice-2027",
            "new_password2": "Own-choice-2027",
            "csrfmiddlewaretoken": session.csrf("/admin/password_change/"),
        },
    )
    assert changed.status_code == 302
    assert session.logged_in() and not other_session.logged_in()
    me = gql.region(SLUG, "{ me { username } }", token=api_token)
    assert me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert login(gql, SLUG, username, "Own-choice-2027")
