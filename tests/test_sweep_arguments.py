"""Audit round 5: every field that takes arguments, with arguments an attacker picks.

Round 4's sweep (``tests/test_who_may_do_what_sweep.py``) selects only the fields
callable without arguments, and calls those with none: a filter, a status, a page
size or a cursor of a nested list was never sent by another role. Here every field
of the schema that takes arguments and lists rows (a list or a connection), nested
or at the root, is called by the table's nine personas on the world of
``tests/test_who_may_do_what.py``, first plainly (the baseline), then once per
hostile value of each argument:

- page sizes out of range (0, -1, 101, 2³¹-1);
- cursors forged (not base64, another list's kind, a key past a bigint), and every
  cursor the baselines handed out for *another* list or another parent (a cursor
  from one group's page sent to another's);
- ids: of another type, of another region (each 重庆 id made 云南's), of rows of
  another parent, of a pending group or a draft project the persona may not see,
  of nothing; and each value of an enum, each input field of a filter.

What must hold, for every call:

- the answer is typed: every error has a code of ``TYPED`` (never ``INTERNAL`` or
  a bare GraphQL error);
- **arguments only narrow** (nested fields): every row of the answer is a row of the
  persona's baseline for the same parent — no cursor, id or filter pages another
  parent's rows or rows the persona does not otherwise see;
- **no existence oracle**: an id of a row the persona may not see (``node(id:)`` is
  null to them) gets exactly the answer an id with no row gets — the same data, the
  same error codes and words;
- **no number unlogged**: the baseline, selected whole (every field callable without
  arguments, two levels deep), shows no full ID number or phone without a
  ``PersonalInfoAccess`` row written by the call.

A field that takes arguments and lists rows, added to the schema without a row in
``FIELDS``, fails ``test_every_argument_field_has_a_row``.

A queue's ``status`` shows decided items instead of pending ones; the rows it adds
are checked with ``node(id:)`` where node shows their kind. Four kinds have no node
(``CorrectionRequest``, ``Objection``, ``ProjectApplication``, ``StarApplication``;
``DECIDED``): for those the world gets one freshly decided row each (decided over
the API by the team's admin, ``decided``), after each persona's views of the four
queues were taken — pending and by every status. Each persona's ``status:`` list
must then show only rows it showed before: a row it had in its pending queue (one
it decides) or in a status view it already had. A persona that sees the fresh
decided row of a group or county it did not see pending fails the sweep.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLObjectType,
    Undefined,
    get_named_type,
    get_nullable_type,
    is_non_null_type,
)

from tests.support import gid
from tests.test_who_may_do_what import PERSONAS, SLUG, World, _shared_batch
from tests.test_who_may_do_what import world as world
from tests.test_who_may_do_what_sweep import (
    SCHEMA,
    TYPED,
    Secrets,
    codes,
    elsewhere,
    logged,
    reveals_since,
    selection,
    tokens,
)
from tests.world_support import QUEUES


@dataclass(frozen=True)
class Parent:
    """How to reach an object whose fields take arguments: a document with ``%s``
    where the field goes, where its answer lies, and its variables."""

    doc: str
    path: tuple[str, ...]
    variables: Callable[[World], dict]


PARENTS: dict[str, Parent] = {
    "Query": Parent("query %s", (), lambda w: {}),
    "Me": Parent("query { me { %s } }", ("me",), lambda w: {}),
    "WorkQueues": Parent("query { me { workQueues { %s } } }", ("me", "workQueues"), lambda w: {}),
    "Volunteer": Parent(
        "query($n: String!) { volunteer(number: $n) { %s } }",
        ("volunteer",),
        lambda w: {"n": w.member.number},
    ),
    "VolunteerGroup[team]": Parent(
        "query($g: ID!) { group(id: $g) { %s } }",
        ("group",),
        lambda w: {"g": gid(SLUG, w.orgs["team"])},
    ),
    "VolunteerGroup[hub]": Parent(
        "query($g: ID!) { group(id: $g) { %s } }",
        ("group",),
        lambda w: {"g": gid(SLUG, w.orgs["hub_a"])},
    ),
    "Project": Parent(
        "query($p: ID!) { project(id: $p) { %s } }",
        ("project",),
        lambda w: {"p": gid(SLUG, w.live)},
    ),
    "TimeBank": Parent(
        "query($n: String) { timeBank(number: $n) { %s } }",
        ("timeBank",),
        lambda w: {"n": w.member.number},
    ),
    "TransferBatch": Parent(
        "query($b: ID!) { transferBatch(id: $b) { %s } }",
        ("transferBatch",),
        lambda w: {"b": _shared_batch(w)},
    ),
}


def _parents_of(type_name: str) -> list[str]:
    return [key for key in PARENTS if key.split("[")[0] == type_name]


def _lists_rows(field: GraphQLField) -> bool:
    named = get_named_type(field.type)
    nullable = get_nullable_type(field.type)
    return isinstance(nullable, GraphQLList) or (
        isinstance(named, GraphQLObjectType) and "edges" in named.fields
    )


def argument_fields() -> set[tuple[str, str]]:
    """(type, field) of every field that takes arguments and lists rows."""
    found = set()
    for name, named in SCHEMA.type_map.items():
        if name.startswith("__") or not isinstance(named, GraphQLObjectType):
            continue
        if name == "Mutation":
            continue
        for field_name, field in named.fields.items():
            if field.args and _lists_rows(field):
                found.add((name, field_name))
    return found


# Every field that takes arguments and lists rows, and why the sweep's checks hold
# there (the selector that decides; README "Who may do what").
FIELDS: dict[tuple[str, str], str] = {
    ("Query", "volunteers"): "volunteers.selectors.visible_volunteers",
    ("Query", "groups"): "groups.selectors",
    ("Query", "publicity"): "records.selectors (objectionRaisers)",
    ("Query", "complaints"): "recognition.permissions",
    ("Query", "transfers"): "interop (_visible)",
    ("Query", "myPersonalInfoAccesses"): "the caller's own",
    ("Query", "personalInfoAccesses"): "volunteers.permissions (authority's area)",
    ("Query", "auditLog"): "an authority of the whole region",
    ("Query", "nodes"): "schema.region.nodes.node_of (as the field that shows each)",
    ("Me", "projectApplications"): "queues.own_project_applications",
    ("Me", "declarations"): "queues.own_declarations",
    ("Me", "correctionRequests"): "queues.own_correction_requests",
    ("Me", "starApplications"): "queues.own_star_applications",
    ("Me", "objections"): "queues.own_objections",
    ("Project", "records"): "projects: may_see_members, _records_seen_by",
    ("TimeBank", "entries"): "timebank.selectors (the view's entries)",
    ("TransferBatch", "transfers"): "the batch's own",
    ("Volunteer", "records"): "volunteers.permissions.may_view (the parent)",
    ("VolunteerGroup", "subgroups"): "groups.selectors.approved_groups",
    ("VolunteerGroup", "members"): "groups.permissions.memberships_seen_by",
    ("VolunteerGroup", "projects"): "projects.selectors.visible_projects",
    ("VolunteerGroup", "volunteers"): "groups.permissions.memberships_seen_by",
    ("VolunteerGroup", "applications"): "groups.permissions.memberships_seen_by",
    **{("WorkQueues", name): "tenants.queues (_DECIDERS)" for name in QUEUES},
}

# The kind of row an id argument names (for an id of nothing of that kind).
ID_KINDS = {"projectId": "Project", "groupId": "VolunteerGroup", "liaisonGroupId": "VolunteerGroup"}
CURSOR_ARGS = ("after", "before")
MAX_TOKENS = 1900


def test_every_argument_field_has_a_row():
    assert set(FIELDS) == argument_fields()
    assert all(_parents_of(type_name) for type_name, _ in FIELDS)


# --- documents -------------------------------------------------------------------------


def _field(type_name: str, name: str) -> GraphQLField:
    named = SCHEMA.type_map[type_name]
    assert isinstance(named, GraphQLObjectType)
    return named.fields[name]


def _item_type(field: GraphQLField):
    named = get_named_type(field.type)
    if isinstance(named, GraphQLObjectType) and "edges" in named.fields:
        edge = get_named_type(named.fields["edges"].type)
        assert isinstance(edge, GraphQLObjectType)
        return get_named_type(edge.fields["node"].type)
    return named


def _is_connection(field: GraphQLField) -> bool:
    named = get_named_type(field.type)
    return isinstance(named, GraphQLObjectType) and "edges" in named.fields


def _inner(field: GraphQLField, depth: int) -> str:
    item = selection(SCHEMA, _item_type(field), depth)
    if _is_connection(field):
        return f"edges {{ cursor node {{ {item} }} }} pageInfo {{ hasNextPage endCursor }}"
    return item


def document(parent: Parent, type_name: str, name: str, args: dict, full: bool) -> tuple[str, dict]:
    """The parent's document with ``name(args)`` in it, its selection whole (``full``:
    as deep as the token limit allows, at most two levels) or the rows' own scalars;
    arguments as variables ``$a0…``."""
    field = _field(type_name, name)
    params, call, variables = [], [], {}
    for i, (arg, value) in enumerate(args.items()):
        params.append(f"$a{i}: {field.args[arg].type}")
        call.append(f"{arg}: $a{i}")
        variables[f"a{i}"] = value
    head = f"{name}({', '.join(call)})" if call else name
    for depth in (2, 1, 0) if full else (0,):
        text = parent.doc % f"{{ {head} {{ {_inner(field, depth)} }} }}"
        if parent.path:
            text = parent.doc % f"{head} {{ {_inner(field, depth)} }}"
        if params:
            text = _with_params(text, params)
        if tokens(text) <= MAX_TOKENS:
            return text, variables
    raise AssertionError(f"{type_name}.{name}: no selection within {MAX_TOKENS} tokens")


def _with_params(text: str, params: list[str]) -> str:
    """``text`` (``query(…) { … }`` or ``query { … }``) with ``params`` declared too."""
    assert text.startswith("query")
    rest = text[len("query") :].lstrip()
    if rest.startswith("("):
        return f"query({', '.join(params)}, {rest[1:]}"
    return f"query({', '.join(params)}) {rest}"


def _at(body: dict, path: tuple[str, ...], name: str):
    value = body.get("data")
    for key in (*path, name):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def rows_of(value) -> list[str]:
    """An answer's rows, each as canonical JSON (a connection's edges, a list's items)."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = value.get("edges") or []
    return [json.dumps(row, sort_keys=True, ensure_ascii=False) for row in value]


