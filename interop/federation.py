"""One home region per person across the federation (issue 11 finding 11).

Within a deployment, ``central.HomeRegion`` holds each person's home region,
keyed by the keyed hash of the ID number under that deployment's own
``PII_HASH_KEY``. Across deployments, each ``HomeRegion`` row also holds
:func:`federation_hash` — HMAC-SHA256 under ``PLATFORM_FEDERATION_HASH_KEY``,
which every deployment of the federation shares out of band — and each
deployment answers signed questions about it at ``POST /interop/home-region``:

- the question ``{"kind": "home-region-query", "hash", "nonce", "issuedAt",
  "to"}`` is signed (:func:`signing.sign_json`) by the registering region, which
  the peer must have in its directory (otherwise ``403 UNKNOWN_SENDER``), and is
  fresh (``issuedAt`` within ``MAX_AGE``);
- the answer ``{"kind": "home-region-answer", "hash", "nonce", "registered",
  "regionCode"}`` is signed by the asked region ``to``; the asker checks the
  signature, the hash and the nonce before acting on it.

:func:`home_elsewhere` asks every peer deployment (one question per distinct
inbox URL, ``FEDERATION_LOOKUP_TIMEOUT`` seconds each) before a registration.
**A peer that cannot answer makes the registration fail** (``UNAVAILABLE``,
retry later): registering anyway would create the very duplicate this rule
forbids, and two registrations of one person in two deployments cannot be
merged afterwards (their records, hours and star levels would be split),
whereas a registration refused for a few minutes costs a retry. A deployment
without peers asks nobody.

The ID number never leaves the deployment: only its keyed hash does, inside a
signed request between regions of the federation. The shared key lets any
federation member test guesses of ID numbers against hashes it receives, so
it is given only to deployments of the federation, and a peer learns only
hashes of people someone tried to register.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from central.errors import ServiceError
from central.models import HomeRegion, Region, RemoteRegion
from interop import signing
from tenants.volunteers import pii

MAX_AGE = datetime.timedelta(minutes=5)
PATH = "/interop/home-region"


class FederationUnavailable(ServiceError):
    default_code = "UNAVAILABLE"


def federation_hash(id_number: str) -> str:
    """The keyed hash peers ask about ("" without the federation key)."""
    key = settings.FEDERATION_HASH_KEY
    if not key or not id_number:
        return ""
    message = f"id:{pii.normalise(id_number)}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def home_region_url(inbox_url: str) -> str:
    """A peer's home-region endpoint: its inbox URL's host, path ``PATH``."""
    parts = urlsplit(inbox_url)
    return urlunsplit((parts.scheme, parts.netloc, PATH, "", ""))


def _peer_deployments() -> dict[str, RemoteRegion]:
    """One remote region per peer deployment (by inbox URL), to ask and to sign."""
    local = set(Region.objects.values_list("code", flat=True))
    deployments: dict[str, RemoteRegion] = {}
    for remote in RemoteRegion.objects.exclude(code__in=local).order_by("code"):
        deployments.setdefault(remote.inbox_url, remote)
    return deployments


def home_elsewhere(id_number: str, asker: Region) -> str | None:
    """The code of the region of another deployment where this person is
    registered, or None. Raises :class:`FederationUnavailable` when a peer
    cannot give a signed answer (see the module's docstring for why)."""
    deployments = _peer_deployments()
    if not deployments:
        return None
    wanted = federation_hash(id_number)
    if not wanted:
        raise FederationUnavailable(
            "this deployment has peers but no PLATFORM_FEDERATION_HASH_KEY: it cannot "
            "check whether the person is registered elsewhere",
            field="idNumber",
        )
    local = set(Region.objects.values_list("code", flat=True))
    with httpx.Client(timeout=settings.FEDERATION_LOOKUP_TIMEOUT) as client:
        for inbox_url, remote in deployments.items():
            found = _ask(client, inbox_url, remote, wanted, asker)
            if found and found not in local:
                return found
    return None


def _ask(client: httpx.Client, inbox_url: str, remote: RemoteRegion, wanted: str, asker):
    unavailable = FederationUnavailable(
        f"the federation's home-region directory at {remote.code} cannot be reached: "
        "registration is refused until it answers (one home region per person); try again "
        "later",
        field="idNumber",
    )
    nonce = secrets.token_urlsafe(16)
    question = signing.sign_json(
        asker,
        {
            "kind": "home-region-query",
            "hash": wanted,
            "nonce": nonce,
            "to": remote.code,
            "issuedAt": timezone.now().isoformat(),
        },
    )
    try:
        url = signing.check_peer_url(home_region_url(inbox_url))
        response = client.post(url, json=question)
        answer, _signer = signing.verify_json(response.json(), signers={remote.code})
    except (ServiceError, httpx.HTTPError, ValueError, signing.SignatureRejected):
        raise unavailable from None
    if (
        response.status_code != 200
        or answer.get("kind") != "home-region-answer"
        or answer.get("hash") != wanted
        or answer.get("nonce") != nonce
    ):
        raise unavailable
    if answer.get("registered") is True and isinstance(answer.get("regionCode"), str):
        return answer["regionCode"]
    return None


def _refuse(status: int, code: str, reason: str) -> JsonResponse:
    return JsonResponse(
        {"status": "rejected", "error": {"code": code, "reason": reason}},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


@csrf_exempt
@require_POST
def home_region_view(request):
    """``POST /interop/home-region``: this deployment's signed answer to a peer
    region's signed question about one keyed hash."""
    if len(request.body) > 16 * 1024:
        return _refuse(413, "TOO_LARGE", "a question is small")
    try:
        question, _asker = signing.verify_json(orjson.loads(request.body), remote_only=True)
    except orjson.JSONDecodeError:
        return _refuse(400, "MALFORMED", "the body is not JSON")
    except signing.SignatureRejected as error:
        status = 400 if error.code == "MALFORMED" else 403
        return _refuse(status, error.code, error.reason)
    wanted, nonce = question.get("hash"), question.get("nonce")
    if (
        question.get("kind") != "home-region-query"
        or not isinstance(wanted, str)
        or len(wanted) != 64
        or not isinstance(nonce, str)
        or len(nonce) > 64
    ):
        return _refuse(400, "MALFORMED", "not a home-region question")
    try:
        issued = datetime.datetime.fromisoformat(str(question.get("issuedAt")))
        fresh = abs(timezone.now() - issued) <= MAX_AGE
    except (TypeError, ValueError):
        fresh = False
    if not fresh:
        return _refuse(400, "STALE", "the question is not from the last five minutes")
    region = Region.objects.filter(code=str(question.get("to"))).first()
    if region is None:
        return _refuse(400, "WRONG_DESTINATION", "no such region is served here")
    home = HomeRegion.objects.filter(federation_hash=wanted).first() if wanted else None
    answer = {
        "kind": "home-region-answer",
        "hash": wanted,
        "nonce": nonce,
        "registered": home is not None,
        "regionCode": home.region_code if home is not None else None,
    }
    signed = signing.sign_json(region, answer)
    return JsonResponse(signed, json_dumps_params={"ensure_ascii": False})
