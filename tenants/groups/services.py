"""Registering and reviewing groups, their permission groups, and memberships.

Rules: 002 §3 (重庆, the default everywhere) and the region policy.
- 002 §3(1): names by hub level; non-hub names "单位名称+志愿服务队" and not
  like a hub's.
- 002 §3(2): liaison groups (see ``models.py``).
- 002 §3(3): a group is reviewed by its liaison group, or by its registration
  authority if it is a legal person. Here: by the liaison group's admins when
  the liaison holds 对下级团体快审; otherwise by the regional authority.
  Registering under a liaison needs the liaison's 允许下级团体注册.
- 002 §3(4): default permission groups on approval, and who may change them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumError

from central.divisions import DivisionCodeError, check_division_in_region, within
from central.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProblemCollector,
    Throttled,
    locked_row,
)
from central.messages import credit_code_message, level_name, one_of, shown
from central.policy import HubLevel, Power, RegionPolicy
from central.tenancy import connection
from central.throttle import check_refusals, count_refusal
from tenants.accounts import services as accounts
from tenants.accounts.models import LoginThrottle, RoleKind
from tenants.accounts.principal import Principal
from tenants.audit.services import record
from tenants.groups.models import (
    GroupKind,
    Membership,
    MembershipStatus,
    RegistrationStatus,
    Review,
    VolunteerGroup,
)
from tenants.groups.permissions import (
    has_power,
    hub_division_problem,
    require_group_placer,
    require_group_reviewer,
    require_group_staff,
    require_member_manager,
    require_membership_seen,
    require_permission_group_setter,
)
from tenants.groups.selectors import visible_group, visible_groups
from tenants.images import ImageRefused, check_image
from tenants.volunteers.models import Volunteer, VolunteerStatus
from tenants.volunteers.permissions import may_view


@dataclass
class GroupRegistration:
    name: str
    kind: str
    level: str
    registration_status: str
    responsible_person: str
    contact_person: str
    contact_phone: str
    liaison_group_id: int | None = None
    viewing_group_ids: list[int] = field(default_factory=list)
    registration_authority: str = ""
    unified_social_credit_code: str = ""
    service_area: str = ""
    # Where it is registered (GB/T 2260, inside the region and the liaison's area).
    division_code: str = ""
    # New admin account, when the registrant is not logged in.
    admin_username: str = ""
    admin_password: str = ""


@dataclass
class CertificateImage:
    """An uploaded certificate (登记证书) image, checked before anything is written."""

    content: bytes
    extension: str


def read_certificate_image(upload, problems: ProblemCollector) -> CertificateImage | None:
    """Check an uploaded file's size, then decode it in full as a PNG or JPEG within
    ``UPLOAD_MAX_PIXELS`` (``tenants.images``): its bytes, not its name, decide."""
    if upload is None:
        return None
    content = upload.read(settings.UPLOAD_MAX_BYTES + 1)
    if len(content) > settings.UPLOAD_MAX_BYTES:
        problems.add(
            "certificate",
            _("larger than %(number)s KiB") % {"number": settings.UPLOAD_MAX_BYTES // 1024},
        )
        return None
    try:
        extension = check_image(content)
    except ImageRefused as refused:
        problems.add("certificate", str(refused))
        return None
    return CertificateImage(content, extension)


def certificate_dir() -> Path:
    """Uploads are kept per region: one folder per schema."""
    return Path(settings.MEDIA_ROOT) / "regions" / connection.schema_name / "group-certificates"


def certificate_path(group: VolunteerGroup) -> Path | None:
    if not group.certificate_file:
        return None
    return certificate_dir() / group.certificate_file


def _hub_level_above(level: str, policy: RegionPolicy) -> str | None:
    levels = [lv.value for lv in policy.hub_levels]
    index = levels.index(level)
    return levels[index - 1] if index > 0 else None


def _check_name(problems: ProblemCollector, data: GroupRegistration, policy: RegionPolicy):
    name = data.name.strip()
    if not name or len(name) > 120:
        problems.add("name", _("give a name of 1 to 120 characters"))
        return
    naming = policy.group_naming
    hub_suffixes = {p.level.value: p.suffixes for p in naming.hub_name_patterns}
    if data.kind == GroupKind.HUB and data.level in hub_suffixes:
        suffixes = hub_suffixes[data.level]
        if not name.endswith(tuple(suffixes)):
            problems.add(
                "name",
                _("a %(level)s-level hub's name ends with %(choices)s (002 §3(1)1)")
                % {"level": level_name(data.level), "choices": one_of(suffixes)},
            )
    if (
        data.kind == GroupKind.NON_HUB
        and data.registration_status != RegistrationStatus.LEGAL_PERSON
    ):
        all_hub = [s for suffixes in hub_suffixes.values() for s in suffixes]
        if all_hub and name.endswith(tuple(all_hub)):
            problems.add(
                "name", _("a non-hub group's name must not look like a hub's (002 §3(1)2)")
            )
        elif naming.non_hub_suffix and not name.endswith(naming.non_hub_suffix):
            problems.add(
                "name",
                _("a non-hub group's name is 单位名称+%(non_hub_suffix)s (002 §3(1)2)")
                % {"non_hub_suffix": naming.non_hub_suffix},
            )
    if VolunteerGroup.objects.filter(name=name).exists():
        problems.add(
            "name", _("a group named %(name)s already exists") % {"name": name}, "CONFLICT"
        )


def _check_liaison(
    problems: ProblemCollector,
    data: GroupRegistration,
    policy: RegionPolicy,
    principal: Principal | None,
) -> VolunteerGroup | None:
    """002 §3(2): which liaison group this group must have, if any. A pending or
    rejected group the registrant may not see (``group(id:)`` is null to them) is
    "no such group", as an id with no group (audit round 4): the check names no
    group and tells no review the registrant could not read anyway."""
    liaison = None
    if data.liaison_group_id is not None:
        liaison = visible_groups(principal).filter(id=data.liaison_group_id).first()
        if liaison is None:
            problems.add("liaisonGroupId", _("no such group"), "NOT_FOUND")
            return None
    if data.registration_status == RegistrationStatus.LEGAL_PERSON:
        if liaison is not None:
            problems.add(
                "liaisonGroupId",
                _(
                    "a legal person is reviewed by its registration authority and"
                    " has no liaison group (002 §3(2)1)"
                ),
            )
        return None
    expected = None
    if data.kind == GroupKind.HUB:
        above = _hub_level_above(data.level, policy)
        if above is None:  # the top hub (e.g. 重庆市志愿服务联合会) answers to the authority
            if liaison is not None:
                problems.add("liaisonGroupId", _("the top-level hub has no liaison group"))
            return None
        expected = _("the %(above)s-level hub (002 §3(2)1)") % {"above": level_name(above)}
        ok = liaison is not None and liaison.kind == GroupKind.HUB and liaison.level == above
    elif data.registration_status == RegistrationStatus.BRANCH:
        expected = _("its parent legal person (002 §3(2)2)")
        ok = liaison is not None and liaison.registration_status == RegistrationStatus.LEGAL_PERSON
    else:
        expected = _("the %(level)s-level hub (002 §3(2)2)") % {"level": level_name(data.level)}
        ok = liaison is not None and liaison.kind == GroupKind.HUB and liaison.level == data.level
    if liaison is None:
        problems.add(
            "liaisonGroupId", _("choose the liaison group: %(expected)s") % {"expected": expected}
        )
        return None
    if not ok:
        problems.add(
            "liaisonGroupId",
            _("%(name)s cannot be the liaison: choose %(expected)s")
            % {"name": liaison.name, "expected": expected},
        )
        return None
    if liaison.review != Review.APPROVED:
        problems.add("liaisonGroupId", _("%(name)s is not approved yet") % {"name": liaison.name})
        return None
    if not has_power(liaison, Power.ALLOW_SUBGROUP_REGISTRATION, policy):
        problems.add(
            "liaisonGroupId",
            _(
                "%(name)s (%(permission_group)s) does not allow lower groups "
                "to register (允许下级团体注册)"
            )
            % {"name": liaison.name, "permission_group": liaison.permission_group},
            "PERMISSION_DENIED",
        )
    return liaison


def _check_division(
    problems: ProblemCollector, data: GroupRegistration, liaison: VolunteerGroup | None
) -> str:
    """Where the group is registered: a current GB/T 2260 code inside the region and
    inside its liaison's area (a group answers to the authority of its division)."""
    region_code = connection.tenant.code
    code = (data.division_code or "").strip()
    if not code:
        code = liaison.division_code if liaison is not None else region_code
    else:
        try:
            check_division_in_region(code, region_code)
        except DivisionCodeError as error:
            problems.add("divisionCode", str(error))
            return ""
    if data.kind == GroupKind.HUB:  # 区域内志愿者管理 must not reach past the hub's area
        too_coarse = hub_division_problem(data.level, code, region_code)
        if too_coarse:
            problems.add("divisionCode", too_coarse)
            return ""
    if liaison is not None and not within(code, liaison.division_code):
        problems.add(
            "divisionCode",
            _("%(code)s lies outside the area of the liaison group %(name)s (%(division_code)s)")
            % {"code": code, "name": liaison.name, "division_code": liaison.division_code},
        )
    return code


