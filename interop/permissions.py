"""Who sees, refuses and reveals transfers (000 Art.15–16): the one place it is
decided (issue 10; scope rules in ``tenants/volunteers/permissions.py``).

Asking on a volunteer's behalf and importing a package file are any authority
account's of the destination (the volunteer still consents at the source);
asking and consenting are the volunteer's own. A batch (the members of one group
moving together) is asked for, watched and cancelled by the authority of the area
holding the group; each member still consents on their own."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from central.divisions import prefixes_q
from central.errors import PermissionDenied, Unauthenticated
from central.policy import RegionPolicy
from central.tenancy import connection
from interop.models import Direction, Transfer, TransferBatch
from tenants.accounts.principal import Principal
from tenants.volunteers.models import Volunteer
from tenants.volunteers.permissions import (
    authority_area_volunteers_q,
    in_authority_area,
    may_reveal,
    region_wide,
)


def visible_transfers(principal: Principal | None):
    """The volunteer's own transfers; an authority's: those of the volunteers of its
    area — who live there or are active members of a group there (all of them, also
    requests not yet imported, for the whole region's)."""
    if principal is None:
        raise Unauthenticated(_("log in to see transfers"))
    queryset = Transfer.objects.select_related("volunteer")
    if principal.is_authority:
        if region_wide(principal, connection.tenant.code):
            return queryset
        area = Volunteer.objects.filter(authority_area_volunteers_q(principal)).values("id")
        return queryset.filter(volunteer_id__in=area)
    if principal.volunteer is not None:
        return queryset.filter(volunteer=principal.volunteer)
    raise PermissionDenied(_("the volunteer and the authority see transfers"))


def _own(transfer, principal: Principal) -> bool:
    return (
        transfer.volunteer_id is not None
        and principal.volunteer is not None
        and principal.volunteer.id == transfer.volunteer_id
    )


def require_refuser(transfer, principal: Principal) -> None:
    """The volunteer, or the source's authority of the volunteer's area."""
    area = transfer.volunteer is not None and in_authority_area(transfer.volunteer, principal)
    if not (_own(transfer, principal) or area) or transfer.direction != Direction.OUTGOING:
        raise PermissionDenied(_("the volunteer or the source region's authority refuses"))


def transfer_decider_q(principal: Principal) -> Q:
    """Transfers ``principal`` decides (000 Art.15: 经志愿者本人同意), as a condition on
    Transfer: the volunteer's own outgoing ones (``consentTransfer``) and those
    :func:`require_refuser` lets the authority of the volunteer's area refuse."""
    deciders = Q(pk__in=[])
    if principal.volunteer is not None:
        deciders |= Q(volunteer_id=principal.volunteer.id)
    if principal.authority_prefixes:
        area = Volunteer.objects.filter(authority_area_volunteers_q(principal)).values("id")
        deciders |= Q(volunteer_id__in=area)
    return Q(direction=Direction.OUTGOING) & deciders


def require_package_revealer(
    transfer: Transfer, principal: Principal, policy: RegionPolicy
) -> None:
    """A package's personal fields in full (issue 10 finding 5): at the source, whoever
    ``may_reveal`` the volunteer; at the destination, the volunteer or the authority
    of their area."""
    volunteer = transfer.volunteer
    if transfer.direction == Direction.OUTGOING:
        allowed = volunteer is not None and may_reveal(volunteer, principal, policy)
    else:
        allowed = _own(transfer, principal) or (
            volunteer is not None and in_authority_area(volunteer, principal)
        )
    if not allowed:
        raise PermissionDenied(_("you may not see the personal information in this package"))


def require_batch_requester(group, principal: Principal) -> None:
    """A batch transfer of a group's members: the authority whose area holds the
    group (``covers`` its division) — not a group admin, not another county's."""
    if principal is None:
        raise Unauthenticated(_("log in to ask for a batch transfer"))
    if not (principal.is_authority and principal.covers(group.division_code)):
        raise PermissionDenied(
            _("the authority of the area holding the group asks for a batch transfer")
        )


def visible_batches(principal: Principal | None):
    """The batches of the groups in the caller's authority areas (all of them for an
    authority of the whole region); nobody else's."""
    if principal is None:
        raise Unauthenticated(_("log in to see batch transfers"))
    if not principal.is_authority:
        raise PermissionDenied(_("the authority sees batch transfers"))
    if region_wide(principal, connection.tenant.code):
        return TransferBatch.objects.all()
    return TransferBatch.objects.filter(prefixes_q("division_code", principal.authority_prefixes))


def require_batch_canceller(batch, principal: Principal) -> None:
    """Cancelling what is not consented yet: whoever may ask for the batch."""
    if not (principal.is_authority and principal.covers(batch.division_code)):
        raise PermissionDenied(_("the authority of the area holding the group cancels the batch"))