def shape(body: dict) -> tuple:
    """What an answer tells: its data and its errors' codes, fields and words."""
    return (
        json.dumps(body.get("data"), sort_keys=True, ensure_ascii=False),
        sorted(
            (
                e.get("extensions", {}).get("code") or "",
                e.get("extensions", {}).get("field") or "",
                e["message"],
            )
            for e in body.get("errors") or []
        ),
    )


# --- hostile values -------------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


FORGED_CURSORS = ["garbage", "", _b64("zz:1"), _b64("r:99999999999999999999"), _b64("v:-1")]
PAGE_SIZES = [0, -1, 101, 2**31 - 1]


@dataclass
class Pool:
    """Ids and cursors seen in the baselines, and the world's hidden rows."""

    ids: dict[str, list[str]]  # kind -> ids
    cursors: dict[tuple[str, str], set[str]]  # (parent key, field) -> cursors handed out


def _kind_of(value: str) -> str | None:
    from schema.identity import NotAnId, decode

    try:
        return decode(value)[0]
    except (NotAnId, ValueError, TypeError):
        return None


def _harvest(body, pool: Pool) -> None:
    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and len(value) > 20:
            kind = _kind_of(value)
            if kind and value not in pool.ids.setdefault(kind, []):
                pool.ids[kind].append(value)

    walk(body.get("data"))


