"""GraphQL types of volunteer groups (志愿团体) and memberships.

``Volunteer`` (volunteers/types.py) lists a volunteer's memberships, so it imports
this module; a membership's volunteer and a group's page of volunteers name that
type lazily (``strawberry.lazy``, and ``fields.lazy_type`` for the instances)."""

from __future__ import annotations

import datetime
import functools
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from django.utils.translation import gettext as _
from strawberry.types import Info

from central.errors import PermissionDenied
from schema.errors import AccessError
from schema.node import Node
from schema.policy_types import Power
from schema.region.auth import may_see_members, policy_of, principal_of
from schema.region.fields import choices_enum, lazy_type, model_field, model_id, reads
from schema.region.pagination import (
    LIST_FIRST,
    PageInfo,
    decode_cursor,
    encode_cursor,
    paged,
    window,
)
from schema.region.prefetch import Page, by_id, list_page, read_window, related, rows
from schema.region.projects.types import Project
from schema.region.volunteers.applicant import Applicant
from tenants.groups import models as group_models
from tenants.groups.permissions import group_powers, may_see_applications
from tenants.groups.selectors import active_memberships, approved_groups, pending_applications
from tenants.projects.selectors import visible_projects
from tenants.related import prefetched, to_attr
from tenants.volunteers.permissions import memberships_seen_by

if TYPE_CHECKING:  # not a runtime import: volunteers/types.py imports this module
    from schema.region.volunteers.types import Volunteer


# To mypy each enum is the choices class it is made from: the same members
# (named by the upper-cased value) and values.
if TYPE_CHECKING:
    GroupKind = group_models.GroupKind
    GroupLevel = group_models.Level
    RegistrationStatus = group_models.RegistrationStatus
    GroupReview = group_models.Review
    MembershipStatus = group_models.MembershipStatus
else:
    GroupKind = choices_enum("GroupKind", group_models.GroupKind, "枢纽型 / 非枢纽型")
    GroupLevel = choices_enum("GroupLevel", group_models.Level, "团体层级")
    RegistrationStatus = choices_enum(
        "RegistrationStatus", group_models.RegistrationStatus, "登记状态 (002 §3(2))"
    )
    GroupReview = choices_enum("GroupReview", group_models.Review, "团体审核状态")
    MembershipStatus = choices_enum("MembershipStatus", group_models.MembershipStatus, "成员状态")

# The volunteer type, named lazily (see the module docstring).
_volunteer_type = lazy_type("schema.region.volunteers.types", "Volunteer")

# Where a page of a group's volunteers is put (``VolunteerGroup.volunteers`` reads it).
GROUP_VOLUNTEERS = to_attr("volunteers")


# How a group's lists are paged: the rows each caller (principal, policy) may see.
SUBGROUPS = by_id(lambda _: approved_groups(), "VolunteerGroup")
MEMBERS = by_id(
    lambda viewer: memberships_seen_by(active_memberships().order_by("id"), *viewer),
    "Membership",
    gated=True,
)
APPLICATIONS = by_id(
    lambda viewer: memberships_seen_by(pending_applications(), *viewer), "Membership", gated=True
)
PROJECTS = by_id(lambda viewer: visible_projects(viewer[0]), "Project")
VOLUNTEERS = Page(  # keyset cursors on the volunteer
    lambda viewer: memberships_seen_by(active_memberships(), *viewer),
    "volunteer_id",
    functools.partial(decode_cursor, "v"),
    gated=True,
)


