"""Logging for the platform's own log lines (``settings.LOGGING``).

Imported by the settings' logging configuration, before Django's apps are ready:
nothing here may import a model.
"""

from __future__ import annotations

import logging

from django.db.utils import InterfaceError, OperationalError


def is_database_unavailable(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) says the database cannot be reached."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, OperationalError | InterfaceError):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


class OneLineWhenDatabaseUnavailable(logging.Filter):
    """On ``django.request``: a request that failed because the database is away is
    one line in the log (issue 20 finding 2), not two chained tracebacks each; the
    outage itself is logged once by whoever restarts the database."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if is_database_unavailable(error):
            request = getattr(record, "request", None)
            where = f"{request.method} {request.path}" if request is not None else "a request"
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            record.msg, record.args = (
                "database unavailable: %s answered 503 (%s: %s)",
                (
                    where,
                    type(error).__name__,
                    first,
                ),
            )
            record.exc_info = record.exc_text = None
        return True
