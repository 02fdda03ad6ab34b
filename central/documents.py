"""Trusted documents: the operations a region's front-end registered.

A front-end's build registers its operations (``manage.py documents register
ops.graphql --region <slug>``); once central admins turn on the region's
``trustedDocumentsOnly`` policy flag, the region's API runs those and refuses
every other document (``schema/persisted.py``), so a public regional endpoint
runs nothing but its own front-end's queries.

Each operation is stored with the document text a client sends and its
sha256 (hex), the key of the automatic persisted-query protocol; the hash is
of the exact text, so what is registered must be what the client sends. A
``.graphql`` file is split into one document per operation (with the
fragments it uses), each registered as three clients send it (``variants``):
printed by graphql-js ``print`` (graphql-core is its port), as Apollo Client 4
sends it and as urql sends it (both add ``__typename``). A persisted-query
manifest (JSON: ``{"operations": [{"id", "name", "body"}]}``, as Apollo's
``generate-persisted-query-manifest`` writes it) is taken as it is, each
entry's id checked against its body.
"""

from __future__ import annotations

import hashlib
import json

from django.db import transaction
from django.utils.translation import gettext as _
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSyntaxError,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    print_ast,
    visit,
)
from graphql.language import Visitor

from central.errors import InvalidInput
from central.models import CentralAuditEntry, Region, TrustedDocument


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _spreads(node) -> set[str]:
    names: set[str] = set()

    class Collect(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_):
            names.add(spread.name.value)

    visit(node, Collect())
    return names


def operations_of(text: str) -> list[tuple[str, str]]:
    """Each operation of a GraphQL document as ``(name, document text)``: the
    operation and the fragments it uses (transitively), printed."""
    try:
        document = parse(text)
    except GraphQLSyntaxError as error:
        raise InvalidInput(
            _("not a GraphQL document: %(message)s") % {"message": error.message}, field="document"
        ) from None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if not operations:
        raise InvalidInput(_("the document has no operation"), field="document")
    found = []
    for operation in operations:
        needed, pending = [], list(_spreads(operation))
        while pending:
            name = pending.pop()
            if name in needed:
                continue
            if name not in fragments:
                raise InvalidInput(
                    _("fragment %(name)s is not defined") % {"name": name}, field="document"
                )
            needed.append(name)
            pending.extend(_spreads(fragments[name]))
        single = DocumentNode(
            definitions=(
                operation,
                *(fragments[n] for n in sorted(needed, key=list(fragments).index)),
            )
        )
        name = operation.name.value if operation.name else ""
        found.append((name, print_ast(single)))
    return found


_TYPENAME = FieldNode(name=NameNode(value="__typename"))


def _with_typename(document: DocumentNode) -> DocumentNode:
    """The document as Apollo Client's and urql's caches send it: ``__typename``
    added to every selection set but an operation's own, unless one is there."""

    class AddTypename(Visitor):
        def enter_selection_set(self, node: SelectionSetNode, _key, parent, *_):
            if isinstance(parent, OperationDefinitionNode) or any(
                isinstance(s, FieldNode) and s.name.value.startswith("__") for s in node.selections
            ):
                return None
            return SelectionSetNode(selections=(*node.selections, _TYPENAME))

    return visit(document, AddTypename())


def variants(document_text: str) -> list[str]:
    """The texts that clients send for one operation's document: as written out
    by graphql-js ``print`` (plain ``fetch``, graphql-request …), as Apollo Client
    4 sends it (``__typename`` added, printed alike) and as urql sends it (the
    same, its definitions separated by one newline instead of two)."""
    document = parse(document_text)
    cached = _with_typename(document)
    urql = "\n".join(print_ast(definition) for definition in cached.definitions)
    return list(dict.fromkeys([print_ast(document), print_ast(cached), urql]))


def _manifest_operations(text: str) -> list[tuple[str, str]]:
    try:
        manifest = json.loads(text)
        entries = manifest["operations"]
        pairs = [(entry.get("name", ""), entry["body"], entry["id"]) for entry in entries]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidInput(_("not a persisted-query manifest"), field="document") from None
    for name, body, digest in pairs:
        if sha256_hex(body) != digest:
            raise InvalidInput(
                _("%(value)s: the id is not the body's sha256") % {"value": name or digest},
                field="document",
            )
    return [(name, body) for name, body, _unused in pairs]


def register_documents(region_key: str, text: str, *, actor: str) -> list[TrustedDocument]:
    """Register every operation of ``text`` (GraphQL or a JSON manifest) for the
    region (by code or slug); those already registered are kept as they are."""
    region = (
        Region.objects.filter(code=region_key).first()
        or Region.objects.filter(slug=region_key).first()
    )
    if region is None:
        raise InvalidInput(
            _("no region %(region_key)s") % {"region_key": region_key}, field="region"
        )
    manifest = text.lstrip().startswith("{")
    operations = _manifest_operations(text) if manifest else operations_of(text)
    with transaction.atomic():
        registered = []
        for name, body in operations:
            # A manifest holds exactly what its client sends; a .graphql file does not.
            for sent in [body] if manifest else variants(body):
                document, _unused = TrustedDocument.objects.get_or_create(
                    region=region,
                    sha256=sha256_hex(sent),
                    defaults={"document": sent, "operation_name": name[:200]},
                )
                registered.append(document)
        CentralAuditEntry.objects.create(
            actor=actor,
            action="region.documents_registered",
            region_code=region.code,
            detail={"operations": [d.operation_name or d.sha256 for d in registered]},
        )
    return registered


def trusted_document(region: Region, sha256: str) -> str | None:
    """The registered document with this hash, if the region has one."""
    return (
        TrustedDocument.objects.filter(region=region, sha256=sha256)
        .values_list("document", flat=True)
        .first()
    )


def trusts_only_registered(region: Region | None) -> bool:
    # The stored policy is the validated model's dump: reading the flag from it
    # spares each request a full policy validation.
    return region is not None and bool(region.policy.get("trusted_documents_only"))
