"""Prefetching what a query asks for, so nested lists cost one SQL query per
level of nesting, never one per row.

``RELATIONS`` maps each GraphQL type's relation fields to the Django relation
behind it; :func:`prefetch_paths` walks the selection set of a request and
returns the ``prefetch_related`` paths it needs, to any depth.
"""

from __future__ import annotations

from django.db.models import Prefetch
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

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


def _sliced(type_name: str, field: SelectedField, path: str) -> Prefetch | None:
    """A volunteer's ``records(first: N)`` without ``after``/``filter`` needs only its
    first N+1 records: Django slices each volunteer's share in SQL (a window
    function), so a long history is not loaded to show one page of it."""
    if (type_name, field.name) != ("Volunteer", "records"):
        return None
    arguments = field.arguments or {}
    if arguments.get("after") or arguments.get("filter"):
        return None
    first = arguments.get("first") or 20
    if not isinstance(first, int) or not 1 <= first <= 100:
        return None
    from tenants.records.models import ServiceRecord

    return Prefetch(path, queryset=ServiceRecord.objects.order_by("id")[: first + 1])


def prefetch_paths(selections, type_name: str, prefix: str = "") -> list:
    paths: list = []
    for field in _fields(selections):
        relation = RELATIONS.get(type_name, {}).get(field.name)
        if relation is None:
            continue
        django_name, child_type = relation
        if not django_name:  # a wrapper (connection, edge): same rows, look inside
            paths.extend(prefetch_paths(field.selections, child_type, prefix))
            continue
        path = f"{prefix}{django_name}"
        paths.append(_sliced(type_name, field, path) or path)
        paths.extend(prefetch_paths(field.selections, child_type, f"{path}__"))
    return paths


def child_selections(info, *path: str):
    """The selections under the current field, following ``path`` (e.g. edges, node)."""
    selections = info.selected_fields[0].selections
    for name in path:
        matches = [f for f in _fields(selections) if f.name == name]
        selections = [s for match in matches for s in match.selections]
    return selections


def optimized(queryset, info, type_name: str, *path: str):
    """``queryset`` with every relation the request selects prefetched."""
    lookups = prefetch_paths(child_selections(info, *path), type_name)
    plain = {lookup for lookup in lookups if isinstance(lookup, str)}
    unique: dict[str, object] = {}
    for lookup in lookups:
        name = lookup if isinstance(lookup, str) else lookup.prefetch_to
        if isinstance(lookup, Prefetch) and (name in plain or name in unique):
            continue  # asked for twice, differently: load it whole
        unique.setdefault(name, lookup)
    return queryset.prefetch_related(*unique.values()) if unique else queryset
