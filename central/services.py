"""Provisioning and configuring regions: the one implementation behind the
``region`` management command, the Django admin and the central GraphQL API.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django_tenants.routers import TenantSyncRouter
from django_tenants.utils import schema_context, schema_exists

from central import compat
from central.divisions import DivisionCodeError, check_division_code, division_name
from central.errors import Conflict, InvalidInput, NotFound, ProblemCollector, locked_row
from central.migrating import rendered_for
from central.models import SLUG_PATTERN, CentralAuditEntry, Domain, Region
from central.policy import PolicyError, RegionPolicy, merge_policy, preset, validate_policy
from central.tenancy import connection

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


@dataclass(frozen=True)
class RegionSpec:
    """What a central admin gives to create a region."""

    code: str
    name: str
    level: str
    slug: str
    parent_code: str | None = None
    domains: list[str] = field(default_factory=list)
    preset: str = "default"
    policy_overrides: dict[str, Any] = field(default_factory=dict)


# Which region levels may be a region's parent (the division code check has
# already tied the parent's code to the region's own).
PARENT_LEVELS: dict[str, tuple[str, ...]] = {
    Region.Level.CITY: (Region.Level.PROVINCE,),
    Region.Level.COUNTY: (Region.Level.CITY, Region.Level.PROVINCE),
}


def default_domain(slug: str) -> str:
    return f"{slug}.{settings.REGION_DOMAIN_SUFFIX}"


def _log(actor: str, action: str, region_code: str, **detail) -> None:
    CentralAuditEntry.objects.create(
        actor=actor, action=action, region_code=region_code, detail=detail
    )


def _policy_problems(problems: ProblemCollector, error: PolicyError, prefix: str) -> None:
    for path, message in error.problems.items():
        name = path if path in ("preset",) else f"{prefix}.{path}"
        problems.add(name, message)


def check_region_spec(spec: RegionSpec) -> tuple[RegionPolicy, list[str], Region | None]:
    """Validate everything before writing; raise with every problem found."""
    problems = ProblemCollector()
    parent = None
    try:
        check_division_code(spec.code, spec.level, spec.parent_code)
    except DivisionCodeError as error:
        field_name = error.field
        if spec.level not in Region.Level.values:
            field_name = "level"
        problems.add(field_name, str(error))
    if Region.objects.filter(code=spec.code).exists():
        problems.add(
            "code",
            _("a region with code %(code)s already exists") % {"code": spec.code},
            "CONFLICT",
        )
    name = (spec.name or "").strip()
    official = division_name(spec.code)
    if not name or len(name) > 64:
        problems.add("name", _("give a name of 1 to 64 characters"))
    elif official and name != official:
        problems.add(
            "name",
            _("%(code)s is %(official)s in GB/T 2260") % {"code": spec.code, "official": official},
        )
    if not re.match(SLUG_PATTERN, spec.slug or ""):
        problems.add(
            "slug",
            _("2-40 lowercase ASCII letters or digits, starting with a letter (e.g. chongqing)"),
        )
    elif Region.objects.filter(slug=spec.slug).exists() or schema_exists(
        Region.schema_name_for(spec.slug)
    ):
        problems.add("slug", _("slug %(slug)r is taken") % {"slug": spec.slug}, "CONFLICT")
    if spec.parent_code:
        parent = Region.objects.filter(code=spec.parent_code).first()
        if parent is None:
            problems.add(
                "parentCode",
                _("no region with code %(parent_code)s") % {"parent_code": spec.parent_code},
                "NOT_FOUND",
            )
        elif parent.level not in PARENT_LEVELS.get(spec.level, ()):
            problems.add(
                "parentCode",
                _("a city region's parent is a province-level region")
                if spec.level == Region.Level.CITY
                else _("a county region's parent is a city- or province-level region")
                if spec.level == Region.Level.COUNTY
                else _("a province-level region has no parent region"),
            )
    domains = list(dict.fromkeys(d.strip().lower() for d in (spec.domains or []) if d.strip()))
    if not domains and re.match(SLUG_PATTERN, spec.slug or ""):
        domains = [default_domain(spec.slug)]
    for domain in domains:
        if not _HOSTNAME.match(domain):
            problems.add("domains", _("%(domain)r is not a valid host name") % {"domain": domain})
        elif domain in settings.CENTRAL_HOSTS:
            problems.add("domains", _("%(domain)r is the central site's host") % {"domain": domain})
        elif Domain.objects.filter(domain=domain).exists():
            problems.add(
                "domains", _("domain %(domain)r is taken") % {"domain": domain}, "CONFLICT"
            )
    policy = None
    try:
        policy = merge_policy(preset(spec.preset), spec.policy_overrides or {})
    except PolicyError as error:
        _policy_problems(problems, error, "policy")
    problems.raise_if_any()
    assert policy is not None  # its PolicyError was reported above
    return policy, domains, parent


def provision_region(spec: RegionSpec, *, actor: str, verbosity: int = 0) -> Region:
    """Create a region: its row, schema and tables, domains and policy, all or nothing.

    PostgreSQL DDL is transactional, so the schema, its tables and every row
    are created in one transaction; any failure leaves nothing behind.
    """
    policy, domains, parent = check_region_spec(spec)
    try:
        with transaction.atomic():
            region = Region(
                code=spec.code,
                name=spec.name.strip(),
                level=spec.level,
                parent=parent,
                slug=spec.slug,
                schema_name=Region.schema_name_for(spec.slug),
                policy=policy.as_json(),
            )
            region.save()
            _create_schema(region, verbosity=verbosity)
            for index, domain in enumerate(domains):
                Domain.objects.create(domain=domain, tenant=region, is_primary=index == 0)
            _log(actor, "region.provisioned", region.code, domains=domains, preset=spec.preset)
            with schema_context(region.schema_name):
                from tenants.audit.services import record

                record(actor, "region.provisioned", region.code, domains=domains)
    except IntegrityError as error:
        # Another request created the same code, slug or domain between our
        # checks and our insert; the transaction rolled back everything.
        raise Conflict(f"region could not be created: {error}".splitlines()[0]) from None
    finally:
        connection.set_schema_to_public()
    return region


def _create_schema(region: Region, verbosity: int = 0) -> None:
    """Create the region's schema and its tables: every migration, applied in order.

    This is what ``migrate_schemas --tenant`` does for an empty schema (the same
    operations, the same SQL, the same ``django_migrations`` rows), except that
    Django's migration states are computed once per process instead of on every
    call: replaying the states was ~0.8 s of Python per region, the SQL is
    ~0.15 s (bench/regions.py). Must run inside the caller's transaction.
    """
    with _MIGRATIONS_LOCK:  # the cached states are shared by the process's threads
        steps = _fresh_schema_migrations()
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{region.schema_name}"')
        # As django-tenants' migrate_schemas: the schema's own django_migrations
        # table first (not public's), then the schema with public on the path.
        connection.set_schema(region.schema_name, include_public=False)
        recorder = MigrationRecorder(connection)
        # The schema is new, so the table is missing: create it without asking
        # (ensure_schema() would list every visible table, a pg_class scan that
        # grows with the region count).
        with connection.schema_editor(atomic=False) as editor:
            editor.create_model(recorder.Migration)
        compat.trust_migrations_table(recorder)
        connection.set_schema(region.schema_name)
        applied = []
        try:
            if _fresh_sql:
                _replay(_fresh_sql)
                applied = _fresh_applied
            else:
                applied = _apply_and_capture(region.schema_name, steps, verbosity)
            # Every row in one INSERT, not one per migration.
            recorder.migration_qs.bulk_create(
                recorder.Migration(app=app_label, name=name) for app_label, name in applied
            )
        finally:
            connection.set_schema_to_public()


def _replay(statements: list[tuple[str, Any]]) -> None:
    """The statements the migrations sent for the process's first new schema, sent
    again as they were, one at a time (Citus needs single statements), with the
    new schema on the ``search_path``."""
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)


def _apply_and_capture(schema: str, steps, verbosity: int) -> list[tuple[str, str]]:
    """Every migration for an empty schema, applied as Django does; what it sends
    is kept (``_fresh_sql``) for the next new schemas of this process.

    For an empty schema the migrations' SQL does not depend on the schema: names
    are unqualified (the ``search_path`` says where), and the data migrations
    find no rows and send the same queries. Building that SQL in Python was most
    of a new region's own time after the states were cached (~0.3 s of 0.4 s).
    Not kept if a statement names the schema (then it would not be the same)."""
    sent: list[tuple[str | None, Any]] = []

    def keep(execute, sql, params, many, context):
        if not sql.lstrip().upper().startswith("SET SEARCH_PATH"):
            sent.append((sql, params) if not many else (None, None))
        return execute(sql, params, many, context)

    applied = []
    with connection.execute_wrapper(keep):
        for migration, operations in steps:
            if verbosity >= 2:
                print(f"  applying {migration.app_label}.{migration.name}")
            # As MigrationExecutor.apply_migration / Migration.apply, with the
            # states before and after each operation computed beforehand (none
            # for the shared apps' migrations: the router skips them here). Not
            # atomic: the caller's transaction already is, and a savepoint per
            # migration was two more statements each (80 migrations).
            with connection.schema_editor(atomic=False) as editor:
                for operation, before, after in operations:
                    operation.database_forwards(migration.app_label, editor, before, after)
            # A squashed migration records the ones it replaces, and itself as
            # MigrationExecutor.check_replacements does once they are all applied.
            applied += [*(migration.replaces or []), (migration.app_label, migration.name)]
    if all(sql is not None and schema not in sql for sql, _params in sent):
        _fresh_sql[:] = [(sql, params) for sql, params in sent if sql is not None]  # all
        _fresh_applied[:] = applied
    return applied


# The migrations for an empty region schema, each with Django's states before and
# after each of its operations, built on first use in a process (~0.25 s) and
# kept: the migrations on disk do not change while the process runs.
_MIGRATIONS_LOCK = threading.Lock()
_fresh_steps: list[tuple[Migration, list[tuple[Operation, ProjectState, ProjectState]]]] = []
# What those migrations sent for the process's first new schema, and the rows
# they recorded: replayed for every later one (``_apply_and_capture``).
_fresh_sql: list[tuple[str, Any]] = []
_fresh_applied: list[tuple[str, str]] = []


def _fresh_schema_migrations():
    if _fresh_steps:
        return _fresh_steps
    # No connection: plan as for a schema with nothing applied (squashed
    # migrations replace what they squash), as migrate does for a new schema.
    loader = MigrationLoader(None)
    plan, seen = [], set()
    for target in loader.graph.leaf_nodes():
        for key in loader.graph.forwards_plan(target):
            if key not in seen:
                seen.add(key)
                plan.append(loader.graph.nodes[key])
    # In a region's schema django-tenants' router lets only the tenant apps'
    # operations run; the shared apps' (auth, admin, central …) are recorded and
    # do nothing, so they need no rendered states. Their states are applied first,
    # before rendering (cheap), unless one side's migrations depend on the other's.
    router = TenantSyncRouter()
    runs = {m: router.app_in_list(m.app_label, settings.TENANT_APPS) for m in plan}
    tenant_keys = {(m.app_label, m.name) for m in plan if runs[m]}
    shared_labels = {m.app_label for m in plan if not runs[m]}
    if any(not runs[m] and set(m.dependencies) & tenant_keys for m in plan) or any(
        runs[m] and any(label in shared_labels for label, _unused in m.dependencies) for m in plan
    ):
        # The two sides depend on each other: keep Django's order and render everything.
        runs = dict.fromkeys(plan, True)
    state = ProjectState(real_apps=loader.unmigrated_apps)
    for migration in plan:
        if not runs[migration]:
            for operation in migration.operations:
                operation.state_forwards(migration.app_label, state)
    # Render once; each operation then re-renders only the models it changes.
    state.apps  # noqa: B018
    operations: dict[Migration, list] = {}
    for migration in plan:
        if runs[migration]:
            operations[migration] = []
            for operation in migration.operations:
                before = rendered_for(operation, state.clone())
                operation.state_forwards(migration.app_label, state)
                operations[migration].append((operation, before, state.clone()))
    _fresh_steps[:] = [(migration, operations.get(migration, [])) for migration in plan]
    return _fresh_steps


def get_region(code: str) -> Region:
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise NotFound(_("no region with code %(code)s") % {"code": code}, field="code")
    return region


def _locked_region(code: str) -> Region:
    return locked_row(
        Region.objects,
        missing=NotFound(_("no region with code %(code)s") % {"code": code}, field="code"),
        code=code,
    )


def suspend_region(code: str, reason: str, *, actor: str) -> Region:
    """Suspend a region: from now on its hosts answer every request with an error."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("say why the region is suspended"), field="reason")
    if len(reason) > 500:
        raise InvalidInput(_("at most 500 characters"), field="reason")
    with transaction.atomic():
        region = _locked_region(code)
        if region.is_suspended:
            raise Conflict(_("%(region)s is already suspended") % {"region": region}, field="code")
        region.status = Region.Status.SUSPENDED
        region.suspended_reason = reason
        region.save(update_fields=["status", "suspended_reason", "updated_at"])
        _log(actor, "region.suspended", code, reason=reason)
    return region


