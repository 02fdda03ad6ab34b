"""Registering and reviewing groups, memberships, the groups' staff accounts."""

from __future__ import annotations

import enum

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from central.throttle import client_address
from schema.errors import Payload, mutation_payload
from schema.region.accounts.mutations import AccountPayload
from schema.region.auth import caller, parse_id
from schema.region.groups.types import (
    GroupKind,
    GroupLevel,
    Membership,
    RegistrationStatus,
    VolunteerGroup,
)
from schema.region.volunteers.applicant import SharedField
from tenants.groups import services as groups


@strawberry.type
class GroupPayload(Payload):
    group: VolunteerGroup | None = None


@strawberry.type
class MembershipPayload(Payload):
    membership: Membership | None = None


@strawberry.input(description="A group's registration (002 §3).")
class RegisterGroupInput:
    name: str
    kind: GroupKind
    level: GroupLevel
    registration_status: RegistrationStatus
    responsible_person: str
    contact_person: str
    contact_phone: str
    liaison_group_id: strawberry.ID | None = None
    viewing_group_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    registration_authority: str = ""
    unified_social_credit_code: str = ""
    service_area: str = ""
    division_code: str = strawberry.field(
        default="",
        description="Where the group is registered: GB/T 2260 code inside the region and "
        "inside its liaison group's area. Default: the liaison's, else the region's. A "
        "district-level hub names its district or county (e.g. 500103).",
    )
    admin_username: str = strawberry.field(
        default="", description="The group admin's new account, when not logged in."
    )
    admin_password: str = ""


@strawberry.enum
class StaffRoleKind(enum.Enum):
    GROUP_ADMIN = "group_admin"
    RECORDER = "recorder"


