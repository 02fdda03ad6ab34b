"""Audit round 5: each mutation a persona may make, its payload selected whole.

``tests/test_who_may_do_what.py`` makes every mutation a persona of README's table
may make, on a fresh target, with a minimal selection (``errors``); round 4's sweep
(``tests/test_who_may_do_what_sweep.py``) selects the payload whole but only for the
calls refused. Here each mutation is made by each persona the table lets make it,
on a fresh target as the table's test makes it, with the payload's selection rebuilt
from the schema (every field callable without arguments, four levels deep, fewer
where the 2,000-token limit says: the sweep's ``expanded``). For each call:

- it succeeds (the table's outcome), and every error nested in the answer is typed;
- **no full ID number or phone** is in the answer unless the call wrote a
  ``PersonalInfoAccess`` row for that volunteer, or the number is the caller's own
  (a volunteer's own account shows them their own);
- **nothing of another region**: no id in the answer decodes to another schema.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.registry_support import region
from tests.test_who_may_do_what import OK, PERSONAS, ROWS, SLUG, Row
from tests.test_who_may_do_what import world as world  # (the fixture)
from tests.test_who_may_do_what_sweep import (
    TYPED,
    Secrets,
    codes,
    expanded,
    logged,
    reveals_since,
    root_outcome,
)

MUTATIONS = [
    row
    for row in ROWS
    if row.doc.startswith("mutation") and any(row.expect[p] == OK for p in PERSONAS)
]


def _own(actor) -> set[str]:
    """The caller's own ID number and phone, as registered."""
    from django_tenants.utils import tenant_context

    from tenants.volunteers import pii

    volunteer = getattr(actor, "volunteer", None)
    if volunteer is None:
        return set()
    with tenant_context(region(SLUG)):
        volunteer.refresh_from_db()
        return {
            pii.decrypt(token)
            for token in (volunteer.id_number_encrypted, volunteer.phone_encrypted)
            if token
        }


def _foreign_ids(body: dict) -> list[str]:
    """Ids in the answer that decode to a schema other than this region's."""
    from schema.identity import NotAnId, decode

    here = region(SLUG).schema_name
    found = []
    for text in re.findall(r'"([A-Za-z0-9_-]{22,})"', json.dumps(body)):
        try:
            _kind, schema, _key = decode(text)
        except (NotAnId, ValueError):
            continue
        if schema != here:
            found.append(text)
    return found


def test_every_mutation_a_persona_may_make_is_here():
    assert MUTATIONS and all(row.field for row in MUTATIONS)
    assert {row.field for row in ROWS if row.doc.startswith("mutation")} - {
        row.field for row in MUTATIONS
    } <= {row.field for row in ROWS if all(row.expect[p] != OK for p in PERSONAS)}


@pytest.mark.parametrize("row", MUTATIONS, ids=lambda row: row.id)
def test_a_payload_selected_whole(world, row: Row):
    w = world
    secrets = Secrets()
    document = expanded(row)
    problems: list[str] = []
    for persona in [p for p in PERSONAS if row.expect[p] == OK]:
        actor = w.actor(persona)
        if row.fresh_token:
            actor = w.relogin(actor)
        if persona in row.twin:
            actor = w.twin(persona)
        variables = row.variables(w, actor, True)
        reveals = reveals_since()
        body = w.send(actor, document, variables)
        got = root_outcome(body, row.field)
        untyped = [c for c in codes(body) if c not in TYPED]
        if got != OK or untyped:
            problems.append(f"{persona}: {got} {untyped} {body.get('errors')}")
        secrets.refresh()  # a volunteer the call registered too
        own = _own(actor)
        for value, owners in secrets.shown(body).items():
            if value not in own and not logged(owners, reveals):
                problems.append(f"{persona}: shows {value[:4]}… unlogged")
        if foreign := _foreign_ids(body):
            problems.append(f"{persona}: ids of another region {foreign[:2]}")
    assert not problems, (row.id, problems)


def test_an_id_of_another_region_is_seen(seed_regions):
    """``_foreign_ids`` finds an id of 云南 in an answer, and none of this region's."""
    from schema.identity import global_id

    here = global_id("VolunteerGroup", 1, schema=region(SLUG).schema_name)
    there = global_id("VolunteerGroup", 1, schema=region("yunnan").schema_name)
    assert _foreign_ids({"data": {"a": {"id": here}, "b": [{"id": there}]}}) == [there]
