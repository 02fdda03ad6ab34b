"""Issue 15 point 2: relations, pages and columns are declared on the fields that
need them and checked when the schema is built: a wrong name fails at start-up
(``ImproperlyConfigured`` from ``prefetch.plan``, which ``bind`` runs on the region
schema at import), not at the first request that selects the field."""

# No ``from __future__ import annotations``: the small schemas below are made inside
# functions, and strawberry resolves their annotations from the function's names.

import functools

import pytest
import strawberry
from django.core.exceptions import ImproperlyConfigured

from schema.region import prefetch
from schema.region.fields import model_field
from schema.region.prefetch import Page, by_id, related, rows
from tenants.groups import models as group_models


def _schema(relation="liaised_groups", page=None, keys=None, column="name", declare=True):
    """A schema of one group type with one paged relation field, as the region's
    types declare theirs."""

    @strawberry.type
    class Subgroup:
        _model: strawberry.Private[object]
        name: str = model_field("name")

    declared = rows(group_models.VolunteerGroup, keys=keys) if declare else _as_is

    @declared
    @strawberry.type(name="Group")
    class Group:
        _model: strawberry.Private[object]
        name: str = model_field(column)

        @strawberry.field(metadata=related(relation, page=page))
        def subgroups(self) -> list[Subgroup]:
            return []

    @strawberry.type
    class Query:
        @strawberry.field
        def group(self) -> Group | None:
            return None

    return strawberry.Schema(query=Query)


def _as_is(cls: type) -> type:
    """The class undeclared (what ``_schema(declare=False)`` puts in ``rows``' place)."""
    return cls


def _page(keyset="id"):
    return Page(lambda _: group_models.VolunteerGroup.objects.all(), keyset, int)


def test_the_declarations_are_collected():
    found = prefetch.plan(
        _schema(page=by_id(lambda _: group_models.VolunteerGroup.objects.none(), "VolunteerGroup"))
    )
    assert found.relations == {"Group": {"subgroups": ("liaised_groups", "Subgroup")}}
    assert found.pages[("Group", "subgroups")].to_attr == "prefetched_subgroups"
    assert found.columns["Group"] == {"name": ("name",)}


def test_the_region_schema_declares_what_the_planner_reads():
    from schema.region import schema

    found = prefetch.plan(schema)  # what bind() ran at import, without raising
    assert found.relations["VolunteerGroup"]["subgroups"] == ("liaised_groups", "VolunteerGroup")
    assert found.relations["GroupVolunteerEdge"]["node"] == ("volunteer", "Volunteer")
    assert set(found.pages) == {
        ("Volunteer", "records"),
        ("VolunteerGroup", "volunteers"),
        ("VolunteerGroup", "members"),
        ("VolunteerGroup", "applications"),
        ("VolunteerGroup", "subgroups"),
        ("VolunteerGroup", "projects"),
        ("Project", "records"),
    }
    assert found.reveal == {("Volunteer", "birthDate")}
    assert found.keys["records.ServiceRecord"][0] == "id"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            functools.partial(_schema, relation="liaised_groupz"),
            "Group.subgroups: groups.VolunteerGroup has no relation 'liaised_groupz'",
        ),
        (
            functools.partial(_schema, relation="name"),  # a column, not a relation
            "Group.subgroups: groups.VolunteerGroup has no relation 'name'",
        ),
        (
            functools.partial(_schema, page=_page("no_such_key")),
            "Group.subgroups: groups.VolunteerGroup has no column 'no_such_key'",
        ),
        (
            functools.partial(_schema, keys=("id", "liaison_groupid")),
            "groups.VolunteerGroup: no key column 'liaison_groupid'",
        ),
        (
            functools.partial(_schema, keys=("id",), column="nmae"),
            "Group.name: groups.VolunteerGroup has no column 'nmae'",
        ),
        (
            functools.partial(_schema, declare=False),
            "Group: has relation fields; declare @rows(Model) on it",
        ),
    ],
)
def test_a_wrong_name_fails_when_the_schema_is_built(build, message):
    with pytest.raises(ImproperlyConfigured) as raised:
        prefetch.plan(build())
    assert message in str(raised.value)
