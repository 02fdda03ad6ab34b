"""Building blocks for registry tests: ID numbers, accounts, group hierarchies.

Set-up goes through the same services the API calls; what a test checks goes
through the real HTTP endpoint.
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django_tenants.utils import tenant_context
from stdnum.cn import ric

from central.divisions import division_level, divisions_within
from central.models import Region
from tenants.accounts import services as accounts
from tenants.groups import services as groups
from tenants.groups.models import VolunteerGroup
from tenants.groups.permissions import MUNICIPALITIES
from tenants.volunteers import services as volunteers
from tenants.volunteers.models import Volunteer

_serial = itertools.count(100)
_names = itertools.count(1)

REGISTER_VOLUNTEER = """
mutation($input: RegisterVolunteerInput!, $groupId: ID) {
  registerVolunteer(input: $input, groupId: $groupId) {
    volunteer { number name idNumberMasked phoneMasked verification status
                memberships { status group { name } } }
    errors { field code message }
  }
}
"""


def id_number(birth: datetime.date, area: str = "500101") -> str:
    """A valid resident ID number (GB 11643) for a birth date, unique per call: the
    sequence code holds 1,000 numbers, so each further thousand moves the area code
    on within the province (only the province prefix is checked on registration)."""
    serial = next(_serial)
    area = f"{area[:2]}{(int(area[2:]) + serial // 1000) % 10000:04d}"
    body = f"{area}{birth:%Y%m%d}{serial % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects a placeholder digit


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


def phone() -> str:
    return f"139{next(_serial):08d}"


def volunteer_input(birth=datetime.date(1990, 5, 17), **overrides) -> dict:
    data = {
        "name": "李雷",
        "gender": "MALE",
        "birthDate": birth.isoformat(),
        "idType": "RESIDENT_ID",
        "idNumber": id_number(birth),
        "phone": phone(),
        "serviceArea": "渝中区",
        "skills": ["急救"],
        "username": unique("vol"),
        "password": "Strong-pass-2026",
    }
    data.update(overrides)
    return data


def first_city(region_code: str) -> str:
    """The lowest-numbered current city (设区市) code inside a region."""
    return min(c for c in divisions_within(region_code) if division_level(c) == "city")


def first_county(region_code: str) -> str:
    """The lowest-numbered current county (区/县) code inside a region."""
    return min(c for c in divisions_within(region_code) if division_level(c) == "county")


def region(slug: str) -> Region:
    return Region.objects.get(slug=slug)


def login(gql, slug: str, username: str, password: str = "Strong-pass-2026") -> str:
    body = gql.region(
        slug,
        "mutation($u: String!, $p: String!) { login(username: $u, password: $p) "
        "{ token errors { message } } }",
        {"u": username, "p": password},
    )
    token = body["data"]["login"]["token"]
    assert token, body
    return token


def authority_account(
    slug: str, level: str = "city", division: str | None = None, name: str | None = None
) -> str:
    """A new authority staff account in the region, at ``division`` (by default the
    region itself; for a county authority, the region's first county); its username."""
    username = unique("auth")
    target = region(slug)
    if division is None and level == "county":
        division = first_county(target.code)
    with tenant_context(target):
        accounts.create_authority_account(
            username,
            "Strong-pass-2026",
            "民政干部",
            level,
            name or f"{target.name}民政局",
            division_code=division or target.code,
            region_code=target.code,
            actor="test",
        )
    return username


def authority(
    gql, slug: str, level: str = "city", division: str | None = None, name: str | None = None
) -> str:
    """Like :func:`authority_account`, logged in: its token."""
    return login(gql, slug, authority_account(slug, level, division, name))


@dataclass
class Hierarchy:
    """Approved hubs at every level, one non-hub group, and their admins' usernames."""

    city: VolunteerGroup
    district: VolunteerGroup
    town: VolunteerGroup
    community: VolunteerGroup
    team: VolunteerGroup  # a non-hub group under the district hub
    admins: dict[str, str]


def register(
    slug: str,
    name: str,
    kind: str,
    level: str,
    liaison: VolunteerGroup | None = None,
    status: str = "unregistered",
    **extra: Any,
) -> tuple[VolunteerGroup, str]:
    target = region(slug)
    username = unique("adm")
    data = groups.GroupRegistration(
        name=name,
        kind=kind,
        level=level,
        registration_status=status,
        responsible_person="王负责",
        contact_person="赵联系",
        contact_phone="02361234567",
        liaison_group_id=liaison.id if liaison else None,
        admin_username=username,
        admin_password="Strong-pass-2026",
        **extra,
    )
    with tenant_context(target):
        group = groups.register_group(data=data, principal=None, policy=target.get_policy())
    return group, username


def approve(slug: str, group: VolunteerGroup) -> VolunteerGroup:
    target = region(slug)
    with tenant_context(target):
        return groups.review_group(
            group_id=group.id,
            approve=True,
            reason="",
            principal=accounts.OperatorPrincipal("test"),
            policy=target.get_policy(),
        )


def hierarchy(slug: str, district_division: str | None = None) -> Hierarchy:
    """A hub chain city → district → town → community and a non-hub team (重庆 naming).
    The city hub is registered in the region itself, the district hub (and so every
    group under it) in ``district_division``, by default the region's first county —
    where ``authority(gql, slug, "county")`` acts."""
    tag = unique("")
    admins = {}
    code = region(slug).code
    # A city hub sits in a city: a city region's or a 直辖市's own code, else its first city.
    city_division = code if code[:2] in MUNICIPALITIES or code[2:] != "0000" else first_city(code)
    city, admins["city"] = register(
        slug, f"测{tag}市志愿服务联合会", "hub", "city", division_code=city_division
    )
    city = approve(slug, city)
    district, admins["district"] = register(
        slug,
        f"测{tag}区志愿者协会",
        "hub",
        "district",
        liaison=city,
        division_code=district_division or first_county(region(slug).code),
    )
    district = approve(slug, district)
    town, admins["town"] = register(slug, f"测{tag}街道志愿服务总队", "hub", "town", district)
    town = approve(slug, town)
    community, admins["community"] = register(
        slug, f"测{tag}社区志愿服务大队", "hub", "community", town
    )
    community = approve(slug, community)
    team, admins["team"] = register(
        slug, f"测{tag}区图书馆志愿服务队", "non_hub", "district", district
    )
    team = approve(slug, team)
    return Hierarchy(city, district, town, community, team, admins)


def register_volunteer(slug: str, **overrides) -> tuple[Volunteer, str]:
    """A volunteer registered through the service; returns (volunteer, username)."""
    target = region(slug)
    data = volunteer_input(**overrides)
    registration = volunteers.VolunteerRegistration(
        name=data["name"],
        gender=data["gender"].lower(),
        birth_date=datetime.date.fromisoformat(data["birthDate"]),
        id_type="resident_id",
        id_number=data["idNumber"],
        phone=data["phone"],
        service_area=data["serviceArea"],
        skills=data["skills"],
        username=data["username"],
        password=data["password"],
        guardian_name=data.get("guardianName", ""),
        guardian_consent=data.get("guardianConsent", False),
        division_code=data.get("divisionCode", ""),
    )
    with tenant_context(target):
        volunteer = volunteers.register_volunteer(
            data=registration, region=target, policy=target.get_policy()
        )
    return volunteer, data["username"]


def accept_invitations(slug: str, number: str) -> int:
    """The volunteer accepts every open invitation (addMember is an invitation since
    issue 10 finding 1), through the service as themself; how many."""
    from tenants.accounts.models import Account
    from tenants.groups.models import Membership, MembershipStatus
    from tenants.volunteers.models import Volunteer

    with tenant_context(region(slug)):
        volunteer = Volunteer.objects.get(number=number)
        account = Account.objects.filter(volunteer=volunteer).first()
        # A volunteer without an account of their own (registered by a group, or
        # imported) accepts at the group's desk: the service needs only who they are.
        me = (
            accounts.AccountPrincipal(account=account, roles=[])
            if account
            else SimpleNamespace(volunteer=volunteer, actor=f"volunteer:{number}")
        )
        invited = Membership.objects.filter(volunteer=volunteer, status=MembershipStatus.INVITED)
        for membership in invited:
            groups.respond_to_invitation(membership_id=membership.id, accept=True, principal=me)
        return len(invited)


def principal_of_account(username: str) -> accounts.AccountPrincipal:
    """The principal a token of ``username`` would give (call inside the region)."""
    from tenants.accounts.models import Account

    account = Account.objects.select_related("volunteer").get(username=username)
    return accounts.principal_for(account)


def join_group(slug: str, group, number: str, admin_username: str) -> None:
    """Make the volunteer an active member of ``group``: invited by its admin, accepted."""
    target = region(slug)
    with tenant_context(target):
        groups.add_member(
            group_id=group.id,
            number=number,
            principal=principal_of_account(admin_username),
            policy=target.get_policy(),
        )
    accept_invitations(slug, number)
