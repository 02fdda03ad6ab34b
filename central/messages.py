"""The platform's own wording for what libraries refuse (issue 13, Chinese first).

python-stdnum, Django's password validators and pydantic each write their own
English text (and Django's validators their own translation, which glued
"This password is too short… 这个密码太常见了。" together). Callers never pass
that text on: each refusal is mapped by its stable kind (an exception class, a
validator's ``code``, pydantic's error ``type``) to a message of the platform's
catalog, in the language of the request.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
)
from stdnum.exceptions import (
    ValidationError as StdnumError,
)

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails


def resident_id_message(error: StdnumError) -> str:
    """Why a resident ID number (GB 11643) is refused."""
    if isinstance(error, InvalidLength):
        return _("not a valid resident ID number (GB 11643): it has 18 characters")
    if isinstance(error, InvalidFormat):
        return _("not a valid resident ID number (GB 11643): 17 digits, then a digit or X")
    if isinstance(error, InvalidChecksum):
        return _(
            "not a valid resident ID number (GB 11643): the last character (check digit) "
            "does not match; check the number for a typing error"
        )
    if isinstance(error, InvalidComponent):
        return _("not a valid resident ID number (GB 11643): no such birth date or province in it")
    return _("not a valid resident ID number (GB 11643)")


def credit_code_message(error: StdnumError) -> str:
    """Why a unified social credit code (GB 32100) is refused."""
    if isinstance(error, InvalidLength):
        return _("not a valid unified social credit code (GB 32100): it has 18 characters")
    if isinstance(error, InvalidFormat):
        return _(
            "not a valid unified social credit code (GB 32100): digits and capital "
            "letters except I, O, S, V and Z"
        )
    if isinstance(error, InvalidChecksum):
        return _(
            "not a valid unified social credit code (GB 32100): the last character "
            "(check digit) does not match; check the code for a typing error"
        )
    return _("not a valid unified social credit code (GB 32100)")


def password_messages(error) -> list[str]:
    """Why a password is refused: one message per failed validator of
    ``AUTH_PASSWORD_VALIDATORS``, by the validator's error code."""
    messages = []
    for item in error.error_list:
        params = item.params or {}
        if item.code == "password_too_short":
            messages.append(
                _("too short: at least %(min_length)s characters")
                % {"min_length": params.get("min_length", 8)}
            )
        elif item.code == "password_too_common":
            messages.append(_("too common: choose a password that is harder to guess"))
        elif item.code == "password_entirely_numeric":
            messages.append(_("only digits: add letters or other characters"))
        elif item.code == "password_too_similar":
            messages.append(_("too similar to the account's other details"))
        else:
            messages.append(_("not accepted as a password"))
    return messages


def pydantic_message(item: ErrorDetails) -> str:
    """A pydantic error (one entry of ``ValidationError.errors()``) in the platform's
    words, by its ``type`` and ``ctx``. A validator of the platform's own raises
    ``ValueError`` with a message already translated: it is kept."""
    kind = item.get("type", "")
    ctx = item.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", item.get("msg", ""))).removeprefix("Value error, ")
    if kind == "missing":
        return _("required")
    if kind == "extra_forbidden":
        return _("not a field of the policy")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return _("give a whole number")
    if kind in ("float_type", "float_parsing"):
        return _("give a number")
    if kind in ("bool_type", "bool_parsing"):
        return _("give true or false")
    if kind in ("string_type",):
        return _("give a text")
    if kind in ("list_type",):
        return _("give a list")
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return _("give an object")
    if kind.startswith("date") or kind.startswith("datetime"):
        return _("give a date as YYYY-MM-DD")
    if kind == "enum":
        # ctx "expected" reads "'city' or 'county'": the stored values; name them as
        # the API shows them (CITY), which is also what may be sent back.
        names = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        return _("choose one of %(choices)s") % {"choices": ", ".join(n.upper() for n in names)}
    if kind == "literal_error":
        return _("one of %(choices)s") % {"choices": ctx.get("expected", "").replace(" or ", ", ")}
    if kind == "greater_than":
        return _("must be greater than %(limit)s") % {"limit": ctx.get("gt")}
    if kind == "greater_than_equal":
        return _("must be at least %(limit)s") % {"limit": ctx.get("ge")}
    if kind == "less_than":
        return _("must be less than %(limit)s") % {"limit": ctx.get("lt")}
    if kind == "less_than_equal":
        return _("must be at most %(limit)s") % {"limit": ctx.get("le")}
    if kind == "string_too_short":
        return _("at least %(limit)s characters") % {"limit": ctx.get("min_length")}
    if kind == "string_too_long":
        return _("at most %(limit)s characters") % {"limit": ctx.get("max_length")}
    if kind == "too_short":
        return _("at least %(limit)s entries") % {"limit": ctx.get("min_length")}
    if kind == "too_long":
        return _("at most %(limit)s entries") % {"limit": ctx.get("max_length")}
    return _("not a valid value")


def level_name(level: str) -> str:
    """A hub level, authority level or star granter (``city``, ``county`` …) as a
    message names it: "city" in English, 市 in Chinese."""
    names = {
        "province": pgettext("division level", "province"),
        "city": pgettext("division level", "city"),
        "district": pgettext("division level", "district"),
        "county": pgettext("division level", "county"),
        "town": pgettext("division level", "town"),
        "community": pgettext("division level", "community"),
        "group": pgettext("division level", "group"),
    }
    return names.get(str(level), str(level))


def one_of(choices) -> str:
    """Alternatives in a message: "a or b" / "a或b"."""
    return _(" or ").join(str(choice) for choice in choices)


def shown(instance, field: str) -> str:
    """A status or state as a message shows it: in English the API's value
    (``in_publicity``, what a client sends and compares), otherwise the field's
    Chinese label (公示中, the notices' own words)."""
    if (translation.get_language() or "").startswith("en"):
        return str(getattr(instance, field))
    return str(getattr(instance, f"get_{field}_display")())
