"""The Django admin on the central hosts: provision, configure, suspend regions.

It calls the same services as the ``region`` command and the central GraphQL
API; nothing here writes a region row by itself.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from central import services
from central.admin_accounts import reset_authority_password
from central.errors import ServiceError
from central.models import CentralAuditEntry, Region, RemoteRegion, ScheduledRun
from central.policy import PRESETS
from central.policy_form import POLICY_FIELDS, POLICY_FIELDSET_DESCRIPTION, PolicyFormMixin


class RegionCreateForm(forms.ModelForm):
    domains = forms.CharField(
        required=False,
        help_text=gettext_lazy("Comma-separated host names; default <slug>.localhost."),
    )
    preset = forms.ChoiceField(choices=[(name, name) for name in PRESETS], initial="default")
    policy_overrides = forms.JSONField(
        required=False,
        initial=dict,
        help_text=gettext_lazy("Policy fields (camelCase) over the preset."),
    )

    class Meta:
        model = Region
        fields = ["code", "name", "level", "slug", "parent"]

    def spec(self) -> services.RegionSpec:
        data = self.cleaned_data
        return services.RegionSpec(
            code=data.get("code") or "",
            name=data.get("name") or "",
            level=data.get("level") or "",
            slug=data.get("slug") or "",
            parent_code=data["parent"].code if data.get("parent") else None,
            domains=[d for d in (data.get("domains") or "").split(",") if d.strip()],
            preset=data.get("preset") or "default",
            policy_overrides=data.get("policy_overrides") or {},
        )

    def validate_unique(self):
        """Uniqueness is the provisioning service's business (see clean)."""

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                services.check_region_spec(self.spec())
            except ServiceError as error:
                for problem in error.problems:
                    field = _form_field(problem.field, self.fields)
                    self.add_error(field, problem.message)
        return cleaned


class _RegionPolicyFormBase(PolicyFormMixin, forms.ModelForm):
    class Meta:
        model = Region
        fields: list[str] = []


# The policy editor: one declared field per setting, generated from the policy's
# JSON Schema (central/policy_form.py), so a new setting appears here by itself.
RegionPolicyForm = type(
    "RegionPolicyForm",
    (_RegionPolicyFormBase,),
    {**POLICY_FIELDS, "__module__": __name__},
)


class SuspendForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=500,
        help_text=gettext_lazy(
            "Shown to everyone who calls the region's hosts while it is suspended, "
            "and kept in the central audit log."
        ),
    )