def _nothing(kind: str) -> str:
    from schema.identity import global_id
    from tests.registry_support import region

    return global_id(kind, 987654321, schema=region(SLUG).schema_name)


def hostile(
    type_name: str, name: str, key: str, pool: Pool, w: World
) -> list[tuple[str, dict, str | None]]:
    """(label, arguments, kind of the id sent or None) for each hostile call."""
    field = _field(type_name, name)
    base = _base_args(field)
    item = _item_type(field).name
    calls: list[tuple[str, dict, str | None]] = []
    for arg, definition in field.args.items():
        named = get_named_type(definition.type)
        if arg in ("first", "last"):
            calls += [(f"{arg}={n}", {**base, arg: n}, None) for n in PAGE_SIZES]
        elif arg in CURSOR_ARGS and str(named) == "String":
            calls += [(f"{arg}=forged {c!r}", {**base, arg: c}, None) for c in FORGED_CURSORS]
            if arg == "after":  # one cursor of each other list and parent
                foreign = {
                    (k, f): sorted(seen)[0]
                    for (k, f), seen in pool.cursors.items()
                    if (k, f) != (key, name) and seen
                }
                calls += [
                    (f"{arg}=cursor of {k}.{f}", {**base, arg: c}, None)
                    for (k, f), c in sorted(foreign.items())
                ]
        elif arg in CURSOR_ARGS or str(named) == "ID":
            kind = ID_KINDS.get(arg, item)
            calls += [(f"{arg}={label}", {**base, arg: v}, k) for label, v, k in _ids(pool, kind)]
        elif isinstance(named, GraphQLEnumType):
            calls += [(f"{arg}={v}", {**base, arg: v}, None) for v in named.values]
        elif isinstance(named, GraphQLInputObjectType):
            for sub, sub_field in named.fields.items():
                sub_named = get_named_type(sub_field.type)
                if str(sub_named) == "ID":
                    calls += [
                        (f"{arg}.{sub}={label}", {**base, arg: {sub: v}}, k)
                        for label, v, k in _ids(pool, ID_KINDS.get(sub, item))
                    ]
                elif isinstance(sub_named, GraphQLEnumType):
                    calls += [
                        (f"{arg}.{sub}={v}", {**base, arg: {sub: v}}, None)
                        for v in sub_named.values
                    ]
                elif str(sub_named) == "String":
                    calls += [
                        (f"{arg}.{sub}={v!r}", {**base, arg: {sub: v}}, None)
                        for v in ("%", "_", "\x00", w.member.number)
                    ]
                elif str(sub_named) == "Int":
                    calls += [(f"{arg}.{sub}={v}", {**base, arg: {sub: v}}, None) for v in (-1, 6)]
                elif str(sub_named) == "Boolean":
                    calls += [(f"{arg}.{sub}=true", {**base, arg: {sub: True}}, None)]
        elif str(named) == "String":
            calls += [(f"{arg}={w.member.number}", {**base, arg: w.member.number}, None)]
    return calls


