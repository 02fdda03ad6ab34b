"""Audit round 4: every role against every operation, driven from the schema.

``tests/test_who_may_do_what.py`` walks README's table (every root field, nine
personas) and checks each persona's outcome code on a minimal selection. This
sweep takes the same rows and world and asks what that table does not:

- **more roles**: ``yuzhong``, the authority of the member's own county (渝中; the
  table has only another county's and the whole region's); ``liaison``, the 渝中
  hub's admin (the team's liaison, 区域内志愿者管理 in 渝中); ``open_admin``, the
  admin of another team under that hub, related to nobody in the rows; and
  ``central``, a central API token sent to the region's host. Their outcomes are
  the table's for the nearest persona (``NEAREST``) except where ``OVERRIDES``
  says why not;
- **the whole answer**: each operation's selection is rebuilt from the schema —
  every field without a required argument, a few levels deep, each type of an
  interface or union — so a field that shows too much is selected whatever the
  table's document asked for;
- for every call: the outcome is a typed code (never ``INTERNAL`` or a bare
  GraphQL error), and every error nested in the answer is typed too;
- for every refusal: **nothing changed** in the database (no row of the region's,
  the public or the 云南 schema written or deleted but the audit log and the
  throttle's counts, which record the refusal itself);
- for every answer: **no volunteer's full ID number or phone**, unless the call
  wrote a ``PersonalInfoAccess`` row for that volunteer (a reveal, logged);
- **another region's ids**: the whole region's authority sends each operation
  with every 重庆 id in its variables made 云南's: a typed refusal, nothing written.

Mutations a table persona may make are the table's to run (they need fresh
targets); here every other call runs on the shared targets. A root field added
to the schema without a row fails ``test_who_may_do_what.test_every_root_field_has_a_row``
and ``test_every_root_field_is_swept`` below.

Its name puts it beside the file whose world it takes. Where it runs in the suite
does not matter: that world gives volunteers their hours through recorded service
(``tests/world_support.counted_hours``), so the federation invariant the transfer
tests assert holds whatever ran before them, and ``tests/conftest.py`` checks it
after this module as after every other.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    OperationDefinitionNode,
    build_schema,
    get_named_type,
    is_leaf_type,
    is_non_null_type,
    parse,
    print_ast,
)
from graphql.language import Lexer, Source, TokenKind

from tenants.groups import services as groups
from tenants.volunteers import pii
from tenants.volunteers.models import PersonalInfoAccess, Volunteer
from tests.registry_support import login, region, unique
from tests.test_who_may_do_what import (  # noqa: F401  (world: the fixture)
    NULL,
    OK,
    PASSWORD,
    PERSONAS,
    ROWS,
    SLUG,
    YUZHONG,
    Actor,
    Row,
    World,
    _authority,
    world,
)

EXTRA = ("yuzhong", "liaison", "open_admin", "central")
SWEPT = PERSONAS + EXTRA
# Whose table outcome an extra persona has, unless OVERRIDES says otherwise.
NEAREST = {
    "yuzhong": "city",
    "liaison": "other_hub",
    "open_admin": "other_hub",
    "central": "foreign",
}
TYPED = {
    OK,
    NULL,
    "PERMISSION_DENIED",
    "UNAUTHENTICATED",
    "NOT_FOUND",
    "CONFLICT",
    "INVALID",
    "THROTTLED",
    "DISABLED_BY_POLICY",
}
REFUSED = "refused"  # any typed refusal: an error code or null

# (row id, persona) -> outcome, where an extra persona differs from its nearest.
OVERRIDES: dict[tuple[str, str], str] = {
    # A team's admin has no power over an area (区域内志愿者管理 is a hub's).
    ("volunteers[area]", "open_admin"): "PERMISSION_DENIED",
    # What only an authority of the whole region does or sees: the audit log, a
    # request for a volunteer not here yet, and a newcomer (who lives in the region's
    # own division until they say otherwise).
    ("auditLog", "yuzhong"): "PERMISSION_DENIED",
    ("transfer[incoming, requested]", "yuzhong"): NULL,
    ("revealTransferPackage[incoming]", "yuzhong"): "PERMISSION_DENIED",
    ("revealPersonalInfo[transferred in]", "yuzhong"): "PERMISSION_DENIED",
    # The team's liaison, a district hub holding 区域内志愿者管理 in 渝中 (002 annex:
    # 高级团体组（快审）): a manager of the team's members, who reviews the groups and
    # projects under it and sees them while pending.
    **dict.fromkeys(
        [
            (field, "liaison")
            for field in (
                "volunteer",
                "timeBank",
                "node[volunteer]",
                "node[pending group]",
                "nodes",
                "volunteers[groupId]",
                "group[pending]",
                "project[draft]",
                "reviewVolunteerVerification",
                "setVolunteerStatus",
                "revealPersonalInfo",
                "revealTransferPackage",
                "reviewGroup",
                "setPermissionGroup",
                "reviewProject",
            )
        ],
        OK,
    ),
}

# Rows a refusal may write: the refusal's own trace.
REFUSAL_WRITES = {"audit_auditentry", "accounts_loginthrottle"}


def expected(row: Row, persona: str) -> str:
    if persona in PERSONAS:
        return row.expect[persona]
    return OVERRIDES.get((row.id, persona), row.expect[NEAREST[persona]])


# --- the selection, from the schema -----------------------------------------------------

MAX_TOKENS = 1900  # the servers refuse documents of more than 2,000 tokens


def _schema() -> GraphQLSchema:
    from schema.region import schema

    return build_schema(schema.as_str())


SCHEMA = _schema()


def _callable(field: GraphQLField) -> bool:
    """A field that can be selected without arguments."""
    return not any(
        is_non_null_type(arg.type) and arg.default_value is None for arg in field.args.values()
    )


def selection(schema: GraphQLSchema, named, depth: int) -> str:
    """Every field of ``named`` callable without arguments, ``depth`` levels of
    objects deep; an interface's or union's every possible type as a fragment (a
    field another fragment selects with another type left out, so they merge)."""
    parts = ["__typename"]
    if isinstance(named, GraphQLUnionType | GraphQLInterfaceType):
        taken: dict[str, str] = {}
        if isinstance(named, GraphQLInterfaceType):
            parts += _fields(schema, named, depth, taken)
        if depth > 0:
            for possible in schema.get_possible_types(named):
                inner = " ".join(["__typename", *_fields(schema, possible, depth - 1, taken)])
                parts.append(f"... on {possible.name} {{ {inner} }}")
        return " ".join(parts)
    assert isinstance(named, GraphQLObjectType), named
    return " ".join(parts + _fields(schema, named, depth, {}))


def _fields(schema: GraphQLSchema, named, depth: int, taken: dict[str, str]) -> list[str]:
    parts = []
    for name, field in named.fields.items():
        if not _callable(field) or taken.setdefault(name, str(field.type)) != str(field.type):
            continue
        inner = get_named_type(field.type)
        if is_leaf_type(inner):
            parts.append(name)
        elif depth > 0:
            parts.append(f"{name} {{ {selection(schema, inner, depth - 1)} }}")
    return parts


def tokens(document: str) -> int:
    lexer = Lexer(Source(document))
    count = 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


def expanded(row: Row) -> str:
    """``row.doc`` with its root field's selection rebuilt from the schema, as deep as
    the token limit allows (at least the payload's or object's own fields)."""
    document = parse(row.doc)
    (operation,) = document.definitions
    assert isinstance(operation, OperationDefinitionNode)
    root = operation.selection_set.selections[0]
    assert isinstance(root, FieldNode)
    kind = operation.operation.value
    parent = SCHEMA.query_type if kind == "query" else SCHEMA.mutation_type
    assert parent is not None
    named = get_named_type(parent.fields[row.field].type)
    if is_leaf_type(named) or root.selection_set is None:
        return row.doc
    for depth in (4, 3, 2, 1, 0):
        inner = parse(f"{{ {selection(SCHEMA, named, depth)} }}")
        (wrapper,) = inner.definitions
        assert isinstance(wrapper, OperationDefinitionNode)
        # graphql-core's nodes are frozen: a test's document may be edited in place.
        object.__setattr__(root, "selection_set", wrapper.selection_set)
        text = print_ast(document)
        if tokens(text) <= MAX_TOKENS:
            return text
    raise AssertionError(f"{row.id}: no selection within {MAX_TOKENS} tokens")


# --- the database: what a call wrote ---------------------------------------------------


def _schemas() -> list[str]:
    return [region(SLUG).schema_name, region("yunnan").schema_name, "public"]


def _tables() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE' AND table_schema = ANY(%s)",
            [_schemas()],
        )
        return sorted(cursor.fetchall())


@dataclass
class Mark:
    """Where the database stood before a call: the next transaction id (a call that
    writes anything takes one) and each table's row count."""

    xid: int
    counts: dict[tuple[str, str], int]


