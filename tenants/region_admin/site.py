"""The region's own Django admin (``/admin/`` on the region's host), for its
authority staff (民政部门/文明办) only.

It shares nothing with the central admin but Django's templates: its own site,
its own login (the region accounts' password check and throttle,
``tenants.accounts.services.admin_login``), and a session that holds nothing but
the region's code and the id of the bearer token the login issued. Every page
loads the caller from that token, so logging out, a password change, a reset or
the token's expiry ends the session; a session shown to another region's host is
refused. ``request.user`` is never a central ``User`` here: a central admin's
session cookie gains nothing on a region's host.
"""

from __future__ import annotations

from functools import update_wrapper

from django import forms
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.middleware.csrf import rotate_token
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from central.errors import ServiceError
from central.throttle import client_address
from tenants.accounts import services as accounts

SESSION_KEY = "region_admin"


class RegionStaff:
    """The authority account behind a region admin session, as the admin's
    templates and checks see a user. Permissions are decided by the model admins
    (through the services' own checks), never by Django's permission tables."""

    is_active = True
    is_staff = True
    is_authenticated = True
    is_anonymous = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, principal: accounts.AccountPrincipal):
        self.principal = principal

    def __str__(self) -> str:
        return self.principal.account.username

    def get_username(self) -> str:
        return self.principal.account.username

    def get_short_name(self) -> str:
        return self.principal.account.display_name or self.get_username()

    get_full_name = get_short_name

    def has_usable_password(self) -> bool:
        return True

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def has_perms(self, perms, obj=None) -> bool:
        return False

    def has_module_perms(self, app_label) -> bool:
        return False


def _first_message(error: ServiceError) -> str:
    return error.problems[0].message


class LoginForm(forms.Form):
    """Username and password, checked by the region's login service."""

    username = forms.CharField(label=gettext_lazy("Username"), max_length=64)
    password = forms.CharField(
        label=gettext_lazy("Password"), strip=False, widget=forms.PasswordInput
    )

    def __init__(self, request, *args, **kwargs):
        self.request = request
        self.token = None
        self.must_change_password = False
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if data is None or self.errors:
            return data
        try:
            self.token = accounts.admin_login(
                data["username"],
                data["password"],
                self.request.region.code,
                client_address(self.request),
            )
        except accounts.PasswordChangeRequired:
            self.must_change_password = True
            raise ValidationError(
                _("This is a temporary password: choose your own password first.")
            ) from None
        except ServiceError as error:
            raise ValidationError(_first_message(error)) from None
        return data


class PasswordChangeForm(forms.Form):
    """The fields Django's password-change template shows."""

    old_password = forms.CharField(
        label=gettext_lazy("Current password"), strip=False, widget=forms.PasswordInput
    )
    new_password1 = forms.CharField(
        label=gettext_lazy("New password"), strip=False, widget=forms.PasswordInput
    )
    new_password2 = forms.CharField(
        label=gettext_lazy("New password (again)"), strip=False, widget=forms.PasswordInput
    )

    def clean(self):
        data = super().clean()
        if data is not None and not self.errors and data["new_password1"] != data["new_password2"]:
            self.add_error("new_password2", _("The two new passwords differ."))
        return data

    def change(self, username: str, address: str, keep_token_id=None) -> bool:
        """Change the password through the service; False (with the service's
        problems on the form's fields) if it refused."""
        try:
            accounts.change_password(
                username,
                self.cleaned_data["old_password"],
                self.cleaned_data["new_password1"],
                address=address,
                keep_token_id=keep_token_id,
            )
        except ServiceError as error:
            fields = {"currentPassword": "old_password", "newPassword": "new_password1"}
            for problem in error.problems:
                name = fields.get(problem.field or "")
                self.add_error(name if name in self.fields else None, problem.message)
            return False
        return True


class TemporaryPasswordForm(PasswordChangeForm):
    """Choosing one's own password after a reset, before the first login."""

    username = forms.CharField(label=gettext_lazy("Username"), max_length=64)

    field_order = ["username", "old_password", "new_password1", "new_password2"]