def _ids(pool: Pool, kind: str) -> list[tuple[str, str, str | None]]:
    """(label, id, kind) of ids to send where an id of ``kind`` is asked for: those
    of that kind seen (hidden ones first), one of another kind, one made 云南's, one
    of nothing, and one not an id."""
    out: list[tuple[str, str, str | None]] = [("not an id", "not-an-id", None)]
    for value in pool.ids.get(kind, [])[:5]:
        out.append((f"{kind} {value[:8]}", value, kind))
    other = next((ids[0] for k, ids in sorted(pool.ids.items()) if k != kind and ids), None)
    if other:
        out.append(("an id of another type", other, None))
    if pool.ids.get(kind):
        yunnan, _ = elsewhere(pool.ids[kind][0])
        out.append((f"{kind} of 云南", yunnan, None))
    out.append((f"{kind} of nothing", _nothing(kind), kind))
    return out


def _base_args(field: GraphQLField) -> dict:
    """The arguments a plain call sends: a full page where there is ``first``, an
    empty list for a list that must be given."""
    args: dict = {"first": 100} if "first" in field.args else {}
    for arg, definition in field.args.items():
        if arg in args:
            continue
        if is_non_null_type(definition.type) and definition.default_value is Undefined:
            assert isinstance(get_nullable_type(definition.type), GraphQLList), arg
            args[arg] = []
    return args


