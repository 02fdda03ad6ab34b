"""Volunteers' rules through the services, rolled back (tests/fast/conftest.py)."""

from __future__ import annotations

import datetime
import secrets

import pytest

from tenants.volunteers import pii
from tenants.volunteers import services as volunteers
from tenants.volunteers.models import Volunteer
from tests.fast.staging import scene
from tests.registry_support import volunteer_input


@pytest.mark.parametrize(
    ("id_type", "prefix"), [("PASSPORT", "E"), ("HK_MACAO_PERMIT", "H"), ("PASSPORT", "G")]
)
def test_a_short_id_number_stays_mostly_hidden(rolled_back, id_type, prefix):
    """000 Art.3 (不得侵犯志愿者个人隐私): a 9-character passport or 港澳通行证 number
    shows two characters at each end, five hidden (tenants/volunteers/pii.py
    SHORT_ID); tests/test_personal_info_exposure.py reads the mask over HTTP."""
    number = prefix + "".join(secrets.choice("0123456789") for _ in range(8))
    data = volunteer_input(idType=id_type, idNumber=number)
    volunteer = volunteers.register_volunteer(
        data=volunteers.VolunteerRegistration(
            name=data["name"],
            gender="male",
            birth_date=datetime.date.fromisoformat(data["birthDate"]),
            id_type=id_type.lower(),
            id_number=number,
            phone=data["phone"],
            service_area=data["serviceArea"],
            skills=data["skills"],
            username=data["username"],
            password=data["password"],
        ),
        region=rolled_back,
        policy=rolled_back.get_policy(),
    )
    stored = Volunteer.objects.get(id=volunteer.id)
    assert stored.id_number_masked == number[:2] + "*****" + number[-2:]
    assert pii.decrypt(stored.id_number_encrypted) == number
    assert number not in repr(Volunteer.objects.filter(id=volunteer.id).values().get())


def test_a_scene_has_its_participants_as_active_members(rolled_back):
    s = scene(rolled_back, participants=2)
    assert [v.memberships.get().status for v in s.volunteers] == ["active", "active"]
