"""Issue 10: README's "Who may do what, where" table, walked through the real API.

One 重庆 world (the fixture, built like ``test_scopes.py``'s): the city hub, a
district hub in 渝中区 (500103) and one in 沙坪坝区 (500106), a team under the
渝中 hub, and the people who act on it — each a persona with a token:

- ``member``: an active member of the 渝中 team, living in 渝中 (the usual target);
- ``applicant``: applied to the team, not accepted;
- ``stranger``: a registered volunteer with no relation to anyone;
- ``group_admin``: the 渝中 team's admin (本团体内志愿者管理);
- ``other_hub``: the 沙坪坝 district hub's admin (区域内志愿者管理, in 沙坪坝 only);
- ``other_county``: the 沙坪坝 county authority;
- ``city``: a city authority bound to 500000, the whole region;
- ``foreign``: a 云南 authority's token sent to the 重庆 host;
- ``anonymous``: no token.

``ROWS`` is the table as data: for every root field of the region API a minimal
operation, its variables (built from the world), and each persona's outcome:
``"ok"``, ``"null"`` (a query answered null: not there, or not for this caller)
or the error code — a top-level ``errors[0].extensions.code`` or a payload's
``errors[0].code``. Refusals run first, against the shared target; a persona
expected ``"ok"`` on a mutation gets a fresh target (``fresh``), and where the
change would alter the persona itself it acts through a look-alike account made
for the call (``twin``). ``test_every_root_field_has_a_row`` fails when a root
field is added without a row here or in README's table.
"""

from __future__ import annotations

import datetime
import io
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import tenant_context
from PIL import Image

from central.policy import RecordConfirmation
from interop import at_rest
from interop import services as transfers
from interop.models import Transfer
from tenants.accounts import services as accounts
from tenants.accounts.models import Account
from tenants.certificates import services as certificates
from tenants.groups import services as groups
from tenants.projects import services as projects
from tenants.projects.models import Project
from tenants.recognition import services as recognition
from tenants.records import cards, corrections, stars
from tenants.records import services as records
from tenants.records.models import ServiceRecord
from tenants.volunteers import services as volunteers
from tenants.volunteers.models import Volunteer
from tests.records_support import card_of
from tests.registry_support import (
    approve,
    id_number,
    join_group,
    login,
    principal_of_account,
    region,
    register,
    register_volunteer,
    unique,
    volunteer_input,
)
from tests.support import REPO, GraphQLClient, gid, row_key
from tests.world_support import counted_hours, project_draft, published_project

SLUG = "chongqing"
YUZHONG, SHAPINGBA = "500103", "500106"
PASSWORD = "Strong-pass-2026"

OK, NULL = "ok", "null"
DENIED, UNAUTH = "PERMISSION_DENIED", "UNAUTHENTICATED"
NOT_FOUND, CONFLICT, INVALID = "NOT_FOUND", "CONFLICT", "INVALID"

PERSONAS = (
    "member",
    "applicant",
    "stranger",
    "group_admin",
    "other_hub",
    "other_county",
    "city",
    "foreign",
    "anonymous",
)


def who(*ok: str, default: str = DENIED, **others: str) -> dict[str, str]:
    """Each persona's outcome: ``ok`` for those named, ``default`` for the others;
    another region's token and no token are UNAUTHENTICATED unless said otherwise."""
    outcome = {p: default for p in PERSONAS} | {"foreign": UNAUTH, "anonymous": UNAUTH}
    return outcome | {p: OK for p in ok} | others


EVERYONE = {p: OK for p in PERSONAS}


# --- the world --------------------------------------------------------------------------


@dataclass
class Actor:
    """Who sends a request: a persona's account and token (None: anonymous)."""

    persona: str
    token: str | None
    username: str | None = None
    host: str = SLUG  # where the account lives (the foreign one: 云南)
    volunteer: object = None


@dataclass(frozen=True)
class File:
    """A file for a multipart request (GraphQL ``Upload``)."""

    name: str
    content: bytes
    content_type: str


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, "PNG")
    return buffer.getvalue()


def _authority(gql, slug, level, division, name) -> tuple[str, str]:
    """A new authority account bound to ``division``; (username, token)."""
    target = region(slug)
    username = unique("auth")
    with tenant_context(target):
        accounts.create_authority_account(
            username,
            PASSWORD,
            "民政干部",
            level,
            name,
            division_code=division,
            region_code=target.code,
            actor="test",
        )
    return username, login(gql, slug, username)