def _refusal_step(step: Callable[..., object], address: str) -> None:
    """``check_refusals`` or ``count_refusal`` for ``address``; an address locked
    for refusals is audited (``group.registration_refused``) and answered THROTTLED."""
    try:
        step(LoginThrottle, address)
    except Throttled:
        record(
            "anonymous", "group.registration_refused", "", address=address, reason="address_locked"
        )
        raise


def register_group(
    *,
    data: GroupRegistration,
    principal: Principal | None,
    policy: RegionPolicy,
    certificate_upload=None,
    address: str | None = None,
) -> VolunteerGroup:
    """Register a group; it waits in 待审团体组 until reviewed.

    Given the client's ``address`` (the API), a new admin username that is taken —
    which tells that the account exists — is audited (``group.registration_refused``)
    and counted against the address like a registration refused because the person
    is registered (``central.throttle.count_refusal``, audit round 3); a locked
    address is refused with ``THROTTLED`` before anything is looked up."""
    if address is not None:
        _refusal_step(check_refusals, address)
    problems = ProblemCollector()
    if data.kind not in GroupKind.values:
        problems.add("kind", _("one of %(choices)s") % {"choices": ", ".join(GroupKind.values)})
    if data.level not in [lv.value for lv in HubLevel]:
        problems.add(
            "level", _("one of %(choices)s") % {"choices": ", ".join(lv.value for lv in HubLevel)}
        )
    elif data.kind == GroupKind.HUB and data.level not in [lv.value for lv in policy.hub_levels]:
        problems.add("level", _("this region has no hubs at that level"))
    if data.registration_status not in RegistrationStatus.values:
        problems.add(
            "registrationStatus",
            _("one of %(choices)s") % {"choices": ", ".join(RegistrationStatus.values)},
        )
    elif data.kind == GroupKind.HUB and data.registration_status != RegistrationStatus.UNREGISTERED:
        problems.add("registrationStatus", _("hub groups register as unregistered organisations"))
    for attr, label in (
        ("responsible_person", "responsiblePerson"),
        ("contact_person", "contactPerson"),
        ("contact_phone", "contactPhone"),
    ):
        if not getattr(data, attr).strip():
            problems.add(label, _("required (002 §3(3): 准确填写负责人和联系人信息)"))
    if problems.problems:
        problems.raise_if_any()
    _check_name(problems, data, policy)
    liaison = _check_liaison(problems, data, policy, principal)
    division_code = _check_division(problems, data, liaison)
    image = read_certificate_image(certificate_upload, problems)
    if data.registration_status == RegistrationStatus.LEGAL_PERSON:
        try:
            uscc.validate(data.unified_social_credit_code or "")
        except StdnumError as error:
            problems.add(
                "unifiedSocialCreditCode",
                credit_code_message(error),
            )
        if not data.registration_authority.strip():
            problems.add("registrationAuthority", _("name the registration authority (登记机关)"))
        if certificate_upload is None:
            problems.add("certificate", _("a legal person uploads its registration certificate"))
    # Viewing groups as the registrant sees groups: a hidden pending one is no group.
    viewing = list(visible_groups(principal).filter(id__in=data.viewing_group_ids))
    if len(viewing) != len(set(data.viewing_group_ids)):
        problems.add("viewingGroupIds", _("no such group"), "NOT_FOUND")
    # The registrant's own account becomes the group's admin; without one (a
    # stranger registering, or an operator at the command line) the data names it.
    owner = principal.account if principal is not None else None
    if owner is None:
        accounts.check_new_credentials(
            problems, data.admin_username, data.admin_password, prefix="admin."
        )
        taken = any(p.code == "CONFLICT" and p.field == "admin.username" for p in problems.problems)
        if taken and address is not None:
            # Told only once counted; an address locked meanwhile: THROTTLED.
            _refusal_step(count_refusal, address)
            record(
                "anonymous",
                "group.registration_refused",
                "",
                address=address,
                reason="username_taken",
            )
    problems.raise_if_any()

    actor = principal.actor if principal else f"registrant:{data.admin_username}"
    file_name = f"{uuid.uuid4().hex}.{image.extension}" if image else ""
    stored: Path | None = None
    try:
        with transaction.atomic():
            group = VolunteerGroup.objects.create(
                name=data.name.strip(),
                kind=data.kind,
                level=data.level,
                registration_status=data.registration_status,
                liaison_group=liaison,
                registration_authority=data.registration_authority.strip(),
                unified_social_credit_code=(
                    uscc.compact(data.unified_social_credit_code)
                    if data.registration_status == RegistrationStatus.LEGAL_PERSON
                    else ""
                ),
                certificate_file=file_name,
                permission_group=policy.pending_permission_group,
                responsible_person=data.responsible_person.strip(),
                contact_person=data.contact_person.strip(),
                contact_phone=data.contact_phone.strip(),
                service_area=data.service_area.strip(),
                division_code=division_code,
                created_by=actor,
            )
            group.viewing_groups.set(viewing)
            account = (
                owner
                if owner is not None
                else accounts.create_account(
                    data.admin_username,
                    data.admin_password,
                    data.responsible_person,
                    actor=actor,
                )
            )
            accounts.grant_role(account, RoleKind.GROUP_ADMIN, group=group, actor=actor)
            record(
                actor,
                "group.registered",
                str(group.id),
                name=group.name,
                liaison=liaison.id if liaison else None,
            )
            if image:  # last, so only the commit itself can fail after it
                stored = _store_file(file_name, image.content)
    except IntegrityError as error:
        _discard(stored)
        raise Conflict(
            _("the group could not be registered: %(splitlines)s")
            % {"splitlines": str(error).splitlines()[0]}
        ) from None
    except BaseException:
        _discard(stored)
        raise
    return group


