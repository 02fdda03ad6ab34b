"""Mutations of a region's API: parse the input, call the service, shape the payload.

Every mutation returns a payload with ``errors``; a request the caller may not
make at all is a GraphQL error (UNAUTHENTICATED / PERMISSION_DENIED). Either
way nothing is written.
"""

from __future__ import annotations

import datetime
import enum
from typing import Annotated

import strawberry
from django.utils.translation import gettext as _
from strawberry.file_uploads import Upload
from strawberry.types import Info

from central.errors import InvalidInput
from central.throttle import client_address, one_login_per_request
from schema.errors import Payload, mutation_payload, user_errors
from schema.region import types as t
from schema.region.auth import caller, parse_id
from tenants.accounts import services as accounts
from tenants.groups import services as groups
from tenants.volunteers import services as volunteers


@strawberry.type
class LoginPayload(Payload):
    token: str | None = None
    expires_at: datetime.datetime | None = None
    must_change_password: bool = strawberry.field(
        default=False,
        description="The password was right but is a temporary one (a reset): no token "
        "is issued; choose a new password with changePassword(username, currentPassword, "
        "newPassword), which logs in.",
    )


@strawberry.type
class ChangePasswordPayload(Payload):
    ok: bool = False
    revoked_tokens: int | None = strawberry.field(
        default=None, description="How many other tokens (and admin sessions) were revoked."
    )
    token: str | None = strawberry.field(
        default=None,
        description="Called without a token (to replace a temporary password): a new token.",
    )
    expires_at: datetime.datetime | None = None


@strawberry.type
class ResetPasswordPayload(Payload):
    username: str | None = None
    temporary_password: str | None = strawberry.field(
        default=None,
        description="Shown this once and never stored in clear: give it to the account's "
        "owner, who must replace it at the next login (changePassword).",
    )
    temporary_until: datetime.datetime | None = strawberry.field(
        default=None, description="The temporary password stops working then."
    )


@strawberry.type
class OkPayload(Payload):
    ok: bool = False


@strawberry.type
class VolunteerPayload(Payload):
    volunteer: t.Volunteer | None = None


@strawberry.type
class PersonalInfoPayload(Payload):
    id_number: str | None = None
    phone: str | None = None


@strawberry.type
class GroupPayload(Payload):
    group: t.VolunteerGroup | None = None


@strawberry.type
class MembershipPayload(Payload):
    membership: t.Membership | None = None


@strawberry.type
class AccountPayload(Payload):
    username: str | None = None


@strawberry.input(description="A volunteer's registration (000 Art.7).")
class RegisterVolunteerInput:
    name: str
    gender: t.Gender
    birth_date: datetime.date
    id_type: t.IdType
    id_number: str
    phone: str
    service_area: str = ""
    service_intentions: list[str] = strawberry.field(default_factory=list)
    skills: list[str] = strawberry.field(default_factory=list)
    guardian_name: str = ""
    guardian_consent: bool = False
    division_code: str = strawberry.field(
        default="",
        description="所在县（区）: GB/T 2260 code inside the region where the volunteer lives "
        "(e.g. 500103); by default the registering group's, else the region's own.",
    )
    username: str = strawberry.field(
        default="", description="New account (required for self-registration)."
    )
    password: str = ""


