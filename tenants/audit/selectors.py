"""Reading the region's logs (000 Art.15; PIPL Art.45: a person may see who
processed their personal information).

- a volunteer reads the reveals of their own personal information;
- an authority reads the reveals of the volunteers of its area;
- an authority of the whole region reads the audit log (its entries name actors
  and targets, not divisions, so a county's share of it cannot be told apart).
"""

from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from central.errors import PermissionDenied
from central.policy import RegionPolicy
from central.tenancy import connection
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.audit.models import AuditEntry
from tenants.volunteers.models import PersonalInfoAccess
from tenants.volunteers.permissions import region_wide, visible_volunteers_q


def own_reveals(principal: Principal | None) -> QuerySet[PersonalInfoAccess]:
    """Who saw the caller's own ID number and phone, newest first."""
    principal = accounts.require(principal)
    if principal.volunteer is None:
        raise PermissionDenied(_("only a volunteer's own account has a reveal log of its own"))
    return PersonalInfoAccess.objects.filter(volunteer=principal.volunteer).order_by("-id")


def reveals_in_area(
    principal: Principal | None,
    policy: RegionPolicy,
    *,
    volunteer_number: str | None = None,
    accessor: str | None = None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
) -> QuerySet[PersonalInfoAccess]:
    """Reveals of the personal information of volunteers in the authority's area."""
    principal = accounts.require_authority(principal)
    rows = PersonalInfoAccess.objects.select_related("volunteer").order_by("-id")
    if not region_wide(principal, connection.tenant.code):
        from tenants.volunteers.models import Volunteer

        seen = Volunteer.objects.filter(visible_volunteers_q(principal, policy)).values("id")
        rows = rows.filter(volunteer_id__in=seen)
    if volunteer_number:
        rows = rows.filter(volunteer__number=volunteer_number.strip())
    if accessor:
        rows = rows.filter(accessor=accessor.strip())
    return _between(rows, "accessed_at", since, until)


def audit_log(
    principal: Principal | None,
    *,
    action: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
) -> QuerySet[AuditEntry]:
    """The region's audit log, newest first, for an authority of the whole region."""
    principal = accounts.require_authority(principal)
    if not region_wide(principal, connection.tenant.code):
        raise PermissionDenied(
            _(
                "the audit log is read by an authority of the whole region; "
                "read your area's reveal log (personalInfoAccesses)"
            )
        )
    rows = AuditEntry.objects.order_by("-id")
    if action:
        rows = rows.filter(action=action.strip())
    if actor:
        rows = rows.filter(actor=actor.strip())
    if target:
        rows = rows.filter(target=target.strip())
    return _between(rows, "occurred_at", since, until)


def _between(rows: QuerySet, field: str, since, until) -> QuerySet:
    """Rows whose ``field`` falls on ``since`` .. ``until`` (either may be None)."""
    if since:
        rows = rows.filter(**{f"{field}__date__gte": since})
    if until:
        rows = rows.filter(**{f"{field}__date__lte": until})
    return rows
