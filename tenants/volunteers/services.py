"""Registering volunteers (志愿者注册), real-name verification, status, and
revealing personal information.

Rules: 000 Art.5–7 (what is recorded), 000 Art.3 and Art.15 and the national
regulation Art.20 (privacy), 003 Art.7 (age and guardian consent, through the
policy's ``guardian_consent_below_age``). The ID number is checked with
python-stdnum (GB 11643 checksum, and the birth date inside it must agree).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from stdnum.cn import ric
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
)
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.iso7064 import mod_11_2

from central.divisions import PROVINCE_PREFIXES, DivisionCodeError, check_division_in_region
from central.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProblemCollector,
    Throttled,
)
from central.messages import resident_id_message, shown
from central.models import HomeRegion, Region
from central.policy import Power, RegionPolicy
from central.throttle import check_refusals, count_refusal
from interop import federation, signing
from tenants.accounts import services as accounts
from tenants.accounts.models import LoginThrottle
from tenants.accounts.principal import Principal
from tenants.audit.services import record
from tenants.groups.models import Membership, MembershipStatus, VolunteerGroup
from tenants.groups.permissions import require_group_staff, require_power
from tenants.volunteers import pii
from tenants.volunteers.models import (
    Gender,
    IdType,
    PersonalInfoAccess,
    Verification,
    Volunteer,
    VolunteerStatus,
)
from tenants.volunteers.permissions import may_manage, may_move, may_reveal
from tenants.volunteers.selectors import volunteer_for

PHONE = re.compile(r"^1[3-9]\d{9}$")
# Loose shapes for documents python-stdnum has no module for.
OTHER_ID_SHAPES: dict[str, re.Pattern[str]] = {
    IdType.PASSPORT: re.compile(r"^[A-Z0-9]{5,17}$"),
    IdType.HK_MACAO_PERMIT: re.compile(r"^[HM]\d{8,10}$"),
    IdType.TAIWAN_PERMIT: re.compile(r"^\d{8}$|^[A-Z]\d{9}$"),
    IdType.FOREIGN_PERMANENT_RESIDENT: re.compile(r"^[A-Z]{3}\d{12}$|^9\d{17}$"),
}


@dataclass
class VolunteerRegistration:
    name: str
    gender: str
    birth_date: datetime.date | None  # None is reported as a problem
    id_type: str
    id_number: str
    phone: str
    service_area: str = ""
    service_intentions: list[str] = field(default_factory=list)
    skills: list[str] = field(default_factory=list)
    guardian_name: str = ""
    guardian_consent: bool = False
    # 所在县（区）: a GB/T 2260 code inside the region; by default the registering
    # group's division, else the region's own (then only region-wide staff reach them).
    division_code: str = ""
    # A new account, for self-registration (or when a group opens one for the volunteer).
    username: str = ""
    password: str = ""


def volunteer_number(region_code: str, year: int, sequence: int) -> str:
    """志愿者编号: division code (6) + year (2) + sequence (8) + ISO 7064 MOD 11-2 check.

    E.g. ``5000002600000001`` + check → ``50000026000000013``. The number starts
    with the region that registered the volunteer and never changes, also
    after a transfer.
    """
    body = f"{region_code}{year % 100:02d}{sequence:08d}"
    return body + mod_11_2.calc_check_digit(body)


def check_resident_id(number: str) -> str:
    """GB 11643: 18 characters, check digit, a real birth date, a real province.

    python-stdnum's ``ric.validate`` also looks the county up in a table that
    lacks every 重庆 county and divisions created since (随州 4213xx), which
    would refuse real people; so the county is not checked, the province is.
    """
    number = ric.compact(number)
    if len(number) != 18:
        raise InvalidLength()
    if not number[:-1].isdigit():
        raise InvalidFormat()
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidChecksum()
    ric.get_birth_date(number)
    if number[:2] not in PROVINCE_PREFIXES:
        raise InvalidComponent()
    return number


def age_on(birth_date: datetime.date, day: datetime.date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _check(problems: ProblemCollector, data: VolunteerRegistration, policy: RegionPolicy) -> str:
    """Validate a registration; return the compact ID number."""
    name = (data.name or "").strip()
    if not name or len(name) > 64:
        problems.add("name", _("give a name of 1 to 64 characters"))
    if data.gender not in Gender.values:
        problems.add("gender", _("one of %(choices)s") % {"choices": ", ".join(Gender.values)})
    today = timezone.localdate()
    if not isinstance(data.birth_date, datetime.date) or data.birth_date > today:
        problems.add("birthDate", _("give a birth date that is not in the future"))
    elif age_on(data.birth_date, today) > 120:
        problems.add("birthDate", _("more than 120 years ago"))
    number = pii.normalise(data.id_number or "")
    if data.id_type not in IdType.values:
        problems.add("idType", _("one of %(choices)s") % {"choices": ", ".join(IdType.values)})
    elif data.id_type == IdType.RESIDENT_ID:
        try:
            number = check_resident_id(number)
            if isinstance(data.birth_date, datetime.date) and ric.get_birth_date(number) != (
                data.birth_date
            ):
                problems.add("birthDate", _("does not match the birth date in the ID number"))
        except StdnumError as error:
            problems.add(
                "idNumber",
                resident_id_message(error),
            )
    elif not OTHER_ID_SHAPES[data.id_type].match(number):
        problems.add(
            "idNumber", _("not a valid %(label)s number") % {"label": IdType(data.id_type).label}
        )
    phone = pii.normalise(data.phone or "")
    if not PHONE.match(phone):
        problems.add("phone", _("a mainland mobile number of 11 digits, e.g. 13812345678"))
    threshold = policy.guardian_consent_below_age
    is_minor = (
        threshold is not None
        and isinstance(data.birth_date, datetime.date)
        and age_on(data.birth_date, today) < threshold
    )
    if is_minor and not (data.guardian_consent and (data.guardian_name or "").strip()):
        problems.add(
            "guardianConsent",
            _(
                "volunteers under %(threshold)s register with their "
                "guardian's consent: give guardianName and guardianConsent: "
                "true (003 Art.7)"
            )
            % {"threshold": threshold},
        )
    for attr, label in (("service_intentions", "serviceIntentions"), ("skills", "skills")):
        values = getattr(data, attr) or []
        if len(values) > 20 or any(not str(v).strip() or len(str(v)) > 40 for v in values):
            problems.add(label, _("at most 20 entries of 1 to 40 characters"))
    return number


def _division(
    problems: ProblemCollector, data, group, region: Region, principal: Principal | None
) -> str:
    """Where the volunteer lives (所在县（区）): given, or the group's, or the region's.

    An authority registering outside a group registers only within its own area
    (003_d5ca8bfa6cff6808.txt 第四条: 市、县民政部门负责本行政区域内…): a code it
    does not cover is refused, and with no code given it is its own division
    when it holds just one."""
    authority = principal if group is None and principal and principal.is_authority else None
    given = (data.division_code or "").strip()
    if not given:
        if group is not None:
            return group.division_code
        if authority is None or authority.covers(region.code):
            return region.code
        own = {role.division_code for role in authority.authority_roles}
        if len(own) == 1:
            return own.pop()
        problems.add("divisionCode", _("say which division of your area the volunteer lives in"))
        return ""
    try:
        code = check_division_in_region(given, region.code)
    except DivisionCodeError as error:
        problems.add("divisionCode", str(error))
        return ""
    if authority is not None and not authority.covers(code):
        raise PermissionDenied(
            _("%(division)s lies outside your area") % {"division": code},
            field="divisionCode",
        )
    return code


def _next_number(region_code: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('volunteer_number_seq')")
        sequence = cursor.fetchone()[0]
    return volunteer_number(region_code, timezone.localdate().year, sequence)


# Marked for the catalog here, translated where it is raised.
ALREADY_REGISTERED = gettext_noop(
    "this person is already registered (here or elsewhere); if elsewhere, ask for a "
    "transfer (转移接续) of their records instead of registering again"
)


class AlreadyRegistered(Conflict):
    """The ID number is already registered, here or elsewhere (one home region,
    issue 10 finding 11): a refusal that tells its caller the person exists, so it
    is audited and, per client address, throttled (audit round 3)."""

    def __init__(self, message: str):
        super().__init__(message, field="idNumber")


def _federation_conflict(
    id_number: str, region: Region, principal: Principal | None = None
) -> None:
    """Issue 11 finding 11: one home region across the federation. The peers'
    home-region directories are asked by keyed hash (``interop.federation``); a
    person registered in another deployment is refused like a local one — the
    region named only to the authority. A peer that cannot answer refuses the
    registration (``UNAVAILABLE``; see ``interop/federation.py`` for why)."""
    elsewhere = federation.home_elsewhere(id_number, region)
    if elsewhere is None:
        return
    if principal is None or not principal.is_authority:
        raise AlreadyRegistered(_(ALREADY_REGISTERED))
    entry = signing.lookup(elsewhere)
    where = f"{entry.name} ({elsewhere})" if entry else elsewhere
    raise AlreadyRegistered(
        _(
            "this person is already registered in %(where)s, served by "
            "another deployment; ask for a transfer (转移接续) of their "
            "records instead of registering again"
        )
        % {"where": where}
    )


def _home_region_conflict(id_hash: str, region: Region, principal: Principal | None = None) -> None:
    """Refuse a person who already has a home region, without making registration
    an oracle (issue 10 finding 11): anyone may try an ID number, so the answer
    names no region — not even whether it is this one — except to the region's
    authority (or a central operator), who may be told where the person is."""
    home = HomeRegion.objects.filter(id_number_hash=id_hash).first()
    if home is None:
        return
    if principal is None or not principal.is_authority:
        raise AlreadyRegistered(_(ALREADY_REGISTERED))
    if home.region_code == region.code:
        raise AlreadyRegistered(_("this ID number is already registered in this region"))
    other = Region.objects.filter(code=home.region_code).first()
    where = other.name if other else home.region_code
    raise AlreadyRegistered(
        _(
            "this person is already registered in %(where)s; ask for a "
            "transfer (转移接续) of their records instead of registering "
            "again"
        )
        % {"where": where}
    )


def register_volunteer(
    *,
    data: VolunteerRegistration,
    region: Region,
    policy: RegionPolicy,
    principal: Principal | None = None,
    group_id: int | None = None,
    address: str | None = None,
    audit_refusal: bool = True,
) -> Volunteer:
    """Register a volunteer: self-registration (with a new account), by a group
    admin into their group (本团体内志愿者管理), or by the region's authority (a new
    account for the volunteer when a username is given; never the authority's own).

    A refusal because the ID number is already registered (:class:`AlreadyRegistered`)
    is audited (``volunteer.registration_refused``: the masked number, the client
    ``address``) unless the caller logs it itself (``audit_refusal=False``: a
    volunteers import). Given the client's ``address`` (the API), such refusals are
    counted per address and, past ``REFUSAL_LIMIT``, the address is refused with
    ``THROTTLED`` before any lookup (``central.throttle.count_refusal``) — for every
    caller but an authority, who is told where the person is registered anyway."""
    group = None
    if group_id is not None:
        principal = accounts.require(principal)
        group = VolunteerGroup.objects.filter(id=group_id).first()
        if group is None:
            raise NotFound(_("no such group"), field="groupId")
        require_group_staff(group, principal)
        require_power(group, Power.MANAGE_OWN_VOLUNTEERS, policy)
    elif principal is not None and principal.volunteer is not None:
        raise Conflict(_("this account already belongs to a volunteer"))
    actor = principal.actor if principal else f"self:{data.username}"
    throttled = address is not None and not (principal is not None and principal.is_authority)
    masked = ""  # the ID number as the audit log may hold it, once it is read

    def refused(reason: str) -> None:
        """Audit a refusal; count an answered one against the address. An address
        locked meanwhile (by concurrent requests: audit round 4) is answered
        ``THROTTLED`` instead, audited ``address_locked``: the refusal is not told."""
        if throttled and reason != "address_locked":
            assert address is not None
            try:
                count_refusal(LoginThrottle, address)
            except Throttled:
                refused("address_locked")
                raise
        if audit_refusal:
            record(
                actor,
                "volunteer.registration_refused",
                "",
                idNumber=masked,
                address=address,
                reason=reason,
                group=group.id if group else None,
            )

    if throttled:  # a locked address learns nothing more, not even of a username
        assert address is not None
        try:
            check_refusals(LoginThrottle, address)
        except Throttled:
            refused("address_locked")
            raise
    # The authority registers someone else: their own account is not the volunteer's.
    for_someone_else = group is not None or (principal is not None and principal.is_authority)
    problems = ProblemCollector()
    id_number = _check(problems, data, policy)
    division_code = _division(problems, data, group, region, principal)
    # A signed-in account registering itself becomes the volunteer's.
    own_account = principal.account if principal is not None and not for_someone_else else None
    creates_account = (group is None and principal is None) or (
        for_someone_else and bool(data.username)
    )
    if creates_account:
        accounts.check_new_credentials(problems, data.username, data.password)
    if any(p.code == "CONFLICT" and p.field == "username" for p in problems.problems):
        # "username … is taken" tells that an account exists: counted like a person
        # already registered (a username may be a phone number).
        refused("username_taken")
    problems.raise_if_any()
    assert data.birth_date is not None  # _check reported a missing one
    id_hash = pii.keyed_hash("id", id_number)
    masked = pii.mask_id_number(id_number)
    try:
        _home_region_conflict(id_hash, region, principal)
        _federation_conflict(id_number, region, principal)
    except AlreadyRegistered:
        refused("already_registered")
        raise
    phone = pii.normalise(data.phone)
    try:
        with transaction.atomic():
            volunteer = Volunteer.objects.create(
                number=_next_number(region.code),
                name=data.name.strip(),
                gender=data.gender,
                birth_date=data.birth_date,
                id_type=data.id_type,
                **pii.protected_fields(id_number, phone),
                service_area=data.service_area.strip(),
                service_intentions=[str(v).strip() for v in data.service_intentions],
                skills=[str(v).strip() for v in data.skills],
                guardian_name=(data.guardian_name or "").strip(),
                guardian_consent_at=timezone.now() if data.guardian_consent else None,
                registered_by=actor,
                division_code=division_code,
            )
            # The federation-wide directory: its unique key makes a concurrent
            # registration of the same person in two regions fail here.
            HomeRegion.objects.create(
                id_number_hash=id_hash,
                federation_hash=federation.federation_hash(id_number),
                region_code=region.code,
                volunteer_number=volunteer.number,
            )
            if creates_account:
                accounts.create_account(
                    data.username, data.password, volunteer.name, volunteer=volunteer, actor=actor
                )
            elif own_account is not None:
                own_account.volunteer = volunteer
                own_account.save(update_fields=["volunteer"])
            if group is not None:
                Membership.objects.create(
                    volunteer=volunteer,
                    group=group,
                    status=MembershipStatus.ACTIVE,
                    decided_at=timezone.now(),
                    decided_by=actor,
                )
            record(
                actor, "volunteer.registered", volunteer.number, group=group.id if group else None
            )
    except IntegrityError:
        try:
            _home_region_conflict(id_hash, region, principal)
        except AlreadyRegistered:
            refused("already_registered")
            raise
        raise Conflict(
            _("this volunteer could not be registered (a concurrent registration won)"),
            field="idNumber",
        ) from None
    return volunteer


AGE_BANDS = ((18, "0-17"), (35, "18-34"), (60, "35-59"))


def age_band(birth_date: datetime.date, today: datetime.date | None = None) -> str:
    """The age band shown instead of the birth date to whoever may not reveal it:
    ``0-17``, ``18-34``, ``35-59`` or ``60+`` (wide enough that, with the masked ID
    number's digits 1–4 and 15–18, digits 5–14 stay thousands of candidates)."""
    age = age_on(birth_date, today or timezone.localdate())
    for below, band in AGE_BANDS:
        if age < below:
            return band
    return "60+"


def _acted_on(
    number: str, principal: Principal, allowed: Callable[[Volunteer], bool], denied: str
) -> Volunteer:
    """The volunteer numbered ``number``, locked until the transaction ends, when
    ``allowed(volunteer)``; else PERMISSION_DENIED with ``denied`` — for a number
    nobody has too, so that the refusal tells nobody who is registered (audit
    round 2; NOT_FOUND only to whoever sees every volunteer)."""
    return volunteer_for(
        number,
        principal,
        allowed,
        PermissionDenied(denied % {"number": (number or "").strip()}),
        queryset=Volunteer.objects.select_for_update(of=("self",)),
    )


def review_verification(
    *, number: str, approve: bool, reason: str, principal: Principal, policy: RegionPolicy
):
    """实名认证: pending → verified, or rejected with a reason."""
    principal = accounts.require(principal)
    reason = (reason or "").strip()
    if not approve and not reason:
        raise InvalidInput(_("say why the verification is rejected"), field="reason")
    with transaction.atomic():
        volunteer = _acted_on(
            number,
            principal,
            lambda v: may_manage(v, principal, policy),
            _("you may not verify %(number)s"),
        )
        if volunteer.verification != Verification.PENDING:
            raise Conflict(
                _("%(number)s is already %(verification)s")
                % {"number": volunteer.number, "verification": shown(volunteer, "verification")},
                field="number",
            )
        volunteer.verification = Verification.VERIFIED if approve else Verification.REJECTED
        volunteer.verification_reason = reason
        volunteer.save(update_fields=["verification", "verification_reason"])
        record(
            principal.actor,
            "volunteer.verification",
            volunteer.number,
            approve=approve,
            reason=reason,
        )
    return volunteer


SETTABLE_STATUSES = {VolunteerStatus.ACTIVE, VolunteerStatus.WARNED, VolunteerStatus.CANCELLED}


def set_status(
    *, number: str, status: str, reason: str, principal: Principal, policy: RegionPolicy
) -> Volunteer:
    """Warn (警告), cancel (取消注册) or reinstate a volunteer; transfer is interop's."""
    principal = accounts.require(principal)
    reason = (reason or "").strip()
    if status not in SETTABLE_STATUSES:
        raise InvalidInput(_("one of active, warned, cancelled"), field="status")
    if not reason:
        raise InvalidInput(_("say why"), field="reason")
    with transaction.atomic():
        volunteer = _acted_on(
            number,
            principal,
            lambda v: may_manage(v, principal, policy),
            _("you may not change the status of %(number)s"),
        )
        if volunteer.status == VolunteerStatus.TRANSFERRED:
            raise Conflict(
                _("%(number)s was transferred out; their records are read-only")
                % {"number": volunteer.number},
                field="number",
            )
        if volunteer.status == status:
            raise Conflict(
                _("%(number)s is already %(status)s")
                % {"number": volunteer.number, "status": status},
                field="status",
            )
        volunteer.status = status
        volunteer.status_reason = reason
        volunteer.save(update_fields=["status", "status_reason"])
        record(principal.actor, "volunteer.status", volunteer.number, status=status, reason=reason)
    return volunteer


def set_division(
    *, number: str, division_code: str, principal: Principal, policy: RegionPolicy, region_code: str
):
    """Where the volunteer lives (所在县（区）): set by themself, or by an authority
    whose area holds both the old and the new division — it decides which
    authority's area they are in (001 §6), so a group cannot move them out of reach."""
    principal = accounts.require(principal)
    try:
        code = check_division_in_region(division_code, region_code)
    except DivisionCodeError as error:
        raise InvalidInput(str(error), field="divisionCode") from None
    with transaction.atomic():
        volunteer = _acted_on(
            number,
            principal,
            lambda v: may_move(v, code, principal),
            _("you may not change where %(number)s lives"),
        )
        previous = volunteer.division_code
        volunteer.division_code = code
        volunteer.save(update_fields=["division_code"])
        record(principal.actor, "volunteer.division", volunteer.number, previous=previous, now=code)
    return volunteer


def reveal_personal_info(
    *, number: str, reason: str, principal: Principal, policy: RegionPolicy
) -> dict[str, str]:
    """Show the ID number and phone in full, to a role allowed to see them, and log it."""
    principal = accounts.require(principal)
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise InvalidInput(_("say why you need to see this person's information"), field="reason")
    volunteer = volunteer_for(
        number,
        principal,
        lambda v: may_reveal(v, principal, policy),
        PermissionDenied(
            _("you may not see the personal information of %(number)s")
            % {"number": (number or "").strip()}
        ),
    )
    with transaction.atomic():
        PersonalInfoAccess.objects.create(
            volunteer=volunteer,
            accessor=principal.actor,
            fields=["idNumber", "phone"],
            reason=reason,
        )
        record(principal.actor, "volunteer.pii_revealed", volunteer.number, reason=reason)
    return {
        "id_number": pii.decrypt(volunteer.id_number_encrypted),
        "phone": pii.decrypt(volunteer.phone_encrypted),
    }


def find_by_id_number(id_number: str) -> Volunteer | None:
    """Look a volunteer up by ID number through the keyed hash."""
    return Volunteer.objects.filter(id_number_hash=pii.keyed_hash("id", id_number)).first()
