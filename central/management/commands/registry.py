"""``manage.py registry --region CODE ACTION …``: the registration and review actions
of the volunteer and group registry, from the shell.

It calls the same services as the region GraphQL API, acting as the region's
authority (audited as ``cli:<operator>``).
"""

from __future__ import annotations

import datetime
import getpass
import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django_tenants.utils import tenant_context

from central import services as central_services
from central.errors import ServiceError, require_active
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.groups import services as groups
from tenants.volunteers import services as volunteers


class Command(BaseCommand):
    help = "Register and review volunteers and groups inside one region."

    def add_arguments(self, parser):
        parser.add_argument("--region", required=True, help="the region's division code")
        parser.add_argument("--operator", default=getpass.getuser(), help="who runs this")
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        auth = sub.add_parser("create-authority", help="an authority staff account")
        auth.add_argument("--username", required=True)
        auth.add_argument("--password", required=True)
        auth.add_argument("--name", required=True)
        auth.add_argument("--level", required=True, choices=["county", "city", "province"])
        auth.add_argument("--authority-name", required=True, help="e.g. 重庆市民政局")
        auth.add_argument(
            "--division",
            default="",
            help="GB/T 2260 code the authority acts for (a county, a city, or the region "
            "itself; default: the region's own code)",
        )

        moved = sub.add_parser(
            "set-authority-division", help="bind an authority account to another division"
        )
        moved.add_argument("--username", required=True)
        moved.add_argument("--division", required=True, help="GB/T 2260 code in the region")

        vol = sub.add_parser("register-volunteer", help="register a volunteer")
        vol.add_argument("--name", required=True)
        vol.add_argument("--gender", required=True, choices=["male", "female"])
        vol.add_argument("--birth-date", required=True, help="YYYY-MM-DD")
        vol.add_argument("--id-type", default="resident_id")
        vol.add_argument("--id-number", required=True)
        vol.add_argument("--phone", required=True)
        vol.add_argument("--service-area", default="")
        vol.add_argument("--skill", action="append", default=[])
        vol.add_argument("--guardian-name", default="")
        vol.add_argument("--guardian-consent", action="store_true")
        vol.add_argument("--username", default="")
        vol.add_argument("--password", default="")

        review_vol = sub.add_parser("review-volunteer", help="实名认证: verify or reject")
        review_vol.add_argument("number")
        decision = review_vol.add_mutually_exclusive_group(required=True)
        decision.add_argument("--approve", action="store_true")
        decision.add_argument("--reject", action="store_true")
        review_vol.add_argument("--reason", default="")

        grp = sub.add_parser("register-group", help="register a group")
        grp.add_argument("--name", required=True)
        grp.add_argument("--kind", required=True, choices=["hub", "non_hub"])
        grp.add_argument(
            "--level", required=True, choices=["city", "district", "town", "community"]
        )
        grp.add_argument(
            "--registration-status",
            default="unregistered",
            choices=["unregistered", "legal_person", "branch"],
        )
        grp.add_argument("--liaison", type=int, help="liaison group id")
        grp.add_argument(
            "--division",
            default="",
            help="GB/T 2260 code where it is registered (default: the liaison's; a district "
            "hub names its county)",
        )
        grp.add_argument("--responsible-person", required=True)
        grp.add_argument("--contact-person", required=True)
        grp.add_argument("--contact-phone", required=True)
        grp.add_argument("--uscc", default="", help="unified social credit code")
        grp.add_argument("--registration-authority", default="")
        grp.add_argument("--certificate", help="certificate image file (PNG/JPEG)")
        grp.add_argument("--admin-username", required=True)
        grp.add_argument("--admin-password", required=True)

        review_grp = sub.add_parser("review-group", help="approve or reject a group")
        review_grp.add_argument("group_id", type=int)
        decision = review_grp.add_mutually_exclusive_group(required=True)
        decision.add_argument("--approve", action="store_true")
        decision.add_argument("--reject", action="store_true")
        review_grp.add_argument("--reason", default="")

        unlock = sub.add_parser("unlock-account", help="lift an account's login lock")
        unlock.add_argument("--username", required=True)
        unlock.add_argument("--reason", required=True)

        reset = sub.add_parser(
            "reset-password",
            help="give an account a one-time temporary password (printed once), "
            "changed at its next login",
        )
        reset.add_argument("--username", required=True)

        perm = sub.add_parser("set-permission-group", help="change a group's 权限组别")
        perm.add_argument("group_id", type=int)
        perm.add_argument("permission_group")

    def handle(self, *args, region, operator, action, **options):
        try:
            target = central_services.get_region(region)
            require_active(target)  # a suspended region is written to by no path
            policy = target.get_policy()
            principal = accounts.OperatorPrincipal(name=operator)
            with tenant_context(target):
                result = self._run(action, options, target, policy, principal)
        except ServiceError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(json.dumps(result, ensure_ascii=False)))

    def _run(self, action, o, region, policy, principal: Principal):
        if action == "create-authority":
            account = accounts.create_authority_account(
                o["username"],
                o["password"],
                o["name"],
                o["level"],
                o["authority_name"],
                division_code=o["division"] or region.code,
                region_code=region.code,
                actor=principal.actor,
            )
            return {
                "created": account.username,
                "role": "authority",
                "level": o["level"],
                "division": o["division"] or region.code,
            }
        if action == "set-authority-division":
            role = accounts.set_authority_division(
                o["username"], o["division"], region_code=region.code, actor=principal.actor
            )
            return {"username": o["username"], "division": role.division_code}
        if action == "register-volunteer":
            try:
                birth_date = datetime.date.fromisoformat(o["birth_date"])
            except ValueError:
                raise CommandError(_("--birth-date: use YYYY-MM-DD")) from None
            data = volunteers.VolunteerRegistration(
                name=o["name"],
                gender=o["gender"],
                birth_date=birth_date,
                id_type=o["id_type"],
                id_number=o["id_number"],
                phone=o["phone"],
                service_area=o["service_area"],
                skills=o["skill"],
                guardian_name=o["guardian_name"],
                guardian_consent=o["guardian_consent"],
                username=o["username"],
                password=o["password"],
            )
            if not data.username:
                raise CommandError(_("--username and --password: the volunteer's new account"))
            volunteer = volunteers.register_volunteer(
                data=data, region=region, policy=policy, principal=principal
            )
            return {
                "number": volunteer.number,
                "name": volunteer.name,
                "idNumber": volunteer.id_number_masked,
            }
        if action == "review-volunteer":
            volunteer = volunteers.review_verification(
                number=o["number"],
                approve=o["approve"],
                reason=o["reason"],
                principal=principal,
                policy=policy,
            )
            return {"number": volunteer.number, "verification": volunteer.verification}
        if action == "register-group":
            upload = None
            if o["certificate"]:
                try:
                    with open(o["certificate"], "rb") as handle:
                        upload = SimpleUploadedFile(o["certificate"], handle.read())
                except OSError as error:
                    raise CommandError(
                        _("--certificate: %(strerror)s") % {"strerror": error.strerror}
                    ) from None
            group_data = groups.GroupRegistration(
                name=o["name"],
                kind=o["kind"],
                level=o["level"],
                registration_status=o["registration_status"],
                responsible_person=o["responsible_person"],
                contact_person=o["contact_person"],
                contact_phone=o["contact_phone"],
                liaison_group_id=o["liaison"],
                registration_authority=o["registration_authority"],
                unified_social_credit_code=o["uscc"],
                division_code=o["division"],
                admin_username=o["admin_username"],
                admin_password=o["admin_password"],
            )
            group = groups.register_group(
                data=group_data, principal=None, policy=policy, certificate_upload=upload
            )
            return {
                "id": group.id,
                "name": group.name,
                "review": group.review,
                "division": group.division_code,
            }
        if action == "review-group":
            group = groups.review_group(
                group_id=o["group_id"],
                approve=o["approve"],
                reason=o["reason"],
                principal=principal,
                policy=policy,
            )
            return {
                "id": group.id,
                "review": group.review,
                "permissionGroup": group.permission_group,
            }
        if action == "unlock-account":
            account = accounts.unlock_account(
                username=o["username"], reason=o["reason"], principal=principal
            )
            return {"unlocked": account.username}
        if action == "reset-password":
            # A central operator, like a central admin: an authority account too.
            target = accounts.Account.objects.filter(username=o["username"]).first()
            if target is not None and accounts.is_authority_account(target):
                _account, temporary, until = accounts.reset_authority_password(
                    o["username"], actor=principal.actor
                )
            else:
                _account, temporary, until = accounts.reset_password(
                    username=o["username"], principal=principal
                )
            return {
                "username": o["username"],
                "temporaryPassword": temporary,
                "temporaryUntil": until.isoformat(),
            }
        if action == "set-permission-group":
            group = groups.set_permission_group(
                group_id=o["group_id"],
                name=o["permission_group"],
                principal=principal,
                policy=policy,
            )
            return {"id": group.id, "permissionGroup": group.permission_group}
        raise CommandError(_("unknown action %(action)s") % {"action": action})
