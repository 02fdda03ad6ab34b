"""Issue 14 point 5: every county-level division (区/县) may be a region of its own.

A national deployment gives each of the ~3,000 county-level divisions its own
schema. A county region's area is the county itself: its authorities sit at
its own code and everyone registered in it lives there (GB/T 2260 codes, as for
city regions; 001 §6 names the county-level 志愿者管理部门).
"""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, connection, transaction

from central import services
from central.divisions import division_level, divisions_within
from central.errors import InvalidInput
from central.models import Region
from tests.registry_support import REGISTER_VOLUNTEER, authority, id_number, volunteer_input
from tests.support import city_name
from tests.test_provisioning import PROVISION, snapshot


def free_county(city: str) -> str:
    """A current county code of ``city`` that is no region yet."""
    taken = set(Region.objects.values_list("code", flat=True))
    counties = sorted(c for c in divisions_within(city) if division_level(c) == "county")
    return next(c for c in counties if c not in taken)


def county_spec(code: str, **overrides) -> services.RegionSpec:
    fields = {"code": code, "name": city_name(code), "level": "county", "slug": f"c{code}"}
    return services.RegionSpec(**{**fields, **overrides})


def test_a_county_region_is_provisioned_through_the_central_api(gql, central_admin):
    code = free_county("421300")  # 随州市, a seed city region
    body = gql.central(
        PROVISION,
        {
            "input": {
                "code": code,
                "name": city_name(code),
                "level": "COUNTY",
                "slug": f"county{code}",
                "parentCode": "421300",
            }
        },
        token=central_admin["token"],
    )
    payload = body["data"]["provisionRegion"]
    assert payload["errors"] == [], payload
    assert payload["region"]["level"] == "COUNTY"
    assert payload["region"]["parent"] == {"code": "421300"}
    answer = gql.region(f"county{code}", "{ region { code name } }")
    assert answer["data"]["region"] == {"code": code, "name": city_name(code)}


def test_a_county_regions_area_is_the_county_itself(gql, seed_regions):
    code = free_county("530100")  # 昆明市's counties; 云南 is a seed province region
    services.provision_region(county_spec(code, parent_code="530000"), actor="test")
    slug = f"c{code}"
    token = authority(gql, slug, level="county")
    divisions = gql.region(slug, "{ region { divisions { code level } } }")
    assert divisions["data"]["region"]["divisions"] == [{"code": code, "level": "COUNTY"}]
    birth = datetime.date(1991, 3, 9)
    # Another county, even of the same city, lies outside the region.
    other = next(
        c for c in divisions_within("530100") if division_level(c) == "county" and c != code
    )
    for division, accepted in ((other, False), (code, True)):
        registered = gql.region(
            slug,
            REGISTER_VOLUNTEER,
            {
                "input": volunteer_input(
                    birth, idNumber=id_number(birth, area=code), divisionCode=division
                )
            },
            token=token,
        )["data"]["registerVolunteer"]
        if accepted:
            assert registered["errors"] == [], registered
        else:
            assert registered["volunteer"] is None
            assert {e["field"] for e in registered["errors"]} == {"divisionCode"}, registered


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"code": "421300"}, "code"),  # a city code given as a county
        ({"code": "420000"}, "code"),  # a province code given as a county
        ({"parent_code": "530000"}, "parentCode"),  # not its province
        ({"parent_code": "421300"}, "parentCode"),  # not its city
        ({"code": "421399"}, "code"),  # no such county in GB/T 2260
    ],
)
def test_bad_county_regions_are_refused_and_change_nothing(seed_regions, overrides, field):
    code = overrides.pop("code", None) or free_county("210900")  # 阜新市
    spec = county_spec(code, name=city_name(code) or "某县", **overrides)
    before = snapshot()
    with pytest.raises(InvalidInput) as caught:
        services.provision_region(spec, actor="test")
    assert field in {problem.field for problem in caught.value.problems}
    assert snapshot() == before


def test_a_county_region_cannot_be_a_parent(seed_regions):
    county = free_county("210900")
    services.provision_region(county_spec(county, parent_code="210900"), actor="test")
    # A region's parent is a level above it: nothing hangs under a county.
    before = snapshot()
    with pytest.raises(InvalidInput) as caught:
        services.provision_region(
            services.RegionSpec(
                code="210900", name="阜新市", level="city", slug="fx2", parent_code=county
            ),
            actor="test",
        )
    assert "parentCode" in {problem.field for problem in caught.value.problems}
    assert snapshot() == before


def test_the_database_refuses_a_level_it_does_not_know(seed_regions):
    region = Region.objects.filter(level="county").first() or services.provision_region(
        county_spec(free_county("210900"), parent_code="210000"), actor="test"
    )
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE central_region SET level = 'town' WHERE id = %s", [region.id])
