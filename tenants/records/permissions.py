"""Who may record, object, resolve, confirm, correct and grant stars: the one
place these are decided (issue 10; the scope rules are in
``tenants/volunteers/permissions.py``'s docstring).

A record belongs to its project's group's division; a record without a project
(brought in by a transfer) to the volunteer's division. The authority acting on
a record is the authority whose area holds that division.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from central.divisions import area_prefix, division_level, prefixes_q
from central.errors import Conflict, NotFound, PermissionDenied, ServiceError
from central.policy import Granter, ObjectionRaisers, RegionPolicy
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.groups.models import Membership, MembershipStatus, VolunteerGroup
from tenants.volunteers.permissions import active_group_ids, may_view, member_groups_seen_by
from tenants.volunteers.selectors import sees_every_volunteer


def record_division(record) -> str:
    """Where a record belongs: its project's group's division; a record without a
    project (imported by a transfer) belongs to the volunteer's division."""
    if record.project_id is not None:
        return record.project.group.division_code
    return record.volunteer.division_code


def may_see_record(record, principal: Principal | None, policy: RegionPolicy) -> bool:
    """A record's details (content, evaluations 守时程度/服务态度/专业水平, contact,
    amendments): to whoever may see its group's members (``project.records``) or the
    volunteer (``volunteer.records``). Not to whoever objected to it in publicity:
    they saw the notice (``PublicityEntry``), and a record goes to no third party
    without the volunteer's consent (000 Art.15)."""
    if principal is None:
        return False
    if record.group_id is not None:
        seen = member_groups_seen_by(principal, policy)
        if seen is None or record.group_id in seen:
            return True
    return may_view(record.volunteer, principal, policy)


def require_recorder(
    group, principal: Principal, policy: RegionPolicy, *, authority_may: bool = False
):
    """Recorders and admins (记录员) of an approved ``group``, certified where the policy
    says (001 §4(4)3 记录员须持证上岗); with ``authority_may``, also the authority of
    the group's area (trainings, awards, complaints: 000 Art.11–13)."""
    principal = accounts.require(principal)
    if authority_may and principal.covers(group.division_code):
        return principal
    role = principal.recorder_role(group.id)
    if role is None:
        raise PermissionDenied(_("you do not record for %(name)s") % {"name": group.name})
    if not _certified(role, policy):
        raise PermissionDenied(
            _("recorders in this region must hold a certificate (记录员须持证上岗, 001 §4(4)3)")
        )
    return principal


def _certified(role, policy: RegionPolicy) -> bool:
    return not policy.recorders_need_certificate or bool(role.recorder_certificate)


def recording_group_ids(principal: Principal, policy: RegionPolicy) -> frozenset[int]:
    """The groups whose records ``principal`` enters and whose declarations it decides:
    :func:`require_recorder`'s rule (without ``authority_may``) for every group at once
    (000 Art.9 志愿团体…核实并录入服务时长; 001 §4(4)3 certified recorders)."""
    if principal is None:
        return frozenset()
    return frozenset(
        group_id
        for group_id in principal.staff_group_ids
        if (role := principal.recorder_role(group_id)) is not None and _certified(role, policy)
    )


def record_area_q(prefixes, path: str = "") -> Q:
    """Records (reached by ``path``, e.g. ``"record__"``) whose :func:`record_division`
    lies in the areas of ``prefixes``: the condition ``principal.covers(record_division(r))``
    is, in SQL."""
    return (
        Q(**{f"{path}project__isnull": False})
        & prefixes_q(f"{path}project__group__division_code", prefixes)
    ) | (
        Q(**{f"{path}project__isnull": True})
        & prefixes_q(f"{path}volunteer__division_code", prefixes)
    )


