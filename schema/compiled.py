"""Compiled execution of read-only queries (issue 6: the nested page).

graphql-core executes a response one field at a time: for every field of every
object it builds a ``ResolveInfo``, goes through strawberry's resolver wrapper
(argument conversion, field extensions, an ``Info`` object) and completes the
value by its type. That is ~10 µs per field, and a page of 50 groups × 20
volunteers × 10 records has ~34,000 fields: most of the page's time.

:class:`CompiledQueries` executes a query operation itself when it can, with
the schema's own resolvers and serializers, doing per *position in the query*
what graphql-core does per *object*:

- selection sets (fragments, ``@skip``/``@include``) are collected once;
- a field without arguments whose resolver only reads ``self`` (or a plain
  attribute) is called directly;
- any other field's arguments are coerced and converted to Python values, and
  its ``Info`` built, once per position; its resolver is then called as
  strawberry calls it (``self``/``root``/``info`` as it asks), so authorization
  and prefetching (``info.selected_fields``) work unchanged;
- leaves are serialized by the schema's scalar and enum types.

It declines, and graphql-core executes the operation as before, whenever the
operation is not a query, uses introspection, an abstract type, ``@defer`` /
``@stream`` or another directive, a field with strawberry field extensions
(permission classes are extensions) or an async resolver, or when the schema has
strawberry exception handlers. And it gives up at run time — graphql-core then executes
the whole operation again — when a resolver raises, returns something
awaitable, or returns null where the schema says non-null: errors, partial
data and their paths therefore always come from graphql-core, exactly as
without this extension. Query resolvers do not write, so running one twice is
safe; only failing queries pay for it, and not for loading their rows twice:
graphql-core reuses the root fields' values (:meth:`CompiledQueries.resolve`).
Every such fallback is counted by kind and reason and logged at WARNING once per
reason and process (:func:`fell_back`; a resolver's own refusal is only counted).
The test suite runs every query it sends both ways and compares the answers
(``COMPILED_EXECUTION = "verify"``).

What a resolver could notice: the ``Info`` and the converted arguments of a
field inside a list are made once for all its items, so ``info.path`` is the
position without list indices, and a resolver must not modify its arguments.
No resolver of this API does either.
"""

from __future__ import annotations

import contextvars
import datetime
import logging
import operator
from collections.abc import Awaitable, Callable
from typing import Any, TypeGuard

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLIncludeDirective,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLSkipDirective,
    GraphQLString,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
    is_leaf_type,
)
from graphql.execution import ExecutionResult
from graphql.execution import execute as graphql_execute
from graphql.execution.values import (
    VariableValues,
    get_argument_values,
    get_directive_values,
    get_variable_values,
)
from graphql.pyutils import Path, Undefined
from graphql.utilities import type_from_ast
from strawberry.extensions import SchemaExtension
from strawberry.schema import Schema as StrawberrySchema
from strawberry.types.arguments import convert_arguments

from central import compat, metrics
from central.errors import ServiceError
from schema.hardening import _LRU, per_document_lru

logger = logging.getLogger(__name__)

DEFINITION = "strawberry-definition"  # strawberry's back-reference on GraphQL fields
# Field metadata: the value is just ``self._model.<attribute>`` (schema/region/fields.py),
# read with ``operator.attrgetter`` instead of calling the resolver.
ATTRIBUTE_KEY = "model_attribute"

Resolve = Callable[[Any], Any]
Complete = Callable[[Any], Any]


def _inlined(complete: Any, inline: tuple, fill: Complete | None = None) -> Complete:
    """``complete`` marked with how ``_generated_filler`` may inline it (``inline``:
    kind, detail, required) and, for objects, the filler of their fields."""
    complete.inline = inline
    if fill is not None:
        complete.fill = fill
    return complete


class Declined(Exception):
    """The operation uses something this executor leaves to graphql-core."""


class GaveUp(Exception):
    """A value needs graphql-core's error handling (an error or an illegal null)."""


MODES = ("on", "off", "verify")