# (shared_fields: not a key, only where `applicant` is selected, which declares it:
# decoding every membership's JSON cost the nested page ~1,000 decodes, issue 16 §2)
@rows(group_models.Membership, keys=("id", "volunteer_id", "group_id", "status"))
@strawberry.type(description="A volunteer's belonging to a group.")
class Membership(Node):
    _model: strawberry.Private[group_models.Membership]

    id: strawberry.ID = model_id("Membership")
    status: MembershipStatus = model_field("status", MembershipStatus)
    applied_at: datetime.datetime = model_field("applied_at")
    decided_at: datetime.datetime | None = model_field("decided_at")

    @strawberry.field(
        description="The volunteer: null while they are not yet an active member (applied, "
        "invited, declined or left), unless you are that volunteer; see `applicant`.",
        metadata=related("volunteer"),
    )
    def volunteer(
        self, info: Info
    ) -> Annotated[Volunteer, strawberry.lazy("schema.region.volunteers.types")] | None:
        membership = self._model
        if membership.status != group_models.MembershipStatus.ACTIVE:
            principal = principal_of(info)
            me = principal.volunteer if principal is not None else None
            if me is None or me.id != membership.volunteer_id:
                return None
        return _volunteer_type()(_model=membership.volunteer)

    @strawberry.field(
        description="What the group may see of the volunteer before they are its member.",
        metadata=reads("shared_fields") | related("volunteer"),
    )
    def applicant(self, info: Info) -> Applicant | None:
        membership = self._model
        if membership.status != group_models.MembershipStatus.APPLIED:
            return None  # an invitee shared nothing; a member is `volunteer`
        # What the applicant shared is for the group that decides, not its overseers.
        shared = membership.shared_fields or ()
        if not may_see_applications(membership.group_id, principal_of(info)):
            shared = ()
        return Applicant(_model=membership.volunteer, _shared=frozenset(shared))

    @strawberry.field(metadata=related("group"))
    def group(self) -> VolunteerGroup:
        return VolunteerGroup(_model=self._model.group)


@rows(group_models.VolunteerGroup)
@strawberry.type(description="A volunteer group (志愿团体).")
class VolunteerGroup(Node):
    _model: strawberry.Private[group_models.VolunteerGroup]

    id: strawberry.ID = model_id("VolunteerGroup")
    name: str = model_field("name")
    kind: GroupKind = model_field("kind", GroupKind)
    level: GroupLevel = model_field("level", GroupLevel)
    registration_status: RegistrationStatus = model_field("registration_status", RegistrationStatus)
    permission_group: str = model_field("permission_group", description="权限组别 (002 annex).")
    division_code: str = model_field(
        "division_code", description="Where the group is registered (GB/T 2260)."
    )

    @strawberry.field(description="What the permission group allows, while approved.")
    def powers(self, info: Info) -> list[Power]:
        powers = group_powers(self._model, policy_of(info))
        return [p for p in Power if p in powers]

    review: GroupReview = model_field("review", GroupReview)
    review_reason: str = model_field("review_reason")
    registration_authority: str = model_field("registration_authority")
    unified_social_credit_code: str = model_field("unified_social_credit_code")

    @strawberry.field
    def has_certificate(self) -> bool:
        return bool(self._model.certificate_file)

    responsible_person: str = model_field("responsible_person", description="负责人")
    contact_person: str = model_field("contact_person", description="联系人")
    contact_phone: str = model_field("contact_phone")
    service_area: str = model_field("service_area")
    registered_at: datetime.datetime = model_field(
        "created_at", description="When the group registered (and began to wait for review)."
    )

    @strawberry.field(description="联络团体 (002 §3(2)).", metadata=related("liaison_group"))
    def liaison_group(self) -> VolunteerGroup | None:
        liaison = self._model.liaison_group
        return VolunteerGroup(_model=liaison) if liaison else None

    @strawberry.field(description="查看团体.", metadata=related("viewing_groups"))
    def viewing_groups(self) -> list[VolunteerGroup]:
        # Only approved ones: a pending or rejected group is not public.
        groups = prefetched(self._model, "viewing_groups")
        return [VolunteerGroup(_model=g) for g in groups if g.review == "approved"]

    @strawberry.field(
        description="Approved groups whose liaison group this is, oldest first, `first` at a "
        "time (at most 100); `after` the last one's id for the next.",
        metadata=related("liaised_groups", page=SUBGROUPS),
    )
    def subgroups(
        self, info: Info, first: int = LIST_FIRST, after: strawberry.ID | None = None
    ) -> list[VolunteerGroup]:
        rows = list_page(self._model, first, after, info)
        return [VolunteerGroup(_model=g) for g in rows]

    @strawberry.field(
        description="Active members, in the order they applied or were added, `first` at a "
        "time (at most 100); `after` the last membership's id for the next. Group staff, "
        "region-wide managers and the authority only.",
        metadata=related("memberships", page=MEMBERS),
    )
    def members(
        self, info: Info, first: int = LIST_FIRST, after: strawberry.ID | None = None
    ) -> list[Membership] | None:
        _require_members_seen(self._model, info)
        rows = list_page(self._model, first, after, info)
        return [Membership(_model=m) for m in rows]

    @strawberry.field(
        description="The group's projects, oldest first, `first` at a time (at most 100); "
        "`after` the last one's id for the next. Published ones are public; the group's "
        "staff, its liaison group's admins and the authority see every one.",
        metadata=related("projects", page=PROJECTS),
    )
    def projects(
        self, info: Info, first: int = LIST_FIRST, after: strawberry.ID | None = None
    ) -> list[Project]:
        rows = list_page(self._model, first, after, info)
        return [Project(_model=p) for p in rows]

    @strawberry.field(
        description="Active members' volunteers, a page at a time (keyset cursors on the "
        "volunteer, at most 100 a page). Group staff, region-wide managers and the authority.",
        metadata=related("memberships", page=VOLUNTEERS),
    )
    def volunteers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> GroupVolunteerConnection | None:
        _require_members_seen(self._model, info)
        page = window("v", first, after, last, before, default=20)
        rows = getattr(self._model, GROUP_VOLUNTEERS, None)
        if rows is None:  # not prefetched: one query for this page
            rows = read_window(self._model, info, page)
        rows, page_info = paged(
            rows, page, key=lambda m: m.volunteer_id, cursor=GroupVolunteerEdge.cursor_of
        )
        return GroupVolunteerConnection(edges=_volunteer_edges(rows), page_info=page_info)

    @strawberry.field(
        description="Pending applications to join, oldest first, `first` at a time (at most "
        "100); `after` the last one's id for the next. Group staff, region-wide managers and "
        "the authority only.",
        metadata=related("memberships", page=APPLICATIONS),
    )
    def applications(
        self, info: Info, first: int = LIST_FIRST, after: strawberry.ID | None = None
    ) -> list[Membership] | None:
        _require_members_seen(self._model, info)
        rows = list_page(self._model, first, after, info)
        return [Membership(_model=m) for m in rows]


