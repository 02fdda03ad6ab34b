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
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from central.errors import ServiceError
from central.models import HomeRegion, Region, RemoteRegion
from interop import signing
from tenants.volunteers import pii

MAX_AGE = datetime.timedelta(minutes=5)
PATH = "/interop/home-region"
TRANSFER_STATUS_PATH = "/interop/transfer-status"  # interop.invariant answers it


class FederationUnavailable(ServiceError):
    default_code = "UNAVAILABLE"


def federation_hash(id_number: str) -> str:
    """The keyed hash peers ask about ("" without the federation key)."""
    key = settings.FEDERATION_HASH_KEY
    if not key or not id_number:
        return ""
    message = f"id:{pii.normalise(id_number)}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def peer_endpoint(inbox_url: str, path: str) -> str:
    """One of a peer's endpoints: its inbox URL's host, path ``path``."""
    parts = urlsplit(inbox_url)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def home_region_url(inbox_url: str) -> str:
    return peer_endpoint(inbox_url, PATH)


class PeerUnanswered(Exception):
    """A peer gave no signed answer to a question (down, unsigned, wrong)."""


def ask(client: httpx.Client, url: str, asker: Region, to: str, kind: str, **fields) -> dict:
    """Ask region ``to`` of another deployment a signed question (``kind`` +
    ``fields``, a fresh nonce and time) and return its answer, checked: signed by
    ``to``, of kind ``<kind minus -query>-answer``, for the same nonce. Raises
    :class:`PeerUnanswered`."""
    nonce = secrets.token_urlsafe(16)
    question = signing.sign_json(
        asker,
        {"kind": kind, "nonce": nonce, "to": to, "issuedAt": timezone.now().isoformat(), **fields},
    )
    try:
        response = client.post(signing.check_peer_url(url), json=question)
        body = response.json()
        if response.status_code != 200:
            error = body.get("error") if isinstance(body, dict) else None
            code = error.get("code") if isinstance(error, dict) else ""
            raise PeerUnanswered(f"{to}: HTTP {response.status_code} {code}")
        answer, _signer = signing.verify_json(body, signers={to})
    except (ServiceError, httpx.HTTPError, ValueError, signing.SignatureRejected) as error:
        raise PeerUnanswered(f"{to}: {type(error).__name__}: {error}"[:300]) from None
    expected = kind.removesuffix("-query") + "-answer"
    if answer.get("kind") != expected:
        raise PeerUnanswered(f"{to}: not a {expected}")
    if answer.get("nonce") != nonce:
        raise PeerUnanswered(f"{to}: the answer is for another question")
    return answer


def signed_question(request, kind: str, max_bytes: int):
    """The checked question of ``POST`` ``request`` — signed by a *remote* region
    of the directory, of ``kind``, fresh within ``MAX_AGE``, for a region served
    here — as (question, asker's directory entry, asked region); or the refusal to
    answer with (a ``JsonResponse``)."""
    if len(request.body) > max_bytes:
        return refuse(413, "TOO_LARGE", "the question is too large")
    try:
        question, asker = signing.verify_json(orjson.loads(request.body), remote_only=True)
    except orjson.JSONDecodeError:
        return refuse(400, "MALFORMED", "the body is not JSON")
    except signing.SignatureRejected as error:
        status = 400 if error.code == "MALFORMED" else 403
        return refuse(status, error.code, error.reason)
    nonce = question.get("nonce")
    if question.get("kind") != kind or not isinstance(nonce, str) or len(nonce) > 64:
        return refuse(400, "MALFORMED", f"not a {kind}")
    try:
        issued = datetime.datetime.fromisoformat(str(question.get("issuedAt")))
        fresh = abs(timezone.now() - issued) <= MAX_AGE
    except (TypeError, ValueError):
        fresh = False
    if not fresh:
        return refuse(400, "STALE", "the question is not from the last five minutes")
    region = Region.objects.filter(code=str(question.get("to"))).first()
    if region is None:
        return refuse(400, "WRONG_DESTINATION", "no such region is served here")
    return question, asker, region


def answer(region: Region, question: dict, **fields) -> JsonResponse:
    """The answer to ``question``, signed by the asked ``region``."""
    kind = question["kind"].removesuffix("-query") + "-answer"
    signed = signing.sign_json(region, {"kind": kind, "nonce": question["nonce"], **fields})
    return JsonResponse(signed, json_dumps_params={"ensure_ascii": False})


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
            _(
                "this deployment has peers but no "
                "PLATFORM_FEDERATION_HASH_KEY: it cannot check whether the "
                "person is registered elsewhere"
            ),
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
    try:
        answer = ask(
            client, home_region_url(inbox_url), asker, remote.code, "home-region-query", hash=wanted
        )
    except PeerUnanswered:
        answer = None
    if answer is None or answer.get("hash") != wanted:
        raise FederationUnavailable(
            _(
                "the federation's home-region directory at %(code)s cannot be"
                " reached: registration is refused until it answers (one home"
                " region per person); try again later"
            )
            % {"code": remote.code},
            field="idNumber",
        )
    if answer.get("registered") is True and isinstance(answer.get("regionCode"), str):
        return answer["regionCode"]
    return None


def refuse(status: int, code: str, reason: str) -> JsonResponse:
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
    checked = signed_question(request, "home-region-query", 16 * 1024)
    if isinstance(checked, JsonResponse):
        return checked
    question, _asker, region = checked
    wanted = question.get("hash")
    if not isinstance(wanted, str) or len(wanted) != 64:
        return refuse(400, "MALFORMED", "not a home-region question")
    home = HomeRegion.objects.filter(federation_hash=wanted).first()
    return answer(
        region,
        question,
        hash=wanted,
        registered=home is not None,
        regionCode=home.region_code if home is not None else None,
    )