class CompiledQueries(SchemaExtension):
    """Runs query operations with :class:`Executor`; leaves the rest to graphql-core.

    ``settings.GRAPHQL["COMPILED_EXECUTION"]``: ``"on"``, ``"off"``, or
    ``"verify"``, which also executes each compiled query with graphql-core and
    fails the request when the answers differ (the test server runs so).

    When compiled execution gives up part-way, graphql-core gets the values the
    root fields already resolved to (``resolve`` below): the root resolvers are
    where a page loads its rows, so a query that fails part-way (members it may
    not see, say) loads them once, and only the nested resolvers run again over
    the loaded rows. Strawberry builds an extension object per operation, so
    these values never outlive their request.
    """

    root_values: dict[int, Any]

    def resolve(self, _next, root, info, *args, **kwargs):
        values = getattr(self, "root_values", None)
        if values and info.parent_type is info.schema.query_type:
            value = values.pop(id(info.field_nodes[0]), _MISSING)
            if value is not _MISSING:
                return value
        return _next(root, info, *args, **kwargs)

    def on_execute(self):
        mode = settings.GRAPHQL["COMPILED_EXECUTION"]
        if mode not in MODES:
            raise ImproperlyConfigured(f"GRAPHQL COMPILED_EXECUTION must be one of {MODES}")
        context = self.execution_context
        request = getattr(context.context, "request", None)
        tried = getattr(request, "__dict__", {}).pop("compiled_root_values", None)
        if tried is not None:
            # The views' direct path ran this very operation compiled and it gave up
            # (or declined): graphql-core answers, with the root values it loaded.
            self.root_values = tried
            yield
            return
        if mode != "off" and context.result is None and context.graphql_document is not None:
            arguments = (
                context.schema,
                context.graphql_document,
                context.operation_name,
                context.variables,
                context.context,
                context.root_value,
            )
            self.root_values = {}
            data = execute(*arguments, self.root_values)
            if data is not None:
                if mode == "verify":
                    verify(data, *arguments)
                context.result = ExecutionResult(data=data, errors=None)
        yield


class CompiledAnswerDiffers(AssertionError):
    pass


def verify(data, schema, document, operation_name, variables, context, root_value) -> None:
    """Raise when graphql-core answers differently. A query whose answer changes
    from one run to the next (a card code and its expiry are made at the moment of
    the call) is compared only if graphql-core gives the same answer twice."""

    def standard():
        return graphql_execute(
            compat.graphql_schema(schema),
            document,
            root_value=root_value,
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
        )

    expected = standard()
    if not expected.errors and expected.data == data:
        return
    again = standard()
    if (again.data, again.errors) != (expected.data, expected.errors):
        return  # not deterministic: nothing to compare against
    raise CompiledAnswerDiffers(
        f"compiled execution answered {data!r}, graphql-core {expected.data!r} "
        f"with errors {expected.errors!r}"
    )


def execute(
    schema, document, operation_name, variables, context, root_value, root_values: dict
) -> dict | None:
    """The operation's ``data`` (``schema`` is strawberry's), or None when
    graphql-core must execute it; ``root_values`` receives what the root fields
    resolved to."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation != OperationType.QUERY:
        return None
    if compat.has_exception_handlers(schema):
        return None  # strawberry's exception handlers run only in its own resolvers
    coerced = get_variable_values(
        compat.graphql_schema(schema), operation.variable_definitions or (), variables or {}
    )
    if isinstance(coerced, list):  # invalid variables: graphql-core reports them
        return None
    try:
        key = (id(document), id(schema), operation_name)
        plans = _plan_cache()
        found = plans.get(key)
        if found is not None and found[0] is document and found[1] is schema:
            complete, binders = found[2], found[3]
        else:
            executor = Executor(schema, document, operation, coerced, context, root_value, {})
            complete, binders = executor.plan(), executor.binders
            if not executor.request_bound:
                # (the document kept with it: its id is not reused while the plan lives)
                plans.put(key, (document, schema, complete, binders), 1)
        return run_plan(complete, binders, coerced, context, root_value, root_values)
    except Declined as declined:
        fell_back("declined", str(declined))
    except GaveUp as gave_up:
        fell_back("gave_up", str(gave_up))
    except (GraphQLError, ServiceError) as refused:
        # A resolver refused (not found, not allowed …): graphql-core runs it again
        # and reports it; nothing to warn about.
        fell_back("error", type(refused).__name__, warn=False)
    except Exception as error:  # anything else may be a library this code does not know
        fell_back("error", type(error).__name__, detail=f"{error!r}", exc_info=True)
    return None


_warned: set[str] = set()

# Plans by (document, schema, operation name): a query's plan does not depend on its
# request — what does (each argument-taking field's arguments and Info, which hold
# the variables and the context) is bound per request by ``run_plan`` — except
# under ``@skip``/``@include``, whose plans are not kept. As many as the parser's
# cache keeps documents (``settings.GRAPHQL["CACHE_SIZE"]``; 0: none).
_plans: _LRU | None = None
_frame: contextvars.ContextVar = contextvars.ContextVar("compiled_frame")


def _plan_cache() -> _LRU:
    global _plans
    if _plans is None:
        _plans = per_document_lru()
    return _plans


class _Frame:
    """One execution's resolvers of its argument-taking positions and the values
    its root fields resolved to."""

    __slots__ = ("resolvers", "root_values")

    def __init__(self, resolvers: list, root_values: dict):
        self.resolvers = resolvers
        self.root_values = root_values


def run_plan(complete, binders, variables, context, root_value, root_values: dict) -> dict:
    """Run a plan for one request: its argument-taking positions bound to this
    request's variables and context, then the root completed."""
    frame = _Frame([bind(variables, context, root_value) for bind in binders], root_values)
    token = _frame.set(frame)
    try:
        return complete(root_value)
    finally:
        _frame.reset(token)


