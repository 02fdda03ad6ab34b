"""Prefetching what a query asks for, so nested lists cost one SQL query per
level of nesting, never one per row.

``RELATIONS`` maps each GraphQL type's relation fields to the Django relation
behind it; :func:`prefetch_paths` walks the selection set of a request and
returns the ``prefetch_related`` paths it needs, to any depth.
"""

from __future__ import annotations

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


def prefetch_paths(selections, type_name: str, prefix: str = "") -> list[str]:
    paths: list[str] = []
    for field in _fields(selections):
        relation = RELATIONS.get(type_name, {}).get(field.name)
        if relation is None:
            continue
        django_name, child_type = relation
        if not django_name:  # a wrapper (connection, edge): same rows, look inside
            paths.extend(prefetch_paths(field.selections, child_type, prefix))
            continue
        path = f"{prefix}{django_name}"
        paths.append(path)
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
    paths = prefetch_paths(child_selections(info, *path), type_name)
    return queryset.prefetch_related(*dict.fromkeys(paths)) if paths else queryset