def _counts(tables) -> dict[tuple[str, str], int]:
    union = " UNION ALL ".join(
        f'SELECT {i}, count(*) FROM "{schema}"."{name}"' for i, (schema, name) in enumerate(tables)
    )
    with connection.cursor() as cursor:
        cursor.execute(union)
        by_index = dict(cursor.fetchall())
    return {table: by_index[i] for i, table in enumerate(tables)}


def _next_xid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        return cursor.fetchone()[0]


def mark(tables) -> Mark:
    return Mark(_next_xid(), _counts(tables))


def written(before: Mark, tables) -> set[str]:
    """The tables a call wrote: rows newer than ``before`` (inserted or updated) or
    fewer rows than before (deleted); nothing when no transaction id was taken."""
    if _next_xid() == before.xid:
        return set()
    xid = before.xid % 2**32
    union = " UNION ALL ".join(
        f'SELECT {i}, count(*) FROM "{schema}"."{name}" WHERE xmin::text::bigint >= {xid}'
        for i, (schema, name) in enumerate(tables)
    )
    with connection.cursor() as cursor:
        cursor.execute(union)
        newer = dict(cursor.fetchall())
    after = _counts(tables)
    return {
        f"{schema}.{name}"
        for i, (schema, name) in enumerate(tables)
        if newer[i] or after[(schema, name)] < before.counts[(schema, name)]
    }