def fell_back(kind: str, reason: str, *, warn: bool = True, detail: str = "", **log) -> None:
    """A query graphql-core executes instead (issue 15 point 1): counted every time
    (``platform_compiled_fallbacks_total``, central/metrics.py) and logged at
    WARNING with its reason once per reason and process, so a query that always
    falls back (a field with a permission extension, an incompatible library) is
    seen without flooding the log."""
    metrics.compiled_fallback(kind, reason)
    key = f"{kind}: {reason}"
    if not warn or key in _warned or len(_warned) > 1000:
        return
    _warned.add(key)
    logger.warning(
        "compiled execution fell back to graphql-core (%s%s); further ones are only counted",
        key,
        f": {detail[:300]}" if detail else "",
        **log,
    )


class Executor:
    def __init__(
        self,
        schema: StrawberrySchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: VariableValues,
        context: Any,
        root_value: Any,
        root_values: dict[int, Any],
    ):
        self.strawberry = schema
        self.schema: GraphQLSchema = compat.graphql_schema(schema)
        self.root_values = root_values
        self.operation = operation
        self.variables = variables
        self.context = context
        self.root_value = root_value
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        # id of an ``attrgetter`` resolver → its dotted path, for generated fillers
        self.paths: dict[int, str] = {}
        # Per argument-taking position, what makes its resolver for one request.
        self.binders: list[Callable[[Any, Any, Any], Resolve]] = []
        # Whether the plan read the variables itself (``@skip``/``@include``).
        self.request_bound = False

    def run(self) -> dict:
        complete = self.plan()
        return run_plan(
            complete, self.binders, self.variables, self.context, self.root_value, self.root_values
        )

    def plan(self) -> Complete:
        root_type = self.schema.query_type
        if root_type is None:
            raise Declined("the schema has no query type")
        return self.object_completer(root_type, [self.operation.selection_set], None, required=None)

    # --- planning: once per position in the query ----------------------------

    def object_completer(
        self,
        object_type: GraphQLObjectType,
        selection_sets: list[SelectionSetNode],
        path,
        required: bool | None = True,
    ) -> Complete:
        """``required``: give up on None (non-null), answer None (nullable), or
        None for the root, whose source (the root value) is None."""
        plan = [
            (key, *self.field_plan(object_type, key, nodes, path))
            for key, nodes in self.collect(object_type, selection_sets, {}, set()).items()
        ]

        if required is None:
            return lambda root: {key: complete(resolve(root)) for key, resolve, complete in plan}
        fill = _generated_filler(plan, self.paths) or _filler(plan)

        def complete_object(source):
            if source is None:
                return _null(required)
            return fill(source)

        return _inlined(complete_object, ("object", plan, required), fill)

    def collect(self, object_type, selection_sets, fields: dict, visited: set) -> dict:
        """Response key → field nodes, as graphql-core's ``collect_fields`` does."""
        for selection_set in selection_sets:
            for selection in selection_set.selections:
                if not self.included(selection):
                    continue
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    fields.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    if self.applies(selection.type_condition, object_type):
                        self.collect(object_type, [selection.selection_set], fields, visited)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if name in visited or fragment is None:
                        continue
                    visited.add(name)
                    if self.applies(fragment.type_condition, object_type):
                        self.collect(object_type, [fragment.selection_set], fields, visited)
        return fields

    def included(self, node) -> bool:
        if node.directives:
            self.request_bound = True
        for directive in node.directives or ():
            if directive.name.value not in ("skip", "include"):
                raise Declined(f"@{directive.name.value}")
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip["if"] is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and include["if"] is False)

    def applies(self, condition, object_type) -> bool:
        if condition is None:
            return True
        condition_type = type_from_ast(self.schema, condition)
        if condition_type is object_type:
            return True
        # A fragment on an interface or union this type belongs to.
        return condition_type is not None and self.schema.is_sub_type(condition_type, object_type)

    def field_plan(self, parent_type, key: str, nodes: list[FieldNode], parent_path):
        name = nodes[0].name.value
        if name == "__typename":
            type_name = parent_type.name
            return (lambda _source: type_name), (lambda value: value)
        if name.startswith("__"):
            raise Declined("introspection")
        field_def = parent_type.fields[name]
        path = Path(parent_path, key, parent_type.name)
        resolve = self.resolver(parent_type, field_def, nodes, path)
        if parent_type is self.schema.query_type:
            resolve = self.remembered(resolve, id(nodes[0]))
        return resolve, self.completer(field_def.type, nodes, path)

    def remembered(self, resolve: Resolve, node_id: int) -> Resolve:
        """A root field's resolver that keeps its value for graphql-core, should the
        compiled run give up later (``CompiledQueries.resolve``)."""

        def resolve_root(source):
            value = resolve(source)
            _frame.get().root_values[node_id] = value
            return value

        return resolve_root

    def resolver(self, parent_type, field_def, nodes, path) -> Resolve:
        field = (field_def.extensions or {}).get(DEFINITION)
        if field is None or field.extensions or field.is_async:
            raise Declined(f"{parent_type.name}.{nodes[0].name.value}")
        resolver = field.base_resolver
        if not nodes[0].arguments and not field_def.args:
            if resolver is None:  # a plain attribute of the type
                return self.attribute(field.python_name)
            attribute = (field.metadata or {}).get(ATTRIBUTE_KEY)
            if attribute is not None:  # model_field: self._model.<attribute>
                return self.attribute(f"_model.{attribute}")
            function, takes_self = compat.resolver_function(resolver)
            if (
                takes_self
                and not resolver.arguments
                and resolver.info_parameter is None
                and resolver.root_parameter is None
                and resolver.parent_parameter is None
            ):
                return function
        # Anything else gets its arguments and Info made once per request for this
        # position (``_binder``), and is called through the request's frame.
        slot = len(self.binders)
        self.binders.append(
            _binder(
                self.strawberry,
                self.fragments,
                self.operation,
                parent_type,
                field_def,
                nodes,
                path,
                field,
                resolver,
            )
        )

        def resolve_late(source):
            return _frame.get().resolvers[slot](source)

        return resolve_late

    def attribute(self, path: str) -> Resolve:
        getter = operator.attrgetter(path)
        if path.replace("_", "a").replace(".", "a").isalnum():  # a dotted identifier
            self.paths[id(getter)] = path
        return getter

    def completer(self, return_type, nodes: list[FieldNode], path, required=False) -> Complete:
        """Completes a resolved value by its type; ``required`` (non-null) values
        give up on None. One function per position, the null check folded in."""
        if isinstance(return_type, GraphQLNonNull):
            return self.completer(return_type.of_type, nodes, path, required=True)
        if isinstance(return_type, GraphQLList):
            item = self.completer(return_type.of_type, nodes, path)
            fill = getattr(item, "fill", None)
            if fill is not None:  # objects: each item's fields filled without another call
                item_required = getattr(item, "inline")[2]  # noqa: B009 - set by _inlined

                def each(entry):
                    if entry is None:
                        return _null(item_required)
                    return fill(entry)

                def complete_list(value):
                    if type(value) is list:
                        return [_null(item_required) if e is None else fill(e) for e in value]
                    if value is None:
                        return _null(required)
                    if isinstance(value, str | bytes | dict):
                        raise GaveUp("not a list")
                    return [each(entry) for entry in value]

                return complete_list

            def complete_list(value):
                if type(value) is list:  # what resolvers return: checked first
                    return [item(entry) for entry in value]
                if value is None:
                    return _null(required)
                if isinstance(value, str | bytes | dict):
                    raise GaveUp("not a list")
                return [item(entry) for entry in value]

            return complete_list
        if return_type is GraphQLString:  # the commonest leaf: a str is its own value

            def complete_string(value):
                if type(value) is str:
                    return value
                if value is None:
                    return _null(required)
                return GraphQLString.serialize(value)

            return _inlined(complete_string, ("leaf", None, required))
        if is_leaf_type(return_type):
            serialize = return_type.serialize

            def complete_leaf(value):
                if value is None:
                    return _null(required)
                serialized = serialize(value)
                if serialized is None or serialized is Undefined:
                    raise GaveUp("leaf serialized to nothing")
                return serialized

            return _inlined(complete_leaf, ("leaf", serialize, required))
        if isinstance(return_type, GraphQLObjectType):
            selection_sets = [node.selection_set for node in nodes if node.selection_set]
            return self.object_completer(return_type, selection_sets, path, required)
        raise Declined(f"abstract type {return_type}")