def _form_field(name: str | None, fields) -> str | None:
    mapping = {"parentCode": "parent"}
    if not name:
        return None
    if name.startswith("policy"):
        return "policy_overrides"
    name = mapping.get(name, name)
    return name if name in fields else None


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level", "parent", "status", "schema_name", "created_at"]
    list_filter = ["status", "level"]
    search_fields = ["code", "name", "slug"]
    actions = ["suspend", "resume", reset_authority_password]

    class Media:
        css = {"all": ["central/region_admin.css"]}

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = RegionPolicyForm if obj else RegionCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            fields = ["code", "name", "level", "slug", "parent", "domains", "preset"]
            return [(None, {"fields": [*fields, "policy_overrides"]})]
        region = ["code", "name", "level", "slug", "parent", "schema_name", "status"]
        return [
            (None, {"fields": [*region, "suspended_reason"]}),
            (
                gettext_lazy("Policy"),
                {"fields": list(POLICY_FIELDS), "description": POLICY_FIELDSET_DESCRIPTION},
            ),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [
            "code",
            "name",
            "level",
            "slug",
            "parent",
            "schema_name",
            "status",
            "suspended_reason",
        ]

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        actor = f"central:{request.user.username}"
        if change:
            region = services.replace_region_policy(obj.code, form.policy, actor=actor)
        else:
            region = services.provision_region(form.spec(), actor=actor)
        obj.__dict__.update(region.__dict__)
        obj._state.adding = False

    @admin.action(description=gettext_lazy("Suspend selected regions…"))
    def suspend(self, request, queryset):
        """First a page that asks why (the reason the region's hosts then answer
        with); submitted, the same service as the API and the CLI, audited."""
        form = SuspendForm(request.POST if "confirm_suspend" in request.POST else None)
        if form.is_valid():
            for region in queryset:
                self._run(
                    request,
                    services.suspend_region,
                    region.code,
                    reason=form.cleaned_data["reason"],
                )
            return None  # back to the list, with a message per region
        context = {
            **self.admin_site.each_context(request),
            "title": _("Suspend regions"),
            "opts": self.model._meta,
            "regions": queryset,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/central/region/suspend_confirmation.html", context)

    @admin.action(description=gettext_lazy("Resume selected regions"))
    def resume(self, request, queryset):
        for region in queryset:
            self._run(request, services.resume_region, region.code)

    def _run(self, request, action, code, **kwargs):
        try:
            region = action(code, actor=f"central:{request.user.username}", **kwargs)
            self.message_user(request, f"{region}: {region.get_status_display()}")
        except ServiceError as error:
            self.message_user(request, str(error), level=messages.ERROR)


@admin.register(CentralAuditEntry)
class CentralAuditEntryAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "actor", "action", "region_code"]
    list_filter = ["action"]
    readonly_fields = ["occurred_at", "actor", "action", "region_code", "detail_json"]
    fields = tuple(readonly_fields)

    @admin.display(description=gettext_lazy("detail"))
    def detail_json(self, entry):
        return json.dumps(entry.detail, ensure_ascii=False, indent=2)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


_RUN_COLUMNS = ("day", "job", "finished_at", "count", "regions", "attempts", "held_by")


@admin.register(ScheduledRun)
class ScheduledRunAdmin(admin.ModelAdmin):
    """The daily jobs' runs (``manage.py schedule --status`` shows the same)."""

    list_display = _RUN_COLUMNS
    list_filter = ["job"]
    readonly_fields = (*_RUN_COLUMNS, "started_at", "failures")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RemoteRegionTrustForm(forms.ModelForm):
    trust_fingerprint = forms.CharField(
        required=False,
        help_text=gettext_lazy(
            "To accept the pending key change: the SHA-256 fingerprint of the new key, "
            "as the peer's operator read it to you (issue 11 finding 10)."
        ),
    )

    class Meta:
        model = RemoteRegion
        fields: list[str] = []


@admin.register(RemoteRegion)
class RemoteRegionAdmin(admin.ModelAdmin):
    """Peers' pinned keys: shown, and changed only by trusting a pending key change
    with its fingerprint (``interop.peers.trust``, audited). Adding peers is
    ``manage.py interop peer fetch`` / ``peer add``."""

    form = RemoteRegionTrustForm
    list_display = ["code", "name", "inbox_url", "key_fingerprint", "has_pending"]
    readonly_fields = ["code", "name", "inbox_url", "key_fingerprint", "pending_change"]
    fields = [*readonly_fields, "trust_fingerprint"]

    @admin.display(description=gettext_lazy("fingerprint"))
    def key_fingerprint(self, remote):
        from interop.signing import fingerprint

        return fingerprint(remote.public_key)

    @admin.display(description=gettext_lazy("pending change"), boolean=True)
    def has_pending(self, remote):
        return remote.pending is not None

    @admin.display(description=gettext_lazy("pending change"))
    def pending_change(self, remote):
        from interop.signing import fingerprint

        if not remote.pending:
            return "—"
        return (
            f"key {fingerprint(remote.pending.get('publicKey', ''))} "
            f"at {remote.pending.get('inboxUrl')}"
        )

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        given = form.cleaned_data.get("trust_fingerprint") or ""
        if not given.strip():
            return
        from interop import peers

        try:
            peers.trust(obj.code, given, f"central:{request.user.username}")
            self.message_user(request, _("%(code)s now pinned to the new key") % {"code": obj.code})
        except ServiceError as error:
            self.message_user(request, str(error), level=messages.ERROR)