def refusal_breaches(before: Mark, tables) -> list[str]:
    """What a refused call wrote beyond its own trace (``REFUSAL_WRITES``)."""
    return sorted(t for t in written(before, tables) if t.split(".")[1] not in REFUSAL_WRITES)


# --- personal information in an answer ----------------------------------------------


class Secrets:
    """Every volunteer's full ID number and phone in 重庆 and 云南, read as they are
    registered (decrypted once each): value -> {(schema, volunteer id)}."""

    def __init__(self):
        self.values: dict[str, set[tuple[str, int]]] = {}
        self.seen: dict[str, int] = {}

    def refresh(self) -> None:
        for slug in (SLUG, "yunnan"):
            place = region(slug)
            with tenant_context(place):
                rows = Volunteer.objects.filter(id__gt=self.seen.get(place.schema_name, 0))
                for volunteer in rows.only("id", "id_number_encrypted", "phone_encrypted"):
                    for token in (volunteer.id_number_encrypted, volunteer.phone_encrypted):
                        if token:
                            self.values.setdefault(pii.decrypt(token), set()).add(
                                (place.schema_name, volunteer.id)
                            )
                    self.seen[place.schema_name] = max(
                        self.seen.get(place.schema_name, 0), volunteer.id
                    )

    def shown(self, body: dict) -> dict[str, set[tuple[str, int]]]:
        """The values of :attr:`values` that ``body`` holds whole (as a run of letters
        and digits of its own, not inside a longer one)."""
        runs = set(re.findall(r"[0-9A-Za-z]+", json.dumps(body, ensure_ascii=False)))
        return {value: owners for value, owners in self.values.items() if value in runs}


def reveals_since() -> dict[str, int]:
    marks = {}
    for slug in (SLUG, "yunnan"):
        place = region(slug)
        with tenant_context(place):
            last = PersonalInfoAccess.objects.order_by("-id").values_list("id", flat=True).first()
        marks[place.schema_name] = last or 0
    return marks


def logged(owners: set[tuple[str, int]], before: dict[str, int]) -> bool:
    """A reveal of one of ``owners`` was logged after ``before``."""
    for slug in (SLUG, "yunnan"):
        place = region(slug)
        ids = [v for schema, v in owners if schema == place.schema_name]
        with tenant_context(place):
            if PersonalInfoAccess.objects.filter(
                id__gt=before[place.schema_name], volunteer_id__in=ids
            ).exists():
                return True
    return False


