"""Star levels (星级认定): counted hours reach a threshold, the volunteer applies,
the body the policy names grants it (000 Art.19, 003 Art.26; 001 §6 for 云南:
1–2★ county, 3–4★ city, 5★ province)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from central.errors import Conflict, InvalidInput, NotFound, PermissionDenied, locked_row
from central.messages import level_name, shown
from central.policy import Granter, RegionPolicy
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.audit.services import record as audit
from tenants.groups.models import Membership, MembershipStatus
from tenants.records.models import StarApplication, VolunteerTotals
from tenants.records.permissions import may_grant_star
from tenants.volunteers.permissions import may_view
from tenants.volunteers.selectors import sees_every_volunteer


def eligible_level(hours, policy: RegionPolicy) -> int:
    return sum(1 for threshold in policy.star_thresholds if hours >= threshold)


def totals_of(volunteer) -> VolunteerTotals:
    return VolunteerTotals.objects.filter(volunteer=volunteer).first() or VolunteerTotals(
        volunteer=volunteer
    )


def apply_for_star(
    *, level: int, group_id: int | None, principal: Principal, policy: RegionPolicy
) -> StarApplication:
    principal = accounts.require(principal)
    volunteer = principal.volunteer
    if volunteer is None:
        raise PermissionDenied(_("only a volunteer's own account applies for a star level"))
    if not 1 <= level <= 5:
        raise InvalidInput(_("a level from 1 to 5"), field="level")
    totals = totals_of(volunteer)
    if totals.star_level >= level:
        raise Conflict(
            _("already granted %(star_level)s★") % {"star_level": totals.star_level}, field="level"
        )
    needed = policy.star_thresholds[level - 1]
    if totals.counted_hours < needed:
        raise InvalidInput(
            _("%(level)s★ needs %(needed)s counted hours; you have %(counted_hours)s")
            % {"level": level, "needed": needed, "counted_hours": totals.counted_hours},
            field="level",
        )
    granter = policy.star_granters[level - 1]
    group = None
    if granter == Granter.GROUP:
        membership = Membership.objects.select_related("group").filter(
            volunteer=volunteer, status=MembershipStatus.ACTIVE
        )
        if group_id is not None:
            membership = membership.filter(group_id=group_id)
        found = membership.first()
        if found is None:
            raise InvalidInput(
                _("name a group you belong to; it grants this level"), field="groupId"
            )
        group = found.group
    try:
        with transaction.atomic():
            application = StarApplication.objects.create(
                volunteer=volunteer,
                level=level,
                granter=granter,
                group=group,
                hours_at_application=totals.counted_hours,
            )
            audit(principal.actor, "star.applied", volunteer.number, level=level, granter=granter)
    except IntegrityError:
        raise Conflict(
            _("an application for %(level)s★ is already open") % {"level": level}, field="level"
        ) from None
    return application


def decide_star(
    *, application_id: int, grant: bool, reason: str, principal: Principal, policy: RegionPolicy
):
    principal = accounts.require(principal)
    reason = (reason or "").strip()
    if not grant and not reason:
        raise InvalidInput(_("say why the level is refused"), field="reason")
    with transaction.atomic():
        application = locked_row(
            StarApplication.objects.select_related("volunteer"), missing=None, id=application_id
        )
        # An id with no application and one of a volunteer the caller may not see
        # get one refusal, naming no level nor granter (audit round 3).
        if application is None and sees_every_volunteer(principal):
            raise NotFound(_("no such application"), field="applicationId")
        if application is None or not (
            may_grant_star(application, principal)
            or may_view(application.volunteer, principal, policy)
        ):
            raise PermissionDenied(_("you may not decide this star application"))
        if not may_grant_star(application, principal):
            raise PermissionDenied(
                _(
                    "%(level)s★ is granted by the %(granter)s (the authority of "
                    "the volunteer's own area, 001 §6)"
                )
                % {"level": application.level, "granter": level_name(application.granter)}
            )
        if application.status != StarApplication.Status.APPLIED:
            raise Conflict(
                _("the application is %(status)s") % {"status": shown(application, "status")},
                field="applicationId",
            )
        application.status = (
            StarApplication.Status.GRANTED if grant else StarApplication.Status.REFUSED
        )
        application.decided_by = principal.actor
        application.decided_at = timezone.now()
        application.reason = reason
        application.save()
        if grant:
            VolunteerTotals.objects.get_or_create(volunteer_id=application.volunteer_id)
            totals = VolunteerTotals.objects.select_for_update().get(
                volunteer_id=application.volunteer_id
            )
            totals.star_level = max(totals.star_level, application.level)
            totals.save(update_fields=["star_level", "updated_at"])
        audit(principal.actor, "star.decided", str(application.id), grant=grant, reason=reason)
    return application