@strawberry.type
class GroupsMutation:
    @strawberry.mutation(
        description="Register a group. A legal person uploads its certificate image "
        "(multipart request, PNG or JPEG)."
    )
    @mutation_payload(GroupPayload)
    def register_group(
        self, info: Info, input: RegisterGroupInput, certificate: Upload | None = None
    ) -> GroupPayload:
        principal, policy = caller(info)
        data = groups.GroupRegistration(
            name=input.name,
            kind=input.kind.value,
            level=input.level.value,
            registration_status=input.registration_status.value,
            responsible_person=input.responsible_person,
            contact_person=input.contact_person,
            contact_phone=input.contact_phone,
            liaison_group_id=parse_id(input.liaison_group_id, "VolunteerGroup", "liaisonGroupId")
            if input.liaison_group_id
            else None,
            viewing_group_ids=[
                parse_id(v, "VolunteerGroup", "viewingGroupIds") for v in input.viewing_group_ids
            ],
            registration_authority=input.registration_authority,
            unified_social_credit_code=input.unified_social_credit_code,
            service_area=input.service_area,
            division_code=input.division_code,
            admin_username=input.admin_username,
            admin_password=input.admin_password,
        )
        group = groups.register_group(
            data=data,
            principal=principal,
            policy=policy,
            certificate_upload=certificate,
            address=client_address(info.context.request),
        )
        return GroupPayload(group=VolunteerGroup(_model=group))

    @strawberry.mutation(description="Approve or reject a pending group (002 §3(3)).")
    @mutation_payload(GroupPayload)
    def review_group(
        self, info: Info, group_id: strawberry.ID, approve: bool, reason: str = ""
    ) -> GroupPayload:
        principal, policy = caller(info)
        group = groups.review_group(
            group_id=parse_id(group_id, "VolunteerGroup", "groupId"),
            approve=approve,
            reason=reason,
            principal=principal,
            policy=policy,
        )
        return GroupPayload(group=VolunteerGroup(_model=group))

    @strawberry.mutation(
        description="Place a group in a division (GB/T 2260): an authority whose area holds "
        "both the old and the new one."
    )
    @mutation_payload(GroupPayload)
    def set_group_division(
        self, info: Info, group_id: strawberry.ID, division_code: str
    ) -> GroupPayload:
        principal, _ = caller(info)
        group = groups.set_group_division(
            group_id=parse_id(group_id, "VolunteerGroup", "groupId"),
            division_code=division_code,
            principal=principal,
        )
        return GroupPayload(group=VolunteerGroup(_model=group))

    @strawberry.mutation(description="Change a group's permission group (002 §3(4)).")
    @mutation_payload(GroupPayload)
    def set_permission_group(
        self, info: Info, group_id: strawberry.ID, permission_group: str
    ) -> GroupPayload:
        principal, policy = caller(info)
        group = groups.set_permission_group(
            group_id=parse_id(group_id, "VolunteerGroup", "groupId"),
            name=permission_group,
            principal=principal,
            policy=policy,
        )
        return GroupPayload(group=VolunteerGroup(_model=group))

    @strawberry.mutation(
        description="The logged-in volunteer applies to join a group. Until accepted the group "
        "sees only the applicant's number, name, gender, age band and verification, plus "
        "what `share` lists."
    )
    @mutation_payload(MembershipPayload)
    def apply_to_group(
        self, info: Info, group_id: strawberry.ID, share: list[SharedField] | None = None
    ) -> MembershipPayload:
        principal, _ = caller(info)
        membership = groups.apply_to_group(
            group_id=parse_id(group_id, "VolunteerGroup", "groupId"),
            principal=principal,
            share=[field.value for field in share or []],
        )
        return MembershipPayload(membership=Membership(_model=membership))

    @strawberry.mutation(
        description="The invited volunteer accepts or declines a group's invitation "
        "(addMember); only then is the volunteer the group's member."
    )
    @mutation_payload(MembershipPayload)
    def respond_to_invitation(
        self, info: Info, membership_id: strawberry.ID, accept: bool
    ) -> MembershipPayload:
        principal, _ = caller(info)
        membership = groups.respond_to_invitation(
            membership_id=parse_id(membership_id, "Membership", "membershipId"),
            accept=accept,
            principal=principal,
        )
        return MembershipPayload(membership=Membership(_model=membership))

    @strawberry.mutation(description="A group admin accepts or declines an application.")
    @mutation_payload(MembershipPayload)
    def decide_membership(
        self, info: Info, membership_id: strawberry.ID, approve: bool
    ) -> MembershipPayload:
        principal, policy = caller(info)
        membership = groups.decide_membership(
            membership_id=parse_id(membership_id, "Membership", "membershipId"),
            approve=approve,
            principal=principal,
            policy=policy,
        )
        return MembershipPayload(membership=Membership(_model=membership))

    @strawberry.mutation(
        description="A group admin invites a registered volunteer (status INVITED); the "
        "volunteer becomes a member only by accepting (respondToInvitation)."
    )
    @mutation_payload(MembershipPayload)
    def add_member(self, info: Info, group_id: strawberry.ID, number: str) -> MembershipPayload:
        principal, policy = caller(info)
        membership = groups.add_member(
            group_id=parse_id(group_id, "VolunteerGroup", "groupId"),
            number=number,
            principal=principal,
            policy=policy,
        )
        return MembershipPayload(membership=Membership(_model=membership))

    @strawberry.mutation(
        description="Leave a group (a volunteer), or remove a member (a group admin, number)."
    )
    @mutation_payload(MembershipPayload)
    def leave_group(
        self, info: Info, group_id: strawberry.ID, number: str | None = None
    ) -> MembershipPayload:
        principal, policy = caller(info)
        membership = groups.leave_group(
            group_id=parse_id(group_id, "VolunteerGroup", "groupId"),
            principal=principal,
            number=number,
            policy=policy,
        )
        return MembershipPayload(membership=Membership(_model=membership))

    @strawberry.mutation(description="A group admin adds an admin or a recorder (记录员).")
    @mutation_payload(AccountPayload)
    def create_staff_account(
        self,
        info: Info,
        group_id: strawberry.ID,
        role: StaffRoleKind,
        username: str,
        password: str,
        display_name: str,
        recorder_certificate: str = "",
    ) -> AccountPayload:
        principal, policy = caller(info)
        account = groups.create_staff_account(
            group_id=parse_id(group_id, "VolunteerGroup", "groupId"),
            kind=role.value,
            username=username,
            password=password,
            display_name=display_name,
            recorder_certificate=recorder_certificate,
            principal=principal,
            policy=policy,
        )
        return AccountPayload(username=account.username)
