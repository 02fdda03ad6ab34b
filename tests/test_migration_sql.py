"""Issue 14 point 1: every migration's SQL is single statements.

Citus forwards a DDL command to the workers as the string it was given, and
refuses a string of several commands ("cannot insert multiple commands into a
prepared statement"); Django sends a ``RunSQL`` string as one. So each
``RunSQL`` (forwards and backwards) is a statement or a list of statements,
and SQL that migrations execute by hand is one statement per call. The test
reads every migration on disk, those written later included.
"""

from __future__ import annotations

import ast
import inspect

import pytest
import sqlparse
from django.db import migrations
from django.db.migrations.loader import MigrationLoader


def _statements(sql: str) -> list[str]:
    return [part for part in sqlparse.split(sql) if part.strip().rstrip(";").strip()]


def _problems_in_sql(where: str, sql) -> list[str]:
    if sql in (None, migrations.RunSQL.noop):
        return []
    pieces = [sql] if isinstance(sql, str) else list(sql)
    problems = []
    for piece in pieces:
        text = piece[0] if isinstance(piece, tuple | list) else piece  # (sql, params)
        count = len(_statements(text))
        if count != 1:
            problems.append(f"{where}: {count} statements in one string: {text.strip()[:80]!r}")
    return problems


def _executed_constants(module) -> list[tuple[str, str]]:
    """The SQL literals (or module-level string constants) passed to ``execute(...)``."""
    source = inspect.getsource(module)
    tree = ast.parse(source)
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and isinstance(node.value.value, str)
    }
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "execute"
            and node.args
        ):
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.append((f"line {node.lineno}", argument.value))
            elif isinstance(argument, ast.Name) and argument.id in constants:
                found.append((f"line {node.lineno} ({argument.id})", constants[argument.id]))
    return found


def _all_migrations():
    loader = MigrationLoader(None, ignore_no_migrations=True, load=True)
    return sorted(loader.disk_migrations.items())


def test_every_migration_sends_one_statement_at_a_time():
    problems = []
    seen = 0
    for (app, name), migration in _all_migrations():
        where = f"{app}.{name}"
        for index, operation in enumerate(migration.operations):
            if isinstance(operation, migrations.RunSQL):
                seen += 1
                problems += _problems_in_sql(f"{where} op {index} sql", operation.sql)
                problems += _problems_in_sql(f"{where} op {index} reverse", operation.reverse_sql)
        module = inspect.getmodule(type(migration))
        for line, sql in _executed_constants(module):
            seen += 1
            problems += _problems_in_sql(f"{where} {line}", sql)
    assert seen > 10  # the check reads the platform's triggers and sequences
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    "sql, count",
    [
        ("CREATE SEQUENCE a", 1),
        ("CREATE SEQUENCE a; CREATE SEQUENCE b;", 2),
        (
            "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'x; y'; "
            "END; $$ LANGUAGE plpgsql;",
            1,
        ),
    ],
)
def test_the_check_counts_statements_as_postgresql_does(sql, count):
    assert len(_statements(sql)) == count