def _discard(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def _store_file(file_name: str, content: bytes) -> Path:
    directory = certificate_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name
    path.write_bytes(content)
    return path


def approved_permission_group(group: VolunteerGroup, policy: RegionPolicy) -> str:
    """002 §3(4): the default permission group of an approved group."""
    if group.kind == GroupKind.HUB:
        return policy.hub_permission_group(group.level)
    if group.registration_status == RegistrationStatus.LEGAL_PERSON:
        return policy.default_permission_group_legal_person
    return policy.default_permission_group_non_hub


def review_group(
    *, group_id: int, approve: bool, reason: str, principal: Principal, policy: RegionPolicy
) -> VolunteerGroup:
    reason = (reason or "").strip()
    if not approve and not reason:
        raise InvalidInput(_("say why the group is rejected"), field="reason")
    with transaction.atomic():
        group = _locked_group(group_id)
        require_group_reviewer(group, principal, policy)
        if group.review != Review.PENDING:
            raise Conflict(
                _("%(name)s was already reviewed (%(review)s)")
                % {"name": group.name, "review": shown(group, "review")},
                field="groupId",
            )
        group.review = Review.APPROVED if approve else Review.REJECTED
        group.review_reason = reason
        group.reviewed_by = principal.actor
        if approve:
            group.permission_group = approved_permission_group(group, policy)
        group.save(update_fields=["review", "review_reason", "reviewed_by", "permission_group"])
        record(
            principal.actor,
            "group.reviewed",
            str(group.id),
            approve=approve,
            reason=reason,
            permission_group=group.permission_group,
        )
    return group


def _locked_group(group_id: int) -> VolunteerGroup:
    return locked_row(
        VolunteerGroup.objects.select_related("liaison_group"),
        missing=NotFound(_("no such group"), field="groupId"),
        id=group_id,
    )


def set_permission_group(
    *, group_id: int, name: str, principal: Principal, policy: RegionPolicy
) -> VolunteerGroup:
    accounts.require(principal)
    if name not in [rule.name for rule in policy.permission_groups]:
        raise InvalidInput(
            _("%(name)r is not a permission group of this region") % {"name": name},
            field="permissionGroup",
        )
    with transaction.atomic():
        group = _locked_group(group_id)
        if group.review != Review.APPROVED:
            raise Conflict(
                _("%(name)s is not approved yet") % {"name": group.name}, field="groupId"
            )
        require_permission_group_setter(group, name, principal, policy)
        previous = group.permission_group
        group.permission_group = name
        group.save(update_fields=["permission_group"])
        record(
            principal.actor,
            "group.permission_group_set",
            str(group.id),
            previous=previous,
            now=name,
        )
    return group


def set_group_division(
    *, group_id: int, division_code: str, principal: Principal
) -> VolunteerGroup:
    """Place a group in a division (e.g. the groups issue 10's migration left at the
    region's own code): an authority whose area holds both the old and the new one.
    The new one lies in the liaison's area and fits a hub's level; the groups under
    it must still lie in its area."""
    principal = accounts.require(principal)
    region_code = connection.tenant.code
    code = (division_code or "").strip()
    try:
        check_division_in_region(code, region_code)
    except DivisionCodeError as error:
        raise InvalidInput(str(error), field="divisionCode") from None
    with transaction.atomic():
        group = _locked_group(group_id)
        require_group_placer(group, code, principal)
        problems = ProblemCollector()
        liaison = group.liaison_group
        if liaison is not None and not within(code, liaison.division_code):
            problems.add(
                "divisionCode", _("outside the liaison %(name)s's area") % {"name": liaison.name}
            )
        if group.kind == GroupKind.HUB:
            too_coarse = hub_division_problem(group.level, code, region_code)
            if too_coarse:
                problems.add("divisionCode", too_coarse)
        outside = [g.name for g in group.liaised_groups.all() if not within(g.division_code, code)]
        if outside:
            problems.add(
                "divisionCode",
                _("groups under it lie outside: %(choices)s") % {"choices": ", ".join(outside[:5])},
            )
        problems.raise_if_any()
        previous = group.division_code
        group.division_code = code
        group.save(update_fields=["division_code"])
        record(principal.actor, "group.division_set", str(group.id), previous=previous, now=code)
    return group


def get_group(group_id: int) -> VolunteerGroup:
    group = VolunteerGroup.objects.filter(id=group_id).first()
    if group is None:
        raise NotFound(_("no such group"), field="groupId")
    return group


UNJOINABLE = (VolunteerStatus.CANCELLED, VolunteerStatus.TRANSFERRED)


def _joinable(volunteer: Volunteer, group: VolunteerGroup) -> None:
    if volunteer.status in UNJOINABLE:
        raise Conflict(
            _("%(number)s is %(status)s")
            % {"number": volunteer.number, "status": shown(volunteer, "status")},
            field="number",
        )
    if group.review != Review.APPROVED:
        raise Conflict(_("%(name)s is not approved yet") % {"name": group.name}, field="groupId")


def _open_membership(
    volunteer: Volunteer, group: VolunteerGroup, status: str, actor: str, shared_fields=()
):
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                volunteer=volunteer,
                group=group,
                status=status,
                decided_at=timezone.now() if status == MembershipStatus.ACTIVE else None,
                decided_by=actor if status == MembershipStatus.ACTIVE else "",
                invited_by=actor if status == MembershipStatus.INVITED else "",
                shared_fields=list(shared_fields),
            )
    except IntegrityError:
        raise Conflict(
            _("%(number)s already belongs to, applied to or is invited by %(name)s")
            % {"number": volunteer.number, "name": group.name},
            field="groupId",
        ) from None
    record(
        actor,
        f"membership.{status}",
        str(membership.id),
        volunteer=volunteer.number,
        group=group.id,
    )
    return membership


