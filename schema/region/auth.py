"""The caller and the policy of a region request, with access failures as GraphQL errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from strawberry.types import Info

from central.errors import InvalidInput, NotFound, ServiceError
from central.policy import RegionPolicy
from schema.errors import AccessError, QueryError
from schema.identity import ElsewhereId, NotAnId, local_key
from tenants.accounts.principal import Principal
from tenants.volunteers.permissions import member_groups_seen_by

P = ParamSpec("P")
R = TypeVar("R")


def principal_of(info: Info) -> Principal | None:
    """The caller (or None); a bad or foreign token is an UNAUTHENTICATED error."""
    try:
        return info.context.principal
    except ServiceError as error:
        raise AccessError(error) from None


def policy_of(info: Info) -> RegionPolicy:
    """The region's policy, loaded once per request (``RegionContext.policy``)."""
    return info.context.policy


def guarded(call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a selector or check for a query; its failures become typed GraphQL errors.
    (Typed with ``call``'s parameters, so mypy checks the arguments passed through.)"""
    try:
        return call(*args, **kwargs)
    except ServiceError as error:
        if error.problems[0].code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            raise AccessError(error) from None
        raise QueryError(error) from None


def caller(info: Info) -> tuple[Any, RegionPolicy]:
    """The caller and the region's policy, for a mutation resolver."""
    return principal_of(info), policy_of(info)


# What each kind of id is called in a message (the models' verbose names).
_KIND_NAMES = {
    "VolunteerGroup": gettext_noop("volunteer group"),
    "Project": gettext_noop("volunteer-service project"),
    "ProjectApplication": gettext_noop("project application"),
    "Membership": gettext_noop("membership"),
    "ServiceRecord": gettext_noop("service record"),
    "Objection": gettext_noop("objection"),
    "CorrectionRequest": gettext_noop("correction request"),
    "StarApplication": gettext_noop("star rating application"),
    "Complaint": gettext_noop("complaint"),
}


def parse_id(value, kind: str, field: str = "id") -> int:
    """The row key of a ``kind`` object's id (schema/identity.py): a typed INVALID
    error for anything else, NOT_FOUND for another region's id."""
    try:
        return key_in_range(int(local_key(value, (kind,))))
    except ElsewhereId:
        name = _(_KIND_NAMES.get(kind, kind))
        raise NotFound(_("no such %(kind)s in this region") % {"kind": name}, field=field) from None
    except (NotAnId, TypeError, ValueError):
        name = _(_KIND_NAMES.get(kind, kind))
        raise InvalidInput(_("not an id of a %(kind)s") % {"kind": name}, field=field) from None


def key_in_range(key: int) -> int:
    """``key`` if a bigint column can hold it, else ValueError: a larger number
    compared with an id makes Django give up on the SQL (``EmptyResultSet``) where
    it is built by hand (tenants/related.py FirstRows)."""
    if not -(2**63) <= key < 2**63:
        raise ValueError(key)
    return key


def local_id(value, kind: str, field: str = "id") -> int | None:
    """``parse_id`` for a query field that answers null for what is not here: None
    for another region's id (``group(id:)`` answers it as it answers a missing row)."""
    try:
        return parse_id(value, kind, field)
    except NotFound:
        return None


def may_see_members(group_id: int, info: Info) -> bool:
    """Members, applicants and records of a group: for whom ``member_groups_seen_by`` says."""
    seen = member_groups_seen_by(principal_of(info), policy_of(info))
    return seen is None or group_id in seen
