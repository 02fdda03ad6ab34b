"""Issue 15 point 1: every query the README shows runs compiled.

``schema/compiled.py`` executes a query itself unless something in it makes
it decline (introspection, a directive other than ``@skip``/``@include``, an
abstract type, a field with strawberry extensions such as permission classes,
an async resolver); graphql-core then runs it, ~20× slower on a nested page,
and the fallback is only logged and counted. Declining is decided while the
query is planned, before any resolver runs, so this test plans every README
query against its schema (the nested page is checked in
tests/test_query_counts.py) and fails on the
first one that would decline — a field someone gives a permission class, say.
No database is needed: planning reads only the schema and the document.
"""

from __future__ import annotations

import re

import pytest
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    OperationDefinitionNode,
    OperationType,
    parse,
    print_ast,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.utilities import type_from_ast

from schema.central import schema as central_schema
from schema.compiled import Declined, Executor
from schema.region import schema as region_schema
from tests.support import REPO

README = (REPO / "README.md").read_text()
SAMPLE = {"ID": "R3JvdXA6MQ==", "String": "x", "Int": 1, "Float": 1.0, "Boolean": True}


def _blocks() -> list[tuple[int, str]]:
    return [
        (README[: found.start()].count("\n") + 1, found.group(1))
        for found in re.finditer(r"```graphql\n(.*?)```", README, re.S)
    ]


def _used(operation, fragments: list[FragmentDefinitionNode]) -> list[FragmentDefinitionNode]:
    """The fragments ``operation`` spreads, directly or through other fragments."""
    by_name = {fragment.name.value: fragment for fragment in fragments}
    used: dict[str, FragmentDefinitionNode] = {}
    pending = [operation]
    while pending:
        for name in re.findall(r"\.\.\.\s*(\w+)", print_ast(pending.pop())):
            if name in by_name and name not in used:
                used[name] = by_name[name]
                pending.append(by_name[name])
    return list(used.values())


def _readme_queries() -> list[tuple[str, DocumentNode, OperationDefinitionNode]]:
    """Each query operation of the README's ``graphql`` blocks, with the block's
    fragments, named by the README line its block starts on."""
    found = []
    for line, text in _blocks():
        if "@refetchable" in text:  # a Relay fragment for the compiler, not an operation
            continue
        document = parse(text)
        fragments = [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
        for index, operation in enumerate(document.definitions):
            if (
                isinstance(operation, OperationDefinitionNode)
                and operation.operation == OperationType.QUERY
            ):
                one = DocumentNode(definitions=(operation, *_used(operation, fragments)))
                found.append((f"README.md:{line} #{index}", one, operation))
    return found


def _sample(graphql_type):
    """A value of ``graphql_type`` good enough to plan with (arguments are
    coerced while planning; no resolver sees them)."""
    if isinstance(graphql_type, GraphQLNonNull):
        return _sample(graphql_type.of_type)
    if isinstance(graphql_type, GraphQLList):
        return [_sample(graphql_type.of_type)]
    if isinstance(graphql_type, GraphQLEnumType):
        return next(iter(graphql_type.values))
    if isinstance(graphql_type, GraphQLInputObjectType):
        return {
            name: _sample(field.type)
            for name, field in graphql_type.fields.items()
            if isinstance(field.type, GraphQLNonNull)
        }
    return SAMPLE.get(graphql_type.name, "x")


def plan(schema, document: DocumentNode, operation: OperationDefinitionNode) -> None:
    """Plan ``operation`` as compiled execution would; raises :class:`Declined`."""
    graphql_schema = schema._schema
    problems = validate(graphql_schema, document)
    assert not problems, problems
    variables = {
        definition.variable.name.value: _sample(type_from_ast(graphql_schema, definition.type))
        for definition in operation.variable_definitions or ()
    }
    coerced = get_variable_values(graphql_schema, operation.variable_definitions or (), variables)
    assert not isinstance(coerced, list), coerced
    executor = Executor(schema, document, operation, coerced, None, None, {})
    executor.object_completer(
        graphql_schema.query_type, [operation.selection_set], None, required=None
    )


def _schema_for(document: DocumentNode):
    """The README's first block is the central API's; the rest are a region's."""
    return central_schema if not validate(central_schema._schema, document) else region_schema


QUERIES = _readme_queries()


def test_the_readme_shows_queries_to_check():
    assert len(QUERIES) >= 6, [name for name, *_ in QUERIES]


@pytest.mark.parametrize(("name", "document", "operation"), QUERIES, ids=[q[0] for q in QUERIES])
def test_each_readme_query_runs_compiled(name, document, operation):
    try:
        plan(_schema_for(document), document, operation)
    except Declined as declined:
        pytest.fail(f"{name} would run on graphql-core's slow path: {declined}")


@pytest.mark.parametrize(
    "query",
    ["{ __schema { queryType { name } } }", '{ region { name } __type(name: "Region") { name } }'],
)
def test_the_check_fails_on_a_query_that_declines(query):
    """The check itself can fail: introspection is declined while planning."""
    document = parse(query)
    (operation,) = document.definitions
    assert isinstance(operation, OperationDefinitionNode)
    with pytest.raises(Declined, match="introspection"):
        plan(region_schema, document, operation)