SHARED_FIELDS = ("phone", "skills", "service_intentions", "service_area")


def apply_to_group(
    *, group_id: int, principal: Principal, share: list[str] | None = None
) -> Membership:
    """A volunteer applies to join a group; the group's admins decide. ``share``
    lists what the group may see of the applicant before deciding (SHARED_FIELDS)."""
    principal = accounts.require(principal)
    volunteer = principal.volunteer
    if volunteer is None:
        raise PermissionDenied(_("only a volunteer's own account applies to join a group"))
    share = list(dict.fromkeys(share or []))
    if any(name not in SHARED_FIELDS for name in share):
        raise InvalidInput(
            _("share some of %(choices)s") % {"choices": ", ".join(SHARED_FIELDS)}, field="share"
        )
    group = visible_group(group_id, principal)
    _joinable(volunteer, group)
    return _open_membership(
        volunteer, group, MembershipStatus.APPLIED, principal.actor, shared_fields=share
    )


def add_member(
    *, group_id: int, number: str, principal: Principal, policy: RegionPolicy
) -> Membership:
    """A group invites a registered volunteer (issue 10 finding 1): the group gains
    nothing over them until they accept (:func:`respond_to_invitation`)."""
    group = get_group(group_id)
    require_member_manager(group, principal, policy)
    number = (number or "").strip()
    volunteer = Volunteer.objects.filter(number=number).first()
    # A volunteer who may no longer join (cancelled, transferred away) is answered as
    # an unknown number to whoever may not see them: their status is not the inviting
    # group's to learn (audit round 2). Whoever sees them is told why.
    gone = volunteer is not None and volunteer.status in UNJOINABLE
    if volunteer is None or (gone and not may_view(volunteer, principal, policy)):
        raise NotFound(_("no volunteer numbered %(number)s") % {"number": number}, field="number")
    _joinable(volunteer, group)
    return _open_membership(volunteer, group, MembershipStatus.INVITED, principal.actor)