def resume_region(code: str, *, actor: str) -> Region:
    with transaction.atomic():
        region = _locked_region(code)
        if not region.is_suspended:
            raise Conflict(_("%(region)s is not suspended") % {"region": region}, field="code")
        region.status = Region.Status.ACTIVE
        region.suspended_reason = ""
        region.save(update_fields=["status", "suspended_reason", "updated_at"])
        _log(actor, "region.resumed", code)
    return region


def update_region_policy(code: str, changes: dict[str, Any], *, actor: str) -> Region:
    """Change some policy fields; the whole resulting policy is validated first."""
    with transaction.atomic():
        region = _locked_region(code)
        try:
            policy = merge_policy(region.get_policy(), changes)
        except PolicyError as error:
            problems = ProblemCollector()
            _policy_problems(problems, error, "policy")
            problems.raise_if_any()
        region.policy = policy.as_json()
        region.save(update_fields=["policy", "updated_at"])
        _log(actor, "region.policy_updated", code, changes=changes)
    return region


def replace_region_policy(code: str, policy: dict[str, Any] | RegionPolicy, *, actor: str):
    """Set the whole policy (e.g. from the admin's JSON editor)."""
    try:
        validated = validate_policy(policy)
    except PolicyError as error:
        problems = ProblemCollector()
        _policy_problems(problems, error, "policy")
        problems.raise_if_any()
    with transaction.atomic():
        region = _locked_region(code)
        region.policy = validated.as_json()
        region.save(update_fields=["policy", "updated_at"])
        _log(actor, "region.policy_replaced", code)
    return region


