"""The central admin's action on regions' accounts: reset an authority account's
password (issue 13). It calls ``central.services.reset_authority_password``, as the
central API's ``resetAuthorityPassword`` does, and shows the temporary password
on the page it answers, once (never in a message, which the session would keep)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from central import services
from central.errors import ServiceError


class AuthorityUsernameForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Authority account's username"), max_length=64)


@admin.action(description=gettext_lazy("Reset an authority account's password"))
def reset_authority_password(modeladmin, request, queryset):
    """On exactly one selected region: ask the username, then reset."""
    regions = list(queryset[:2])
    if len(regions) != 1:
        modeladmin.message_user(request, _("Select exactly one region."), level=messages.ERROR)
        return None
    region = regions[0]
    form = AuthorityUsernameForm(request.POST if "apply" in request.POST else None)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Reset an authority account's password in %(region)s") % {"region": region},
        "form": form,
        "region": region,
        "action": request.POST.get("action", ""),
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "opts": modeladmin.model._meta,
    }
    if "apply" in request.POST and form.is_valid():
        try:
            username, temporary, until = services.reset_authority_password(
                region.code, form.cleaned_data["username"], actor=f"central:{request.user.username}"
            )
        except ServiceError as error:
            form.add_error("username", error.problems[0].message)
        else:
            context.update(username=username, temporary=temporary, until=until)
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "central_admin/reset_authority_password.html", context)