def respond_to_invitation(*, membership_id: int, accept: bool, principal: Principal) -> Membership:
    """The invited volunteer, and only they, accept (active member) or decline."""
    principal = accounts.require(principal)
    with transaction.atomic():
        # Another's invitation is not theirs to know of: no such invitation either.
        missing = NotFound(_("no such invitation"), field="membershipId")
        if principal.volunteer is None:
            raise missing
        membership = locked_row(
            Membership.objects.select_related("group", "volunteer"),
            missing=missing,
            id=membership_id,
            volunteer_id=principal.volunteer.id,
        )
        if membership.status != MembershipStatus.INVITED:
            raise Conflict(
                _("this membership is %(status)s") % {"status": shown(membership, "status")},
                field="membershipId",
            )
        if accept:
            _joinable(membership.volunteer, membership.group)
        membership.status = MembershipStatus.ACTIVE if accept else MembershipStatus.DECLINED
        membership.decided_at = timezone.now()
        membership.decided_by = principal.actor
        membership.save(update_fields=["status", "decided_at", "decided_by"])
        record(principal.actor, "membership.invitation_answered", str(membership.id), accept=accept)
    return membership


def decide_membership(
    *, membership_id: int, approve: bool, principal: Principal, policy: RegionPolicy
) -> Membership:
    principal = accounts.require(principal)
    with transaction.atomic():
        membership = locked_row(
            Membership.objects.select_related("group", "volunteer"), missing=None, id=membership_id
        )
        # Whoever is not staff of the membership's group is refused as for an id with
        # no membership behind it: which ids are applications, and to which group,
        # is not theirs to learn (audit round 3, as node(id)).
        require_membership_seen(membership, principal)
        assert membership is not None
        require_member_manager(membership.group, principal, policy)
        if membership.status != MembershipStatus.APPLIED:
            raise Conflict(
                _("this application was already decided (%(status)s)")
                % {"status": shown(membership, "status")},
                field="membershipId",
            )
        membership.status = MembershipStatus.ACTIVE if approve else MembershipStatus.DECLINED
        membership.decided_at = timezone.now()
        membership.decided_by = principal.actor
        membership.save(update_fields=["status", "decided_at", "decided_by"])
        record(principal.actor, "membership.decided", str(membership.id), approve=approve)
    return membership