@dataclass
class World:
    gql: GraphQLClient
    orgs: dict = field(default_factory=dict)  # key -> VolunteerGroup
    admins: dict = field(default_factory=dict)  # group key -> admin username
    actors: dict = field(default_factory=dict)  # persona -> Actor
    _slots: itertools.count = field(default_factory=itertools.count)
    # What ``world`` sets up once, in order (none is known at construction).
    member: Volunteer = field(init=False)
    applicant: Volunteer = field(init=False)
    stranger: Volunteer = field(init=False)
    stranger_username: str = field(init=False)
    application: str = field(init=False)
    invitation: str = field(init=False)
    draft_id: str = field(init=False)
    pending_project_id: str = field(init=False)
    open: Project = field(init=False)
    live: Project = field(init=False)
    project_application_id: str = field(init=False)
    counted: ServiceRecord = field(init=False)
    declared_id: str = field(init=False)
    publicity_id: str = field(init=False)
    objection_id: str = field(init=False)
    awaiting_id: str = field(init=False)
    correction_id: str = field(init=False)
    star_application_id: str = field(init=False)
    complaint_id: str = field(init=False)
    investigated_id: str = field(init=False)
    certificate_code: str = field(init=False)
    pending_group_id: str = field(init=False)
    member_transfer: str = field(init=False)
    moved_transfer: str = field(init=False)
    yunnan_target: str = field(init=False)
    refused_envelope: dict = field(init=False)
    incoming_requested: str = field(init=False)
    incoming_imported: str = field(init=False)
    imported_number: str = field(init=False)
    batch_id: str | None = None  # made when a row first asks for it

    def __post_init__(self):
        self.region = region(SLUG)
        self.policy = self.region.get_policy()
        self.today = timezone.localdate()

    # requests

    def send(self, actor: Actor, doc: str, variables: dict) -> dict:
        files = {k: v for k, v in variables.items() if isinstance(v, File)}
        if not files:
            return self.gql.region(SLUG, doc, variables, token=actor.token)
        operations = {"query": doc, "variables": {**variables, **dict.fromkeys(files)}}
        headers = {"Host": f"{SLUG}.localhost"}
        if actor.token:
            headers["Authorization"] = f"Bearer {actor.token}"
        response = self.gql.http.post(
            "/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({str(i): [f"variables.{k}"] for i, k in enumerate(files)}),
            },
            files={
                str(i): (f.name, io.BytesIO(f.content), f.content_type)
                for i, f in enumerate(files.values())
            },
            headers=headers,
        )
        assert response.status_code == 200, response.text
        return response.json()

    # in-process set-up, through the services

    def principal(self, username: str):
        return principal_of_account(username)

    def admin(self, group_key: str):
        return self.principal(self.admins[group_key])

    def as_volunteer(self, volunteer):
        """The principal of ``volunteer``'s own account (one without a password is made
        for volunteers a group registered: they never log in)."""
        account = Account.objects.filter(volunteer=volunteer).first()
        if account is None:
            account = Account.objects.create(
                username=unique("own"),
                password=make_password(None),
                display_name=volunteer.name,
                volunteer=volunteer,
            )
        return accounts.AccountPrincipal(account=account, roles=[])

    def registered_into(self, group_key: str, division: str = YUZHONG):
        """A new volunteer the group's admin registers into the group (an active
        member, no account of their own)."""
        data = volunteer_input()
        registration = volunteers.VolunteerRegistration(
            name=data["name"],
            gender="male",
            birth_date=datetime.date.fromisoformat(data["birthDate"]),
            id_type="resident_id",
            id_number=data["idNumber"],
            phone=data["phone"],
            division_code=division,
        )
        with tenant_context(self.region):
            return volunteers.register_volunteer(
                data=registration,
                region=self.region,
                policy=self.policy,
                principal=self.admin(group_key),
                group_id=self.orgs[group_key].id,
            )

    def new_member(self):
        """A fresh active member of the 渝中 team, living in 渝中."""
        return self.registered_into("team")

    def new_outsider(self):
        """A fresh volunteer who is not in the team (a member of another 渝中 group)."""
        return self.registered_into("side")

    def slot(self) -> tuple[dict, records.RecordEntry]:
        """A stretch of service nobody else has used (as RecordInput, and as an entry)."""
        n = next(self._slots)
        day = self.today - datetime.timedelta(days=1 + n // 20)
        start, end = datetime.time(n % 20, 0), datetime.time(n % 20, 45)
        api = {
            "serviceDate": day.isoformat(),
            "startTime": start.isoformat(),
            "endTime": end.isoformat(),
            "hours": "0.5",
            "content": "陪伴老人聊天、读报",
        }
        return api, records.RecordEntry(day, start, end, Decimal("0.5"), "陪伴老人聊天、读报")

    def record(self, volunteer=None, then: str = "counted") -> ServiceRecord:
        """A record of the team's ongoing project. 重庆 has no publicity and no
        confirmation, so a record counts at once; ``then`` = "publicity" or "awaiting"
        records it under the policy with 3 days of publicity, or with confirmation by
        civil affairs, to get a record in that state through the same service."""
        policy = self.policy
        if then == "publicity":
            policy = policy.model_copy(update={"publicity_working_days": 3})
        elif then == "awaiting":
            policy = policy.model_copy(
                update={"record_confirmation": RecordConfirmation.COUNTY_CIVIL_AFFAIRS}
            )
        with tenant_context(self.region):
            return records.record_hours(
                project_id=self.live.id,
                number=(volunteer or self.member).number,
                entry=self.slot()[1],
                principal=self.admin("team"),
                policy=policy,
            )

    def declared(self) -> str:
        with tenant_context(self.region):
            record = records.declare_hours(
                project_id=self.live.id,
                entry=self.slot()[1],
                principal=self.as_volunteer(self.member),
                policy=self.policy,
            )
        return gid(SLUG, record)

    def objection(self) -> str:
        record = self.record(then="publicity")
        with tenant_context(self.region):
            objection = records.raise_objection(
                record_id=record.id,
                reason="时长与实际不符",
                principal=self.as_volunteer(self.member),
                policy=self.policy,
            )
        return gid(SLUG, objection)

    def awaiting(self) -> str:
        return gid(SLUG, self.record(then="awaiting"))

    def correction(self) -> str:
        with tenant_context(self.region):
            request = corrections.request_correction(
                group_id=self.team.id,
                description="那天的时长记少了",
                record_id=self.counted.id,
                principal=self.as_volunteer(self.member),
                policy=self.policy,
            )
        return gid(SLUG, request)

    def hours(self, volunteer, hours: int) -> None:
        """Counted hours for ``volunteer`` as the platform counts them: the team's
        admin records whole days at the ongoing project from its first day (60 days
        ago; ``slot`` takes days from yesterday backwards), so the totals are the
        sum of the records."""
        with tenant_context(self.region):
            counted_hours(
                project=self.live,
                volunteer=volunteer,
                hours=hours,
                recorder=self.admin("team"),
                policy=self.policy,
            )

    def star_application(self, volunteer=None) -> str:
        """A 1★ application (100 counted hours, 重庆's threshold) of ``volunteer``,
        who has the hours, or of a fresh member given them."""
        if volunteer is None:
            volunteer = self.new_member()
            self.hours(volunteer, 100)
        with tenant_context(self.region):
            application = stars.apply_for_star(
                level=1,
                group_id=self.team.id,
                principal=self.as_volunteer(volunteer),
                policy=self.policy,
            )
        return gid(SLUG, application)

    def complaint(self, investigating: bool = False) -> str:
        with tenant_context(self.region):
            complaint = recognition.file_complaint(
                number=self.member.number,
                group_id=self.team.id,
                entry=recognition.ComplaintEntry("服务对象", "服务时迟到", self.today),
                principal=self.admin("team"),
                policy=self.policy,
            )
            if investigating:
                recognition.start_investigation(
                    complaint_id=complaint.id, principal=self.admin("team")
                )
        return gid(SLUG, complaint)

    def certificate(self) -> str:
        with tenant_context(self.region):
            issued = certificates.issue_certificate(
                number=self.member.number,
                group_id=self.team.id,
                principal=self.admin("team"),
                region=self.region,
            )
        return issued.verification_code

    def draft(self) -> str:
        with tenant_context(self.region):
            project = projects.create_project(
                group_id=self.team.id,
                draft=project_draft(unique("表项目"), self.today, self.today),
                principal=self.admin("team"),
            )
        return gid(SLUG, project)

    def pending_project(self) -> str:
        project_id = self.draft()
        with tenant_context(self.region):
            projects.submit_project(
                project_id=row_key(project_id), principal=self.admin("team"), policy=self.policy
            )
        return project_id

    def published(self, starts_on, ends_on) -> Project:
        with tenant_context(self.region):
            return published_project(
                group_id=self.team.id,
                draft=project_draft(unique("表项目"), starts_on, ends_on),
                admin=self.admin("team"),
                policy=self.policy,
            )

    def own_application(self, actor) -> str:
        """An application of ``actor`` (a volunteer) to a project starting in ten days."""
        if getattr(self, "_upcoming", None) is None:
            later = self.today + datetime.timedelta(days=10)
            self._upcoming = self.published(later, later + datetime.timedelta(days=10))
        with tenant_context(self.region):
            application = projects.apply(
                project_id=self._upcoming.id, principal=self.principal(actor.username)
            )
        return gid(SLUG, application)

    def project_application(self) -> str:
        with tenant_context(self.region):
            application = projects.apply(
                project_id=self.open.id, principal=self.as_volunteer(self.new_outsider())
            )
        return gid(SLUG, application)

    def team_application(self) -> str:
        with tenant_context(self.region):
            membership = groups.apply_to_group(
                group_id=self.team.id, principal=self.as_volunteer(self.new_outsider())
            )
        return gid(SLUG, membership)

    def pending_group(self) -> str:
        """A group under the 渝中 hub, waiting for review (registered by the hub's admin)."""
        data = groups.GroupRegistration(
            name=f"表{unique('')}甲区医院志愿服务队",
            kind="non_hub",
            level="district",
            registration_status="unregistered",
            responsible_person="王负责",
            contact_person="赵联系",
            contact_phone="02361234567",
            liaison_group_id=self.orgs["hub_a"].id,
        )
        with tenant_context(self.region):
            group = groups.register_group(
                data=data, principal=self.admin("hub_a"), policy=self.policy
            )
        return gid(SLUG, group)

    def card(self, volunteer) -> str:
        with tenant_context(self.region):
            return cards.card_code(volunteer, self.region.code)[0]

    def checked_in(self, hours_ago: float = 0) -> str:
        """A fresh member checked in at the ongoing project; their card code."""
        code = self.card(self.new_member())
        with tenant_context(self.region):
            cards.check_in(
                project_id=self.live.id,
                code=code,
                principal=self.admin("team"),
                policy=self.policy,
                region_code=self.region.code,
                now=timezone.now() - datetime.timedelta(hours=hours_ago),
            )
        return code

    def transfer_of(self, volunteer=None, username: str | None = None) -> str:
        """An outgoing transfer (to 云南) a volunteer asked for: ``username``'s own, or
        ``volunteer``'s, or a fresh member's."""
        with tenant_context(self.region):
            if username:
                principal = self.principal(username)
            else:
                principal = self.as_volunteer(volunteer or self.new_member())
            return str(
                transfers.request_transfer(to_region="530000", principal=principal).public_id
            )

    def moved(self, username: str | None = None) -> str:
        """A transfer out to 云南 the volunteer consented to (offline): it carries the
        package. ``username``'s own, else a fresh member's."""
        transfer_id = self.transfer_of(username=username)
        with tenant_context(self.region):
            transfer = Transfer.objects.select_related("volunteer").get(public_id=transfer_id)
            principal = (
                self.principal(username) if username else self.as_volunteer(transfer.volunteer)
            )
            transfers.consent_transfer(transfer_id=transfer_id, principal=principal, offline=True)
        return transfer_id

    def yunnan_volunteer(self) -> tuple[Volunteer, str]:
        return register_volunteer(
            "yunnan", idNumber=id_number(datetime.date(1990, 5, 17), "530102")
        )

    def envelope(self) -> dict:
        """A 云南 volunteer's records, consented offline to 重庆: the package file."""
        _, username = self.yunnan_volunteer()
        with tenant_context(region("yunnan")):
            principal = principal_of_account(username)
            requested = transfers.request_transfer(to_region="500000", principal=principal)
            transfers.consent_transfer(
                transfer_id=str(requested.public_id), principal=principal, offline=True
            )
            return at_rest.clear(Transfer.objects.get(id=requested.id).package)

    # the personas

    def actor(self, persona: str) -> Actor:
        return self.actors[persona]

    def relogin(self, actor: Actor) -> Actor:
        """The same account with a token of its own (for logout)."""
        if actor.username is None:
            return actor
        token = login(self.gql, actor.host, actor.username)
        return Actor(actor.persona, token, actor.username, actor.host, actor.volunteer)

    def twin(self, persona: str) -> Actor:
        """A new account in the same role as ``persona`` (for a call that would change
        the persona itself)."""
        if persona in ("member", "applicant", "stranger"):
            volunteer, username = register_volunteer(SLUG, divisionCode=YUZHONG)
            if persona == "member":
                join_group(SLUG, self.team, volunteer.number, self.admins["team"])
            elif persona == "applicant":
                with tenant_context(self.region):
                    groups.apply_to_group(group_id=self.team.id, principal=self.principal(username))
            token = login(self.gql, SLUG, username)
            return Actor(persona, token, username, volunteer=volunteer)
        if persona in ("group_admin", "other_hub"):
            key = "team" if persona == "group_admin" else "hub_b"
            username = unique("twin")
            with tenant_context(self.region):
                groups.create_staff_account(
                    group_id=self.orgs[key].id,
                    kind="group_admin",
                    username=username,
                    password=PASSWORD,
                    display_name="团体管理员",
                    recorder_certificate="",
                    principal=self.admin(key),
                    policy=self.policy,
                )
            return Actor(persona, login(self.gql, SLUG, username), username)
        if persona == "other_county":
            username, token = _authority(
                self.gql, SLUG, "county", SHAPINGBA, "重庆市沙坪坝区民政局"
            )
            return Actor(persona, token, username)
        if persona == "city":
            username, token = _authority(self.gql, SLUG, "city", "500000", "重庆市民政局")
            return Actor(persona, token, username)
        raise AssertionError(f"no twin for {persona}")

    @property
    def team(self):
        return self.orgs["team"]


@pytest.fixture(scope="module")
def world(server) -> World:
    w = World(gql=GraphQLClient(server.base_url))
    tag = unique("")
    gs, admins = w.orgs, w.admins
    city_hub, admins["city_hub"] = register(SLUG, f"表{tag}市志愿服务联合会", "hub", "city")
    gs["city_hub"] = approve(SLUG, city_hub)
    for key, name, division in (
        ("hub_a", f"表{tag}甲区志愿者协会", YUZHONG),
        ("hub_b", f"表{tag}乙区志愿者协会", SHAPINGBA),
    ):
        hub, admins[key] = register(
            SLUG, name, "hub", "district", gs["city_hub"], division_code=division
        )
        gs[key] = approve(SLUG, hub)
    for key, name in (("team", "图书馆"), ("side", "博物馆"), ("open", "体育馆")):
        group, admins[key] = register(
            SLUG, f"表{tag}甲区{name}志愿服务队", "non_hub", "district", gs["hub_a"]
        )
        gs[key] = approve(SLUG, group)

    # The volunteers: all live in 渝中.
    member, member_name = register_volunteer(SLUG, divisionCode=YUZHONG)
    applicant, applicant_name = register_volunteer(SLUG, divisionCode=YUZHONG)
    stranger, stranger_name = register_volunteer(SLUG, divisionCode=YUZHONG)
    w.member, w.applicant, w.stranger = member, applicant, stranger
    w.stranger_username = stranger_name
    join_group(SLUG, gs["team"], member.number, admins["team"])
    join_group(SLUG, gs["side"], member.number, admins["side"])
    with tenant_context(w.region):
        mine = w.principal(applicant_name)
        w.application = gid(SLUG, groups.apply_to_group(group_id=gs["team"].id, principal=mine))
        groups.apply_to_group(group_id=gs["side"].id, principal=mine)
        # After join_group (which accepts every open invitation): an invitation the
        # member has not answered.
        invited = groups.add_member(
            group_id=gs["hub_a"].id,
            number=member.number,
            principal=w.admin("hub_a"),
            policy=w.policy,
        )
        w.invitation = gid(SLUG, invited)

    # Projects of the team: a draft, one under review, one open for applications,
    # one going on (started 60 days ago) to record at.
    w.draft_id, w.pending_project_id = w.draft(), w.pending_project()
    w.open = w.published(
        w.today + datetime.timedelta(days=10), w.today + datetime.timedelta(days=20)
    )
    w.live = w.published(
        w.today - datetime.timedelta(days=60), w.today + datetime.timedelta(days=30)
    )
    w.project_application_id = w.project_application()

    # Records of the member, in each state a row needs.
    w.counted = w.record()
    w.declared_id = w.declared()
    w.publicity_id = gid(SLUG, w.record(then="publicity"))
    w.objection_id = w.objection()
    w.awaiting_id = w.awaiting()
    w.correction_id = w.correction()
    w.hours(member, 300)  # enough for 2★ (100, 300, …)
    w.star_application_id = w.star_application(member)
    w.complaint_id, w.investigated_id = w.complaint(), w.complaint(investigating=True)
    with tenant_context(w.region):
        certificates.upload_seal(
            group_id=gs["team"].id,
            upload=SimpleUploadedFile("seal.png", _png(), "image/png"),
            principal=w.admin("team"),
        )
    w.certificate_code = w.certificate()
    w.pending_group_id = w.pending_group()
    w.member_transfer = w.transfer_of(username=member_name)
    w.moved_transfer = w.moved()  # a fellow member of the team who moved to 云南
    w.yunnan_target = w.yunnan_volunteer()[0].number
    w.refused_envelope = {"not": "a package"}

    # The personas' tokens.
    for persona, username, volunteer in (
        ("member", member_name, member),
        ("applicant", applicant_name, applicant),
        ("stranger", stranger_name, stranger),
        ("group_admin", admins["team"], None),
        ("other_hub", admins["hub_b"], None),
    ):
        token = login(w.gql, SLUG, username)
        w.actors[persona] = Actor(persona, token, username, volunteer=volunteer)
    username, token = _authority(w.gql, SLUG, "county", SHAPINGBA, "重庆市沙坪坝区民政局")
    w.actors["other_county"] = Actor("other_county", token, username)
    username, token = _authority(w.gql, SLUG, "city", "500000", "重庆市民政局")
    w.actors["city"] = Actor("city", token, username)
    username, token = _authority(w.gql, "yunnan", "province", "530000", "云南省民政厅")
    w.actors["foreign"] = Actor("foreign", token, username, host="yunnan")
    w.actors["anonymous"] = Actor("anonymous", None)

    # Transfers into 重庆, asked for and made by the city's authority: one still
    # waiting for the 云南 volunteer's consent, one imported from a package file.
    with tenant_context(w.region):
        city = w.principal(w.actors["city"].username)
        asked = transfers.request_on_behalf(
            from_region="530000", number=w.yunnan_volunteer()[0].number, principal=city
        )
        w.incoming_requested = str(asked.public_id)
        imported, _ = transfers.import_offline(envelope=w.envelope(), principal=city)
        w.incoming_imported = str(imported.public_id)
        assert imported.volunteer is not None
        w.imported_number = imported.volunteer.number
    return w


# --- the table ----------------------------------------------------------------------------

Variables = Callable[[World, Actor, bool], dict]


@dataclass(frozen=True)
class Row:
    field: str  # the root field
    doc: str
    variables: Variables
    expect: dict[str, str]
    label: str = ""  # tells rows of one field apart
    twin: frozenset[str] = frozenset()  # personas that act through a twin when "ok"
    fresh_token: bool = False  # each persona sends a token of its own (logout)

    @property
    def id(self) -> str:
        return f"{self.field}[{self.label}]" if self.label else self.field


def fixed(build: Callable[[World], dict]) -> Variables:
    """Variables that do not depend on who calls."""
    return lambda w, actor, fresh: build(w)


def none(w, actor, fresh) -> dict:
    return {}


def m(name: str, params: str, args: str) -> str:
    """A mutation document selecting only the payload's errors."""
    head = f"mutation({params})" if params else "mutation"
    call = f"{name}({args})" if args else name
    return f"{head} {{ {call} {{ errors {{ code }} }} }}"


def _training(w):
    return {
        "input": {
            "number": w.member.number,
            "groupId": gid(SLUG, w.team),
            "title": "急救培训",
            "content": "心肺复苏",
            "trainedOn": w.today.isoformat(),
            "place": "社区中心",
            "hours": "2",
        }
    }


def _award(w):
    return {
        "input": {
            "number": w.member.number,
            "groupId": gid(SLUG, w.team),
            "title": "优秀志愿者",
            "awardingBody": "渝中区志愿者协会",
            "level": "COUNTY",
            "awardedOn": w.today.isoformat(),
        }
    }


def _complaint(w):
    return {
        "input": {
            "number": w.member.number,
            "groupId": gid(SLUG, w.team),
            "complainant": "服务对象",
            "content": "服务时迟到",
            "receivedOn": w.today.isoformat(),
        }
    }


def _volunteer_input(w, *, own_account: bool) -> dict:
    data = volunteer_input(divisionCode=YUZHONG)
    if not own_account:
        data.update(username="", password="")
    return data


def _group_input(w, actor, fresh) -> dict:
    return {
        "input": {
            "name": f"表{unique('')}甲区医院志愿服务队",
            "kind": "NON_HUB",
            "level": "DISTRICT",
            "registrationStatus": "UNREGISTERED",
            "responsiblePerson": "王负责",
            "contactPerson": "赵联系",
            "contactPhone": "02361234567",
            "liaisonGroupId": gid(SLUG, w.orgs["hub_a"]),
            "adminUsername": unique("adm"),
            "adminPassword": PASSWORD,
        }
    }


def _consent_target(w, actor, fresh) -> dict:
    if fresh:  # the volunteer's own transfer
        return {"t": w.transfer_of(username=actor.username)}
    return {"t": w.member_transfer}


def _reject_target(w, actor, fresh) -> dict:
    if fresh and actor.volunteer is not None:
        return {"t": w.transfer_of(username=actor.username)}
    return {"t": w.transfer_of() if fresh else w.member_transfer}


def _batch(w) -> str:
    """A batch (issue 11) the city's authority asked for: a fresh team member to 云南."""
    number = w.new_member().number
    with tenant_context(w.region):
        city = w.principal(w.actors["city"].username)
        batch = transfers.request_group_transfer(
            group_id=w.team.id,
            to_region="530000",
            reason="区划调整",
            principal=city,
            numbers=[number],
        )
    return str(batch.public_id)


def _shared_batch(w) -> str:
    if w.batch_id is None:
        w.batch_id = _batch(w)
    return w.batch_id


def _group_transfer(w, actor, fresh) -> dict:
    number = w.new_member().number if fresh else w.member.number
    return {"g": gid(SLUG, w.team), "n": [number]}


def _moved_package(w, actor, fresh) -> dict:
    if fresh and actor.volunteer is not None:  # the volunteer's own package
        return {"t": w.moved(actor.username)}
    return {"t": w.moved_transfer}


def _package(w, actor, fresh) -> dict:
    content = w.envelope() if fresh else w.refused_envelope
    return {"f": File("package.json", json.dumps(content).encode(), "application/json")}


def _sheet(rows: list[list[str]]) -> File:
    """A CSV file for importRows (issue 12 point 7)."""
    text = "".join(",".join(row) + "\n" for row in rows)
    return File("rows.csv", text.encode("utf-8-sig"), "text/csv")


def _import_volunteers(into_group: bool) -> Variables:
    def build(w, actor, fresh) -> dict:
        data = volunteer_input(divisionCode=YUZHONG)
        sheet = _sheet(
            [
                ["姓名", "性别", "证件号码", "手机号码", "所在县（区）"],
                [data["name"], "男", data["idNumber"], data["phone"], YUZHONG],
            ]
        )
        return {"k": "VOLUNTEERS", "f": sheet, "g": gid(SLUG, w.team) if into_group else None}

    return build


def _import_members(w, actor, fresh) -> dict:
    from tests.registry_support import register_volunteer as register_person

    number = register_person(SLUG, divisionCode=YUZHONG)[0].number if fresh else w.member.number
    return {"k": "MEMBERS", "f": _sheet([["志愿者编号"], [number]]), "g": gid(SLUG, w.team)}


def _import_records(w, actor, fresh) -> dict:
    api = w.slot()[0]
    header = ["志愿者编号", "服务日期", "开始时间", "结束时间", "服务时长", "服务内容"]
    row = [w.member.number, *(api[k] for k in ("serviceDate", "startTime", "endTime"))]
    row += [api["hours"], api["content"]]
    return {"k": "RECORDS", "f": _sheet([header, row]), "p": gid(SLUG, w.live)}


IMPORT_ROWS = m(
    "importRows",
    "$k: ImportKind!, $f: Upload!, $g: ID, $p: ID",
    "kind: $k, file: $f, groupId: $g, projectId: $p",
)


PUBLIC = [
    Row("region", "query { region { code } }", none, EVERYONE),
    Row(
        "verifyCertificate",
        "query($c: String!) { verifyCertificate(code: $c) { genuine } }",
        fixed(lambda w: {"c": w.certificate_code}),
        EVERYONE,
    ),
    Row(
        "login",
        m("login", "$u: String!, $p: String!", "username: $u, password: $p"),
        fixed(lambda w: {"u": w.stranger_username, "p": PASSWORD}),
        EVERYONE,
    ),
]

NUMBER = fixed(lambda w: {"n": w.member.number})
TEAM = fixed(lambda w: {"g": gid(SLUG, w.team)})
VOLUNTEERS = ("member", "applicant", "stranger")

QUERIES = [
    Row("me", "query { me { username } }", none, who(*PERSONAS[:7], default=OK, anonymous=NULL)),
    Row(
        "volunteer",
        "query($n: String!) { volunteer(number: $n) { number } }",
        NUMBER,
        who("member", "group_admin", "city"),
    ),
    Row(
        "timeBank",
        "query($n: String!) { timeBank(number: $n) { balance } }",
        NUMBER,
        who("member", "group_admin", "city"),
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id } }",
        fixed(lambda w: {"id": gid(SLUG, w.member)}),
        who("member", "group_admin", "city"),
        label="volunteer",
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id } }",
        fixed(lambda w: {"id": w.pending_group_id}),
        who("city", default=NULL, anonymous=NULL),
        label="pending group",
    ),
    Row(
        "nodes",
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        fixed(lambda w: {"ids": [gid(SLUG, w.member)]}),
        who("member", "group_admin", "city"),
    ),
    Row(
        "volunteers",
        "query { volunteers(first: 5) { edges { node { number } } } }",
        none,
        who("other_hub", "other_county", "city"),
        label="area",
    ),
    Row(
        "volunteers",
        "query($g: ID!) { volunteers(filter: {groupId: $g}) { edges { node { number } } } }",
        TEAM,
        who("group_admin", "city"),
        label="groupId",
    ),
    Row(
        "groups",
        "query { groups(first: 5) { edges { node { id } } } }",
        none,
        who(default=OK, anonymous=OK),
    ),
    Row(
        "group",
        "query($g: ID!) { group(id: $g) { id } }",
        fixed(lambda w: {"g": w.pending_group_id}),
        who("city", default=NULL, anonymous=NULL),
        label="pending",
    ),
    Row(
        "project",
        "query($p: ID!) { project(id: $p) { id } }",
        fixed(lambda w: {"p": w.draft_id}),
        who("group_admin", "city", default=NULL, anonymous=NULL),
        label="draft",
    ),
    # Not the code: it is signed with the time, and the suite runs each query twice
    # (compiled and by graphql-core, schema/compiled.py) and compares the answers.
    Row("myCard", "query { myCard { __typename } }", none, who(*VOLUNTEERS)),
    # 重庆 lets anyone logged in object (objectionRaisers any_account): anyone logged in
    # sees publicity; tests/test_publicity.py covers group_members.
    Row(
        "publicity",
        "query($g: ID!) { publicity(groupId: $g) { edges { node { id } } } }",
        TEAM,
        who(*PERSONAS[:7]),
    ),
    Row(
        "complaints",
        "query($g: ID!) { complaints(groupId: $g) { id } }",
        TEAM,
        who("group_admin", "city"),
        label="groupId",
    ),
    Row(
        "complaints",
        "query { complaints { id } }",
        none,
        who("other_county", "city"),
        label="area",
    ),
    Row(
        "transfers",
        "query { transfers { id } }",
        none,
        who(*VOLUNTEERS, "other_county", "city"),
    ),
    Row(
        "transferBatch",
        "query($b: ID!) { transferBatch(id: $b) { id counts { requested } } }",
        fixed(lambda w: {"b": _shared_batch(w)}),
        who("city", other_county=NULL),
    ),
    Row(
        "transfer",
        "query($t: ID!) { transfer(id: $t) { id } }",
        fixed(lambda w: {"t": w.member_transfer}),
        who(
            "member",
            "city",
            applicant=NULL,
            stranger=NULL,
            other_county=NULL,
        ),
    ),
    Row(
        "transfer",
        "query($t: ID!) { transfer(id: $t) { id } }",
        fixed(lambda w: {"t": w.incoming_requested}),
        # The whole region's authority sees a request it has no volunteer for yet.
        who("city", default=NULL, group_admin=DENIED, other_hub=DENIED),
        label="incoming, requested",
    ),
    Row(
        "myPersonalInfoAccesses",
        "query { myPersonalInfoAccesses { reason } }",
        none,
        who(*VOLUNTEERS),
    ),
    Row(
        "personalInfoAccesses",
        "query { personalInfoAccesses { reason } }",
        none,
        who("other_county", "city"),
    ),
    Row("auditLog", "query { auditLog(first: 1) { action } }", none, who("city")),
    # Every authority, over its own area (tests/test_statistics.py checks the scope).
    Row(
        "statistics",
        "query { statistics { volunteers { total } } }",
        none,
        who("other_county", "city"),
    ),
]