def _binder(strawberry, fragments, operation, parent_type, field_def, nodes, path, field, resolver):
    """What makes an argument-taking position's resolver for one request: its
    arguments from the variables and its ``Info``, made once per request."""
    schema = compat.graphql_schema(strawberry)

    def bind(variables, context, root_value) -> Resolve:
        arguments = get_argument_values(field_def, nodes[0], variables)
        info = GraphQLResolveInfo(
            nodes[0].name.value,
            nodes,
            field_def.type,
            parent_type,
            path,
            schema,
            fragments,
            root_value,
            operation,
            variables,
            context,
            _never_awaitable,
            None,  # abort_signal: synchronous resolvers are not aborted
            None,  # type: ignore[arg-type]  # async_helpers: nothing asynchronous runs here
        )
        if resolver is None:
            resolve = field_def.resolve

            def resolve_field(source):
                return _sync(resolve(source, info, **arguments))

            return resolve_field
        return _bound_resolver(strawberry, field, resolver, info, arguments)

    return bind


def _bound_resolver(strawberry, field, resolver, info, arguments) -> Resolve:
    """A resolver called as strawberry calls it (``get_arguments``), with its
    arguments converted to Python values and its ``Info`` made once."""
    strawberry_info = strawberry.config.info_class(_raw_info=info, _field=field)
    fixed = convert_arguments(
        arguments,
        field.arguments,
        scalar_registry=strawberry.schema_converter.scalar_registry,
        config=strawberry.config,
        info=strawberry_info,
    )
    if resolver.info_parameter is not None:
        fixed[resolver.info_parameter.name] = strawberry_info
    source_names = [p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p]
    function, with_self = compat.resolver_function(resolver)
    if with_self and not source_names:

        def resolve_method(source):  # (_sync inlined: once per object of a page)
            value = function(source, **fixed)
            if hasattr(value, "__await__"):
                raise GaveUp("awaitable")
            return value

        return resolve_method

    def resolve_field(source):
        kwargs = {**fixed, **dict.fromkeys(source_names, source)}
        return _sync(function(source, **kwargs) if with_self else function(**kwargs))

    return resolve_field


