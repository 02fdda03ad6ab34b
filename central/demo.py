"""Sample data for newcomers (``manage.py up --demo``, ``manage.py demo``).

Each seed region gets a small, realistic data set from the data generator
(``tenants.generator.data``, which writes what the services would), and three
accounts made by the accounts services: an authority, the admin of one group
(with the group's seal on file, so it can issue certificates) and one volunteer
of that group with counted hours. The passwords are fixed and printed, so the
README's walkthrough can be pasted as it stands: demo data is for a developer's
machine, and ``PLATFORM_ENV=production`` refuses it.

Every step is idempotent: the generated data is recognised by its seed (the
generator's ``data.generated`` audit entry), the accounts by their usernames
and the seal by its row, so a second run adds nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils.translation import gettext as _
from django_tenants.utils import tenant_context

from central.errors import Conflict
from central.models import Region
from tenants.accounts import services as accounts
from tenants.accounts.models import Account, AuthorityLevel, Role, RoleKind
from tenants.audit.models import AuditEntry
from tenants.certificates import services as certificates
from tenants.certificates.models import GroupSeal
from tenants.certificates.pdf import render_seal_placeholder_png
from tenants.generator import data as generate
from tenants.groups.models import GroupKind, Membership, MembershipStatus, Review
from tenants.records.models import RecordState, ServiceRecord
from tenants.volunteers.models import Verification, Volunteer, VolunteerStatus

ACTOR = "cli:demo"
# Small enough to load in a second or two per region, large enough to page through.
PLAN = {"volunteers": 40, "groups": 8, "records_per_volunteer": 6}
CANDIDATES = PLAN["volunteers"]  # where the walkthrough's volunteer is chosen from


@dataclass(frozen=True)
class DemoLogin:
    role: str  # authority, group_admin or volunteer
    username: str
    password: str
    about: str  # the group's name, or the volunteer's number and name


@dataclass
class DemoRegion:
    region: Region
    generated: bool  # False: the sample data was there already
    accounts_created: int
    logins: list[DemoLogin]
    volunteers: int = 0
    records: int = 0


def username(region: Region, role: str) -> str:
    return f"{region.slug}.{role.replace('_', '-')}"


def password(region: Region, role: str) -> str:
    # Fixed on purpose (see the module docstring): demo-chongqing-volunteer, …
    return f"demo-{region.slug}-{role.replace('_', '-')}"


def demo_seed(region: Region) -> int:
    """The generator's seed for a region's demo data: the same data on every machine."""
    return int(region.code)


def refuse_in_production() -> None:
    if settings.PRODUCTION:
        raise Conflict(_("demo data has published passwords; it is refused in production"))


def load(region: Region) -> DemoRegion:
    """The demo data and accounts of one region, added where missing."""
    refuse_in_production()
    seed = demo_seed(region)
    with tenant_context(region):
        generated = not AuditEntry.objects.filter(
            action="data.generated", actor=generate.ACTOR, detail__seed=seed
        ).exists()
    if generated:
        generate.generate(region, generate.Plan(**PLAN, seed=seed))
    with tenant_context(region):
        created = _ensure_accounts(region)
        _ensure_seal(region)
        result = DemoRegion(region, generated, created, logins(region))
        result.volunteers = Volunteer.objects.count()
        result.records = ServiceRecord.objects.count()
    return result


def load_all(
    regions: list[Region], on_progress: Callable[[int, int, DemoRegion], None] | None = None
) -> list[DemoRegion]:
    """:func:`load` for each active region in turn (a suspended one is written to by no path)."""
    active = [region for region in regions if not region.is_suspended]
    results = []
    for index, region in enumerate(active, start=1):
        results.append(load(region))
        if on_progress:
            on_progress(index, len(active), results[-1])
    return results


def _pick_group_and_volunteer() -> tuple[object, Volunteer]:
    """The group and the volunteer the walkthrough uses: an active, verified volunteer
    whose only membership is an active one in an approved group (non-hub preferred),
    with the most hours that group counted for them."""
    # The newest volunteers are the demo's own (a region may hold millions more).
    candidates = list(
        Volunteer.objects.filter(
            status=VolunteerStatus.ACTIVE, verification=Verification.VERIFIED
        ).order_by("-id")[:CANDIDATES]
    )
    memberships: dict[int, list[Membership]] = {}
    for membership in Membership.objects.filter(volunteer__in=candidates).select_related(
        "group", "volunteer"
    ):
        memberships.setdefault(membership.volunteer_id, []).append(membership)
    counted = Counter(
        ServiceRecord.objects.filter(
            state=RecordState.COUNTED, volunteer__in=candidates
        ).values_list("volunteer_id", "group_id")
    )
    best = None
    for mine in memberships.values():
        if len(mine) != 1:
            continue
        membership = mine[0]
        volunteer, group = membership.volunteer, membership.group
        if (
            membership.status != MembershipStatus.ACTIVE
            or group.review != Review.APPROVED
            or volunteer.status != VolunteerStatus.ACTIVE
            or volunteer.verification != Verification.VERIFIED
            or not counted[(volunteer.id, group.id)]
        ):
            continue
        key = (group.kind == GroupKind.NON_HUB, counted[(volunteer.id, group.id)], -volunteer.id)
        if best is None or key > best[0]:
            best = (key, group, volunteer)
    if best is None:
        raise Conflict(_("the generated data has no volunteer with counted hours in one group"))
    return best[1], best[2]


@transaction.atomic
def _ensure_accounts(region: Region) -> int:
    """The three demo accounts, those missing; how many were created."""
    created = 0
    admin_name = username(region, "group_admin")
    admin = Account.objects.filter(username=admin_name).first()
    if admin is None:
        group, volunteer = _pick_group_and_volunteer()
        admin = accounts.create_account(
            admin_name,
            password(region, "group_admin"),
            _("Demo group admin"),
            actor=ACTOR,
        )
        # A certificate number too, for the regions whose recorders need one (001 §4(4)3).
        accounts.grant_role(
            admin,
            RoleKind.GROUP_ADMIN,
            group=group,
            recorder_certificate=f"DEMO-{region.code}",
            actor=ACTOR,
        )
        created += 1
    else:
        group = admin.roles.get(kind=RoleKind.GROUP_ADMIN).group
        volunteer = None
    volunteer_name = username(region, "volunteer")
    if not Account.objects.filter(username=volunteer_name).exists():
        volunteer = volunteer or _pick_group_and_volunteer()[1]
        accounts.create_account(
            volunteer_name,
            password(region, "volunteer"),
            volunteer.name,
            volunteer=volunteer,
            actor=ACTOR,
        )
        created += 1
    authority_name = username(region, "authority")
    if not Account.objects.filter(username=authority_name).exists():
        level = {"city": AuthorityLevel.CITY, "county": AuthorityLevel.COUNTY}.get(
            region.level, AuthorityLevel.PROVINCE
        )
        accounts.create_authority_account(
            authority_name,
            password(region, "authority"),
            _("Demo authority"),
            level,
            f"{region.name}民政局",
            division_code=region.code,
            region_code=region.code,
            actor=ACTOR,
        )
        created += 1
    return created


def _ensure_seal(region: Region) -> None:
    """The demo group's seal (a placeholder marked 样章), uploaded by its admin."""
    admin = Account.objects.get(username=username(region, "group_admin"))
    roles = list(Role.objects.filter(account=admin).select_related("group"))
    group = roles[0].group
    assert group is not None  # the demo's group admin administers its group
    if GroupSeal.objects.filter(group=group).exists():
        return
    upload = SimpleUploadedFile(
        "seal.png", render_seal_placeholder_png(group.name), content_type="image/png"
    )
    certificates.upload_seal(
        group_id=group.id,
        upload=upload,
        principal=accounts.AccountPrincipal(account=admin, roles=roles),
    )


def logins(region: Region) -> list[DemoLogin]:
    """The region's demo logins (inside the region's schema)."""
    admin = Account.objects.get(username=username(region, "group_admin"))
    group = admin.roles.get(kind=RoleKind.GROUP_ADMIN).group
    volunteer = Account.objects.select_related("volunteer").get(
        username=username(region, "volunteer")
    )
    authority = Role.objects.get(
        account__username=username(region, "authority"), kind=RoleKind.AUTHORITY
    )
    person = volunteer.volunteer
    assert group is not None and person is not None  # the demo made both
    return [
        DemoLogin(
            "authority",
            username(region, "authority"),
            password(region, "authority"),
            authority.authority_name,
        ),
        DemoLogin(
            "group_admin",
            admin.username,
            password(region, "group_admin"),
            group.name,
        ),
        DemoLogin(
            "volunteer",
            volunteer.username,
            password(region, "volunteer"),
            f"{person.number} {person.name}",
        ),
    ]