# --- outcomes --------------------------------------------------------------------------


def codes(body: dict) -> list[str]:
    return [
        e.get("extensions", {}).get("code") or f"GRAPHQL: {e['message']}"
        for e in body.get("errors") or []
    ]


def root_outcome(body: dict, field: str) -> str:
    """The root field's outcome: its own error's code, "null", the payload's first
    error code, or "ok" — an error deeper in the answer is not the root's."""
    for error in body.get("errors") or []:
        path = error.get("path")
        # The root's own error, or one of a root list's items (``nodes``).
        if path in (None, [field]) or (len(path) == 2 and isinstance(path[1], int)):
            return error.get("extensions", {}).get("code") or f"GRAPHQL: {error['message']}"
    value = (body.get("data") or {}).get(field)
    if value is None:
        return NULL
    if isinstance(value, dict) and value.get("errors"):
        return value["errors"][0]["code"]
    if isinstance(value, list) and value and all(item is None for item in value):
        return NULL  # ``nodes``: each id answered null
    return OK


# --- the extra personas --------------------------------------------------------------


# The group whose admin a persona is: the 渝中 hub (the team's liaison, holding
# 区域内志愿者管理 in 渝中), and another team under it.
GROUP_OF = {"liaison": "hub_a", "open_admin": "open"}


def _admin_of(w: World, persona: str) -> Actor:
    username = w.admins[GROUP_OF[persona]]
    return Actor(persona, login(w.gql, SLUG, username), username)


def _twin(w: World, persona: str) -> Actor:
    """A new account in the role of ``persona`` (for a call that changes the caller)."""
    if persona == "yuzhong":
        username, token = _authority(w.gql, SLUG, "county", YUZHONG, "重庆市渝中区民政局")
        return Actor(persona, token, username)
    if persona in GROUP_OF:
        username = unique("twin")
        with tenant_context(w.region):
            groups.create_staff_account(
                group_id=w.orgs[GROUP_OF[persona]].id,
                kind="group_admin",
                username=username,
                password=PASSWORD,
                display_name="团体管理员",
                recorder_certificate="",
                principal=w.admin(GROUP_OF[persona]),
                policy=w.policy,
            )
        return Actor(persona, login(w.gql, SLUG, username), username)
    raise AssertionError(f"no twin for {persona}")


@dataclass
class Sweep:
    world: World
    tables: list[tuple[str, str]]
    secrets: Secrets


@pytest.fixture(scope="module")
def sweep(world, central_admin) -> Sweep:  # noqa: F811  (the fixture imported above)
    username, token = _authority(world.gql, SLUG, "county", YUZHONG, "重庆市渝中区民政局")
    world.actors["yuzhong"] = Actor("yuzhong", token, username)
    for persona in GROUP_OF:
        world.actors[persona] = _admin_of(world, persona)
    world.actors["central"] = Actor("central", central_admin["token"])
    secrets = Secrets()
    secrets.refresh()
    return Sweep(world, _tables(), secrets)