@strawberry.input(description="A group's registration (002 §3).")
class RegisterGroupInput:
    name: str
    kind: t.GroupKind
    level: t.GroupLevel
    registration_status: t.RegistrationStatus
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
class RegionMutation:
    @strawberry.mutation(
        description="Log in to this region; the token works only here. One login per request; "
        "repeated failures lock the username or address for a while (THROTTLED, retryAfter)."
    )
    @mutation_payload(LoginPayload)
    def login(self, info: Info, username: str, password: str) -> LoginPayload:
        request = info.context.request
        one_login_per_request(request)
        try:
            raw, token = accounts.login(
                username, password, info.context.region.code, client_address(request)
            )
        except accounts.PasswordChangeRequired as error:
            return LoginPayload(must_change_password=True, errors=user_errors(error))
        return LoginPayload(token=raw, expires_at=token.expires_at)

    @strawberry.mutation(
        description="Change your own password: the current one is checked like a login "
        "(throttled; wrong: INVALID on currentPassword), the new one by the registration "
        "rules. Every other token and admin session of the account is revoked. Without a "
        "token, give username: the way to replace a temporary password (answers a token)."
    )
    @mutation_payload(ChangePasswordPayload)
    def change_password(
        self,
        info: Info,
        current_password: str,
        new_password: str,
        username: Annotated[
            str | None,
            strawberry.argument(description="Only without a token: whose password."),
        ] = None,
    ) -> ChangePasswordPayload:
        from schema.context import bearer_token

        request = info.context.request
        principal, _policy = caller(info)
        if principal is None and not username:
            accounts.require(principal)
        if principal is not None and username and username != principal.account.username:
            raise InvalidInput(_("you are logged in as another account"), field="username")
        one_login_per_request(request)
        address = client_address(request)
        account, revoked = accounts.change_password(
            principal.account.username if principal else username,
            current_password,
            new_password,
            address=address,
            keep_token_id=accounts.token_id_of(bearer_token(request)) if principal else None,
        )
        if principal is not None:
            return ChangePasswordPayload(ok=True, revoked_tokens=revoked)
        raw, token = accounts.issue_token(account, info.context.region.code, address)
        return ChangePasswordPayload(
            ok=True, revoked_tokens=revoked, token=raw, expires_at=token.expires_at
        )

    @strawberry.mutation(
        description="Reset a volunteer's or group staff's password (the authority of every "
        "place the account belongs to; an authority account: central admins). Answers a "
        "one-time temporary password, to be replaced at the next login; the account's "
        "tokens are revoked; audited (never the password)."
    )
    @mutation_payload(ResetPasswordPayload)
    def reset_password(self, info: Info, username: str) -> ResetPasswordPayload:
        principal, _policy = caller(info)
        account, temporary, until = accounts.reset_password(username, principal=principal)
        return ResetPasswordPayload(
            username=account.username, temporary_password=temporary, temporary_until=until
        )

    @strawberry.mutation(
        description="Lift an account's login lock and forget its failed logins (authority only; "
        "audited with the reason)."
    )
    @mutation_payload(AccountPayload)
    def unlock_account(self, info: Info, username: str, reason: str) -> AccountPayload:
        principal, _ = caller(info)
        account = accounts.unlock_account(username, reason, principal=principal)
        return AccountPayload(username=account.username)

    @strawberry.mutation(description="Revoke the token this request carries.")
    @mutation_payload(OkPayload)
    def logout(self, info: Info) -> OkPayload:
        from schema.context import bearer_token

        accounts.require(info.context.principal)
        accounts.logout(bearer_token(info.context.request))
        return OkPayload(ok=True)

    @strawberry.mutation(
        description="Register a volunteer: by themself (give username and password), or by a "
        "group admin into the group (groupId)."
    )
    @mutation_payload(VolunteerPayload)
    def register_volunteer(
        self, info: Info, input: RegisterVolunteerInput, group_id: strawberry.ID | None = None
    ) -> VolunteerPayload:
        principal, policy = caller(info)
        data = volunteers.VolunteerRegistration(
            name=input.name,
            gender=input.gender.value,
            birth_date=input.birth_date,
            id_type=input.id_type.value,
            id_number=input.id_number,
            phone=input.phone,
            service_area=input.service_area,
            service_intentions=input.service_intentions,
            skills=input.skills,
            guardian_name=input.guardian_name,
            guardian_consent=input.guardian_consent,
            division_code=input.division_code,
            username=input.username,
            password=input.password,
        )
        volunteer = volunteers.register_volunteer(
            data,
            region=info.context.region,
            policy=policy,
            principal=principal,
            group_id=parse_id(group_id, "VolunteerGroup", "groupId")
            if group_id is not None
            else None,
        )
        return VolunteerPayload(volunteer=t.Volunteer(_model=volunteer))

    @strawberry.mutation(description="实名认证: verify, or reject with a reason.")
    @mutation_payload(VolunteerPayload)
    def review_volunteer_verification(
        self, info: Info, number: str, approve: bool, reason: str = ""
    ) -> VolunteerPayload:
        principal, policy = caller(info)
        volunteer = volunteers.review_verification(
            number, approve, reason, principal=principal, policy=policy
        )
        return VolunteerPayload(volunteer=t.Volunteer(_model=volunteer))

    @strawberry.mutation(description="Warn (警告), cancel (取消注册) or reinstate a volunteer.")
    @mutation_payload(VolunteerPayload)
    def set_volunteer_status(
        self, info: Info, number: str, status: t.VolunteerStatus, reason: str
    ) -> VolunteerPayload:
        principal, policy = caller(info)
        volunteer = volunteers.set_status(
            number, status.value, reason, principal=principal, policy=policy
        )
        return VolunteerPayload(volunteer=t.Volunteer(_model=volunteer))

    @strawberry.mutation(
        description="Where a volunteer lives (所在县（区）, a GB/T 2260 code in the region; see "
        "`region { divisions }`): the volunteer, or an authority whose area holds both the "
        "old and the new division."
    )
    @mutation_payload(VolunteerPayload)
    def set_volunteer_division(
        self, info: Info, number: str, division_code: str
    ) -> VolunteerPayload:
        principal, policy = caller(info)
        volunteer = volunteers.set_division(
            number,
            division_code,
            principal=principal,
            policy=policy,
            region_code=info.context.region.code,
        )
        return VolunteerPayload(volunteer=t.Volunteer(_model=volunteer))

    @strawberry.mutation(
        description="Show a volunteer's full ID number and phone. Logged with the reason."
    )
    @mutation_payload(PersonalInfoPayload)
    def reveal_personal_info(self, info: Info, number: str, reason: str) -> PersonalInfoPayload:
        principal, policy = caller(info)
        revealed = volunteers.reveal_personal_info(
            number, reason, principal=principal, policy=policy
        )
        return PersonalInfoPayload(id_number=revealed["id_number"], phone=revealed["phone"])

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
            data, principal=principal, policy=policy, certificate_upload=certificate
        )
        return GroupPayload(group=t.VolunteerGroup(_model=group))

    @strawberry.mutation(description="Approve or reject a pending group (002 §3(3)).")
    @mutation_payload(GroupPayload)
    def review_group(
        self, info: Info, group_id: strawberry.ID, approve: bool, reason: str = ""
    ) -> GroupPayload:
        principal, policy = caller(info)
        group = groups.review_group(
            parse_id(group_id, "VolunteerGroup", "groupId"),
            approve,
            reason,
            principal=principal,
            policy=policy,
        )
        return GroupPayload(group=t.VolunteerGroup(_model=group))

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
            parse_id(group_id, "VolunteerGroup", "groupId"), division_code, principal=principal
        )
        return GroupPayload(group=t.VolunteerGroup(_model=group))

    @strawberry.mutation(description="Change a group's permission group (002 §3(4)).")
    @mutation_payload(GroupPayload)
    def set_permission_group(
        self, info: Info, group_id: strawberry.ID, permission_group: str
    ) -> GroupPayload:
        principal, policy = caller(info)
        group = groups.set_permission_group(
            parse_id(group_id, "VolunteerGroup", "groupId"),
            permission_group,
            principal=principal,
            policy=policy,
        )
        return GroupPayload(group=t.VolunteerGroup(_model=group))

    @strawberry.mutation(
        description="The logged-in volunteer applies to join a group. Until accepted the group "
        "sees only the applicant's number, name, gender, age band and verification, plus "
        "what `share` lists."
    )
    @mutation_payload(MembershipPayload)
    def apply_to_group(
        self, info: Info, group_id: strawberry.ID, share: list[t.SharedField] | None = None
    ) -> MembershipPayload:
        principal, _ = caller(info)
        membership = groups.apply_to_group(
            parse_id(group_id, "VolunteerGroup", "groupId"),
            principal=principal,
            share=[field.value for field in share or []],
        )
        return MembershipPayload(membership=t.Membership(_model=membership))

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
            parse_id(membership_id, "Membership", "membershipId"), accept, principal=principal
        )
        return MembershipPayload(membership=t.Membership(_model=membership))

    @strawberry.mutation(description="A group admin accepts or declines an application.")
    @mutation_payload(MembershipPayload)
    def decide_membership(
        self, info: Info, membership_id: strawberry.ID, approve: bool
    ) -> MembershipPayload:
        principal, policy = caller(info)
        membership = groups.decide_membership(
            parse_id(membership_id, "Membership", "membershipId"),
            approve,
            principal=principal,
            policy=policy,
        )
        return MembershipPayload(membership=t.Membership(_model=membership))

    @strawberry.mutation(
        description="A group admin invites a registered volunteer (status INVITED); the "
        "volunteer becomes a member only by accepting (respondToInvitation)."
    )
    @mutation_payload(MembershipPayload)
    def add_member(self, info: Info, group_id: strawberry.ID, number: str) -> MembershipPayload:
        principal, policy = caller(info)
        membership = groups.add_member(
            parse_id(group_id, "VolunteerGroup", "groupId"),
            number,
            principal=principal,
            policy=policy,
        )
        return MembershipPayload(membership=t.Membership(_model=membership))

    @strawberry.mutation(
        description="Leave a group (a volunteer), or remove a member (a group admin, number)."
    )
    @mutation_payload(MembershipPayload)
    def leave_group(
        self, info: Info, group_id: strawberry.ID, number: str | None = None
    ) -> MembershipPayload:
        principal, policy = caller(info)
        membership = groups.leave_group(
            parse_id(group_id, "VolunteerGroup", "groupId"),
            principal=principal,
            number=number,
            policy=policy,
        )
        return MembershipPayload(membership=t.Membership(_model=membership))

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
            parse_id(group_id, "VolunteerGroup", "groupId"),
            role.value,
            username,
            password,
            display_name,
            recorder_certificate,
            principal=principal,
            policy=policy,
        )
        return AccountPayload(username=account.username)