# --- the sweep -------------------------------------------------------------------------


def _rows(w: World, actor, key: str, type_name: str, name: str, args: dict, full: bool):
    parent = PARENTS[key]
    doc, variables = document(parent, type_name, name, args, full)
    body = w.send(actor, doc, {**parent.variables(w), **variables})
    return body, _at(body, parent.path, name)


def _visible(w: World, actor, value: str, cache: dict) -> bool:
    """Whether ``node(id:)`` shows the persona the row behind ``value``."""
    if (actor.persona, value) not in cache:
        body = w.send(actor, "query($i: ID!) { node(id: $i) { id } }", {"i": value})
        cache[actor.persona, value] = bool((body.get("data") or {}).get("node"))
    return cache[actor.persona, value]


# Queues whose rows node(id:) does not show: a fresh row of each is decided over the
# API by the team's admin (the mutation, its variable), after the personas' views.
DECIDED: dict[str, tuple[Callable[[World], str], str]] = {
    "projectApplications": (
        lambda w: w.project_application(),
        "mutation($i: ID!) { decideProjectApplication(applicationId: $i, accept: false) "
        "{ errors { code message } } }",
    ),
    "objections": (
        lambda w: w.objection(),
        'mutation($i: ID!) { resolveObjection(objectionId: $i, upheld: false, reason: "核实无误")'
        " { errors { code message } } }",
    ),
    "correctionRequests": (
        lambda w: w.correction(),
        'mutation($i: ID!) { declineCorrection(requestId: $i, reason: "记录无误") '
        "{ errors { code message } } }",
    ),
    "starApplications": (
        lambda w: w.star_application(),
        'mutation($i: ID!) { decideStarApplication(applicationId: $i, grant: false, reason: "不符")'
        " { errors { code message } } }",
    ),
}


def _statuses(name: str) -> list[str]:
    named = get_named_type(_field("WorkQueues", name).args["status"].type)
    assert isinstance(named, GraphQLEnumType)
    return list(named.values)


def _queue_ids(w: World, actor) -> dict[str, set[str]]:
    """The ids each ``DECIDED`` queue shows ``actor``: pending and in every status
    (a document per queue: at most 6 aliases, under the schema's limit)."""
    seen: dict[str, set[str]] = {}
    for name in DECIDED:
        parts = [
            f"q{i}: {name}({f'status: {status}, ' if status else ''}first: 100) "
            "{ edges { node { id } } }"
            for i, status in enumerate((None, *_statuses(name)))
        ]
        body = w.send(actor, f"query {{ me {{ workQueues {{ {' '.join(parts)} }} }} }}", {})
        assert all(code in TYPED for code in codes(body)), body
        queues = ((body.get("data") or {}).get("me") or {}).get("workQueues") or {}
        seen[name] = {row_id for value in queues.values() for row_id in _node_ids(value)}
    return seen


@pytest.fixture(scope="module")
def decided(world):
    """A fresh row of each ``DECIDED`` queue, pending, then each persona's views of
    those queues (by id), then each row decided by the team's admin over the API.
    Answers the views and the decided rows' ids by queue."""
    w = world
    fresh = {name: make(w) for name, (make, _doc) in DECIDED.items()}
    before = {persona: _queue_ids(w, w.actor(persona)) for persona in PERSONAS}
    for name, (_make, doc) in DECIDED.items():
        assert fresh[name] in before["group_admin"][name], name  # the admin decides it
        answer = w.send(w.actor("group_admin"), doc, {"i": fresh[name]})
        (payload,) = answer["data"].values()
        assert payload["errors"] == [], (name, payload)
    return before, fresh