def leave_group(
    *,
    group_id: int,
    principal: Principal,
    policy: RegionPolicy,
    number: str | None = None,
) -> Membership:
    """A volunteer leaves a group, or a group admin removes a member (``number``)."""
    principal = accounts.require(principal)
    group = visible_group(group_id, principal)
    if number is None:
        volunteer = principal.volunteer
        if volunteer is None:
            raise PermissionDenied(_("only a volunteer's own account leaves a group"))
    else:
        require_member_manager(group, principal, policy)
        number = number.strip()
        # An unknown number is answered as a volunteer who is not a member (no oracle).
        volunteer = Volunteer.objects.filter(number=number).first()
    missing = NotFound(
        _("%(number)s is not a member of %(name)s")
        % {"number": number if volunteer is None else volunteer.number, "name": group.name},
        field="groupId",
    )
    if volunteer is None:
        raise missing
    with transaction.atomic():
        membership = locked_row(
            Membership.objects,
            missing=missing,
            volunteer=volunteer,
            group=group,
            status__in=["invited", "applied", "active"],
        )
        membership.status = MembershipStatus.LEFT
        membership.left_at = timezone.now()
        membership.save(update_fields=["status", "left_at"])
        record(principal.actor, "membership.left", str(membership.id))
    return membership


def create_staff_account(
    *,
    group_id: int,
    kind: str,
    username: str,
    password: str,
    display_name: str,
    recorder_certificate: str,
    principal: Principal,
    policy: RegionPolicy,
):
    """A group admin adds an admin or recorder (记录员) to the group."""
    principal = accounts.require(principal)
    group = get_group(group_id)
    require_group_staff(group, principal)
    problems = ProblemCollector()
    if kind not in (RoleKind.GROUP_ADMIN, RoleKind.RECORDER):
        problems.add("role", _("group_admin or recorder"))
    accounts.check_new_credentials(problems, username, password)
    if not (display_name or "").strip():
        problems.add("displayName", _("required"))
    if (
        kind == RoleKind.RECORDER
        and policy.recorders_need_certificate
        and not (recorder_certificate or "").strip()
    ):
        problems.add(
            "recorderCertificate",
            _("recorders in this region must hold a certificate (记录员须持证上岗, 001 §4(4)3)"),
        )
    problems.raise_if_any()
    with transaction.atomic():
        account = accounts.create_account(
            username, password, display_name.strip(), actor=principal.actor
        )
        accounts.grant_role(
            account,
            kind,
            group=group,
            recorder_certificate=(recorder_certificate or "").strip(),
            actor=principal.actor,
        )
    return account