def _filler(plan: list) -> Complete:
    """An object's fields from its source. One to three fields (an edge's node, a
    record's hours and date: most objects of a page) by a dict display, which
    spares the comprehension's own frame on each of a page's ~20,000 objects."""
    if len(plan) == 1:
        ((k1, r1, c1),) = plan
        return lambda source: {k1: c1(r1(source))}
    if len(plan) == 2:
        (k1, r1, c1), (k2, r2, c2) = plan
        return lambda source: {k1: c1(r1(source)), k2: c2(r2(source))}
    if len(plan) == 3:
        (k1, r1, c1), (k2, r2, c2), (k3, r3, c3) = plan
        return lambda source: {k1: c1(r1(source)), k2: c2(r2(source)), k3: c3(r3(source))}
    return lambda source: {key: complete(resolve(source)) for key, resolve, complete in plan}


def _generated_filler(plan: list, paths: dict[int, str]) -> Complete | None:
    """An object's fields from its source by one generated function (issue 16 point
    2): its leaves and its nested single objects, to any depth, inlined — attribute
    paths read as ``s._model.hours``, leaves serialized in place, null checks as
    the completers make them — so a record's edge ``{node {hours serviceDate}}``
    is one call instead of eight. Lists and other fields call their completers.
    Made once per position in the query; None for a plan with nothing to inline."""
    names: dict[str, Any] = {
        "GaveUp": GaveUp,
        "Undefined": Undefined,
        "sstr": _serialize_str,
        "date": datetime.date,
    }
    lines = ["def fill(s):"]
    counter = iter(range(1_000_000))
    inlined = False

    def null(indent: str, required: bool) -> None:
        lines.append(f"{indent}    raise GaveUp('null in a non-null position')")
        if not required:
            lines[-1] = f"{indent}    pass"

    def emit(plan: list, source: str, out: str, indent: str) -> None:
        nonlocal inlined
        lines.append(f"{indent}{out} = {{}}")
        for key, resolve, complete in plan:
            n = next(counter)
            value = f"v{n}"
            path = paths.get(id(resolve))
            if path is not None:
                lines.append(f"{indent}{value} = {source}.{path}")
            else:
                names[f"r{n}"] = resolve
                lines.append(f"{indent}{value} = r{n}({source})")
            spec = getattr(complete, "inline", None)
            if spec is None:  # a list, the root…: its own completer
                names[f"c{n}"] = complete
                lines.append(f"{indent}{out}[{key!r}] = c{n}({value})")
                continue
            inlined = True
            kind, detail, required = spec
            lines.append(f"{indent}if {value} is None:")
            null(indent, required)
            if kind == "leaf" and detail is None:  # a String: a str is its own value
                lines.append(f"{indent}elif type({value}) is not str:")
                lines.append(f"{indent}    {value} = sstr({value})")
            elif kind == "leaf":
                names[f"z{n}"] = detail
                # A date, serialized once per distinct day in this position: a page's
                # records share few days, and date.isoformat costs ~1,600 instructions
                # (equal dates are the same day, so their serializations are equal).
                names[f"m{n}"] = {}
                lines.append(f"{indent}elif type({value}) is date and {value} in m{n}:")
                lines.append(f"{indent}    {value} = m{n}[{value}]")
                lines.append(f"{indent}else:")
                lines.append(f"{indent}    k{n} = {value}")
                lines.append(f"{indent}    {value} = z{n}({value})")
                lines.append(f"{indent}    if {value} is None or {value} is Undefined:")
                lines.append(f"{indent}        raise GaveUp('leaf serialized to nothing')")
                lines.append(f"{indent}    if type(k{n}) is date:")
                lines.append(f"{indent}        m{n}[k{n}] = {value}")
            else:  # a single object: its fields inlined
                lines.append(f"{indent}else:")
                emit(detail, value, f"o{n}", indent + "    ")
                lines.append(f"{indent}    {value} = o{n}")
            lines.append(f"{indent}{out}[{key!r}] = {value}")

    emit(plan, "s", "d", "    ")
    if not inlined:
        return None
    lines.append("    return d")
    exec(_filler_code("\n".join(lines)), names)
    return names["fill"]


# The generated fillers' code by source text: a position's source is the same for
# every request of a query (its response keys, attribute paths and null checks), only
# the functions it calls (``names``) are the request's own. Compiling it took ~5 % of
# a single lookup (issue 16 point 2); bounded, since response keys are the client's.
_filler_codes = _LRU(max_entries=1024, max_weight=4_000_000)


def _filler_code(source: str):
    code = _filler_codes.get(source)
    if code is None:
        code = compile(source, "<compiled filler>", "exec")
        _filler_codes.put(source, code, len(source))
    return code


def _serialize_str(value):
    return GraphQLString.serialize(value)


def _null(required: bool) -> Any:  # None, the value of a null position, or raises
    if required:
        raise GaveUp("null in a non-null position")
    return None


_MISSING = object()


def _never_awaitable(_value: Any) -> TypeGuard[Awaitable[Any]]:
    return False


def _sync(value):
    if hasattr(value, "__await__"):
        raise GaveUp("awaitable")
    return value
