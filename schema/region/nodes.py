"""Relay's ``node(id:)`` and ``nodes(ids:)`` on a region's API (issue 21 finding 3).

An id (schema/identity.py) names its type and row; ``node`` loads the row and
applies the rules of the field that shows it, so refetching never shows more
than the original query did:

- a group or a project: visible as ``group(id:)`` / ``project(id:)`` see it, else null;
- a volunteer, and what shows on their record (records, certificates,
  trainings, awards, complaints on record): as ``volunteer(number:)`` —
  UNAUTHENTICATED without a token, PERMISSION_DENIED for someone who may not
  see the volunteer (the refusal names nobody, and a row that is gone is refused
  alike, except to whoever sees every volunteer: no oracle); a record or a
  membership also to whoever may see its group's members (``project.records``,
  ``group.members``);
- ``Me`` and ``VolunteerCard``: only the caller's own, else null;
- a certificate verification: anyone (its id holds the verification code);
- the region: this region's own, else null.

Another region's id, an id of a type not refetched here (a star application, a
correction request, an audit entry or a reveal, shown only where they are made
or to the authority's lists), or a row that is gone: null. An id that does not
decode: INVALID.
"""

from __future__ import annotations

import strawberry
from django.conf import settings
from django.utils.translation import gettext as _
from strawberry.types import Info

from central.errors import InvalidInput, PermissionDenied, Unauthenticated
from schema.central.types import region_type
from schema.errors import AccessError, QueryError
from schema.identity import CENTRAL, NotAnId, current_schema, decode
from schema.node import Node
from schema.region.accounts.types import Me
from schema.region.auth import key_in_range, may_see_members, policy_of, principal_of
from schema.region.certificates.types import Certificate, verification_of
from schema.region.groups.types import Membership as MembershipType
from schema.region.groups.types import VolunteerGroup
from schema.region.projects.types import Project
from schema.region.recognition.types import Award, Complaint, Training
from schema.region.records.types import ServiceRecord, card_of
from schema.region.volunteers.types import Volunteer as VolunteerType
from tenants.certificates.models import Certificate as CertificateRow
from tenants.groups import selectors as group_selectors
from tenants.groups.models import Membership, MembershipStatus
from tenants.projects import selectors as project_selectors
from tenants.recognition import models as recognition_models
from tenants.recognition.services import on_record
from tenants.records.models import ServiceRecord as RecordRow
from tenants.records.permissions import may_see_record
from tenants.volunteers.models import Volunteer
from tenants.volunteers.permissions import may_view
from tenants.volunteers.selectors import sees_every_volunteer


def _require_volunteer_visible(volunteer, info: Info) -> None:
    """``volunteer(number:)``'s refusal, naming nobody: the id was all the caller
    gave, so the refusal must not tell them the volunteer's number (audit round 2).
    ``volunteer`` None (the row is not there): the same refusal, except to whoever
    sees every volunteer, so that it tells nobody which ids exist."""
    principal = principal_of(info)
    if principal is None:
        raise AccessError(Unauthenticated(_("log in to see volunteers")))
    if volunteer is None and sees_every_volunteer(principal):
        return
    if volunteer is None or not may_view(volunteer, principal, policy_of(info)):
        raise AccessError(PermissionDenied(_("you may not see this volunteer")))


def _group(info: Info, pk: int):
    found = group_selectors.visible_groups(principal_of(info)).filter(id=pk).first()
    return VolunteerGroup(_model=found) if found else None


def _project(info: Info, pk: int):
    found = project_selectors.visible_projects(principal_of(info)).filter(id=pk).first()
    return Project(_model=found) if found else None


def _volunteer(info: Info, pk: int):
    found = Volunteer.objects.filter(id=pk).first()
    _require_volunteer_visible(found, info)
    return VolunteerType(_model=found) if found else None