class RegionAdminSite(admin.AdminSite):
    site_url = None  # a region's host has no site at "/"
    index_title = gettext_lazy("Groups, volunteers, records and accounts")

    def __init__(self, name: str = "region_admin"):
        super().__init__(name)

    # -- who is calling ---------------------------------------------------------------

    def attach(self, request) -> None:
        """Set ``request.user`` (a :class:`RegionStaff` or anonymous) and
        ``request.region_principal`` from the session's token, for this region only."""
        request.user = AnonymousUser()
        request.region_principal = None
        region = getattr(request, "region", None)
        kept = request.session.get(SESSION_KEY) if region is not None else None
        if region is None or not kept or kept.get("region") != region.code:
            return
        principal = accounts.session_principal(kept.get("token"))
        if principal is not None and principal.is_authority:
            request.user = RegionStaff(principal)
            request.region_principal = principal

    def has_permission(self, request) -> bool:
        return isinstance(getattr(request, "user", None), RegionStaff)

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def with_caller(request, *args, **kwargs):
            self.attach(request)
            return inner(request, *args, **kwargs)

        return update_wrapper(with_caller, inner)

    def each_context(self, request):
        context = super().each_context(request)
        region = getattr(request, "region", None)
        if region is not None:
            title = _("%(region)s volunteer records admin") % {"region": region.name}
            context.update(site_header=title, site_title=title)
        return context

    def get_log_entries(self, request):
        # Django's LogEntry table is the central admin's (public schema); nothing of
        # it belongs on a region's pages. What was done here is in the region's audit log.
        from django.contrib.admin.models import LogEntry

        return LogEntry.objects.none()

    def get_urls(self):
        extra = [
            path(
                "set-password/",
                csrf_protect(never_cache(self.set_password)),
                name="set_password",
            ),
        ]
        return extra + super().get_urls()

    # -- logging in and out -------------------------------------------------------------

    def _start_session(self, request, token) -> HttpResponseRedirect:
        request.session.cycle_key()  # no session fixation
        request.session[SESSION_KEY] = {"region": request.region.code, "token": token.id}
        rotate_token(request)
        return HttpResponseRedirect(reverse("admin:index", current_app=self.name))

    @method_decorator(never_cache)
    @method_decorator(csrf_protect)
    def login(self, request, extra_context=None):
        self.attach(request)
        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        form = LoginForm(request, data=request.POST if request.method == "POST" else None)
        if request.method == "POST":
            if form.is_valid():
                return self._start_session(request, form.token)
            if form.must_change_password:
                target = reverse("admin:set_password", current_app=self.name)
                return HttpResponseRedirect(f"{target}?username={form.cleaned_data['username']}")
        context = {
            **self.each_context(request),
            "title": _("Log in"),
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": "",
            "form": form,
            "next": reverse("admin:index", current_app=self.name),
            **(extra_context or {}),
        }
        request.current_app = self.name
        return TemplateResponse(request, "admin/login.html", context)

    def set_password(self, request):
        """After a reset: the temporary password and a new one of the account's own
        choosing (``change_password``), then the admin's login with it."""
        self.attach(request)
        initial = {"username": request.GET.get("username", "")[:64]}
        form = TemporaryPasswordForm(
            data=request.POST if request.method == "POST" else None, initial=initial
        )
        if request.method == "POST" and form.is_valid():
            address = client_address(request)
            username = form.cleaned_data["username"]
            if form.change(username, address):
                try:
                    token = accounts.admin_login(
                        username, form.cleaned_data["new_password1"], request.region.code, address
                    )
                except ServiceError as error:
                    form.add_error(None, _first_message(error))
                else:
                    return self._start_session(request, token)
        context = {
            **self.each_context(request),
            "title": _("Choose your password"),
            "form": form,
        }
        request.current_app = self.name
        return TemplateResponse(request, "region_admin/set_password.html", context)

    def logout(self, request, extra_context=None):
        if request.method == "POST":
            kept = request.session.get(SESSION_KEY) or {}
            accounts.end_session(kept.get("token"))
        return super().logout(request, extra_context)

    def password_change(self, request, extra_context=None):
        """The account's own password, through ``change_password``: every other token
        and session of the account is revoked, this session's kept."""
        form = PasswordChangeForm(data=request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            kept = request.session.get(SESSION_KEY) or {}
            if form.change(
                request.user.get_username(),
                client_address(request),
                keep_token_id=kept.get("token"),
            ):
                return HttpResponseRedirect(
                    reverse("admin:password_change_done", current_app=self.name)
                )
        context = {
            **self.each_context(request),
            "title": _("Password change"),
            "form": form,
            **(extra_context or {}),
        }
        request.current_app = self.name
        return TemplateResponse(request, "registration/password_change_form.html", context)


region_admin_site = RegionAdminSite()
