"""GraphQL types of a region's API: volunteers, groups, memberships, accounts.

Types wrap model instances (``_model``); relation fields read what the
selectors prefetched (see ``prefetch.py``), so they issue no queries of their
own. Personal information appears only masked; the full values come from the
``revealPersonalInfo`` mutation, which checks the role and logs the reveal.
"""

from __future__ import annotations

import base64
import datetime
import enum
import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from django.conf import settings
from django.utils.translation import gettext as _
from strawberry.types import Info

from central.errors import InvalidInput, PermissionDenied
from schema.errors import AccessError, QueryError
from schema.node import Node
from schema.policy_types import Power
from schema.region.auth import guarded, key_in_range, policy_of, principal_of
from schema.region.fields import model_field, model_id, reads
from tenants.accounts import models as account_models
from tenants.groups import models as group_models
from tenants.groups.permissions import group_powers, may_see_applications
from tenants.related import prefetched
from tenants.volunteers import models as volunteer_models
from tenants.volunteers.permissions import may_reveal, member_groups_seen_by
from tenants.volunteers.services import age_band

# Where prefetch.py puts a page of a group's volunteers (see PAGES there).
GROUP_VOLUNTEERS = "prefetched_volunteers"
# A paged list's size when the query names none (prefetch.py PAGES reads it).
LIST_FIRST = 100

if TYPE_CHECKING:
    from schema.region.certificates import Certificate
    from schema.region.queues import (
        CorrectionRequestConnection,
        DeclarationConnection,
        ObjectionConnection,
        ProjectApplicationConnection,
        StarApplicationConnection,
        TaskCounts,
        WorkQueues,
    )
    from schema.region.recognition import Award, Complaint, Training
    from schema.region.records import Project, RecordFilter, ServiceRecordConnection


def choices_enum(name: str, choices, description: str):
    """A GraphQL enum from a Django ``TextChoices`` (members named by upper-cased value)."""
    return strawberry.enum(
        enum.Enum(name, {value.upper(): value for value in choices.values}),
        description=description,
    )


Gender = choices_enum("Gender", volunteer_models.Gender, "性别")
IdType = choices_enum("IdType", volunteer_models.IdType, "有效证件类型")
Verification = choices_enum("Verification", volunteer_models.Verification, "实名认证状态")
VolunteerStatus = choices_enum("VolunteerStatus", volunteer_models.VolunteerStatus, "志愿者状态")
GroupKind = choices_enum("GroupKind", group_models.GroupKind, "枢纽型 / 非枢纽型")
GroupLevel = choices_enum("GroupLevel", group_models.Level, "团体层级")
RegistrationStatus = choices_enum(
    "RegistrationStatus", group_models.RegistrationStatus, "登记状态 (002 §3(2))"
)
GroupReview = choices_enum("GroupReview", group_models.Review, "团体审核状态")
MembershipStatus = choices_enum("MembershipStatus", group_models.MembershipStatus, "成员状态")
RoleKind = choices_enum("RoleKind", account_models.RoleKind, "角色: group staff or authority staff")
AuthorityLevel = choices_enum("AuthorityLevel", account_models.AuthorityLevel, "主管部门层级")