@strawberry.type(description="A volunteer in a group's page of volunteers, with the membership.")
class GroupVolunteerEdge:
    _membership: strawberry.Private[group_models.Membership]

    @staticmethod
    def cursor_of(membership) -> str:
        return encode_cursor("v", membership.volunteer_id)

    @strawberry.field
    def cursor(self) -> str:
        return self.cursor_of(self._membership)

    @strawberry.field(metadata=related("volunteer"))
    def node(self) -> Annotated[Volunteer, strawberry.lazy("schema.region.volunteers.types")]:
        # Volunteer(_model=…) without its dataclass constructor, which sets ~25
        # attributes no resolver reads: once per volunteer of a page (issue 16 §2).
        node: Any = object.__new__(_volunteer_type())
        node._model = self._membership.volunteer
        return node

    @strawberry.field(description="The volunteer's membership of this group.", metadata=related())
    def membership(self) -> Membership:
        return Membership(_model=self._membership)


def _volunteer_edges(memberships: list) -> list[GroupVolunteerEdge]:
    """``GroupVolunteerEdge(_membership=m)`` for each membership, without the dataclass
    constructor (once per volunteer of a page, issue 16 §2): only what it reads."""
    new = object.__new__
    edges = []
    for membership in memberships:
        edge = new(GroupVolunteerEdge)
        edge._membership = membership
        edges.append(edge)
    return edges


@strawberry.type
class GroupVolunteerConnection:
    edges: list[GroupVolunteerEdge] = strawberry.field(metadata=related())
    page_info: PageInfo


@strawberry.type
class GroupEdge:
    cursor: str
    node: VolunteerGroup


@strawberry.type
class GroupConnection:
    edges: list[GroupEdge]
    page_info: PageInfo


def _require_members_seen(group, info: Info) -> None:
    """Members, applicants and their volunteers: for group staff, region-wide managers
    and the authority (``auth.may_see_members``); others get a PERMISSION_DENIED error."""
    if not may_see_members(group.id, info):
        refusal = _("you may not see the members of %(model)s") % {"model": group}
        raise AccessError(PermissionDenied(refusal))
