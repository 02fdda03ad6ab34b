"""The custom scalars of both APIs, described for the clients' code generators
(issue 21 finding 6): each says what its text looks like, and carries
``@specifiedBy`` where a standard defines it. Their behaviour (serialization,
parsing) is strawberry's own; only the description and the URL change.

- ``Date``: an RFC 3339 ``full-date`` (``2026-12-06``);
- ``DateTime``: an RFC 3339 ``date-time`` with its offset
  (``2026-12-06T14:22:00.123456+00:00``);
- ``Time``: an RFC 3339 ``partial-time`` (``09:30:00``);
- ``Decimal``: no standard: an exact decimal number written as a JSON string
  (``"7.5"``), never a float; inputs take a string or a number;
- ``Upload``: a file part of a GraphQL multipart request (the multipart request spec);
- ``JSON``: any JSON value (ECMA-404), as strawberry already describes it.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal

from strawberry.file_uploads import Upload
from strawberry.file_uploads.scalars import UploadDefinition
from strawberry.schema.types import base_scalars

RFC_3339 = "https://www.rfc-editor.org/rfc/rfc3339"
MULTIPART_REQUEST_SPEC = "https://github.com/jaydenseric/graphql-multipart-request-spec"


def _described(definition, description: str, url: str | None = None):
    return dataclasses.replace(definition, description=description, specified_by_url=url)


SCALARS = {
    datetime.date: _described(
        base_scalars.DateDefinition,
        "A calendar date, RFC 3339 `full-date`: `2026-12-06`.",
        RFC_3339 + "#section-5.6",
    ),
    datetime.datetime: _described(
        base_scalars.DateTimeDefinition,
        "An instant, RFC 3339 `date-time` with its UTC offset: "
        "`2026-12-06T14:22:00.123456+00:00` (fractional seconds optional).",
        RFC_3339 + "#section-5.6",
    ),
    datetime.time: _described(
        base_scalars.TimeDefinition,
        "A time of day, RFC 3339 `partial-time`: `09:30:00`.",
        RFC_3339 + "#section-5.6",
    ),
    decimal.Decimal: _described(
        base_scalars.DecimalDefinition,
        'An exact decimal number written as a string, e.g. `"7.5"` hours; never a '
        "float. Inputs take a string or a number.",
    ),
    Upload: _described(
        UploadDefinition,
        "A file sent as a part of a GraphQL multipart request (operations, map, files).",
        MULTIPART_REQUEST_SPEC,
    ),
}