# The seed regions, with the preset drawn from their notices (docs/rules.md).
SEED_REGIONS = [
    RegionSpec("500000", "重庆市", "province", "chongqing", preset="chongqing"),
    RegionSpec("530000", "云南省", "province", "yunnan", preset="yunnan"),
    RegionSpec("420000", "湖北省", "province", "hubei"),
    RegionSpec("421300", "随州市", "city", "suizhou", parent_code="420000", preset="suizhou"),
    RegionSpec("210000", "辽宁省", "province", "liaoning"),
    RegionSpec("210900", "阜新市", "city", "fuxin", parent_code="210000", preset="fuxin"),
]


def ensure_seed_regions(
    *,
    actor: str = "system:up",
    on_progress: Callable[[int, int, RegionSpec, bool], None] | None = None,
) -> list[tuple[Region, bool]]:
    """Provision every seed region that is missing; leave existing ones untouched."""
    results = []
    for index, spec in enumerate(SEED_REGIONS, start=1):
        region = Region.objects.filter(code=spec.code).first()
        created = region is None
        if created:
            region = provision_region(spec, actor=actor)
        results.append((region, created))
        if on_progress:
            on_progress(index, len(SEED_REGIONS), spec, created)
    return results


def ensure_central_admin(username: str = "admin") -> tuple[Any, str | None]:
    """Create the first central admin if none exists; return it and its new password.

    The password is returned only when the account is created, so it is
    printed once; later runs return ``None`` for it.
    """
    user_model = get_user_model()
    existing = user_model.objects.filter(is_superuser=True).order_by("id").first()
    if existing is not None:
        return existing, None
    password = secrets.token_urlsafe(12)
    user = user_model.objects.create_superuser(username=username, password=password, email="")
    return user, password


def regions(status: str | None = None) -> QuerySet[Region]:
    queryset = Region.objects.select_related("parent").prefetch_related("domains")
    return queryset.filter(status=status) if status else queryset


def reset_authority_password(code: str, username: str, *, actor: str) -> tuple[str, str, Any]:
    """A central admin resets a region's authority account's password (issue 13): a
    one-time temporary password, returned once, changed at the next login; the
    account's tokens are revoked. Audited in the region's log and the central one
    (actor and target, never the password). Refused for a suspended region (nothing
    is written to it) and for any account that is not an authority's."""
    from django.utils.translation import gettext as _
    from django_tenants.utils import tenant_context

    from central.errors import require_active
    from tenants.accounts import services as accounts

    region = Region.objects.filter(code=(code or "").strip()).first()
    if region is None:
        raise NotFound(_("no region with code %(code)s") % {"code": code}, field="regionCode")
    require_active(region)
    with tenant_context(region):
        account, temporary, until = accounts.reset_authority_password(username, actor=actor)
    _log(actor, "account.password_reset", region.code, username=account.username)
    return account.username, temporary, until