STAFF = ("group_admin", "other_hub", "other_county", "city")

MUTATIONS = [
    # accounts and volunteers
    Row(
        "logout",
        m("logout", "", ""),
        none,
        who(*PERSONAS[:7]),
        fresh_token=True,
    ),
    Row(
        "unlockAccount",
        m("unlockAccount", "$u: String!", 'username: $u, reason: "本人来电核实"'),
        fixed(lambda w: {"u": w.admins["team"]}),
        who("city"),  # a 渝中 team's admin: not 沙坪坝's to unlock
    ),
    Row(
        "changePassword",
        m("changePassword", "$c: String!, $n: String!", "currentPassword: $c, newPassword: $n"),
        fixed(lambda w: {"c": PASSWORD, "n": "Quite-another-2027"}),
        who(*PERSONAS[:7]),
        twin=frozenset(PERSONAS[:7]),  # each changes its own: a look-alike does
    ),
    Row(
        "resetPassword",
        m("resetPassword", "$u: String!", "username: $u"),
        # A fresh volunteer of 渝中 each time: the city's, not 沙坪坝's, to reset.
        lambda w, a, fresh: {"u": register_volunteer(SLUG, divisionCode=YUZHONG)[1]},
        who("city"),
    ),
    Row(
        "registerVolunteer",
        m("registerVolunteer", "$input: RegisterVolunteerInput!", "input: $input"),
        lambda w, a, fresh: {"input": _volunteer_input(w, own_account=True)},
        # Another county's authority registers someone only in its own county (003 第四条).
        who(*STAFF, default=CONFLICT, anonymous=OK, other_county=DENIED),
        label="self",
        twin=frozenset(STAFF),
    ),
    Row(
        "registerVolunteer",
        m(
            "registerVolunteer",
            "$input: RegisterVolunteerInput!, $g: ID",
            "input: $input, groupId: $g",
        ),
        lambda w, a, fresh: {
            "input": _volunteer_input(w, own_account=False),
            "g": gid(SLUG, w.team),
        },
        who("group_admin"),
        label="into a group",
    ),
    Row(
        "reviewVolunteerVerification",
        m("reviewVolunteerVerification", "$n: String!", "number: $n, approve: true"),
        lambda w, a, fresh: {"n": (w.new_member() if fresh else w.member).number},
        who("group_admin", "city"),
    ),
    Row(
        "setVolunteerStatus",
        m("setVolunteerStatus", "$n: String!", 'number: $n, status: WARNED, reason: "多次迟到"'),
        lambda w, a, fresh: {"n": (w.new_member() if fresh else w.member).number},
        who("group_admin", "city"),
    ),
    Row(
        "setVolunteerDivision",
        m("setVolunteerDivision", "$n: String!", f'number: $n, divisionCode: "{YUZHONG}"'),
        NUMBER,
        # The volunteer, or an authority holding both divisions: a group cannot move
        # its member out of an authority's reach.
        who("member", "city"),
    ),
    Row(
        "revealPersonalInfo",
        m("revealPersonalInfo", "$n: String!", 'number: $n, reason: "核对保险"'),
        NUMBER,
        who("member", "group_admin", "city"),
    ),
    # groups and membership
    Row(
        "registerGroup",
        m("registerGroup", "$input: RegisterGroupInput!", "input: $input"),
        _group_input,
        who(*PERSONAS[:7], anonymous=OK),
    ),
    Row(
        "reviewGroup",
        m("reviewGroup", "$g: ID!", "groupId: $g, approve: true"),
        lambda w, a, fresh: {"g": w.pending_group() if fresh else w.pending_group_id},
        who("city"),
    ),
    Row(
        "setPermissionGroup",
        m("setPermissionGroup", "$g: ID!", 'groupId: $g, permissionGroup: "基本团体组"'),
        TEAM,
        who("city"),
    ),
    Row(
        "setGroupDivision",
        m("setGroupDivision", "$g: ID!", f'groupId: $g, divisionCode: "{YUZHONG}"'),
        TEAM,
        who("city"),  # an authority holding both divisions; 沙坪坝's holds neither
    ),
    Row(
        "applyToGroup",
        m("applyToGroup", "$g: ID!", "groupId: $g, share: [SKILLS]"),
        fixed(lambda w: {"g": gid(SLUG, w.orgs["open"])}),
        who(*VOLUNTEERS),
    ),
    Row(
        "respondToInvitation",
        m("respondToInvitation", "$m: ID!", "membershipId: $m, accept: false"),
        fixed(lambda w: {"m": w.invitation}),
        who("member", default=NOT_FOUND),
    ),
    Row(
        "decideMembership",
        m("decideMembership", "$m: ID!", "membershipId: $m, approve: false"),
        lambda w, a, fresh: {"m": w.team_application() if fresh else w.application},
        who("group_admin"),
    ),
    Row(
        "addMember",
        m("addMember", "$g: ID!, $n: String!", "groupId: $g, number: $n"),
        lambda w, a, fresh: {
            "g": gid(SLUG, w.team),
            "n": (w.new_outsider() if fresh else w.stranger).number,
        },
        who("group_admin"),
    ),
    Row(
        "leaveGroup",
        m("leaveGroup", "$g: ID!", "groupId: $g"),
        fixed(lambda w: {"g": gid(SLUG, w.orgs["side"])}),
        who("member", "applicant", stranger=NOT_FOUND),
        label="self",
    ),
    Row(
        "leaveGroup",
        m("leaveGroup", "$g: ID!, $n: String", "groupId: $g, number: $n"),
        lambda w, a, fresh: {
            "g": gid(SLUG, w.team),
            "n": (w.new_member() if fresh else w.member).number,
        },
        who("group_admin"),
        label="remove a member",
    ),
    Row(
        "createStaffAccount",
        m(
            "createStaffAccount",
            "$g: ID!, $u: String!",
            f'groupId: $g, role: RECORDER, username: $u, password: "{PASSWORD}", '
            'displayName: "记录员"',
        ),
        lambda w, a, fresh: {"g": gid(SLUG, w.team), "u": unique("rec")},
        who("group_admin"),
    ),
    # projects
    Row(
        "createProject",
        m("createProject", "$g: ID!, $input: ProjectInput!", "groupId: $g, input: $input"),
        lambda w, a, fresh: {
            "g": gid(SLUG, w.team),
            "input": {
                "name": unique("表项目"),
                "category": "COMMUNITY_SERVICE",
                "serviceTargets": "社区居民",
                "place": "解放碑",
                "startsOn": w.today.isoformat(),
                "endsOn": w.today.isoformat(),
                "quota": 5,
                "riskNotice": "注意交通安全",
                "contact": "王老师",
            },
        },
        who("group_admin"),
    ),
    Row(
        "submitProject",
        m("submitProject", "$p: ID!", "projectId: $p"),
        lambda w, a, fresh: {"p": w.draft() if fresh else w.draft_id},
        who("group_admin"),
    ),
    Row(
        "updateProject",
        m("updateProject", "$p: ID!, $input: ProjectInput!", "projectId: $p, input: $input"),
        lambda w, a, fresh: {
            "p": w.draft() if fresh else w.draft_id,
            "input": {
                "name": unique("表项目"),
                "category": "COMMUNITY_SERVICE",
                "serviceTargets": "社区居民",
                "place": "解放碑",
                "startsOn": w.today.isoformat(),
                "endsOn": w.today.isoformat(),
                "quota": 6,
                "riskNotice": "注意交通安全",
                "contact": "王老师",
            },
        },
        who("group_admin"),
    ),
    Row(
        "cancelProject",
        m("cancelProject", "$p: ID!", 'projectId: $p, reason: "场地不可用"'),
        lambda w, a, fresh: {"p": w.draft() if fresh else w.draft_id},
        who("group_admin"),
    ),
    Row(
        "withdrawApplication",
        m("withdrawApplication", "$a: ID!", "applicationId: $a"),
        lambda w, a, fresh: {"a": w.own_application(a) if fresh else w.project_application_id},
        who(*VOLUNTEERS),
    ),
    Row(
        "reviewProject",
        m("reviewProject", "$p: ID!", "projectId: $p, approve: true"),
        lambda w, a, fresh: {"p": w.pending_project() if fresh else w.pending_project_id},
        who("city"),
    ),
    Row(
        "applyToProject",
        m("applyToProject", "$p: ID!", "projectId: $p"),
        fixed(lambda w: {"p": gid(SLUG, w.open)}),
        who(*VOLUNTEERS),
    ),
    Row(
        "decideProjectApplication",
        m("decideProjectApplication", "$a: ID!", "applicationId: $a, accept: true"),
        lambda w, a, fresh: {"a": w.project_application() if fresh else w.project_application_id},
        who("group_admin"),
    ),
    # time recording and the record lifecycle
    Row(
        "recordHours",
        m(
            "recordHours",
            "$p: ID!, $n: String!, $input: RecordInput!",
            "projectId: $p, number: $n, input: $input",
        ),
        lambda w, a, fresh: {"p": gid(SLUG, w.live), "n": w.member.number, "input": w.slot()[0]},
        who("group_admin"),
    ),
    Row(
        "declareHours",
        m("declareHours", "$p: ID!, $input: RecordInput!", "projectId: $p, input: $input"),
        lambda w, a, fresh: {"p": gid(SLUG, w.live), "input": w.slot()[0]},
        who("member", applicant=CONFLICT, stranger=CONFLICT),
    ),
    Row(
        "decideDeclaration",
        m("decideDeclaration", "$r: ID!", "recordId: $r, accept: true"),
        lambda w, a, fresh: {"r": w.declared() if fresh else w.declared_id},
        who("group_admin"),
    ),
    Row(
        "checkIn",
        m("checkIn", "$p: ID!, $c: String!", "projectId: $p, cardCode: $c"),
        lambda w, a, fresh: {
            "p": gid(SLUG, w.live),
            "c": w.card(w.new_member() if fresh else w.member),
        },
        who("group_admin"),
    ),
    Row(
        "cancelCheckIn",
        m("cancelCheckIn", "$p: ID!, $c: String!", "projectId: $p, cardCode: $c"),
        lambda w, a, fresh: {
            "p": gid(SLUG, w.live),
            "c": w.checked_in() if fresh else w.card(w.member),
        },
        who("group_admin"),
    ),
    Row(
        "checkOut",
        m("checkOut", "$p: ID!, $c: String!", "projectId: $p, cardCode: $c"),
        lambda w, a, fresh: {
            "p": gid(SLUG, w.live),
            "c": w.checked_in(hours_ago=2) if fresh else w.card(w.member),
        },
        who("group_admin"),
    ),
    Row("rotateCard", m("rotateCard", "", ""), none, who(*VOLUNTEERS)),
    Row(
        "raiseObjection",
        m("raiseObjection", "$r: ID!", 'recordId: $r, reason: "时长不符"'),
        fixed(lambda w: {"r": w.publicity_id}),
        who(*PERSONAS[:7]),
    ),
    Row(
        "resolveObjection",
        m("resolveObjection", "$o: ID!", 'objectionId: $o, upheld: false, reason: "核实无误"'),
        lambda w, a, fresh: {"o": w.objection() if fresh else w.objection_id},
        who("group_admin", "city"),
    ),
    Row(
        "confirmRecord",
        m("confirmRecord", "$r: ID!", "recordId: $r"),
        lambda w, a, fresh: {"r": w.awaiting() if fresh else w.awaiting_id},
        who("city"),
    ),
    Row(
        "amendRecord",
        m(
            "amendRecord",
            "$r: ID!",
            'recordId: $r, changes: {content: "陪伴老人、读报"}, reason: "补充服务内容"',
        ),
        fixed(lambda w: {"r": gid(SLUG, w.counted)}),
        who("group_admin"),
    ),
    Row(
        "requestCorrection",
        m("requestCorrection", "$g: ID!", 'groupId: $g, description: "少记了一次服务"'),
        TEAM,
        who(*VOLUNTEERS),
    ),
    Row(
        "amendForCorrection",
        m(
            "amendForCorrection",
            "$q: ID!",
            'requestId: $q, changes: {content: "陪伴老人"}, reason: "按申请更正"',
        ),
        lambda w, a, fresh: {"q": w.correction() if fresh else w.correction_id},
        who("group_admin"),
    ),
    Row(
        "recordMissingForCorrection",
        m(
            "recordMissingForCorrection",
            "$q: ID!, $p: ID!, $input: RecordInput!",
            "requestId: $q, projectId: $p, input: $input",
        ),
        lambda w, a, fresh: {
            "q": w.correction() if fresh else w.correction_id,
            "p": gid(SLUG, w.live),
            "input": w.slot()[0],
        },
        who("group_admin"),
    ),
    Row(
        "declineCorrection",
        m("declineCorrection", "$q: ID!", 'requestId: $q, reason: "记录无误"'),
        lambda w, a, fresh: {"q": w.correction() if fresh else w.correction_id},
        who("group_admin", "city"),
    ),
    Row(
        "applyForStar",
        m("applyForStar", "$g: ID", "level: 2, groupId: $g"),
        TEAM,
        who("member", applicant=INVALID, stranger=INVALID),
    ),
    Row(
        "decideStarApplication",
        m("decideStarApplication", "$a: ID!", "applicationId: $a, grant: true"),
        lambda w, a, fresh: {"a": w.star_application() if fresh else w.star_application_id},
        who("group_admin"),
    ),
    # trainings, awards, complaints
    Row(
        "recordTraining",
        m("recordTraining", "$input: RecordTrainingInput!", "input: $input"),
        fixed(_training),
        who("group_admin", "city"),
    ),
    Row(
        "recordAward",
        m("recordAward", "$input: RecordAwardInput!", "input: $input"),
        fixed(_award),
        who("group_admin", "city"),
    ),
    Row(
        "fileComplaint",
        m("fileComplaint", "$input: FileComplaintInput!", "input: $input"),
        fixed(_complaint),
        who("group_admin", "city"),
    ),
    Row(
        "startComplaintInvestigation",
        m("startComplaintInvestigation", "$c: ID!", "complaintId: $c"),
        lambda w, a, fresh: {"c": w.complaint() if fresh else w.complaint_id},
        who("group_admin", "city"),
    ),
    Row(
        "decideComplaint",
        m("decideComplaint", "$c: ID!", 'complaintId: $c, upheld: false, reason: "核查不属实"'),
        lambda w, a, fresh: {"c": w.complaint(investigating=True) if fresh else w.investigated_id},
        who("group_admin", "city"),
    ),
    # certificates
    Row(
        "uploadGroupSeal",
        m("uploadGroupSeal", "$g: ID!, $seal: Upload!", "groupId: $g, seal: $seal"),
        fixed(lambda w: {"g": gid(SLUG, w.team), "seal": File("seal.png", _png(), "image/png")}),
        who("group_admin"),
    ),
    Row(
        "issueCertificate",
        m("issueCertificate", "$n: String!, $g: ID!", "number: $n, groupId: $g"),
        fixed(lambda w: {"n": w.member.number, "g": gid(SLUG, w.team)}),
        who("member", "group_admin"),
    ),
    Row(
        "certificateDownloadLink",
        m("certificateDownloadLink", "$c: String!", "code: $c"),
        lambda w, a, fresh: {"c": w.certificate_code},
        who("member", "group_admin", "city"),
    ),
    Row(
        "revokeCertificate",
        m("revokeCertificate", "$c: String!", 'code: $c, reason: "信息有误"'),
        lambda w, a, fresh: {"c": w.certificate() if fresh else w.certificate_code},
        who("group_admin", "city"),
    ),
    # reports and exports (issue 12 point 6): a group's staff, the authority of its area
    Row(
        "exportLink",
        m("exportLink", "$g: ID!", "input: {kind: RECORDS, format: CSV, groupId: $g}"),
        fixed(lambda w: {"g": gid(SLUG, w.team)}),
        who("group_admin", "city"),
        label="group",
    ),
    # transfers between regions
    Row(
        "requestTransfer",
        m("requestTransfer", "", 'toRegion: "530000"'),
        none,
        who(*VOLUNTEERS),
        twin=frozenset({"member"}),  # the member's own transfer is under way already
    ),
    Row(
        "requestIncomingTransfer",
        m(
            "requestIncomingTransfer",
            "$n: String!",
            'fromRegion: "530000", volunteerNumber: $n',
        ),
        lambda w, a, fresh: {"n": w.yunnan_volunteer()[0].number if fresh else w.yunnan_target},
        who("other_county", "city"),
    ),
    Row(
        "consentTransfer",
        m("consentTransfer", "$t: ID!", "transferId: $t, offline: true"),
        _consent_target,
        who("member"),
        twin=frozenset({"member"}),
    ),
    Row(
        "rejectTransfer",
        m("rejectTransfer", "$t: ID!", 'transferId: $t, reason: "暂不转移"'),
        _reject_target,
        who("member", "city"),
        twin=frozenset({"member"}),
    ),
    Row(
        "requestGroupTransfer",
        m(
            "requestGroupTransfer",
            "$g: ID!, $n: [String!]",
            'groupId: $g, toRegion: "530000", reason: "区划调整", volunteerNumbers: $n',
        ),
        _group_transfer,
        who("city"),  # the team is in 渝中: not the 沙坪坝 authority's
    ),
    Row(
        "cancelTransferBatch",
        m("cancelTransferBatch", "$b: ID!", 'batchId: $b, reason: "撤回"'),
        lambda w, a, fresh: {"b": _batch(w) if fresh else _shared_batch(w)},
        who("city"),
    ),
    Row(
        "revealTransferPackage",
        m("revealTransferPackage", "$t: ID!", 'transferId: $t, reason: "核对转移档案"'),
        _moved_package,
        who("member", "group_admin", "city"),
        twin=frozenset({"member"}),
    ),
    Row(
        "revealTransferPackage",
        m("revealTransferPackage", "$t: ID!", 'transferId: $t, reason: "核对转移档案"'),
        fixed(lambda w: {"t": w.incoming_imported}),
        who("city"),  # a newcomer lives in the region's own division until they say
        label="incoming",
    ),
    Row(
        "revealPersonalInfo",
        m("revealPersonalInfo", "$n: String!", 'number: $n, reason: "核对转移档案"'),
        fixed(lambda w: {"n": w.imported_number}),
        who("city"),
        label="transferred in",
    ),
    Row(
        "importTransferPackage",
        m("importTransferPackage", "$f: Upload!", "file: $f"),
        _package,
        who("other_county", "city"),
    ),
    # 时长储蓄 (000 Art.20; 重庆's policy has one): the team's staff spend what the
    # member saved with it.
    Row(
        "recordTimeBankWithdrawal",
        m(
            "recordTimeBankWithdrawal",
            "$g: ID!, $n: String!, $c: String!",
            'groupId: $g, number: $n, input: {hours: "1", serviceDate: "2026-11-02", '
            'content: "上门理发", cardCode: $c}',
        ),
        # The member shows their card: the hours are theirs to spend.
        fixed(
            lambda w: {
                "g": gid(SLUG, w.team),
                "n": w.member.number,
                "c": card_of(SLUG, w.member.number),
            }
        ),
        who("group_admin"),
    ),
    # statistics' inputs (004 §4.2): the authority of the division or group only
    Row(
        "setDivisionPopulation",
        m("setDivisionPopulation", "", 'divisionCode: "500103", population: 660000'),
        none,
        who("city"),  # 渝中区: not 沙坪坝's
    ),
    Row(
        "setUnitStaff",
        m("setUnitStaff", "$g: ID!", "groupId: $g, sector: OTHER, staff: 30"),
        fixed(lambda w: {"g": gid(SLUG, w.team)}),
        who("city"),  # the 渝中 team: not 沙坪坝's
    ),
    Row(
        "importRows",
        IMPORT_ROWS,
        _import_volunteers(into_group=True),
        who("group_admin"),
        label="volunteers into a group",
    ),
    Row(
        "importRows",
        IMPORT_ROWS,
        _import_volunteers(into_group=False),
        # Another county's authority passes the gate; the row outside its area fails.
        who("city", other_county=INVALID),
        label="volunteers by an authority",
    ),
    Row("importRows", IMPORT_ROWS, _import_members, who("group_admin"), label="members"),
    Row("importRows", IMPORT_ROWS, _import_records, who("group_admin"), label="records"),
]

