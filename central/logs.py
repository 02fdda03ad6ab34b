"""Logging for the platform's own log lines (``settings.LOGGING``): one JSON
object per line (``JsonFormatter``), with the id of the request being served.

Imported by the settings' logging configuration, before Django's apps are ready:
nothing here may import a model.
"""

from __future__ import annotations

import datetime
import json
import logging
from contextvars import ContextVar

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


# The id of the request being served in this thread (``central.access``); every
# log line written while serving it carries it.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


class JsonFormatter(logging.Formatter):
    """Every log line of the platform as one JSON object (issue 13 point 6): time
    (UTC), level, logger, message, the request id when serving a request, the
    record's ``fields`` (``logger.info(..., extra={"fields": {...}})``, as the
    access log does) and any exception's traceback as one string."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id.get()
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