def require_record_seen(record, principal: Principal, policy: RegionPolicy) -> None:
    """A mutation naming a record by id (``decideDeclaration``, ``amendRecord``,
    ``confirmRecord``, ``resolveObjection``): a caller who may not see the record
    (:func:`may_see_record`) is refused exactly as for an id with no record behind
    it (``record`` None), before its state or its volunteer's transfer is told
    (audit round 3, as ``node(id)``). Only to whoever sees every volunteer is an
    id with no row ``NOT_FOUND``: it tells them nothing they could not list."""
    if record is None and sees_every_volunteer(principal):
        raise NotFound(_("no such record"), field="recordId")
    if record is None or not may_see_record(record, principal, policy):
        raise PermissionDenied(_("you may not act on this record"))


def may_object(record, principal: Principal, policy: RegionPolicy) -> bool:
    """:func:`require_objector`'s rule as a test."""
    return _may_object(record.group_id, record_division(record), principal, policy)


def unseen_objection(policy: RegionPolicy) -> ServiceError:
    """``raiseObjection``'s answer to whoever may neither see a record nor object to it
    in publicity, whatever its state and for an id with no record: where only the
    group's members object, the refusal an outsider gets for a record in publicity;
    where anyone may, "no record in publicity has this id"."""
    if policy.objection_raisers == ObjectionRaisers.GROUP_MEMBERS:
        return PermissionDenied(_("in this region only the group's members and staff object"))
    return Conflict(_("no record in publicity has this id"), field="recordId")


def require_objector(record, principal: Principal, policy: RegionPolicy) -> None:
    """001 §4(4)3 接受社会监督: anyone logged in objects to a record in publicity, or —
    where the policy's ``objection_raisers`` says so — only the recording group's
    active members and staff and the authority of the record's area."""
    if not _may_object(record.group_id, record_division(record), principal, policy):
        raise PermissionDenied(_("in this region only the group's members and staff object"))


def require_publicity_viewer(group, principal: Principal, policy: RegionPolicy):
    """Issue 12 point 3 (001 §4(4)3 公示, 接受社会监督): a group's records in publicity
    are shown to exactly whoever may object to them — anyone logged in to the region,
    or where ``objection_raisers`` is ``group_members`` the group's active members and
    staff and the authority of its area. Without a token: UNAUTHENTICATED."""
    principal = accounts.require(principal)
    if not _may_object(group.id, group.division_code, principal, policy):
        raise PermissionDenied(
            _("in this region only the group's members and staff see its publicity")
        )
    return principal


def _may_object(group_id, division_code: str, principal: Principal, policy: RegionPolicy) -> bool:
    if policy.objection_raisers != ObjectionRaisers.GROUP_MEMBERS:
        return True
    member = principal.volunteer is not None and (
        Membership.objects.filter(
            volunteer=principal.volunteer, group_id=group_id, status=MembershipStatus.ACTIVE
        ).exists()
    )
    return principal.covers(division_code) or group_id in principal.staff_group_ids or member


def require_objection_resolver(record, principal: Principal | None) -> None:
    """The recording group's admins, or the authority of the record's area."""
    principal = accounts.require(principal)
    if record.group_id not in principal.admin_group_ids and not principal.covers(
        record_division(record)
    ):
        raise PermissionDenied(
            _("the recording group's admins or the authority of its area resolve objections")
        )


def objection_resolver_q(principal: Principal) -> Q:
    """:func:`require_objection_resolver` as a condition on Objection: the objections
    ``principal`` resolves (its work queue, 001 §4(4)3)."""
    return Q(record__group_id__in=principal.admin_group_ids) | record_area_q(
        principal.authority_prefixes, "record__"
    )


def require_confirmer(record, principal: Principal) -> None:
    """001 §4(4)3 经民政部门确认无误: the civil-affairs office of the record's own area."""
    if not principal.is_authority:
        raise PermissionDenied(_("only civil-affairs staff confirm records"))
    if not principal.covers(record_division(record)):
        raise PermissionDenied(
            _("the civil-affairs office of the record's own area confirms it (001 §4(4)3)")
        )


