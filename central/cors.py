"""Cross-origin requests (CORS) for front-ends served from their own origin.

One middleware for both APIs and the certificate files. Which origins a host
lets in:

- a region's host: the origins of its policy (``allowedOrigins``, set by
  central admins: ``updateRegionPolicy``, ``manage.py region set-policy``, the
  admin's policy editor), plus ``PLATFORM_CORS_ALLOWED_ORIGINS``;
- a central host: ``PLATFORM_CORS_ALLOWED_ORIGINS`` only (comma-separated, for
  development; it applies to every host).

An allowed origin gets its own origin echoed in ``Access-Control-Allow-Origin``
(never ``*``), and a preflight (``OPTIONS`` with ``Access-Control-Request-Method``)
answers ``204`` with the methods, headers and ``Max-Age``. A refused origin gets
no ``Access-Control-*`` header at all (its preflight answers ``403``
``ORIGIN_NOT_ALLOWED``), so the browser keeps the answer from the page.
``Access-Control-Allow-Credentials`` is never sent: the API authenticates with a
bearer token the front-end puts in ``Authorization`` (an ordinary header a
preflight allows), never with cookies, so a front-end must not send
``credentials: "include"`` — a browser refuses such an answer. ``Vary: Origin``
is on every answer of these paths, allowed or not, so a shared cache never
serves one origin's answer to another.

Requests the host routing refuses (an unknown host, a suspended region) get
no ``Access-Control-*`` header: the routing middleware answers before this one.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _

from central.middleware import graphql_error_response

# What a front-end calls from a browser: the GraphQL API and the certificate files.
# The admin and the interop endpoints are not for browsers on other origins.
_CORS_PATHS = re.compile(r"^/(graphql$|certificates/|groups/\d+/certificate$)")

ALLOWED_METHODS = "GET, POST, OPTIONS"
# Headers the GraphQL clients front-ends use send (Apollo's CSRF-prevention and
# client-awareness headers among them); anything else fails the preflight.
ALLOWED_HEADERS = (
    "Accept, Authorization, Content-Type, If-None-Match, "
    "Apollo-Require-Preflight, X-Apollo-Operation-Name, "
    "ApolloGraphQL-Client-Name, ApolloGraphQL-Client-Version"
)
# Headers a page's script may read on an answer.
EXPOSED_HEADERS = "Content-Disposition, ETag, Retry-After"


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, the default port dropped; a
    ``ValueError`` for anything else (a path, a wildcard, credentials, …)."""
    text = origin.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(
            _("%(origin)r is not an origin (scheme://host[:port])") % {"origin": origin}
        ) from None
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or "*" in text
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ValueError(
            _("%(origin)r is not an origin (scheme://host[:port])") % {"origin": origin}
        )
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def environment_origins() -> frozenset[str]:
    """``PLATFORM_CORS_ALLOWED_ORIGINS``, checked: a bad entry stops the server
    from starting rather than failing each request."""
    try:
        return frozenset(normalize_origin(origin) for origin in settings.CORS_ALLOWED_ORIGINS)
    except ValueError as error:
        raise ImproperlyConfigured(f"PLATFORM_CORS_ALLOWED_ORIGINS: {error}") from None


class CorsMiddleware:
    """After the host routing (it needs ``request.region``), before everything else."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.everywhere = environment_origins()

    def allowed_origins(self, request) -> frozenset[str]:
        """The origins the request's host lets in."""
        region = getattr(request, "region", None)
        if region is None:
            return self.everywhere
        # The stored policy is the validated model's dump (origins normalized):
        # reading it as is spares each request a full policy validation.
        return self.everywhere | frozenset(region.policy.get("allowed_origins", ()))

    def is_allowed(self, request, origin: str) -> bool:
        try:
            normalized = normalize_origin(origin)
        except ValueError:
            return False
        return normalized == origin.lower() and normalized in self.allowed_origins(request)

    def __call__(self, request):
        if not _CORS_PATHS.match(request.path_info):
            return self.get_response(request)
        origin = request.headers.get("Origin")
        allowed = origin is not None and self.is_allowed(request, origin)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            if allowed:
                response = HttpResponse(status=204)
                response["Access-Control-Allow-Methods"] = ALLOWED_METHODS
                response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
                response["Access-Control-Max-Age"] = str(settings.CORS_MAX_AGE)
            else:
                response = graphql_error_response(
                    403, "ORIGIN_NOT_ALLOWED", _("this origin may not call this host")
                )
        else:
            response = self.get_response(request)
        if allowed:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        patch_vary_headers(response, ("Origin",))
        return response
