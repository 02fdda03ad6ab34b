"""Audit round 4: what round 3 left open, tried over real HTTP as an attacker would.

- ``resetPassword`` and ``unlockAccount`` answer an unknown username exactly as an
  account out of the caller's area (the same code, field and words), so another
  county's authority learns nothing of who has an account here; an authority of the
  whole region, who keeps every account anyway, is told ``NOT_FOUND``;
- ``exportLink(groupId)`` and ``registerGroup``'s liaison and viewing groups answer
  a pending group the caller may not see as an id with no group;
- refused registrations are counted before they are told, under the address's row
  lock, so concurrent requests from one address get no more than the limit's worth
  of refusals (round 3's check-then-count let every request already past the check
  finish).

Each test fails on the code before audit round 4.
"""

from __future__ import annotations

import threading

import pytest
from django_tenants.utils import tenant_context

from tenants.accounts.models import Account, LoginThrottle
from tests.registry_support import (
    authority,
    authority_account,
    hierarchy,
    login,
    region,
    register,
    register_volunteer,
    unique,
    volunteer_input,
)
from tests.support import PlatformServer, gid, platform_database_url
from tests.test_oracles_round3 import Client, answer_of, known_person, refused_entries

SLUG = "chongqing"
SHAPINGBA = "500106"  # another county than the hierarchy's (the region's first)
NOBODY = "nobody-by-this-name"

RESET = """mutation($u: String!) { resetPassword(username: $u) { username temporaryPassword
  errors { field code message } } }"""
UNLOCK = """mutation($u: String!, $r: String!) { unlockAccount(username: $u, reason: $r) {
  username errors { field code message } } }"""


def _reset(gql, token: str, username: str) -> tuple:
    return answer_of(gql.region(SLUG, RESET, {"u": username}, token=token), "resetPassword")


def _unlock(gql, token: str, username: str, reason: str = "本人来电核实") -> tuple:
    body = gql.region(SLUG, UNLOCK, {"u": username, "r": reason}, token=token)
    return answer_of(body, "unlockAccount")


def _password_hash(username: str) -> str:
    with tenant_context(region(SLUG)):
        return Account.objects.get(username=username).password


def test_an_account_out_of_the_area_is_answered_as_no_account(gql, seed_regions):
    """Another county's authority resetting or unlocking a volunteer's, a group
    admin's or an authority's account: the answer an unknown username gets, word for
    word, and nothing changes. The whole region's authority is told NOT_FOUND."""
    h = hierarchy(SLUG)  # registered in the region's first county, not 沙坪坝
    _, volunteer = register_volunteer(SLUG)  # lives in the region's first county
    colleague = authority_account(SLUG, "county")  # the first county's own office
    other_county = authority(gql, SLUG, "county", division=SHAPINGBA, name="重庆市沙坪坝区民政局")
    accounts = {"volunteer": volunteer, "group admin": h.admins["team"], "authority": colleague}
    before = {who: _password_hash(name) for who, name in accounts.items()}

    unknown = _reset(gql, other_county, NOBODY)
    unknown_unlock = _unlock(gql, other_county, NOBODY)
    assert unknown[0] == unknown_unlock[0] == "PERMISSION_DENIED", (unknown, unknown_unlock)

    def as_unknown(answer: tuple, username: str) -> tuple:
        return (*answer[:2], answer[2].replace(NOBODY, username))

    for who, username in accounts.items():
        seen = _reset(gql, other_county, username)
        assert seen == as_unknown(unknown, username), (who, seen, unknown)
        assert "central admins" not in seen[2]
        unlocked = _unlock(gql, other_county, username)
        assert unlocked == as_unknown(unknown_unlock, username), (who, unlocked, unknown_unlock)
    # A missing reason is refused before the username is looked at.
    assert _unlock(gql, other_county, volunteer, reason=" ") == _unlock(
        gql, other_county, NOBODY, reason=" "
    )
    assert {who: _password_hash(name) for who, name in accounts.items()} == before

    # The whole region's authority keeps every account: an unknown one is NOT_FOUND.
    region_wide = authority(gql, SLUG, "city")
    assert _reset(gql, region_wide, NOBODY)[:2] == ("NOT_FOUND", "username")
    assert _unlock(gql, region_wide, NOBODY)[:2] == ("NOT_FOUND", "username")
    reset = gql.region(SLUG, RESET, {"u": volunteer}, token=region_wide)["data"]["resetPassword"]
    assert reset["errors"] == [] and reset["temporaryPassword"], reset
    # An authority's password is central admins' to reset: told to its keeper only.
    assert _reset(gql, region_wide, colleague)[2] == (
        "an authority account's password is reset by central admins"
    )