def confirmer_q(principal: Principal) -> Q:
    """:func:`require_confirmer` as a condition on ServiceRecord: the records whose
    confirmation (001 §4(4)3 经民政部门确认) falls to ``principal``."""
    if not principal.is_authority:
        return Q(pk__in=[])
    return record_area_q(principal.authority_prefixes)


def require_area_authority(record, principal: Principal):
    """A record brought in by a transfer has no project or group here: only the
    authority of its area answers for it (000 Art.16; the source's recorders are gone)."""
    principal = accounts.require_authority(principal)
    if not principal.covers(record_division(record)):
        raise PermissionDenied(_("only the authority of the record's area answers for it"))
    return principal


def require_correction_handler(request, principal: Principal) -> None:
    """A correction request (记录更正) is answered by the group's staff or the
    authority of the group's area. Anyone else is refused, naming no group, as for
    an id with no request (``request`` None; audit round 3): only to whoever sees
    every volunteer is that ``NOT_FOUND``."""
    if request is None and sees_every_volunteer(principal):
        raise NotFound(_("no such correction request"), field="requestId")
    if request is None or (
        request.group_id not in principal.staff_group_ids
        and not principal.covers(request.group.division_code)
    ):
        raise PermissionDenied(_("you may not answer this correction request"))


def correction_handler_q(principal: Principal) -> Q:
    """:func:`require_correction_handler` as a condition on CorrectionRequest."""
    return Q(group_id__in=principal.staff_group_ids) | prefixes_q(
        "group__division_code", principal.authority_prefixes
    )


def may_grant_star(application, principal: Principal) -> bool:
    """001 §6: the group, or the authority of the named level whose area holds the
    volunteer's own county (所在县（区）/设区市/省)."""
    if application.granter == Granter.GROUP:
        return application.group_id in principal.admin_group_ids
    return any(
        principal.covers(place, level=application.granter)
        for place in _star_places(application.volunteer, application.granter)
    )


FINER = {"county": ("county",), "city": ("city", "county"), "province": ("province",)}


def _star_places(volunteer, granter: str) -> list[str]:
    """Where the volunteer belongs for a star of ``granter``'s level: where they live;
    and, while that is coarser than the granter's level (not yet said, or from
    before divisions), where their groups are registered — so that someone answers."""
    places = [volunteer.division_code]
    if division_level(volunteer.division_code) not in FINER.get(str(granter), ()):
        places += list(
            VolunteerGroup.objects.filter(id__in=active_group_ids(volunteer)).values_list(
                "division_code", flat=True
            )
        )
    return places


# Where the volunteer lives is fine enough for the granter's level (FINER), in SQL
# (central.divisions.division_level: a county's code ends in neither 00 nor 0000).
_FINE_ENOUGH = {
    "county": ~Q(volunteer__division_code__endswith="00"),
    "city": ~Q(volunteer__division_code__endswith="0000"),
    "province": Q(volunteer__division_code__endswith="0000"),
}


def star_granter_q(principal: Principal) -> Q:
    """:func:`may_grant_star` as a condition on StarApplication: the applications
    ``principal`` decides (001 §6). The group's admins for a group granter; for a
    county, city or province granter, an authority role of that level whose area holds
    where the volunteer lives — or, while that is coarser than the level
    (:func:`_star_places`), one of the groups they are an active member of."""
    condition = Q(granter=Granter.GROUP, group_id__in=principal.admin_group_ids)
    for level in ("county", "city", "province"):
        prefixes = tuple(
            area_prefix(role.division_code)
            for role in principal.authority_roles
            if role.authority_level == level
        )
        if not prefixes:
            continue
        in_groups = Membership.objects.filter(
            status=MembershipStatus.ACTIVE,
            group__in=VolunteerGroup.objects.filter(prefixes_q("division_code", prefixes)),
        ).values("volunteer_id")
        condition |= Q(granter=level) & (
            prefixes_q("volunteer__division_code", prefixes)
            | (~_FINE_ENOUGH[level] & Q(volunteer_id__in=in_groups))
        )
    return condition