def _membership(info: Info, pk: int):
    found = Membership.objects.select_related("volunteer", "group").filter(id=pk).first()
    if found is None:
        return _require_volunteer_visible(None, info)
    principal = principal_of(info)
    own = principal.volunteer if principal is not None else None
    if own is not None and own.id == found.volunteer_id:
        return MembershipType(_model=found)  # the volunteer's own memberships (all states)
    in_lists = found.status in (MembershipStatus.ACTIVE, MembershipStatus.APPLIED)
    if in_lists and may_see_members(found.group_id, info):
        return MembershipType(_model=found)  # group.members / group.applications
    if found.status != MembershipStatus.ACTIVE:
        raise AccessError(PermissionDenied(_("you may not see this membership")))
    _require_volunteer_visible(found.volunteer, info)  # volunteer.memberships
    return MembershipType(_model=found)


def _record(info: Info, pk: int):
    found = RecordRow.objects.select_related("volunteer").filter(id=pk).first()
    if found is None:
        return _require_volunteer_visible(None, info)
    if not may_see_record(found, principal_of(info), policy_of(info)):
        _require_volunteer_visible(found.volunteer, info)  # refused as volunteer(number:)
    return ServiceRecord(_model=found)


def _on_volunteer(model, wrap, visible=None):
    """A row shown on a volunteer's record, to whoever may see the volunteer."""

    def load(info: Info, pk: int):
        found = model.objects.select_related("volunteer").filter(id=pk).first()
        if found is None:
            return _require_volunteer_visible(None, info)
        _require_volunteer_visible(found.volunteer, info)
        if visible is not None and not visible(found, principal_of(info)):
            return None  # not on the record for this caller (volunteer.complaints)
        return wrap(_model=found)

    return load


def _me(info: Info, pk: int):
    principal = principal_of(info)
    if principal is None or principal.account is None or principal.account.id != pk:
        return None
    return Me(_model=principal.account, _roles=list(principal.roles))


def _card(info: Info, pk: int):
    principal = principal_of(info)
    if principal is None or principal.volunteer is None or principal.volunteer.id != pk:
        return None
    return card_of(principal.volunteer, info.context.region.code)


LOADERS = {
    "VolunteerGroup": _group,
    "Project": _project,
    "Volunteer": _volunteer,
    "Membership": _membership,
    "ServiceRecord": _record,
    "Certificate": _on_volunteer(CertificateRow, Certificate),
    "Training": _on_volunteer(recognition_models.Training, Training),
    "Award": _on_volunteer(recognition_models.Award, Award),
    "Complaint": _on_volunteer(recognition_models.Complaint, Complaint, on_record),
    "Me": _me,
    "VolunteerCard": _card,
}


def node_of(info: Info, value, field: str = "id") -> Node | None:
    try:
        kind, schema, key = decode(value)
    except NotAnId:
        raise QueryError(InvalidInput(_("not an id"), field=field)) from None
    if kind == "Region":
        region = info.context.region
        return region_type(region) if schema == CENTRAL and key == region.code else None
    if schema != current_schema():
        return None  # another region's object: nothing here has it
    if kind == "CertificateVerification":
        # Its id holds the code: a lookup throttled as verifyCertificate's (audit round 6).
        return verification_of(key, request=info.context.request)
    load = LOADERS.get(kind)
    return load(info, key_in_range(int(key))) if load else None


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description="Refetch an object by its id, with the rules of the field that showed "
        "it: null when it is not there for you, the same error where that field refuses."
    )
    def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return node_of(info, id)

    @strawberry.field(
        description="node(id:) for each id (at most 100), in order; each item null or "
        "refused (an error at its position) as node(id:) would be."
    )
    def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        limit = settings.GRAPHQL["MAX_PAGE"]  # as many as a page holds
        if len(ids) > limit:
            raise QueryError(
                InvalidInput(_("at most %(limit)s ids") % {"limit": limit}, field="ids")
            )
        answers = []
        for value in ids:
            try:
                answers.append(node_of(info, value, "ids"))
            except (AccessError, QueryError) as error:
                # graphql-core reports an error in a list at this item's path.
                answers.append(error)  # type: ignore[arg-type]
        return answers