@pytest.fixture(scope="module")
def baselines(world, decided):
    """Each persona's plain answer of each field at each parent, selected whole: the
    ids and cursors they hand out, and the numbers they show (checked here). After
    ``decided``, so its decisions are in every baseline."""
    w = world
    pool = Pool(ids={}, cursors={})
    for value in (w.pending_group_id, w.draft_id, w.pending_project_id):
        kind = _kind_of(value)
        assert kind, value
        pool.ids.setdefault(kind, []).append(value)
    secrets = Secrets()
    secrets.refresh()
    answers: dict[tuple[str, str, str], list[str] | None] = {}
    problems = []
    for type_name, name in sorted(FIELDS):
        field = _field(type_name, name)
        for key in _parents_of(type_name):
            for persona in PERSONAS:
                actor = w.actor(persona)
                reveals = reveals_since()
                body, value = _rows(w, actor, key, type_name, name, _base_args(field), True)
                where = f"{key}.{name} as {persona}"
                problems += [f"{where}: untyped {c}" for c in codes(body) if c not in TYPED]
                for number, owners in secrets.shown(body).items():
                    if not logged(owners, reveals):
                        problems.append(f"{where}: shows {number[:4]}… unlogged")
                _harvest(body, pool)
                if _is_connection(field) and isinstance(value, dict):
                    for edge in value.get("edges") or []:
                        pool.cursors.setdefault((key, name), set()).add(edge["cursor"])
                _, plain = _rows(w, actor, key, type_name, name, _base_args(field), False)
                answers[key, name, persona] = None if plain is None else rows_of(plain)
    assert not problems, "\n".join(problems[:30])
    return w, pool, answers


@pytest.mark.parametrize("type_field", sorted(FIELDS), ids=lambda tf: ".".join(tf))
def test_hostile_arguments(baselines, decided, type_field):
    w, pool, answers = baselines
    before, _fresh = decided
    type_name, name = type_field
    problems: list[str] = []
    seen: dict = {}
    for key in _parents_of(type_name):
        calls = hostile(type_name, name, key, pool, w)
        for persona in PERSONAS:
            actor = w.actor(persona)
            reached = answers[key, name, persona]
            baseline = set(reached or [])
            nothing: dict[str | None, tuple] = {}
            for label, args, kind in calls:
                if reached is None and kind is None and "forged" not in label:
                    continue  # refused at the parent: its ids and forged cursors only
                body, value = _rows(w, actor, key, type_name, name, args, False)
                where = f"{key}.{name}({label}) as {persona}"
                untyped = [c for c in codes(body) if c not in TYPED]
                if untyped:
                    problems.append(f"{where}: untyped {untyped} {body.get('errors')}")
                if type_name != "Query" and label.startswith("status="):
                    # A queue's ``status`` shows decided items instead of pending ones:
                    # each not in the baseline must be a row node(id:) shows the
                    # persona (of the kinds node resolves; README "node").
                    for row_id in _row_ids(value, baseline):
                        if not _visible(w, actor, row_id, seen):
                            problems.append(f"{where}: shows {row_id[:8]}, hidden from node")
                    if type_name == "WorkQueues" and name in DECIDED:
                        # No node for these: only rows the persona's views showed
                        # before ``decided`` decided one (its pending queue's included).
                        for row_id in _node_ids(value):
                            if row_id not in before[persona][name]:
                                problems.append(f"{where}: shows {row_id[:8]}, unseen before")
                elif type_name != "Query":
                    wider = set(rows_of(value)) - baseline
                    if wider:
                        problems.append(f"{where}: rows beyond the baseline {sorted(wider)[:2]}")
                if kind is None or label.split("=")[0].split(".")[0] in CURSOR_ARGS:
                    continue
                # An id the persona may not see answers as an id of nothing.
                if "of nothing" in label:
                    nothing[label.rsplit("=", 1)[0] + kind] = shape(body)
                    continue
                value_sent = _sent_id(args)
                if _visible(w, actor, value_sent, seen):
                    continue
                blank = args_with(args, _nothing(kind))
                if (label.rsplit("=", 1)[0] + kind) not in nothing:
                    nothing[label.rsplit("=", 1)[0] + kind] = shape(
                        _rows(w, actor, key, type_name, name, blank, False)[0]
                    )
                if shape(body) != nothing[label.rsplit("=", 1)[0] + kind]:
                    problems.append(
                        f"{where}: a hidden {kind} answers unlike none: "
                        f"{shape(body)} vs {nothing[label.rsplit('=', 1)[0] + kind]}"
                    )
    assert not problems, "\n".join(problems[:30])


