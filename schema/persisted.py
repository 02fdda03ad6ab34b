"""Persisted documents: automatic persisted queries (APQ) and trusted documents.

The automatic persisted-query protocol (Apollo's ``PersistedQueryLink``,
urql's ``persistedExchange``): a client sends ``extensions.persistedQuery =
{version: 1, sha256Hash}`` without the query; an unknown hash answers the
GraphQL error ``PersistedQueryNotFound`` (code ``PERSISTED_QUERY_NOT_FOUND``),
the client sends hash and query, the server checks the hash
(``PERSISTED_QUERY_HASH_MISMATCH`` if it is not the query's sha256) and keeps
the query; the next hash-only request (by GET for a query) runs it.

Where APQ keeps queries: a bounded, process-wide cache (``APQ_CACHE_SIZE``
queries, ``APQ_CACHE_MAX_CHARS`` characters), not a table. Anyone, logged in
or not, can make the server keep a query, so a table would let anonymous
clients write rows without end; the protocol expects a miss (another worker,
a restart, an evicted entry) and the client answers it by sending the query
once more. What must survive is what a region trusts, and that is a table
(``central.TrustedDocument``, filled by ``manage.py documents register``).

Trusted documents: when a region's policy has ``trustedDocumentsOnly``, a
document runs only if registered for that region; any other (sent by text, or
a hash nobody registered) is refused with ``DOCUMENT_NOT_TRUSTED`` before it
is parsed. Registered ones may be sent by hash alone. The central API is not
concerned.

Each refusal is a request error: no ``data`` entry, ``400`` with ``Accept:
application/graphql-response+json``, ``200`` with ``application/json``.
"""

from __future__ import annotations

import re
import threading

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from graphql import GraphQLError
from strawberry.http import GraphQLRequestData
from strawberry.types.execution import PreExecutionError

from central import documents
from central.models import Region
from schema.hardening import _LRU

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


_cache: _LRU | None = None
_cache_lock = threading.Lock()


def apq_cache() -> _LRU:
    """This process's persisted queries by sha256 (thread-safe), sized on first use."""
    global _cache
    with _cache_lock:
        if _cache is None:
            limits = settings.GRAPHQL
            _cache = _LRU(limits["APQ_CACHE_SIZE"], limits["APQ_CACHE_MAX_CHARS"])
        return _cache


class Refused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def result(self) -> PreExecutionError:
        error = GraphQLError(self.message, extensions={"code": self.code})
        return PreExecutionError(data=None, errors=[error])


def resolve(request_data: GraphQLRequestData, region: Region | None) -> None:
    """Fill in ``request_data.query`` from its persisted-query hash, and apply the
    region's trusted-documents rule; ``Refused`` when the request may not run."""
    persisted = (request_data.extensions or {}).get("persistedQuery")
    trusted_only = documents.trusts_only_registered(region)
    query = request_data.query
    if persisted is None:
        digest = documents.sha256_hex(query) if trusted_only and query is not None else None
        if digest and region is not None and documents.trusted_document(region, digest) is None:
            raise Refused("DOCUMENT_NOT_TRUSTED", _(_NOT_TRUSTED))
        return
    digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    if (
        not isinstance(persisted, dict)
        or persisted.get("version") != 1
        or not isinstance(digest, str)
        or not _SHA256.match(digest)
    ):
        raise Refused(
            "PERSISTED_QUERY_INVALID",
            _("extensions.persistedQuery must be {version: 1, sha256Hash: <64 hex digits>}"),
        )
    if query is not None and documents.sha256_hex(query) != digest:
        raise Refused("PERSISTED_QUERY_HASH_MISMATCH", _("provided sha does not match query"))
    if trusted_only and region is not None:
        registered = documents.trusted_document(region, digest)
        if registered is None:
            raise Refused("DOCUMENT_NOT_TRUSTED", _(_NOT_TRUSTED))
        request_data.query = registered
        return
    if query is None:
        known = apq_cache().get(digest)
        if known is None and region is not None:
            known = documents.trusted_document(region, digest)
        if known is None:
            raise Refused("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
        request_data.query = known
    else:
        apq_cache().put(digest, query, len(query))


_NOT_TRUSTED = gettext_noop(
    "this region runs only the operations its front-end registered "
    "(trusted documents); this document is not one of them"
)
