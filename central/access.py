"""Request ids, the access log and the request metrics (issue 13 point 6).

Every request gets an id: the client's ``X-Request-Id`` when it is sane (1–128
characters of letters, digits and ``._:-``, as proxies and tracing headers
make them), else a new random one. It is echoed in the response's
``X-Request-Id`` and carried by every log line written while the request is
served (``central.logs.current_request_id``). When the answer is ready, one
access-log line (logger ``platform.access``) says what was asked and answered:
method, host, path, status, duration, the GraphQL operation name(s), the
client's address, the request id; and the request metrics are recorded
(``central/metrics.py``).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from central import metrics
from central.logs import current_request_id
from central.throttle import client_address

logger = logging.getLogger("platform.access")

_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def request_id_of(request) -> str:
    given = request.headers.get("X-Request-Id", "")
    return given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex


def error_codes(request, response) -> list[str]:
    """The ``extensions.code`` of every error answered: those the GraphQL view
    noted (``schema/views.py``), else those of a JSON refusal's body."""
    noted = getattr(request, "graphql_error_codes", None)
    if noted is not None:
        return noted
    if (
        response.status_code < 400
        or getattr(response, "streaming", False)
        or "json" not in response.get("Content-Type", "")
        or len(response.content) > 65536
    ):
        return []
    try:
        errors = json.loads(response.content).get("errors") or []
        return [str((error.get("extensions") or {}).get("code") or "NONE") for error in errors]
    except (ValueError, AttributeError):
        return []


class AccessLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        request_id = request.request_id = request_id_of(request)
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
            response["X-Request-Id"] = request_id
            seconds = time.perf_counter() - started
            metrics.observe_request(
                request, response.status_code, seconds, error_codes(request, response)
            )
            operations = getattr(request, "graphql_operations", [])
            logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "fields": {
                        "access": True,
                        "method": request.method,
                        "host": request.META.get("HTTP_HOST", "")[:255],
                        "path": request.path[:500],
                        "status": response.status_code,
                        "duration_ms": round(seconds * 1000, 1),
                        "operation": ",".join(operations) or None,
                        "client": client_address(request),
                    }
                },
            )
            return response
        finally:
            current_request_id.reset(token)