ROWS = PUBLIC + QUERIES + MUTATIONS


def outcome(body: dict, field: str) -> str:
    """ "ok", "null", or the error code: a top-level error's, else the payload's first."""
    if body.get("errors"):
        error = body["errors"][0]
        return error.get("extensions", {}).get("code") or f"GRAPHQL: {error['message']}"
    value = body["data"][field]
    if value is None:
        return NULL
    if isinstance(value, dict) and value.get("errors"):
        return value["errors"][0]["code"]
    return OK


def test_every_root_field_has_a_row():
    from graphql import build_schema

    from schema.region import schema

    built = build_schema(schema.as_str())
    assert built.query_type is not None and built.mutation_type is not None
    fields = set(built.query_type.fields) | set(built.mutation_type.fields)
    assert {row.field for row in ROWS} == fields
    assert all(set(row.expect) == set(PERSONAS) for row in ROWS)
    # README's table names every root field too.
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Who may do what, where")[1].split("\n## ")[0]
    assert fields - set(re.findall(r"`(\w+)`", section)) == set()


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_who_may_do_what(world, row):
    is_mutation = row.doc.startswith("mutation")
    seen = {}
    # Refusals first, on the shared target; then whoever may, each on a target of its own.
    for persona in sorted(PERSONAS, key=lambda p: row.expect[p] == OK):
        fresh = is_mutation and row.expect[persona] == OK
        actor = world.actor(persona)
        if row.fresh_token:
            actor = world.relogin(actor)
        if fresh and persona in row.twin:
            actor = world.twin(persona)
        body = world.send(actor, row.doc, row.variables(world, actor, fresh))
        seen[persona] = outcome(body, row.field)
    wrong = {p: f"{seen[p]} (table: {row.expect[p]})" for p in PERSONAS if seen[p] != row.expect[p]}
    assert not wrong, wrong