@strawberry.type(description="A registered volunteer (志愿者). Personal information is masked.")
class Volunteer(Node):
    _model: strawberry.Private[object]

    id: strawberry.ID = model_id("Volunteer")

    number: str = model_field("number", description="志愿者编号: the public identifier.")
    name: str = model_field("name")
    gender: Gender = model_field("gender", Gender)

    @strawberry.field(
        description="出生日期: to the volunteer themself and to whoever may reveal their "
        "personal information (revealPersonalInfo's roles); null for everyone else, who get "
        "ageBand (issue 10 finding 4).",
        metadata=reads("birth_date", "division_code"),
    )
    def birth_date(self, info: Info) -> datetime.date | None:
        return self._model.birth_date if may_reveal_to(self._model, info) else None

    @strawberry.field(
        description="Age band instead of the birth date: 0-17, 18-34, 35-59 or 60+.",
        metadata=reads("birth_date"),
    )
    def age_band(self) -> str:
        return age_band(self._model.birth_date)

    id_type: IdType = model_field("id_type", IdType)
    id_number_masked: str = model_field("id_number_masked", description="e.g. 5001**********1234")
    phone_masked: str = model_field("phone_masked", description="e.g. 138****5678")
    service_area: str = model_field("service_area")
    service_intentions: list[str] = model_field("service_intentions")
    skills: list[str] = model_field("skills")
    verification: Verification = model_field("verification", Verification)
    verification_reason: str = model_field("verification_reason")
    status: VolunteerStatus = model_field("status", VolunteerStatus)
    status_reason: str = model_field("status_reason")
    guardian_name: str = model_field("guardian_name")
    registered_at: datetime.datetime = model_field("registered_at")

    @strawberry.field(description="Groups the volunteer belongs to or applied to.")
    def memberships(self, info: Info) -> list[Membership]:
        rows = prefetched(self._model, "memberships")
        principal = principal_of(info)
        if (
            principal is None
            or principal.volunteer is None
            or (principal.volunteer.id != self._model.id)
        ):  # others see where the volunteer is a member, not where they applied or left
            rows = [m for m in rows if m.status == group_models.MembershipStatus.ACTIVE]
        return [Membership(_model=m) for m in rows]

    @strawberry.field(description="Service records, oldest first, a page at a time.")
    def records(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: Annotated[RecordFilter, strawberry.lazy("schema.region.records")] | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Annotated[ServiceRecordConnection, strawberry.lazy("schema.region.records")]:
        page = window("r", first, after, last, before, default=20)
        return _volunteer_records()(self._model, page, filter, info)

    @strawberry.field(description="Counted hours (kept as a running total, not summed per read).")
    def total_hours(self) -> Decimal:
        from schema.region.records import volunteer_total_hours

        return volunteer_total_hours(self._model)

    @strawberry.field(description="Star level granted (星级).")
    def star_level(self) -> int:
        from schema.region.records import volunteer_star_level

        return volunteer_star_level(self._model)

    @strawberry.field(description="The highest star level the counted hours reach.")
    def eligible_star_level(self, info: Info) -> int:
        from schema.region.records import volunteer_total_hours
        from tenants.records.stars import eligible_level

        return eligible_level(volunteer_total_hours(self._model), policy_of(info))

    @strawberry.field(description="培训信息 (000 Art.11, 003 Art.14), oldest first.")
    def trainings(self) -> list[Annotated[Training, strawberry.lazy("schema.region.recognition")]]:
        from schema.region.recognition import trainings_of

        return trainings_of(self._model)

    @strawberry.field(description="表彰奖励 (000 Art.12), oldest first.")
    def awards(self) -> list[Annotated[Award, strawberry.lazy("schema.region.recognition")]]:
        from schema.region.recognition import awards_of

        return awards_of(self._model)

    @strawberry.field(
        description="投诉 (000 Art.13, 003 Art.22): upheld ones (kept on file); open and "
        "investigating ones too for the group's staff and the authority; never dismissed ones."
    )
    def complaints(
        self, info: Info
    ) -> list[Annotated[Complaint, strawberry.lazy("schema.region.recognition")]]:
        from schema.region.recognition import complaints_of

        return complaints_of(self._model, info)

    @strawberry.field(
        description="志愿服务记录证明 issued to the volunteer, oldest first (000 Art.17)."
    )
    def certificates(
        self,
    ) -> list[Annotated[Certificate, strawberry.lazy("schema.region.certificates")]]:
        from schema.region.certificates import certificates_of

        return certificates_of(self._model)


@strawberry.enum(description="What an applicant lets the group see before it decides.")
class SharedField(enum.Enum):
    PHONE = "phone"
    SKILLS = "skills"
    SERVICE_INTENTIONS = "service_intentions"
    SERVICE_AREA = "service_area"


@strawberry.type(
    description="What a group sees of an applicant or invitee before they are its member "
    "(issue 10 finding 1): number, name, gender, age band, verification, and only what "
    "the applicant chose to share (masked)."
)
class Applicant:
    _model: strawberry.Private[object]
    _shared: strawberry.Private[frozenset]

    number: str = model_field("number")
    name: str = model_field("name")
    gender: Gender = model_field("gender", Gender)
    verification: Verification = model_field("verification", Verification)

    @strawberry.field(
        description="Age band (0-17, 18-34, 35-59, 60+), never the birth date (finding 4).",
        metadata=reads("birth_date"),
    )
    def age_band(self) -> str:
        return age_band(self._model.birth_date)

    @strawberry.field(description="Masked phone, when shared.", metadata=reads("phone_masked"))
    def phone_masked(self) -> str | None:
        return self._model.phone_masked if "phone" in self._shared else None

    @strawberry.field(description="When shared.", metadata=reads("skills"))
    def skills(self) -> list[str] | None:
        return self._model.skills if "skills" in self._shared else None

    @strawberry.field(description="When shared.", metadata=reads("service_intentions"))
    def service_intentions(self) -> list[str] | None:
        return self._model.service_intentions if "service_intentions" in self._shared else None

    @strawberry.field(description="When shared.", metadata=reads("service_area"))
    def service_area(self) -> str | None:
        return self._model.service_area if "service_area" in self._shared else None


@strawberry.type(description="A volunteer's belonging to a group.")
class Membership(Node):
    _model: strawberry.Private[object]

    id: strawberry.ID = model_id("Membership")
    status: MembershipStatus = model_field("status", MembershipStatus)
    applied_at: datetime.datetime = model_field("applied_at")
    decided_at: datetime.datetime | None = model_field("decided_at")

    @strawberry.field(
        description="The volunteer: null while they are not yet an active member (applied, "
        "invited, declined or left), unless you are that volunteer; see `applicant`."
    )
    def volunteer(self, info: Info) -> Volunteer | None:
        membership = self._model
        if membership.status != group_models.MembershipStatus.ACTIVE:
            principal = principal_of(info)
            me = principal.volunteer if principal is not None else None
            if me is None or me.id != membership.volunteer_id:
                return None
        return Volunteer(_model=membership.volunteer)

    @strawberry.field(
        description="What the group may see of the volunteer before they are its member.",
        metadata=reads("shared_fields"),
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

    @strawberry.field
    def group(self) -> VolunteerGroup:
        return VolunteerGroup(_model=self._model.group)


@functools.cache
def _volunteer_records():
    """``records.volunteer_records`` (records imports this module): imported once, not
    by an import statement run once per volunteer of a page — in Python 3.11 each
    such statement looks up the module's spec and path, ~2,400 instructions."""
    from schema.region.records import volunteer_records

    return volunteer_records


def may_reveal_to(volunteer, info: Info) -> bool:
    """``volunteers.permissions.may_reveal`` for the caller; on a page it reads the memberships
    prefetch.py loaded for it (``REVEAL_FIELDS``), not a query per row."""
    return may_reveal(volunteer, principal_of(info), policy_of(info))


def may_see_members(group_id: int, info: Info) -> bool:
    """Members, applicants and records of a group: for whom ``member_groups_seen_by`` says."""
    seen = member_groups_seen_by(principal_of(info), policy_of(info))
    return seen is None or group_id in seen


@strawberry.type(description="A volunteer group (志愿团体).")
class VolunteerGroup(Node):
    _model: strawberry.Private[object]

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

    @strawberry.field(description="联络团体 (002 §3(2)).")
    def liaison_group(self) -> VolunteerGroup | None:
        liaison = self._model.liaison_group
        return VolunteerGroup(_model=liaison) if liaison else None

    @strawberry.field(description="查看团体.")
    def viewing_groups(self) -> list[VolunteerGroup]:
        # Only approved ones: a pending or rejected group is not public.
        groups = prefetched(self._model, "viewing_groups")
        return [VolunteerGroup(_model=g) for g in groups if g.review == "approved"]

    @strawberry.field(
        description="Approved groups whose liaison group this is, oldest first, `first` at a "
        "time (at most 100); `after` the last one's id for the next."
    )
    def subgroups(
        self, info: Info, first: int = LIST_FIRST, after: strawberry.ID | None = None
    ) -> list[VolunteerGroup]:
        rows = list_page(self._model, "VolunteerGroup", "subgroups", first, after, info)
        return [VolunteerGroup(_model=g) for g in rows]

    @strawberry.field(
        description="Active members, in the order they applied or were added, `first` at a "
        "time (at most 100); `after` the last membership's id for the next. Group staff, "
        "region-wide managers and the authority only."
    )
    def members(
        self, info: Info, first: int = LIST_FIRST, after: strawberry.ID | None = None
    ) -> list[Membership] | None:
        if not may_see_members(self._model.id, info):
            raise AccessError(
                PermissionDenied(
                    _("you may not see the members of %(model)s") % {"model": self._model}
                )
            )
        rows = list_page(self._model, "VolunteerGroup", "members", first, after, info)
        return [Membership(_model=m) for m in rows]

    @strawberry.field(
        description="The group's projects, oldest first, `first` at a time (at most 100); "
        "`after` the last one's id for the next. Published ones are public; the group's "
        "staff, its liaison group's admins and the authority see every one."
    )
    def projects(
        self, info: Info, first: int = LIST_FIRST, after: strawberry.ID | None = None
    ) -> list[Annotated[Project, strawberry.lazy("schema.region.records")]]:
        from schema.region.records import Project

        rows = list_page(self._model, "VolunteerGroup", "projects", first, after, info)
        return [Project(_model=p) for p in rows]

    @strawberry.field(
        description="Active members' volunteers, a page at a time (keyset cursors on the "
        "volunteer, at most 100 a page). Group staff, region-wide managers and the authority."
    )
    def volunteers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> GroupVolunteerConnection | None:
        if not may_see_members(self._model.id, info):
            raise AccessError(
                PermissionDenied(
                    _("you may not see the members of %(model)s") % {"model": self._model}
                )
            )
        page = window("v", first, after, last, before, default=20)
        rows = getattr(self._model, GROUP_VOLUNTEERS, None)
        if rows is None:  # not prefetched (prefetch.PAGES): one query for this page
            from schema.region.prefetch import read_window  # prefetch.py imports this module

            rows = read_window(self._model, "VolunteerGroup", "volunteers", info, page)
        rows, page_info = paged(
            rows, page, key=lambda m: m.volunteer_id, cursor=GroupVolunteerEdge.cursor_of
        )
        return GroupVolunteerConnection(edges=_volunteer_edges(rows), page_info=page_info)

    @strawberry.field(
        description="Pending applications to join, oldest first, `first` at a time (at most "
        "100); `after` the last one's id for the next. Group staff, region-wide managers and "
        "the authority only."
    )
    def applications(
        self, info: Info, first: int = LIST_FIRST, after: strawberry.ID | None = None
    ) -> list[Membership] | None:
        if not may_see_members(self._model.id, info):
            raise AccessError(
                PermissionDenied(
                    _("you may not see the members of %(model)s") % {"model": self._model}
                )
            )
        rows = list_page(self._model, "VolunteerGroup", "applications", first, after, info)
        return [Membership(_model=m) for m in rows]


@strawberry.type(description="Where a page is in its list (GraphQL Cursor Connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Reading forward (first): more follow. Reading backward (last): false."
    )
    has_previous_page: bool = strawberry.field(
        description="Reading backward (last): more come before. Reading forward: false."
    )
    # The page's first and last rows and how to make their cursors: encoded only when
    # asked for (a page of volunteers has a records connection per volunteer).
    _ends: strawberry.Private[tuple] = ()
    _cursor: strawberry.Private[object] = None

    @strawberry.field
    def start_cursor(self) -> str | None:
        return self._cursor(self._ends[0]) if self._ends else None

    @strawberry.field
    def end_cursor(self) -> str | None:
        return self._cursor(self._ends[-1]) if self._ends else None


@dataclass(slots=True)
class Window:
    """A connection's arguments, checked: ``size`` rows after ``after`` (forward), or
    the ``size`` rows just before ``before`` (backward: ``last``)."""

    size: int
    after: int | None
    before: int | None
    backward: bool


def window(kind: str, first: int | None, after, last: int | None, before, default: int) -> Window:
    """``first``/``after`` or ``last``/``before`` of a connection keyed by ``kind``
    cursors; each page size within ``settings.GRAPHQL["MAX_PAGE"]``."""
    # (imports at module level: this runs once per volunteer on a page of volunteers)
    if first is not None and last is not None:
        raise QueryError(InvalidInput(_("give first or last, not both"), field="last"))
    # Once per volunteer on a page of volunteers' records: no call without a cursor.
    after_key = None if after is None else guarded(decode_cursor, kind, after)
    before_key = None if before is None else guarded(decode_cursor, kind, before, "before")
    if last is not None:
        return Window(page_size(last, "last"), after_key, before_key, True)
    return Window(page_size(default if first is None else first), after_key, before_key, False)


def paged(rows: list, window: Window, key, cursor) -> tuple[list, PageInfo]:
    """A page of ``rows`` (ascending by ``key``; at least the page plus one past it in
    the direction read, where there are) and its ``PageInfo``."""
    if window.after is not None:
        rows = [r for r in rows if key(r) > window.after]
    if window.before is not None:
        rows = [r for r in rows if key(r) < window.before]
    if window.backward:
        page = rows[-window.size :]
        more_before, more_after = len(rows) > window.size, False
    else:
        page = rows[: window.size]
        more_before, more_after = False, len(rows) > window.size
    info = PageInfo(
        has_next_page=more_after,
        has_previous_page=more_before,
        _ends=(page[0], page[-1]) if page else (),
        _cursor=cursor,
    )
    return page, info


def keyset_rows(queryset, keyset: str, window: Window) -> list:
    """The rows ``paged`` needs, read in SQL: one past the page in the direction read."""
    if window.after is not None:
        queryset = queryset.filter(**{f"{keyset}__gt": window.after})
    if window.before is not None:
        queryset = queryset.filter(**{f"{keyset}__lt": window.before})
    if window.backward:
        return list(queryset.order_by(f"-{keyset}")[: window.size + 1])[::-1]
    return list(queryset.order_by(keyset)[: window.size + 1])


@strawberry.type(description="A volunteer in a group's page of volunteers, with the membership.")
class GroupVolunteerEdge:
    _membership: strawberry.Private[object]

    @staticmethod
    def cursor_of(membership) -> str:
        return encode_cursor("v", membership.volunteer_id)

    @strawberry.field
    def cursor(self) -> str:
        return self.cursor_of(self._membership)

    @strawberry.field
    def node(self) -> Volunteer:
        # Volunteer(_model=…) without its dataclass constructor, which sets ~25
        # attributes no resolver reads: once per volunteer of a page (issue 16 §2).
        node = object.__new__(Volunteer)
        node._model = self._membership.volunteer
        return node

    @strawberry.field(description="The volunteer's membership of this group.")
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
    edges: list[GroupVolunteerEdge]
    page_info: PageInfo


@strawberry.type
class VolunteerEdge:
    cursor: str
    node: Volunteer


@strawberry.type
class VolunteerConnection:
    edges: list[VolunteerEdge]
    page_info: PageInfo
    _count: strawberry.Private[object]

    @strawberry.field(description="Volunteers matching the filter (one COUNT query).")
    def total_count(self) -> int:
        return self._count()


@strawberry.type
class GroupEdge:
    cursor: str
    node: VolunteerGroup


@strawberry.type
class GroupConnection:
    edges: list[GroupEdge]
    page_info: PageInfo


def list_page(parent, type_name: str, field: str, first: int, after, info: Info) -> list:
    """A page of a list field paged by id (``first``, ``after`` the last id seen;
    ``prefetch.PAGES[(type_name, field)]``): from the rows prefetch.py loaded (each
    parent's first rows past ``after``), else by one query for just this page."""
    from schema.region.prefetch import PAGES, read_page  # prefetch.py imports this module

    first = page_size(first)
    page = PAGES[(type_name, field)]
    after_id = None if after is None else guarded(page.after_key, after)
    rows = getattr(parent, page.to_attr, None)
    if rows is None:
        rows = read_page(parent, type_name, field, info, first, after_id)
    rows = sorted(rows, key=lambda row: row.id)
    if after_id is not None:  # prefetched rows may start before it (prefetch._page_window)
        rows = [row for row in rows if row.id > after_id]
    return rows[:first]


def page_size(first: int, field: str = "first") -> int:
    """``first`` (or ``last``) within 1..settings.GRAPHQL["MAX_PAGE"], else a typed error."""
    limit = settings.GRAPHQL["MAX_PAGE"]
    if not 1 <= first <= limit:
        raise QueryError(
            InvalidInput(
                _("%(field)s must be between 1 and %(limit)s") % {"field": field, "limit": limit},
                field=field,
            )
        )
    return first


def encode_cursor(kind: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{pk}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None, field: str = "after") -> int | None:
    if cursor is None:
        return None
    try:
        prefix, _unused, pk = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if prefix != kind:
            raise ValueError
        return key_in_range(int(pk))
    except (ValueError, UnicodeDecodeError):
        from central.errors import InvalidInput

        raise InvalidInput(_("not a cursor from this list"), field=field) from None


@strawberry.type(description="A role of the logged-in account.")
class StaffRole:
    kind: RoleKind
    group: VolunteerGroup | None
    authority_level: AuthorityLevel | None = strawberry.field(
        description="The authority's level; null for a group's staff."
    )
    authority_name: str


@strawberry.type(description="The logged-in account.")
class Me(Node):
    _model: strawberry.Private[object]
    _roles: strawberry.Private[list]

    id: strawberry.ID = model_id("Me")

    username: str = model_field("username")
    display_name: str = model_field("display_name")

    @strawberry.field
    def volunteer(self) -> Volunteer | None:
        volunteer = self._model.volunteer
        return Volunteer(_model=volunteer) if volunteer else None

    @strawberry.field
    def roles(self) -> list[StaffRole]:
        return [
            StaffRole(
                kind=RoleKind(r.kind),
                group=VolunteerGroup(_model=r.group) if r.group else None,
                authority_level=AuthorityLevel(r.authority_level) if r.authority_level else None,
                authority_name=r.authority_name,
            )
            for r in self._roles
        ]

    # ---- issue 12: what waits for the caller, and what the caller waits for ----------

    @strawberry.field(
        description="What waits for this account's decision (待办): one queue per kind of "
        "decision, exactly what it may decide, in its area; oldest first."
    )
    def work_queues(self) -> Annotated[WorkQueues, strawberry.lazy("schema.region.queues")]:
        from schema.region.queues import WorkQueues

        return WorkQueues()

    @strawberry.field(description="How many items wait in each work queue (myTasks).")
    def tasks(self, info: Info) -> Annotated[TaskCounts, strawberry.lazy("schema.region.queues")]:
        from schema.region.queues import task_counts

        return task_counts(info)

    @strawberry.field(
        description="The volunteer's own applications to projects: state, when decided. "
        "Oldest first (`last` for the newest); empty without a volunteer."
    )
    def project_applications(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Annotated[ProjectApplicationConnection, strawberry.lazy("schema.region.queues")]:
        from schema.region.queues import ProjectApplication, own
        from tenants.queues import own_project_applications

        return own(
            info, own_project_applications, "ma", ProjectApplication, first, after, last, before
        )

    @strawberry.field(
        description="Hours the volunteer declared (本人申报): state, when decided. "
        "Oldest first (`last` for the newest); empty without a volunteer."
    )
    def declarations(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Annotated[DeclarationConnection, strawberry.lazy("schema.region.queues")]:
        from schema.region.queues import Declaration, own
        from tenants.queues import own_declarations

        return own(info, own_declarations, "md", Declaration, first, after, last, before)

    @strawberry.field(
        description="Their correction requests (记录更正): dueOn, overdue, when answered. "
        "Oldest first (`last` for the newest); empty without a volunteer."
    )
    def correction_requests(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Annotated[CorrectionRequestConnection, strawberry.lazy("schema.region.queues")]:
        from schema.region.queues import CorrectionRequest, own
        from tenants.queues import own_correction_requests

        return own(
            info, own_correction_requests, "mc", CorrectionRequest, first, after, last, before
        )

    @strawberry.field(
        description="The volunteer's star applications (星级认定): state, when decided. "
        "Oldest first (`last` for the newest); empty without a volunteer."
    )
    def star_applications(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Annotated[StarApplicationConnection, strawberry.lazy("schema.region.queues")]:
        from schema.region.queues import StarApplication, own
        from tenants.queues import own_star_applications

        return own(info, own_star_applications, "ms", StarApplication, first, after, last, before)

    @strawberry.field(
        description="Objections this account raised (001 §4(4)3): resolution, when. "
        "Oldest first (`last` for the newest); empty without a volunteer."
    )
    def objections(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Annotated[ObjectionConnection, strawberry.lazy("schema.region.queues")]:
        from schema.region.queues import Objection, own
        from tenants.queues import own_objections

        return own(info, own_objections, "mo", Objection, first, after, last, before)