# The kinds of row node(id:) shows (schema.region.nodes.node_of); null for others.
NODE_KINDS = {"Volunteer", "ServiceRecord", "VolunteerGroup", "Project", "Membership"}


def _row_ids(value, baseline: set[str]) -> list[str]:
    """The global ids of an answer's rows (a connection's nodes, a list's items) that
    are not rows of ``baseline`` and are of a kind node(id:) shows."""
    if value is None:
        return []
    edges = value.get("edges") or [] if isinstance(value, dict) else value
    ids = []
    for edge, row in zip(edges, rows_of(value), strict=True):
        node = edge.get("node", edge) if isinstance(value, dict) else edge
        fresh = row not in baseline and isinstance(node.get("id"), str)
        if fresh and _kind_of(node["id"]) in NODE_KINDS:
            ids.append(node["id"])
    return ids


def _node_ids(value) -> list[str]:
    """The ids of a connection's nodes."""
    if not isinstance(value, dict):
        return []
    return [edge["node"]["id"] for edge in value.get("edges") or []]


def test_decided_rows_show_to_their_deciders_only(world, decided):
    """Not vacuous: each freshly decided row is in the ``status:`` view of the
    personas that had it pending (the team's admin at least) and of no other."""
    w = world
    before, fresh = decided
    problems = []
    for persona in PERSONAS:
        now = _queue_ids(w, w.actor(persona))
        for name, row_id in fresh.items():
            had = row_id in before[persona][name]
            if (row_id in now[name]) != had:
                problems.append(f"{name} as {persona}: decided row shown {not had}")
    assert not problems, "\n".join(problems)
    assert all(row_id in before["group_admin"][n] for n, row_id in fresh.items())


def _sent_id(args: dict) -> str:
    for value in args.values():
        if isinstance(value, dict):
            (inner,) = value.values()
            return inner
    return next(v for k, v in args.items() if k != "first")


def args_with(args: dict, new: str) -> dict:
    """``args`` with the id sent replaced by ``new``."""
    out: dict[str, object] = {}
    for k, v in args.items():
        if isinstance(v, dict):
            out[k] = {sk: new for sk in v}
        elif k == "first":
            out[k] = v
        else:
            out[k] = new
    return out


def test_the_checks_can_fail():
    """``rows_of`` and ``shape`` tell answers apart: a row more is beyond a baseline,
    and an error's words differ from another's."""
    one = {"edges": [{"cursor": "a", "node": {"id": "1"}}]}
    two = {"edges": [*one["edges"], {"cursor": "b", "node": {"id": "2"}}]}
    assert set(rows_of(two)) - set(rows_of(one))
    hidden = {"data": None, "errors": [{"message": "x is pending", "extensions": {"code": "C"}}]}
    absent = {"data": None, "errors": [{"message": "no such group", "extensions": {"code": "C"}}]}
    assert shape(hidden) != shape(absent)