def test_every_root_field_is_swept():
    assert SCHEMA.query_type is not None and SCHEMA.mutation_type is not None
    fields = set(SCHEMA.query_type.fields) | set(SCHEMA.mutation_type.fields)
    assert {row.field for row in ROWS} == fields
    unknown = {key for key in OVERRIDES if key[0] not in {row.id for row in ROWS}}
    assert not unknown, unknown


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_every_role_against_every_operation(sweep, row):
    w = sweep.world
    is_mutation = row.doc.startswith("mutation")
    document = expanded(row)
    problems: list[str] = []
    order = sorted(SWEPT, key=lambda p: expected(row, p) == OK)
    for persona in order:
        want = expected(row, persona)
        if is_mutation and want == OK and persona in PERSONAS:
            continue  # the table's test makes it, on a fresh target
        fresh = is_mutation and want == OK
        actor = w.actor(persona)
        if row.fresh_token and actor.username:
            actor = w.relogin(actor)
        if fresh and row.twin & {NEAREST[persona]}:
            actor = _twin(w, persona)
        variables = row.variables(w, actor, fresh)
        sweep.secrets.refresh()
        before, reveals = mark(sweep.tables), reveals_since()
        body = w.send(actor, document, variables)
        got = root_outcome(body, row.field)
        untyped = [c for c in codes(body) if c not in TYPED]
        if got not in TYPED or untyped:
            problems.append(f"{persona}: untyped {got} {untyped} {body.get('errors')}")
        if got != want:
            problems.append(f"{persona}: {got} (expected {want})")
        if got != OK and (changed := refusal_breaches(before, sweep.tables)):
            problems.append(f"{persona}: refused ({got}) yet wrote {changed}")
        for value, owners in sweep.secrets.shown(body).items():
            if not logged(owners, reveals):
                problems.append(f"{persona}: shows {value[:4]}… unlogged")
    # The same operation naming another region's rows: the whole region's authority
    # (who may most here) gets a typed refusal, and nothing is written.
    city = w.actor("city")
    variables, swapped = elsewhere(row.variables(w, city, False))
    if swapped:
        before = mark(sweep.tables)
        body = w.send(city, document, variables)
        got = root_outcome(body, row.field)
        if got == OK or got not in TYPED or any(c not in TYPED for c in codes(body)):
            problems.append(f"another region's ids: {got} {body.get('errors')}")
        if changed := refusal_breaches(before, sweep.tables):
            problems.append(f"another region's ids: wrote {changed}")
    assert not problems, (row.id, problems)


def elsewhere(value):
    """``value`` (variables) with every id of a 重庆 row made the id of the same key
    in 云南; and whether there was one."""
    from schema.identity import NotAnId, decode, global_id

    if isinstance(value, dict):
        pairs = [(k, elsewhere(v)) for k, v in value.items()]
        return {k: v for k, (v, _) in pairs}, any(s for _, (_, s) in pairs)
    if isinstance(value, list):
        items = [elsewhere(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    if isinstance(value, str):
        try:
            kind, schema, key = decode(value)
        except NotAnId:
            return value, False
        if schema == region(SLUG).schema_name:
            return global_id(kind, key, schema=region("yunnan").schema_name), True
    return value, False


# --- what the sweep found, and that it can find ----------------------------------------


def test_an_imported_transfer_answers_when_it_was_consented(sweep):
    """importTransferPackage gave back the transfer with ``consentedAt`` as the
    package's text, and asking for it failed with an untyped error (found by the
    sweep: the table's document selected only ``errors``)."""
    from tests.test_who_may_do_what import _package

    w = sweep.world
    city = w.actor("city")
    doc = """mutation($f: Upload!) { importTransferPackage(file: $f) {
      transfer { state consentedAt } errors { code } } }"""
    body = w.send(city, doc, _package(w, city, True))
    assert "errors" not in body, body
    payload = body["data"]["importTransferPackage"]
    assert payload["errors"] == [] and payload["transfer"]["consentedAt"], payload


def test_the_sweep_sees_a_write_and_an_unlogged_number(sweep):
    """The checks can fail: a reveal writes its log (``written`` names the table)
    and shows the full ID number (``shown`` finds it, ``logged`` finds the reveal);
    the same number in an answer with no reveal behind it is not logged."""
    w = sweep.world
    doc = """mutation($n: String!) { revealPersonalInfo(number: $n, reason: "核对保险") {
      idNumber phone errors { code } } }"""
    before, reveals = mark(sweep.tables), reveals_since()
    body = w.send(w.actor("yuzhong"), doc, {"n": w.member.number})
    assert body["data"]["revealPersonalInfo"]["errors"] == [], body
    tables = written(before, sweep.tables)
    assert {f"{region(SLUG).schema_name}.volunteers_personalinfoaccess"} <= tables, tables
    sweep.secrets.refresh()
    shown = sweep.secrets.shown(body)
    assert len(shown) == 2 and all(logged(owners, reveals) for owners in shown.values())
    again = {"data": {"x": body["data"]["revealPersonalInfo"]["phone"]}}
    ((_, owners),) = sweep.secrets.shown(again).items()
    assert not logged(owners, reveals_since())