EXPORT = """mutation($g: ID!) { exportLink(input: {kind: RECORDS, format: CSV, groupId: $g}) {
  url errors { field code message } } }"""


def test_a_pending_group_is_no_group_to_an_export_or_a_registration(gql, seed_regions):
    """exportLink(groupId) and registerGroup's liaison and viewing groups: a pending
    group the caller may not see is answered as an id with no group — its name,
    kind and review are not told."""
    from tests.test_groups import REGISTER_GROUP, group_input

    h = hierarchy(SLUG)
    pending_hub, _ = register(
        SLUG,
        f"测{unique('')}区志愿者协会",
        "hub",
        "district",
        h.city,
        division_code=h.district.division_code,
    )
    nobody = gid(SLUG, 10**9, "VolunteerGroup")
    callers = {
        "volunteer": login(gql, SLUG, register_volunteer(SLUG)[1]),
        "other group's admin": login(gql, SLUG, h.admins["team"]),
        "other county": authority(gql, SLUG, "county", division=SHAPINGBA, name="沙坪坝区民政局"),
    }
    for who, token in callers.items():
        hidden = answer_of(
            gql.region(SLUG, EXPORT, {"g": gid(SLUG, pending_hub)}, token=token), "exportLink"
        )
        none = answer_of(gql.region(SLUG, EXPORT, {"g": nobody}, token=token), "exportLink")
        assert hidden == none, (who, hidden, none)
        assert pending_hub.name not in hidden[2]

    def registered(token: str | None, **extra) -> list:
        data = group_input(f"测{unique('')}区图书馆志愿服务队", **extra)
        body = gql.region(SLUG, REGISTER_GROUP, {"input": data}, token=token)
        assert not body.get("errors"), body
        return body["data"]["registerGroup"]["errors"]

    anyone: dict[str, str | None] = {"anonymous": None, **callers}
    for who, maybe_token in anyone.items():
        # The pending hub as the new group's liaison, and as one of its viewing groups.
        refused = registered(maybe_token, liaisonGroupId=gid(SLUG, pending_hub))
        unknown = registered(maybe_token, liaisonGroupId=nobody)
        assert refused == unknown, (who, refused, unknown)
        assert [(e["code"], e["field"]) for e in refused] == [("NOT_FOUND", "liaisonGroupId")]
        liaison = gid(SLUG, h.district)
        refused = registered(
            maybe_token, liaisonGroupId=liaison, viewingGroupIds=[gid(SLUG, pending_hub)]
        )
        unknown = registered(maybe_token, liaisonGroupId=liaison, viewingGroupIds=[nobody])
        assert refused == unknown, (who, refused, unknown)
        assert pending_hub.name not in str(refused)


# --- concurrent refusals from one address -------------------------------------------

LIMIT = 3
CONCURRENT = 12


@pytest.fixture(scope="module")
def concurrent_server(seed_regions):
    env = {
        "PLATFORM_CLIENT_ADDRESS_HEADER": "X-Test-Client",
        "PLATFORM_REGISTRATION_REFUSAL_LIMIT": str(LIMIT),
    }
    with PlatformServer(platform_database_url(), workers=2, threads=8, env=env) as running:
        yield running


def test_concurrent_refusals_never_exceed_the_limit(concurrent_server):
    """CONCURRENT registrations of a registered person sent at once from one address:
    at most LIMIT are answered "already registered", every other one THROTTLED, and
    the audit log says which."""
    known_id = known_person()
    client = Client(concurrent_server)
    start = threading.Barrier(CONCURRENT)
    codes: list[str] = []

    def attempt() -> None:
        mine = Client(concurrent_server)  # a connection of its own, the same address
        mine.address = client.address
        person = volunteer_input(idNumber=known_id, username=unique("race"))
        start.wait()
        payload = mine.register(person)
        codes.append(payload["errors"][0]["code"])

    threads = [threading.Thread(target=attempt) for _ in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(codes) == CONCURRENT
    assert set(codes) <= {"CONFLICT", "THROTTLED"}, codes
    assert codes.count("CONFLICT") <= LIMIT, codes
    reasons = [e.detail["reason"] for e in refused_entries(client.address)]
    assert reasons.count("already_registered") == codes.count("CONFLICT"), reasons
    assert reasons.count("address_locked") == codes.count("THROTTLED"), reasons
    with tenant_context(region(SLUG)):
        row = LoginThrottle.objects.get(scope="refusal", key=client.address)
    assert row.locked_until is not None and row.lockouts == 1
