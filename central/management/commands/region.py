"""``manage.py region create|list|show|suspend|resume|set-policy``: central admins
provision and configure regions from the shell, through the same services as
the admin and the central GraphQL API."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from central import services
from central.errors import ServiceError
from central.models import Region
from central.policy import PRESETS


class Command(BaseCommand):
    help = "Provision, inspect, suspend, resume and configure regions."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = sub.add_parser("create", help="create a region (schema, domains, policy)")
        create.add_argument("--code", required=True, help="GB/T 2260 code, e.g. 500000")
        create.add_argument("--name", required=True, help="e.g. 重庆市")
        create.add_argument("--level", required=True, choices=Region.Level.values)
        create.add_argument("--slug", required=True, help="ASCII slug, e.g. chongqing")
        create.add_argument("--parent", dest="parent_code", help="parent region's code")
        create.add_argument(
            "--domain",
            dest="domains",
            action="append",
            default=[],
            help="host name (repeatable); default <slug>.localhost",
        )
        create.add_argument("--preset", default="default", choices=list(PRESETS))
        create.add_argument("--policy", default="{}", help="JSON of policy fields over the preset")
        sub.add_parser("list", help="list regions")
        show = sub.add_parser("show", help="show one region with its policy")
        show.add_argument("code")
        suspend = sub.add_parser("suspend", help="stop a region from serving requests")
        suspend.add_argument("code")
        suspend.add_argument("--reason", required=True)
        resume = sub.add_parser("resume", help="let a suspended region serve again")
        resume.add_argument("code")
        set_policy = sub.add_parser("set-policy", help="change policy fields")
        set_policy.add_argument("code")
        set_policy.add_argument("changes", help="JSON object, e.g. '{\"publicityWorkingDays\": 5}'")

    def handle(self, *args, action, **options):
        actor = "cli"
        try:
            if action == "create":
                spec = services.RegionSpec(
                    code=options["code"],
                    name=options["name"],
                    level=options["level"],
                    slug=options["slug"],
                    parent_code=options["parent_code"],
                    domains=options["domains"],
                    preset=options["preset"],
                    policy_overrides=_json(options["policy"]),
                )
                region = services.provision_region(spec, actor=actor)
                self.stdout.write(self.style.SUCCESS(_("created %(region)s") % {"region": region}))
                self._show(region)
            elif action == "list":
                for region in services.regions():
                    domains = ", ".join(d.domain for d in region.domains.all())
                    self.stdout.write(
                        f"{region.code}  {region.name:<8}  {region.level:<8}  "
                        f"{region.status:<9}  {region.schema_name:<20}  {domains}"
                    )
            elif action == "show":
                self._show(services.get_region(options["code"]))
            elif action == "suspend":
                region = services.suspend_region(options["code"], options["reason"], actor=actor)
                self.stdout.write(
                    self.style.SUCCESS(_("suspended %(region)s") % {"region": region})
                )
            elif action == "resume":
                region = services.resume_region(options["code"], actor=actor)
                self.stdout.write(self.style.SUCCESS(_("resumed %(region)s") % {"region": region}))
            elif action == "set-policy":
                region = services.update_region_policy(
                    options["code"], _json(options["changes"]), actor=actor
                )
                self.stdout.write(
                    self.style.SUCCESS(_("updated the policy of %(region)s") % {"region": region})
                )
                self._show(region)
        except ServiceError as error:
            raise CommandError(str(error)) from None

    def _show(self, region: Region) -> None:
        summary = {
            "code": region.code,
            "name": region.name,
            "level": region.level,
            "parent": region.parent.code if region.parent else None,
            "status": region.status,
            "suspendedReason": region.suspended_reason or None,
            "schema": region.schema_name,
            "domains": [d.domain for d in region.domains.all()],
            "policy": region.get_policy().as_api_json(),
        }
        self.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))


def _json(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(
            _("policy: not valid JSON (%(msg)s at column %(colno)s)")
            % {"msg": error.msg, "colno": error.colno}
        ) from None
    if not isinstance(value, dict):
        raise CommandError(_("policy: must be a JSON object"))
    return value
