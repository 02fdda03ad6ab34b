"""Django settings for the volunteer-records platform.

Every value that differs between a laptop and production comes from the
environment; the defaults are for a developer's machine.
"""

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from central.database import database_settings

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    return default if value is None else [item.strip() for item in value.split(",") if item.strip()]


DEBUG = _env_bool("DJANGO_DEBUG", False)
# Production defaults: no GraphiQL, no introspection, unexpected errors masked, TOTP
# required of central admins.
PRODUCTION = os.environ.get("PLATFORM_ENV", "development") == "production"
# A development key; production sets DJANGO_SECRET_KEY.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-not-secret-7d2f9c0e1b")

# Hosts the central (public-schema) API and admin answer on. Every other host
# must be a region's domain.
# Host names are compared in lower case; an IPv6 literal keeps its brackets.
CENTRAL_HOSTS = [
    host.lower()
    for host in _env_list("PLATFORM_CENTRAL_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
]
# A new region's default domain is "<slug>.<REGION_DOMAIN_SUFFIX>".
REGION_DOMAIN_SUFFIX = os.environ.get("PLATFORM_REGION_DOMAIN_SUFFIX", "localhost")
ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", [*CENTRAL_HOSTS, f".{REGION_DOMAIN_SUFFIX}"])
# Behind an operator's TLS front (audit round 6): the platform itself serves plain
# HTTP, so the browser's cookies are marked Secure (sent over HTTPS only) and a
# request the front marks "X-Forwarded-Proto: https" is treated as secure (the
# front must set that header itself, overwriting any a client sent). Off by
# default: the README's run command serves http://, where a Secure cookie would
# never come back and no one could log in to the admin.
TLS_FRONT = _env_bool("PLATFORM_TLS_FRONT", False)
SESSION_COOKIE_SECURE = TLS_FRONT
CSRF_COOKIE_SECURE = TLS_FRONT
if TLS_FRONT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Browser origins every host lets in (development front-ends, e.g.
# "http://localhost:5173"); a region adds its own in its policy (central/cors.py).
CORS_ALLOWED_ORIGINS = _env_list("PLATFORM_CORS_ALLOWED_ORIGINS", [])
# How long a browser may reuse a preflight's answer (Chromium caps it at 7200).
CORS_MAX_AGE = int(os.environ.get("PLATFORM_CORS_MAX_AGE", "600"))
# How long a signed certificate download link (certificateDownloadLink) works.
# How long any cache may keep an anonymous GraphQL query's answer sent by GET
# (policy, verification …); 0: kept but revalidated by its ETag on every use.
PUBLIC_QUERY_MAX_AGE = int(os.environ.get("PLATFORM_PUBLIC_QUERY_MAX_AGE", "0"))
CERTIFICATE_LINK_SECONDS = int(os.environ.get("PLATFORM_CERTIFICATE_LINK_SECONDS", "300"))
# How long a report or export download link works (tenants/reports/services.py).
EXPORT_LINK_SECONDS = int(os.environ.get("PLATFORM_EXPORT_LINK_SECONDS", "300"))

SHARED_APPS = [
    "django_tenants",
    "central",
    # The admin's default site is central.admin_site.CentralAdminSite (TOTP, throttled).
    "central.admin_apps.CentralAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
]
TENANT_APPS = [
    "tenants.audit",
    "tenants.volunteers",
    "tenants.groups",
    "tenants.accounts",
    "tenants.projects",
    "tenants.records",
    "tenants.certificates",
    "tenants.recognition",
    "tenants.timebank",
    "tenants.statistics",
    # Synthetic data (`manage.py generate_data`): no models of its own.
    "tenants.generator",
    "interop",
    # The region's own Django admin for its authority staff (no models).
    "tenants.region_admin",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "central.Region"
TENANT_DOMAIN_MODEL = "central.Domain"
# Set search_path once per request (after the middleware picks the region), not before
# every statement; django-tenants resets it on set_tenant/set_schema and on rollback.
TENANT_LIMIT_SET_CALLS = True
PUBLIC_SCHEMA_URLCONF = "central.urls_public"
ROOT_URLCONF = "central.urls_region"

MIDDLEWARE = [
    # Outermost: the request id, the access log line and the request metrics
    # cover every answer, probes and refusals included (central/access.py).
    "central.access.AccessLogMiddleware",
    # First, so every answer below it (host routing's refusals, probes, CORS, GraphQL
    # errors, the admin) speaks the request's language (README "Languages").
    "django.middleware.locale.LocaleMiddleware",
    "central.middleware.ProbeMiddleware",  # /healthz, /readyz: before anything needs the DB
    # /static/ on every host (the admin's CSS, GraphiQL's files), with no database
    # and no region lookup: they are public and the same everywhere.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Resolves the region from the Host header and refuses suspended regions;
    # it must come first so nothing below runs against the wrong schema.
    "central.middleware.RegionRoutingMiddleware",
    # Needs the region the routing found; answers preflights before any view.
    "central.cors.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "central.wsgi.application"
ASGI_APPLICATION = "central.asgi.application"

DATABASES = {"default": database_settings()}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Chinese first (issue 13): zh-Hans unless the request's Accept-Language (or the
# django_language cookie) asks for English; zh-CN, zh-SG and zh map to zh-Hans.
# Management commands speak PLATFORM_LANGUAGE (central/apps.py).
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# Static files are served by the platform itself (WhiteNoise), from what
# `collectstatic` (run by `manage.py up`) gathered into STATIC_ROOT: the admin's,
# and GraphiQL's (central/static/graphiql, vendored by central/vendor_assets.py).
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("PLATFORM_STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Gzip and Brotli copies beside each file; names stay unhashed, so a page renders
    # even where collectstatic has not run (WhiteNoise then caches them briefly).
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = Path(os.environ.get("PLATFORM_MEDIA_ROOT", BASE_DIR / ".data" / "media"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Central-admin API tokens (central.CentralApiToken) live this long.
CENTRAL_TOKEN_TTL_HOURS = int(os.environ.get("PLATFORM_CENTRAL_TOKEN_TTL_HOURS", "12"))

# Login throttling (issue 10 finding 8, central/throttle.py), for region accounts,
# the central API and the Django admin alike: after ACCOUNT_LIMIT failures for one
# username, or ADDRESS_LIMIT from one client address, that key is locked for
# BASE_SECONDS, doubling with each further lock up to MAX_SECONDS; failures are
# forgotten after WINDOW_SECONDS without attempts.
LOGIN_THROTTLE = {
    "ACCOUNT_LIMIT": int(os.environ.get("PLATFORM_LOGIN_ACCOUNT_LIMIT", "5")),
    "ADDRESS_LIMIT": int(os.environ.get("PLATFORM_LOGIN_ADDRESS_LIMIT", "30")),
    "BASE_SECONDS": int(os.environ.get("PLATFORM_LOGIN_LOCK_SECONDS", "60")),
    "MAX_SECONDS": int(os.environ.get("PLATFORM_LOGIN_LOCK_MAX_SECONDS", "86400")),
    "WINDOW_SECONDS": int(os.environ.get("PLATFORM_LOGIN_WINDOW_SECONDS", "3600")),
}
# Registrations refused because the ID number is already registered (audit round 3,
# central/throttle.py count_refusal): after this many from one client address that
# address is locked like a login's (LOGIN_THROTTLE's seconds, backoff and window).
REFUSAL_LIMIT = int(os.environ.get("PLATFORM_REGISTRATION_REFUSAL_LIMIT", "20"))
# Public certificate lookups that found nothing (audit round 6, verifyCertificate and
# /certificates/verify): after this many from one client address that address is
# refused every lookup for a while (LOGIN_THROTTLE's seconds, backoff and window).
VERIFY_MISS_LIMIT = int(os.environ.get("PLATFORM_VERIFY_MISS_LIMIT", "20"))
# The client's address is REMOTE_ADDR, unless a trusted reverse proxy sets this
# header (e.g. X-Real-IP or X-Forwarded-For; its last value is taken). Set it only
# behind such a proxy: otherwise clients could choose their own address.
CLIENT_ADDRESS_HEADER = os.environ.get("PLATFORM_CLIENT_ADDRESS_HEADER", "")
# Central admins with a confirmed TOTP device must give a one-time password to the
# central API's login and to the Django admin. The admin requires a device of
# everyone; the API also of admins without one when this is on (production default).
CENTRAL_REQUIRE_OTP = _env_bool("PLATFORM_CENTRAL_REQUIRE_OTP", PRODUCTION)
OTP_TOTP_ISSUER = os.environ.get("PLATFORM_OTP_ISSUER", "志愿服务记录平台")
# Wrong one-time passwords count as failed logins in LOGIN_THROTTLE; django-otp's own
# per-device throttle would be a second throttle doing the same thing.
OTP_TOTP_THROTTLE_FACTOR = 0

# Personal information (tenants/volunteers/pii.py). Production sets both; the
# development defaults are derived from SECRET_KEY so a fresh clone just works.
PII_ENCRYPTION_KEYS = _env_list(
    "PLATFORM_PII_KEYS",
    [base64.urlsafe_b64encode(hashlib.sha256(f"pii:{SECRET_KEY}".encode()).digest()).decode()],
)
PII_HASH_KEY = os.environ.get(
    "PLATFORM_PII_HASH_KEY", hashlib.sha256(f"pii-hash:{SECRET_KEY}".encode()).hexdigest()
)

# Region account tokens (tenants.accounts) live this long.
REGION_TOKEN_TTL_HOURS = int(os.environ.get("PLATFORM_REGION_TOKEN_TTL_HOURS", "12"))
# A temporary password given by a reset works this long, and only to choose a new one.
TEMPORARY_PASSWORD_HOURS = int(os.environ.get("PLATFORM_TEMPORARY_PASSWORD_HOURS", "72"))
# Uploaded images (group certificates, seals): the largest file and the most pixels
# (width x height) accepted; each is decoded in full before anything is written.
UPLOAD_MAX_BYTES = int(os.environ.get("PLATFORM_UPLOAD_MAX_BYTES", str(5 * 1024 * 1024)))
UPLOAD_MAX_PIXELS = int(os.environ.get("PLATFORM_UPLOAD_MAX_PIXELS", str(40_000_000)))
# While the database cannot be reached, every URL answers 503 with this Retry-After.
DATABASE_RETRY_AFTER_SECONDS = int(os.environ.get("PLATFORM_DB_RETRY_AFTER", "30"))
# A suspended region's inbox asks peers to retry after this long.
SUSPENDED_RETRY_AFTER_SECONDS = int(os.environ.get("PLATFORM_SUSPENDED_RETRY_AFTER", "3600"))

# Transfers (interop): how long a request waits for the volunteer's consent,
# and this deployment's inbox URL as peers should call it.
TRANSFER_CONSENT_DAYS = int(os.environ.get("PLATFORM_TRANSFER_CONSENT_DAYS", "30"))
INTEROP_INBOX_URL = os.environ.get("PLATFORM_INBOX_URL", "http://localhost:8000/interop/inbox")
# The one size limit of a message to the inbox (issue 11 finding 7): a package
# this large is taken whole; a larger one is 413 TOO_LARGE, and the sender refuses
# to send one before it leaves. The inbox reads its body itself, so Django's
# DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB, for forms and GraphQL) does not apply; a
# reverse proxy in front must allow at least this much (nginx client_max_body_size).
INTEROP_INBOX_MAX_BYTES = int(os.environ.get("PLATFORM_INBOX_MAX_BYTES", str(20 * 1024 * 1024)))
# A package larger than one message travels in parts of at most about half the limit
# (issue 11 finding 7); the whole may be at most this large (a bound on what a peer can
# make the inbox keep and join).
INTEROP_PACKAGE_MAX_BYTES = int(
    os.environ.get("PLATFORM_PACKAGE_MAX_BYTES", str(512 * 1024 * 1024))
)
# Issue 11 finding 9: peers' inbox URLs must be HTTPS; plain HTTP only to a loopback
# host (127.0.0.1, ::1, localhost), and only when this is on (development default).
INTEROP_ALLOW_LOOPBACK_HTTP = _env_bool("PLATFORM_INTEROP_ALLOW_LOOPBACK_HTTP", not PRODUCTION)
# Issue 11 finding 11: the key every deployment of the federation shares (out of
# band) for the keyed hash of ID numbers its home-region directory answers about.
# Production sets it (the same value everywhere); without it, registering while
# peers are known is refused. The development default is shared by every clone.
FEDERATION_HASH_KEY = os.environ.get(
    "PLATFORM_FEDERATION_HASH_KEY",
    "" if PRODUCTION else hashlib.sha256(b"vrp-dev-federation-hash").hexdigest(),
)
# Seconds to wait for each peer deployment's home-region answer.
FEDERATION_LOOKUP_TIMEOUT = float(os.environ.get("PLATFORM_FEDERATION_LOOKUP_TIMEOUT", "3"))

# Production defaults (PRODUCTION, above): no GraphiQL, no introspection, unexpected
# errors masked.

# GraphiQL on GET.
GRAPHIQL_ENABLED = _env_bool("PLATFORM_GRAPHIQL", not PRODUCTION)

# Every GraphQL limit in one place (schema/hardening.py applies them).
GRAPHQL: dict[str, Any] = {
    "MAX_DEPTH": int(os.environ.get("PLATFORM_GRAPHQL_MAX_DEPTH", "10")),
    "MAX_ALIASES": int(os.environ.get("PLATFORM_GRAPHQL_MAX_ALIASES", "15")),
    "MAX_TOKENS": int(os.environ.get("PLATFORM_GRAPHQL_MAX_TOKENS", "2000")),
    "MAX_BATCH": int(os.environ.get("PLATFORM_GRAPHQL_MAX_BATCH", "10")),
    "MAX_PAGE": 100,
    # Every string a client sends (any argument, input field, list item or variable):
    # at most this many characters, no NUL, no lone surrogate; variables nested at most
    # MAX_INPUT_DEPTH deep (schema/hardening.py InputChecks; issue 10 finding 13).
    "MAX_STRING_LENGTH": int(os.environ.get("PLATFORM_GRAPHQL_MAX_STRING_LENGTH", "10000")),
    "MAX_INPUT_DEPTH": int(os.environ.get("PLATFORM_GRAPHQL_MAX_INPUT_DEPTH", "32")),
    # Process-wide cache of parsed and validated queries (schema/hardening.py): at most
    # CACHE_SIZE query texts and CACHE_MAX_CHARS characters of them (a parsed document
    # takes up to ~300 bytes per character of its text); CACHE_SIZE=0 switches it off.
    "CACHE_SIZE": int(os.environ.get("PLATFORM_GRAPHQL_CACHE_SIZE", "512")),
    "CACHE_MAX_CHARS": int(os.environ.get("PLATFORM_GRAPHQL_CACHE_MAX_CHARS", "200000")),
    # Automatic persisted queries (schema/persisted.py): a bounded process-wide
    # cache of query texts by sha256, at most this many and this many characters.
    "APQ_CACHE_SIZE": int(os.environ.get("PLATFORM_GRAPHQL_APQ_CACHE_SIZE", "1000")),
    "APQ_CACHE_MAX_CHARS": int(os.environ.get("PLATFORM_GRAPHQL_APQ_CACHE_MAX_CHARS", "2000000")),
    "INTROSPECTION": _env_bool("PLATFORM_GRAPHQL_INTROSPECTION", not PRODUCTION),
    "MASK_ERRORS": _env_bool("PLATFORM_GRAPHQL_MASK_ERRORS", PRODUCTION),
    # Query operations run by schema/compiled.py ("on"), by graphql-core alone ("off"),
    # or both with their answers compared ("verify": the test server runs every query
    # of the test suite so; a difference is an error).
    "COMPILED_EXECUTION": os.environ.get("PLATFORM_GRAPHQL_COMPILED_EXECUTION", "on"),
}

# Operations (README, "Operating it"). /readyz (central/readiness.py): the
# migrations and calendar checks are kept CACHE_SECONDS per process; the calendar
# must cover a publicity period put up today, or CALENDAR_READY_DAYS ahead if later
# (a negative number leaves the calendar out of readiness). `check --database` warns
# CALENDAR_WARN_DAYS ahead (central/checks.py).
READINESS = {
    "CACHE_SECONDS": float(os.environ.get("PLATFORM_READYZ_CACHE_SECONDS", "10")),
    "CALENDAR_READY_DAYS": int(os.environ.get("PLATFORM_CALENDAR_READY_DAYS", "0")),
    "CALENDAR_WARN_DAYS": int(os.environ.get("PLATFORM_CALENDAR_WARN_DAYS", "61")),
}

# Prometheus metrics (central/metrics.py): the multiprocess directory (default
# .data/metrics; `up` uses .data/metrics-<port>) and the bearer token that lets a
# scraper on another machine read /metrics (without it, only this machine may).
METRICS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
METRICS_TOKEN = os.environ.get("PLATFORM_METRICS_TOKEN", "")

# One way of logging (central/logs.py): every line one JSON object on stderr, with
# the request id while serving a request; one access-log line per request
# ("platform.access", INFO) unless PLATFORM_ACCESS_LOG=0.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "central.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": os.environ.get("PLATFORM_LOG_LEVEL", "WARNING")},
    "filters": {"database_unavailable": {"()": "central.logs.OneLineWhenDatabaseUnavailable"}},
    "loggers": {
        "django.request": {"filters": ["database_unavailable"]},
        "platform.access": {
            "level": "INFO" if _env_bool("PLATFORM_ACCESS_LOG", True) else "WARNING"
        },
    },
}
