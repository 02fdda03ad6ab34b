"""What the region's admin shows and does: groups, volunteers, records and
accounts, each list scoped to the caller's area by the same selectors as the
API, read-only, and every change an action calling the same service as the API
(which checks the caller again and audits). Nothing here saves a model itself.

Volunteers' ID numbers and phones are shown masked only; there is no reveal here
(``revealPersonalInfo`` in the API is the audited way).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from central.errors import Conflict, ServiceError
from tenants.accounts import services as accounts
from tenants.accounts.models import Account
from tenants.accounts.principal import Principal
from tenants.accounts.selectors import kept_accounts
from tenants.groups import services as groups
from tenants.groups.models import VolunteerGroup
from tenants.groups.selectors import visible_groups
from tenants.records import services as records
from tenants.records.models import Objection, RecordState, ServiceRecord
from tenants.records.selectors import records_in_area
from tenants.region_admin.site import region_admin_site
from tenants.volunteers.models import Volunteer
from tenants.volunteers.selectors import visible_volunteers


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class RegionModelAdmin(admin.ModelAdmin):
    """Read-only for everyone; who sees what is the selectors' business, who may do
    what the services'."""

    list_per_page = 50
    actions_on_bottom = True

    def has_module_permission(self, request) -> bool:
        return self.admin_site.has_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self.admin_site.has_permission(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @staticmethod
    def principal(request) -> Principal:
        return request.region_principal

    @staticmethod
    def policy(request):
        return request.region.get_policy()

    def each(self, request, queryset, call, done: str) -> int:
        """``call(obj)`` for each selected row; a refusal is reported for its row and
        the others still go through. ``done`` says what happened, with ``%(count)d``."""
        count = 0
        for obj in queryset:
            try:
                call(obj)
            except ServiceError as error:
                self.message_user(
                    request, f"{obj}: {error.problems[0].message}", level=messages.ERROR
                )
            else:
                count += 1
        if count:
            self.message_user(request, done % {"count": count}, level=messages.SUCCESS)
        return count

    def with_reason(self, request, queryset, title: str, apply):
        """An action that asks for a reason first: a form, then ``apply(reason)``."""
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            apply(form.cleaned_data["reason"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "queryset": queryset,
            "action": request.POST.get("action", ""),
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "opts": self.model._meta,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "region_admin/reason.html", context)


@admin.register(VolunteerGroup, site=region_admin_site)
class GroupAdmin(RegionModelAdmin):
    list_display = ["name", "kind", "level", "division_code", "review", "permission_group"]
    list_filter = ["review", "kind", "level"]
    search_fields = ["name"]
    fields = [
        "name",
        "kind",
        "level",
        "registration_status",
        "liaison_group",
        "division_code",
        "registration_authority",
        "unified_social_credit_code",
        "permission_group",
        "review",
        "review_reason",
        "reviewed_by",
        "responsible_person",
        "contact_person",
        "contact_phone",
        "service_area",
        "created_at",
        "created_by",
    ]
    actions = ["approve", "reject"]

    def get_queryset(self, request):
        return visible_groups(self.principal(request)).select_related("liaison_group")

    @admin.action(description=gettext_lazy("Approve the selected groups"))
    def approve(self, request, queryset):
        self.each(
            request,
            queryset,
            lambda group: groups.review_group(
                group_id=group.id,
                approve=True,
                reason="",
                principal=self.principal(request),
                policy=self.policy(request),
            ),
            _("%(count)d groups approved."),
        )

    @admin.action(description=gettext_lazy("Reject the selected groups (with a reason)"))
    def reject(self, request, queryset):
        return self.with_reason(
            request,
            queryset,
            _("Reject groups"),
            lambda reason: self.each(
                request,
                queryset,
                lambda group: groups.review_group(
                    group_id=group.id,
                    approve=False,
                    reason=reason,
                    principal=self.principal(request),
                    policy=self.policy(request),
                ),
                _("%(count)d groups rejected."),
            ),
        )


@admin.register(Volunteer, site=region_admin_site)
class VolunteerAdmin(RegionModelAdmin):
    list_display = [
        "number",
        "name",
        "gender",
        "id_number_masked",
        "phone_masked",
        "division_code",
        "status",
        "verification",
        "registered_at",
    ]
    list_filter = ["status", "verification"]
    # Not by ID number or phone: a search is a GET, and those never go into a URL
    # (they would sit in access logs and browser histories).
    search_fields = ["number", "name"]
    # Masked values only: the encrypted values and their keyed hashes never appear.
    fields = [
        "number",
        "name",
        "gender",
        "birth_date",
        "id_type",
        "id_number_masked",
        "phone_masked",
        "service_area",
        "division_code",
        "status",
        "status_reason",
        "verification",
        "verification_reason",
        "guardian_name",
        "registered_at",
        "registered_by",
    ]

    def get_queryset(self, request):
        return visible_volunteers(self.principal(request), self.policy(request))


@admin.register(ServiceRecord, site=region_admin_site)
class RecordAdmin(RegionModelAdmin):
    list_display = [
        "id",
        "volunteer",
        "project_name",
        "group",
        "service_date",
        "hours",
        "state",
        "mode",
    ]
    list_filter = ["state", "mode"]
    search_fields = ["volunteer__number", "project_name"]
    fields = [
        "volunteer",
        "group",
        "project_name",
        "service_date",
        "start_time",
        "end_time",
        "hours",
        "place",
        "service_target",
        "content",
        "mode",
        "recorder",
        "state",
        "state_reason",
        "publicity_ends_on",
        "confirmed_by",
        "counted_at",
        "origin_region_name",
        "origin_group_name",
    ]
    actions = ["confirm", "uphold_objections", "dismiss_objections"]

    def get_queryset(self, request):
        return records_in_area(self.principal(request))

    @admin.action(description=gettext_lazy("Confirm the selected records (民政确认)"))
    def confirm(self, request, queryset):
        self.each(
            request,
            queryset,
            lambda record: records.confirm_record(
                record_id=record.id, principal=self.principal(request), policy=self.policy(request)
            ),
            _("%(count)d records confirmed."),
        )

    def _resolve(self, request, queryset, upheld: bool, reason: str, done: str):
        def resolve(record):
            open_objections = record.objections.filter(resolution=Objection.Resolution.OPEN)
            if record.state != RecordState.OBJECTED or not open_objections.exists():
                raise Conflict(_("the record has no open objection"))
            for objection in open_objections:
                records.resolve_objection(
                    objection_id=objection.id,
                    upheld=upheld,
                    reason=reason,
                    principal=self.principal(request),
                    policy=self.policy(request),
                )

        self.each(request, queryset, resolve, done)

    @admin.action(description=gettext_lazy("Uphold the objections: void the selected records"))
    def uphold_objections(self, request, queryset):
        return self.with_reason(
            request,
            queryset,
            _("Void records"),
            lambda reason: self._resolve(
                request, queryset, True, reason, _("%(count)d records voided.")
            ),
        )

    @admin.action(description=gettext_lazy("Dismiss the objections to the selected records"))
    def dismiss_objections(self, request, queryset):
        return self.with_reason(
            request,
            queryset,
            _("Dismiss objections"),
            lambda reason: self._resolve(
                request, queryset, False, reason, _("%(count)d objections dismissed.")
            ),
        )


@admin.register(Account, site=region_admin_site)
class AccountAdmin(RegionModelAdmin):
    list_display = ["username", "display_name", "roles_held", "volunteer", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["username", "display_name"]
    # Never the password hash.
    fields = [
        "username",
        "display_name",
        "roles_held",
        "volunteer",
        "is_active",
        "password_temporary_until",
        "created_at",
    ]
    readonly_fields = ["roles_held"]
    actions = ["reset_password", "unlock"]

    def get_queryset(self, request):
        return kept_accounts(self.principal(request)).select_related("volunteer")

    @admin.display(description=gettext_lazy("Roles"))
    def roles_held(self, account):
        return ", ".join(
            f"{role.get_kind_display()} {role.group.name if role.group_id else role.division_code}"
            for role in account.roles.select_related("group")
        )

    @admin.action(description=gettext_lazy("Reset the selected accounts' passwords"))
    def reset_password(self, request, queryset):
        """The temporary passwords are shown on the page this answers, once; they are
        kept nowhere (not in a message, which would sit in the session or a cookie)."""
        done, refused = [], []
        for account in queryset:
            try:
                _account, temporary, until = accounts.reset_password(
                    username=account.username, principal=self.principal(request)
                )
            except ServiceError as error:
                refused.append((account.username, error.problems[0].message))
            else:
                done.append((account.username, temporary, until))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Temporary passwords"),
            "done": done,
            "refused": refused,
            "opts": self.model._meta,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "region_admin/temporary_passwords.html", context)

    @admin.action(description=gettext_lazy("Lift the selected accounts' login locks"))
    def unlock(self, request, queryset):
        return self.with_reason(
            request,
            queryset,
            _("Lift login locks"),
            lambda reason: self.each(
                request,
                queryset,
                lambda account: accounts.unlock_account(
                    username=account.username, reason=reason, principal=self.principal(request)
                ),
                _("%(count)d accounts unlocked."),
            ),
        )
