"""Prefetching what a query asks for, so nested lists cost one SQL query per
level of nesting, never one per row.

``RELATIONS`` maps each GraphQL type's relation fields to the Django relation
behind it; :func:`optimize` walks the selection set of a request and
joins the single rows and prefetches the lists it needs, to any depth.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from tenants.related import MostlyEmpty, to_attr

# GraphQL type → {field name: (Django relation, GraphQL type of the related rows)}
RELATIONS: dict[str, dict[str, tuple[str, str]]] = {
    "VolunteerGroup": {
        "subgroups": ("liaised_groups", "VolunteerGroup"),
        "members": ("memberships", "Membership"),
        "liaisonGroup": ("liaison_group", "VolunteerGroup"),
        "viewingGroups": ("viewing_groups", "VolunteerGroup"),
        "projects": ("projects", "Project"),
    },
    "Membership": {
        "volunteer": ("volunteer", "Volunteer"),
        "group": ("group", "VolunteerGroup"),
    },
    "Volunteer": {
        "memberships": ("memberships", "Membership"),
        "trainings": ("trainings", "Training"),
        "awards": ("awards", "Award"),
        "complaints": ("complaints", "Complaint"),
        "certificates": ("certificates", "Certificate"),
        "records": ("records", "ServiceRecordConnection"),
        "totalHours": ("totals", "VolunteerTotals"),
        "starLevel": ("totals", "VolunteerTotals"),
        "eligibleStarLevel": ("totals", "VolunteerTotals"),
    },
    # A connection's rows come from the relation above; look through edges { node }.
    "ServiceRecordConnection": {"edges": ("", "ServiceRecordEdge")},
    "ServiceRecordEdge": {"node": ("", "ServiceRecord")},
    "ServiceRecord": {
        "amendments": ("amendments", "Amendment"),
        "hours": ("amendments", "Amendment"),
        "startTime": ("amendments", "Amendment"),
        "endTime": ("amendments", "Amendment"),
        "place": ("amendments", "Amendment"),
        "serviceTarget": ("amendments", "Amendment"),
        "content": ("amendments", "Amendment"),
    },
    "Project": {
        "records": ("records", "ServiceRecord"),
    },
    "Training": {"group": ("group", "VolunteerGroup")},
    "Award": {"group": ("group", "VolunteerGroup")},
    "Complaint": {"group": ("group", "VolunteerGroup")},
}


def _fields(selections) -> list[SelectedField]:
    """Flatten fragments into the fields they select."""
    fields = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            fields.append(selection)
        elif isinstance(selection, FragmentSpread | InlineFragment):
            fields.extend(_fields(selection.selections))
    return fields


def _records_slice(type_name: str, fields: list[SelectedField]) -> int | None:
    """A volunteer's ``records(first: N)`` without ``after``/``filter`` needs only its
    first N+1 records: Django slices each volunteer's share in SQL (a window
    function), so a long history is not loaded to show one page of it. Asked for
    several times (aliases), the largest page; any ``after`` or ``filter``: all."""
    if type_name != "Volunteer" or fields[0].name != "records":
        return None
    firsts = []
    for field in fields:
        arguments = field.arguments or {}
        first = arguments.get("first", 20)
        if arguments.get("after") or arguments.get("filter"):
            return None
        if not isinstance(first, int) or not 1 <= first <= 100:
            return None
        firsts.append(first)
    return max(firsts) + 1


def optimize(queryset, selections, type_name: str):
    """``queryset`` joined with the single rows and prefetching the lists that
    ``selections`` (under GraphQL type ``type_name``) ask for, to any depth.

    A single row (foreign key, reverse one-to-one) is joined (``select_related``);
    a list is one more query for all parents (``Prefetch`` with
    ``to_attr="prefetched_<relation>"``, see ``tenants/related.py``), optimized
    the same way for what is selected under it. So the statement count depends
    on the query's shape, never on how many rows a page has.
    """
    joins, prefetches, flags = _relations(queryset.model, selections, type_name, "")
    if flags:
        queryset = queryset.annotate(**flags)
    if joins:
        queryset = queryset.select_related(*joins)
    if prefetches:
        queryset = queryset.prefetch_related(*prefetches)
    return queryset


def _relations(model, selections, type_name: str, prefix: str) -> tuple[list, list, dict]:
    """Joins, prefetches and (for ``MostlyEmpty`` relations of ``model`` itself)
    ``has_<relation>`` annotations for what ``selections`` ask for."""
    by_relation: dict[str, list[SelectedField]] = {}
    joins: list[str] = []
    prefetches: list[Prefetch] = []
    flags: dict[str, Exists] = {}
    for field in _fields(selections):
        relation = RELATIONS.get(type_name, {}).get(field.name)
        if relation is None:
            continue
        django_name, child_type = relation
        if not django_name:  # a wrapper (connection, edge): same rows, look inside
            inner_joins, inner_prefetches, inner_flags = _relations(
                model, field.selections, child_type, prefix
            )
            flags.update(inner_flags)
            joins += inner_joins
            prefetches += inner_prefetches
            continue
        by_relation.setdefault(django_name, []).append(field)
    for django_name, fields in by_relation.items():
        child_type = RELATIONS[type_name][fields[0].name][1]
        children = [s for field in fields for s in field.selections]
        django_field = model._meta.get_field(django_name)
        related_model = django_field.related_model
        if django_field.many_to_one or django_field.one_to_one:
            joins.append(f"{prefix}{django_name}")
            # Flags of a joined row's relations are not annotated: its lists load whole.
            inner_joins, inner_prefetches, _ = _relations(
                related_model, children, child_type, f"{prefix}{django_name}__"
            )
            joins += inner_joins
            prefetches += inner_prefetches
            continue
        if not prefix and isinstance(getattr(model, to_attr(django_name), None), MostlyEmpty):
            remote = {django_field.field.name: OuterRef("pk")}
            flags[f"has_{django_name}"] = Exists(related_model._default_manager.filter(**remote))
        rows = optimize(related_model._default_manager.all(), children, child_type)
        limit = _records_slice(type_name, fields)
        if limit is not None:
            rows = rows.order_by("id")[:limit]
        prefetches.append(
            Prefetch(f"{prefix}{django_name}", queryset=rows, to_attr=to_attr(django_name))
        )
    return joins, prefetches, flags


def child_selections(info, *path: str):
    """The selections under the current field, following ``path`` (e.g. edges, node)."""
    selections = info.selected_fields[0].selections
    for name in path:
        matches = [f for f in _fields(selections) if f.name == name]
        selections = [s for match in matches for s in match.selections]
    return selections


def optimized(queryset, info, type_name: str, *path: str):
    """``queryset`` with every relation the request selects joined or prefetched."""
    return optimize(queryset, child_selections(info, *path), type_name)
