"""Issue 16 point 2: compiled execution fills an object's leaves and nested single
objects by one generated function per position (``schema/compiled.py``
``_generated_filler``). It must answer exactly as graphql-core, and give up —
graphql-core then answers, errors and null bubbling included — wherever
graphql-core would report an error: a null in a non-null position, at any
depth of the inlined objects."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import strawberry
from graphql import GraphQLScalarType, parse

from schema import compiled


@strawberry.type
class Leafy:
    name: str
    day: datetime.date
    hours: Decimal
    note: str | None
    count: int | None

    @strawberry.field
    def shout(self) -> str:
        return str(self.name).upper() if self.name is not None else None


@strawberry.type
class Edge:
    node: Leafy
    spare: Leafy | None


@strawberry.type
class Query:
    edges: list[Edge]


def leafy(name="甲", note=None, count=3, day=datetime.date(2026, 12, 7)):
    return Leafy(name=name, day=day, hours=Decimal("1.50"), note=note, count=count)


SCHEMA = strawberry.Schema(query=Query)
QUERY = """{ edges { node { name day hours note count shout }
  spare { name note } } }"""


def run(edges):
    """(compiled answer or None when it gave up, graphql-core's result)."""
    root = Query(edges=edges)
    document = parse(QUERY)
    data = compiled.execute(SCHEMA, document, None, {}, None, root, {})
    expected = SCHEMA.execute_sync(QUERY, root_value=root)
    return data, expected


def test_generated_fillers_answer_as_graphql_core(monkeypatch):
    generated = []
    original = compiled._generated_filler

    def recording(plan, paths):
        fill = original(plan, paths)
        generated.append(fill)
        return fill

    monkeypatch.setattr(compiled, "_generated_filler", recording)
    data, expected = run(
        [
            Edge(node=leafy(), spare=None),
            Edge(node=leafy(name=5, note="备注", count=None), spare=leafy(name="乙")),
        ]
    )
    assert expected.errors is None
    assert data == expected.data
    assert any(generated)  # the edges' objects were filled by generated functions
    first, second = data["edges"]
    assert first == {
        "node": {
            "name": "甲",
            "day": "2026-12-07",
            "hours": "1.50",
            "note": None,
            "count": 3,
            "shout": "甲",
        },
        "spare": None,
    }
    assert second["node"]["name"] == "5"  # a String from an int, serialized as graphql-core does
    assert second["spare"] == {"name": "乙", "note": None}


@pytest.mark.parametrize(
    "edge",
    [
        Edge(node=leafy(name=None), spare=None),  # an inlined non-null leaf
        # an inlined non-null object, null here on purpose
        Edge(node=None, spare=None),  # type: ignore[arg-type]
        Edge(node=leafy(day=None), spare=None),  # a non-null leaf with a serializer
        Edge(node=leafy(), spare=leafy(name=None)),  # deeper, under a nullable object
    ],
    ids=["leaf", "object", "serialized-leaf", "under-nullable"],
)
def test_a_null_in_a_non_null_position_gives_up_to_graphql_core(edge):
    data, expected = run([Edge(node=leafy(), spare=None), edge])
    assert data is None  # compiled execution gave up: graphql-core answers
    assert expected.errors  # … with the error it reports


def test_a_day_is_serialized_once_per_position(monkeypatch):
    """A page's records share few service days: each distinct day is serialized once
    per position (date.isoformat costs ~1,600 instructions; issue 16 point 2), and
    the answer is graphql-core's — a datetime (a date subclass) included."""
    date_type = SCHEMA._schema.get_type("Date")
    assert isinstance(date_type, GraphQLScalarType)
    calls = []
    serialize = date_type.serialize

    def counting(value):
        calls.append(value)
        return serialize(value)

    days = [datetime.date(2026, 12, d) for d in (1, 2, 3)]
    edges = [Edge(node=leafy(day=days[i % 3]), spare=None) for i in range(30)]
    edges.append(Edge(node=leafy(day=datetime.datetime(2026, 12, 1, 8, 30)), spare=None))
    monkeypatch.setattr(date_type, "serialize", counting)
    data = compiled.execute(SCHEMA, parse(QUERY), None, {}, None, Query(edges=edges), {})
    compiled_calls = len(calls)
    expected = SCHEMA.execute_sync(QUERY, root_value=Query(edges=edges))
    assert expected.errors is None
    assert data is not None and data == expected.data
    assert data["edges"][-1]["node"]["day"] == "2026-12-01T08:30:00"
    assert compiled_calls == 4  # three days, and the datetime on its own


def test_fillers_are_compiled_once_per_query_shape(monkeypatch):
    """The generated fillers' code is compiled once per process, not per request."""
    compiles = []

    def counting(*args, **kwargs):
        compiles.append(args[0])
        return compile(*args, **kwargs)

    monkeypatch.setattr(compiled, "compile", counting, raising=False)
    edges = [Edge(node=leafy(), spare=leafy(name="乙"))]
    first = compiled.execute(SCHEMA, parse(QUERY), None, {}, None, Query(edges=edges), {})
    compiles.clear()
    second = compiled.execute(SCHEMA, parse(QUERY), None, {}, None, Query(edges=edges), {})
    assert first == second is not None
    assert compiles == []


def test_a_query_seen_before_compiles_no_filler_again(monkeypatch):
    """Compiling a position's generated source was ~5 % of a single lookup's
    instructions (issue 16 point 2): the code is kept by its source text, and
    each request still gets functions bound to its own resolvers and values."""
    sources = []

    def counting(source, *args, **kwargs):
        sources.append(source)
        return compile(source, *args, **kwargs)

    monkeypatch.setattr(compiled, "compile", counting, raising=False)
    # Response keys of this test's own, so no other test compiled these sources.
    query = "{ edges { node { onceName: name onceCount: count } spare { onceName: name } } }"

    def answer(edges):
        document = parse(query)
        data = compiled.execute(SCHEMA, document, None, {}, None, Query(edges=edges), {})
        assert data == SCHEMA.execute_sync(query, root_value=Query(edges=edges)).data
        return data

    answer([Edge(node=leafy(), spare=None)])
    assert sources
    compiled_once = len(sources)
    second = answer([Edge(node=leafy(name="乙", count=7), spare=leafy(name="丙"))])
    assert len(sources) == compiled_once  # the same query: nothing compiled again
    assert second == {  # … and the answer is the second request's own
        "edges": [{"node": {"onceName": "乙", "onceCount": 7}, "spare": {"onceName": "丙"}}]
    }
    # Another query (other response keys) is another source, compiled on its own.
    query = "{ edges { node { onceRenamed: name } } }"
    assert answer([Edge(node=leafy(name="丁"), spare=None)]) == {
        "edges": [{"node": {"onceRenamed": "丁"}}]
    }
    assert len(sources) > compiled_once
