"""The libraries' private parts this platform relies on, named in one place and
checked when the platform starts (issue 15 point 1).

Compiled execution (``schema/compiled.py``), the prefetch planner and the
parser cache read strawberry's and graphql-core's internals; migrating and
provisioning many regions (``central/migrating.py``, ``central/services.py``)
reach into Django's migration recorder; the parentless querysets
(``tenants/related.py``) subclass Django's ``QuerySet`` and read its
attributes. ``pyproject.toml`` pins each library below its next minor release,
but a pin can be lifted by hand or by a resolver, so :func:`problems` looks at
every one of these parts on the installed libraries and the Django system
check ``platform.E001`` (run by ``manage.py check``, ``up`` and the test
suite's set-up) refuses to start with a clear message when one is missing,
rather than let a query fail, or silently fall back to the slow path, at
request time.

Use the accessors here instead of reaching into a library elsewhere; add a
probe to :func:`problems` for any new one.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from django.core import checks

# The ranges the private parts below were written against (pyproject.toml).
PINNED = {
    "strawberry-graphql": ((0, 341, 2), (0, 342)),
    "graphql-core": ((3, 3, 2), (3, 4)),
    "django": ((5, 2), (5, 3)),
    "django-tenants": ((4, 0, 1), (4, 1)),
}


# strawberry and graphql-core -------------------------------------------------------


def graphql_schema(schema) -> Any:
    """The graphql-core ``GraphQLSchema`` behind a strawberry ``Schema``."""
    return schema._schema


def has_exception_handlers(schema) -> bool:
    """True if the strawberry schema has exception handlers (they run only inside
    strawberry's own resolver wrapper, so compiled execution steps aside)."""
    return bool(schema.schema_converter._exception_handler_specs)


def resolver_function(resolver) -> tuple[Any, bool]:
    """A strawberry resolver's undecorated function and whether it takes ``self``."""
    return resolver.wrapped_func, resolver.self_parameter is not None


def raw_info(info) -> Any:
    """graphql-core's ``GraphQLResolveInfo`` behind a strawberry ``Info``: the field's
    nodes of the query document (``field_nodes``) and its ``fragments``."""
    return info._raw_info


def streaming_requested(view, headers) -> bool:
    """Whether a request's ``Accept`` asks strawberry's view for a streaming answer
    (SSE, multipart), which its sync view refuses: the direct path leaves such a
    request to it (``schema/views.py``)."""
    return view._get_stream_transport_from_headers(headers) is not None


# Django's migrations ----------------------------------------------------------------


def trust_migrations_table(recorder) -> None:
    """Tell a ``MigrationRecorder`` its table exists (the caller just made it or
    read it), so it does not scan ``pg_class`` — a scan of every region's tables
    — before each write."""
    recorder._has_table = True


# The QuerySet attributes tenants/related.py reads or sets on its subclasses.
QUERYSET_ATTRIBUTES = ("_prefetch_related_lookups", "_iterable_class", "_result_cache")


def _version(distribution: str) -> tuple[int, ...]:
    parts = []
    for piece in metadata.version(distribution).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def problems() -> list[str]:
    """What is not as this module expects on the installed libraries (empty: all)."""
    found = []
    for distribution, (lowest, below) in PINNED.items():
        try:
            version = _version(distribution)
        except metadata.PackageNotFoundError:
            found.append(f"{distribution} is not installed")
            continue
        if not lowest <= version < below:
            shown = ".".join(map(str, version))
            found.append(
                f"{distribution} {shown} is outside {'.'.join(map(str, lowest))} – "
                f"<{'.'.join(map(str, below))}, the range central/compat.py was written for"
            )
    found.extend(_probe_strawberry())
    found.extend(_probe_django())
    return found


def _probe_strawberry() -> list[str]:
    import strawberry
    from graphql import GraphQLSchema

    @strawberry.type
    class Probe:
        @strawberry.field
        def echo(self, text: str) -> str:
            return text

    found = []
    try:
        schema = strawberry.Schema(query=Probe)
        if not isinstance(graphql_schema(schema), GraphQLSchema):
            found.append("strawberry Schema._schema is not a graphql-core GraphQLSchema")
        has_exception_handlers(schema)
        field = graphql_schema(schema).query_type.fields["echo"]
        definition = (field.extensions or {}).get("strawberry-definition")
        if definition is None:
            found.append("strawberry no longer keeps a field's definition in its extensions")
        else:
            function, takes_self = resolver_function(definition.base_resolver)
            if not callable(function) or not takes_self:
                found.append("strawberry resolvers changed (wrapped_func, self_parameter)")
        from strawberry.types import Info

        if "_raw_info" not in getattr(Info, "__dataclass_fields__", {}):
            found.append("strawberry's Info no longer keeps graphql-core's (_raw_info)")
        from strawberry.django.views import GraphQLView

        if streaming_requested(GraphQLView(schema=schema), {"Accept": "application/json"}):
            found.append("strawberry's view takes a JSON request for a streaming one")
    except AttributeError as error:
        found.append(f"strawberry's internals changed: {error}")
    return found


def _probe_django() -> list[str]:
    import inspect

    from django.db.migrations.recorder import MigrationRecorder
    from django.db.models.query import QuerySet

    found = []
    # has_table() must answer from _has_table once it is set, without a query.
    if "self._has_table" not in inspect.getsource(MigrationRecorder.has_table):
        found.append("Django's MigrationRecorder.has_table no longer reads _has_table")
    queryset: QuerySet[Any] = QuerySet()
    found.extend(
        f"Django's QuerySet has no {name} (tenants/related.py)"
        for name in QUERYSET_ATTRIBUTES
        if not hasattr(queryset, name)
    )
    return found


@checks.register()
def private_parts(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            problem,
            hint="install the versions pyproject.toml pins, or update central/compat.py",
            id="platform.E001",
        )
        for problem in problems()
    ]
