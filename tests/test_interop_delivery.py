"""Issue 11 findings 1, 4, 5, 6, 7: delivery between deployments completes only on
a signed receipt, refusals are typed and reach the asker, retries follow the
table in interop/README.md, the worker survives and is supervised by ``up``,
and the inbox takes a package up to its one documented limit.

Real HTTP only: the other deployment is a small HTTP server in a thread that
answers what each test scripts (signing with its own Ed25519 key, which the
directory lists as 广西, 450000), or this deployment's own gunicorn.
"""

from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import tenant_context

import tests.test_up as up_tests
from central.models import Region, RemoteRegion
from interop import at_rest, crypto, delivery, signing
from interop.models import OutboxMessage, Transfer
from tests.registry_support import authority, id_number, region
from tests.support import (
    REPO,
    child_env,
    free_port,
    platform_database_url,
    stop_process,
    wait_for_port,
    wait_until,
)
from tests.test_interop import CONSENT, REQUEST, moving_volunteer

pytestmark = pytest.mark.usefixtures("federation_invariant")  # issue 11

PEER = "450000"  # 广西: served by the fake deployment
FAR = timezone.now() + datetime.timedelta(days=1)
fresh_database = up_tests.fresh_database  # an empty database for `manage.py up`


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def raw_public(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def signed_answer(
    key: Ed25519PrivateKey,
    envelope: dict,
    status: str,
    *,
    code: str = "",
    reason: str = "",
    region_code: str = PEER,
    digest: str | None = None,
    subject_id: str | None = None,
) -> dict:
    """A receipt (or refusal) as the protocol defines it, built here independently."""
    if "request" in envelope:
        kind, ident, payload = "transfer_request", None, envelope["request"]
    else:
        kind, ident, payload = "package", envelope["package"]["packageId"], envelope["package"]
    body = {
        "format": "interop-receipt",
        "version": 1,
        "regionCode": region_code,
        "subject": kind,
        "id": subject_id or ident,
        "digest": digest or hashlib.sha256(canonical(payload)).hexdigest(),
        "status": status,
        "code": code,
        "reason": reason,
        "issuedAt": timezone.now().isoformat(),
    }
    value = base64.b64encode(key.sign(canonical(body))).decode()
    return {
        "receipt": body,
        "signature": {"algorithm": "Ed25519", "keyId": region_code, "value": value},
    }


class FakePeer:
    """Another deployment's inbox: answers each POST with the next scripted answer
    (a function of the received envelope → status, headers, body), else 503."""

    def __init__(self):
        self.key = Ed25519PrivateKey.generate()
        # Messages between deployments are sealed to the recipient's X25519 key.
        self.exchange_public, self.exchange_private = crypto.generate()
        self.script: list = []
        self.received: list[dict | bytes] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                content = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    envelope = json.loads(content)
                except ValueError:
                    envelope = content
                if self.path == "/interop/home-region":  # nobody is registered here
                    self._send(200, {}, peer.home_region_answer(envelope))
                    return
                if isinstance(envelope, dict) and "sealed" in envelope:
                    opened = crypto.open_sealed(envelope["sealed"], [peer.exchange_private])
                    envelope = json.loads(opened)
                peer.received.append(envelope)
                answer = peer.script.pop(0) if peer.script else None
                status, headers, body = answer(envelope) if answer else (503, {}, b"")
                self._send(status, headers, body)

            def _send(self, status, headers, body):
                if isinstance(body, dict):
                    body = json.dumps(body, ensure_ascii=False).encode()
                    headers = {"Content-Type": "application/json", **headers}
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    @property
    def inbox_url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/interop/inbox"

    def answer(self, *answers) -> None:
        self.script.extend(answers)

    def home_region_answer(self, question: dict) -> dict:
        """A signed "not registered here" (issue 11 finding 11's directory)."""
        asked = question["signed"]
        answer = {
            "kind": "home-region-answer",
            "hash": asked["hash"],
            "nonce": asked["nonce"],
            "registered": False,
            "regionCode": None,
        }
        value = base64.b64encode(self.key.sign(signing.canonical(answer))).decode()
        return {
            "signed": answer,
            "signature": {"algorithm": "Ed25519", "keyId": PEER, "value": value},
        }

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def accept(peer: FakePeer, status: str = "imported"):
    def answer(envelope):
        return 200, {}, {"status": status, "receipt": signed_answer(peer.key, envelope, status)}

    return answer


def refuse(peer: FakePeer, http: int, code: str, reason: str, signed: bool = True, headers=None):
    def answer(envelope):
        body = {"status": "rejected", "error": {"code": code, "reason": reason}}
        if signed:
            body["receipt"] = signed_answer(
                peer.key, envelope, "rejected", code=code, reason=reason
            )
        return http, headers or {}, body

    return answer


def raw(http: int, body: bytes | dict, headers=None):
    return lambda envelope: (http, headers or {}, body)


def set_peer(peer: FakePeer, inbox_url: str | None = None) -> None:
    RemoteRegion.objects.update_or_create(
        code=PEER,
        defaults={
            "name": "广西壮族自治区",
            "public_key": raw_public(peer.key),
            "inbox_url": inbox_url or peer.inbox_url,
            "exchange_key": peer.exchange_public,
        },
    )


@pytest.fixture
def peer(seed_regions):
    fake = FakePeer()
    set_peer(fake)
    yield fake
    fake.close()
    RemoteRegion.objects.filter(code=PEER).delete()
    # A test that failed half-way leaves nothing for the next one's scripted answers.
    for each in Region.objects.all():
        with tenant_context(each):
            OutboxMessage.objects.filter(destination_code=PEER, delivered_at__isnull=True).update(
                delivered_at=timezone.now(), last_error="closed by the test"
            )


def consent_to_peer(gql):
    """A 重庆 volunteer consents to move to 广西: an exported transfer and its outbox
    message. Returns (volunteer, token, transfer id)."""
    _, volunteer, token = moving_volunteer(gql, hours=(2, 1))
    requested = gql.region("chongqing", REQUEST, {"to": PEER}, token=token)["data"][
        "requestTransfer"
    ]
    assert requested["errors"] == [], requested
    consented = gql.region(
        "chongqing", CONSENT, {"t": requested["transfer"]["id"], "offline": False}, token=token
    )["data"]["consentTransfer"]["transfer"]
    assert (consented["state"], consented["delivery"]) == ("EXPORTED", "outbox")
    return volunteer, token, requested["transfer"]["id"]


def state(transfer_id: str) -> tuple[Transfer, OutboxMessage]:
    with tenant_context(region("chongqing")):
        transfer = Transfer.objects.get(public_id=transfer_id)
        message = OutboxMessage.objects.get(transfer=transfer)
    return transfer, message


def deliver_mine(transfer_id: str, now=FAR) -> tuple[Transfer, OutboxMessage]:
    """One delivery round (every due message), then this transfer's state."""
    delivery.deliver_pending(now=now)
    return state(transfer_id)


def test_only_a_receipt_signed_by_the_destination_completes(gql, peer):
    """Finding 1: `200 {}`, a non-JSON 200, a receipt by the wrong key, for another
    package or another digest: all retried, never completed. Finding 5: 429 with
    Retry-After is retried then. Only a verified receipt completes."""
    volunteer, _, transfer_id = consent_to_peer(gql)
    impostor = Ed25519PrivateKey.generate()
    peer.answer(
        raw(200, {}),
        raw(200, b"<html>OK</html>", {"Content-Type": "text/html"}),
        lambda e: (
            200,
            {},
            {"status": "imported", "receipt": signed_answer(impostor, e, "imported")},
        ),
        lambda e: (
            200,
            {},
            {
                "status": "imported",
                "receipt": signed_answer(peer.key, e, "imported", digest="0" * 64),
            },
        ),
        lambda e: (
            200,
            {},
            {
                "status": "imported",
                "receipt": signed_answer(peer.key, e, "imported", subject_id=str(uuid.uuid4())),
            },
        ),
        lambda e: (
            200,
            {},
            {"status": "rejected", "receipt": signed_answer(peer.key, e, "rejected")},
        ),
    )
    for attempt in range(1, 7):
        transfer, message = deliver_mine(transfer_id)
        assert transfer.state == "exported", (attempt, message.last_error)
        assert message.delivered_at is None and message.attempts == attempt
        assert "without a valid receipt" in message.last_error, message.last_error
        assert message.next_attempt_at > timezone.now()
    # 429 with Retry-After: retried, not before the peer said.
    peer.answer(
        refuse(peer, 429, "THROTTLED", "too many", signed=False, headers={"Retry-After": "120"})
    )
    before = timezone.now()
    transfer, message = deliver_mine(transfer_id)
    assert transfer.state == "exported" and message.delivered_at is None
    wait = (message.next_attempt_at - before).total_seconds()
    assert 115 <= wait <= 125, wait
    # The peer now imports and signs a receipt for exactly what it got.
    peer.answer(accept(peer))
    transfer, message = deliver_mine(transfer_id)
    assert transfer.state == "completed", message.last_error
    assert message.delivered_at is not None and message.attempts == 8
    sent = peer.received[-1]
    with tenant_context(region("chongqing")):
        assert sent == at_rest.clear(Transfer.objects.get(public_id=transfer_id).package)
        volunteer.refresh_from_db()
    assert volunteer.status == "transferred"
    attempts = len(peer.received)
    deliver_mine(transfer_id)
    assert len(peer.received) == attempts  # delivered: never sent again


def test_a_signed_refusal_reaches_the_source_and_ends_retries(gql, peer):
    """Findings 4, 5: an unsigned refusal, an unknown code and 503 REGION_SUSPENDED
    are retried; a refusal signed by the destination with a permanent code ends the
    transfer with its code and reason, shown in `transfers`."""
    volunteer, token, transfer_id = consent_to_peer(gql)
    peer.answer(
        refuse(peer, 409, "CONFLICT", "forged", signed=False),
        refuse(peer, 400, "SOMETHING_NEW", "not in the table"),
        refuse(peer, 503, "REGION_SUSPENDED", "suspended", headers={"Retry-After": "60"}),
    )
    for expected in ("not a signed refusal", "SOMETHING_NEW", "REGION_SUSPENDED"):
        transfer, message = deliver_mine(transfer_id)
        assert transfer.state == "exported" and message.delivered_at is None
        assert expected in message.last_error, message.last_error
    assert 50 <= (message.next_attempt_at - timezone.now()).total_seconds() <= 61
    reason = "此人已在本地以其他编号登记"
    peer.answer(refuse(peer, 409, "CONFLICT", reason))
    transfer, message = deliver_mine(transfer_id)
    assert transfer.state == "refused"
    assert transfer.refusal_code == "CONFLICT"
    assert reason in transfer.reason and PEER in transfer.reason
    assert message.delivered_at is not None
    attempts = len(peer.received)
    deliver_mine(transfer_id)
    assert len(peer.received) == attempts  # final: not retried
    with tenant_context(region("chongqing")):
        volunteer.refresh_from_db()
    assert volunteer.status == "active"  # nothing left the source
    query = "{ transfers { id state reason refusalCode } }"
    shown = gql.region("chongqing", query, token=token)["data"]["transfers"]
    mine = next(t for t in shown if t["id"] == transfer_id)
    assert mine["state"] == "REFUSED" and mine["refusalCode"] == "CONFLICT"
    assert reason in mine["reason"]


def test_a_refused_request_reaches_the_region_that_asked(gql, peer):
    """Finding 4: a transfer request sent on a volunteer's behalf and refused
    (signed) by the peer ends the asker's placeholder with the code and reason."""
    token = authority(gql, "chongqing", "province")
    ask = """mutation($from: String!, $n: String!) { requestIncomingTransfer(fromRegion: $from,
      volunteerNumber: $n) { transfer { id state } errors { code message } } }"""
    asked = gql.region("chongqing", ask, {"from": PEER, "n": "45000000000001"}, token=token)
    assert asked["data"]["requestIncomingTransfer"]["errors"] == [], asked
    transfer_id = asked["data"]["requestIncomingTransfer"]["transfer"]["id"]
    peer.answer(refuse(peer, 404, "NOT_FOUND", "no such volunteer"))
    transfer, message = deliver_mine(transfer_id)
    assert peer.received[-1]["request"]["volunteerNumber"] == "45000000000001"
    assert (transfer.state, transfer.refusal_code) == ("refused", "NOT_FOUND")
    assert "no such volunteer" in transfer.reason and message.delivered_at is not None


def test_a_message_follows_the_peer_to_its_new_inbox(gql, peer):
    """Finding 5: the inbox URL is looked up in the directory at each attempt."""
    dead = f"http://127.0.0.1:{free_port()}/interop/inbox"  # nothing listens there
    _, _, transfer_id = consent_to_peer(gql)  # registering asks the peer: it must be up
    set_peer(peer, dead)
    transfer, message = deliver_mine(transfer_id)
    assert message.inbox_url == dead and message.delivered_at is None
    assert transfer.state == "exported"
    set_peer(peer)  # the peer moved; the directory says where
    peer.answer(accept(peer))
    transfer, message = deliver_mine(transfer_id)
    assert transfer.state == "completed", message.last_error
    assert message.inbox_url == peer.inbox_url


def test_the_inbox_signs_receipts_and_refusals(gql, peer, server):
    """Findings 1, 4 at this deployment's own inbox (gunicorn): an import and its
    repeat carry a receipt signed by the destination; a wrongly signed package and a
    request for an already-transferred volunteer are 4xx refusals with a typed code,
    signed by the refusing region — not 500s."""
    from interop import receipts
    from interop.package import canonical as package_canonical

    volunteer, _, transfer_id = consent_to_peer(gql)
    peer.answer(accept(peer))
    transfer, _ = deliver_mine(transfer_id)
    assert transfer.state == "completed"
    # The peer asks again for the volunteer who has already left 重庆.
    body = {
        "kind": "transfer_request",
        "volunteerNumber": volunteer.number,
        "from": "500000",
        "to": PEER,
        "requestedBy": "authority:gx",
    }
    envelope = {
        "request": body,
        "signature": {
            "algorithm": "Ed25519",
            "keyId": PEER,
            "value": base64.b64encode(peer.key.sign(package_canonical(body))).decode(),
        },
    }
    inbox = f"{server.base_url}/interop/inbox"
    sealed = signing.seal_for("500000", envelope)
    answer = httpx.post(inbox, json=sealed, headers={"Host": "localhost"})
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "CONFLICT"
    refusal = receipts.verify(
        answer.json()["receipt"],
        region_code="500000",
        kind="transfer_request",
        subject_id=None,
        payload_digest=receipts.digest(body),
    )
    assert (refusal["status"], refusal["code"]) == ("rejected", "CONFLICT")
    # Every signed message names its algorithm, checked in one place
    # (signing.signature_holds): the same request under another name is refused.
    renamed = {**envelope, "signature": {**envelope["signature"], "algorithm": "HS256"}}
    answer = httpx.post(
        inbox, json=signing.seal_for("500000", renamed), headers={"Host": "localhost"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "BAD_SIGNATURE"
    # A package for 云南, signed by 广西's key but claiming to come from 重庆.
    with tenant_context(region("chongqing")):
        package = copy.deepcopy(
            at_rest.clear(Transfer.objects.get(public_id=transfer_id).package)["package"]
        )
    package["packageId"] = str(uuid.uuid4())
    package["destination"]["regionCode"] = "530000"
    forged = {
        "package": package,
        "signature": {
            "algorithm": "Ed25519",
            "keyId": "500000",
            "value": base64.b64encode(peer.key.sign(package_canonical(package))).decode(),
        },
    }
    answer = httpx.post(
        inbox, json=signing.seal_for("530000", forged), headers={"Host": "localhost"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "BAD_SIGNATURE"
    refusal = receipts.verify(
        answer.json()["receipt"],
        region_code="530000",
        kind="package",
        subject_id=package["packageId"],
        payload_digest=receipts.digest(package),
    )
    assert refusal["code"] == "BAD_SIGNATURE"
    ours = signing.lookup("530000")
    assert ours is not None and ours.local
    # Odd shapes are typed 4xx refusals, never 500s; signed once a region of ours
    # can be named.
    for body, code, signer in (
        ({"package": []}, "MALFORMED", None),
        ({"package": {"destination": "530000"}}, "WRONG_DESTINATION", None),
        ({"package": {"destination": {"regionCode": ["530000"]}}}, "WRONG_DESTINATION", None),
        (
            {"package": {"destination": {"regionCode": "530000"}}, "signature": 5},
            "UNSUPPORTED_VERSION",
            "530000",
        ),
        (
            {"request": {"from": "500000", "to": "999999"}, "signature": {}},
            "UNKNOWN_SENDER",
            "500000",
        ),
    ):
        target = signer or "530000"
        answer = httpx.post(
            inbox, json=signing.seal_for(target, body), headers={"Host": "localhost"}
        )
        assert 400 <= answer.status_code < 500, (body, answer.status_code, answer.text[:200])
        assert answer.json()["error"]["code"] == code, (body, answer.text[:200])
        assert (answer.json().get("receipt") or {}).get("signature", {}).get("keyId") == signer


def _big_package(peer: FakePeer, size: int) -> dict:
    """A signed package from 广西 to 云南 for a volunteer with a long history: as
    many full records (2000-character content) as make it about ``size`` bytes."""
    birth = datetime.date(1970, 3, 4)
    number = f"45{uuid.uuid4().int % 10**15:015d}"
    today = timezone.localdate()
    record = {
        "projectName": "社区服务",
        "startTime": "08:00:00",
        "endTime": "10:00:00",
        "hours": "2",
        "originalHours": "2",
        "place": "南宁市" * 66,
        "serviceTarget": "社区居民" * 50,
        "content": "志" * 2000,
        "contact": "13800000000",
        "evaluation": {"punctuality": 5, "attitude": 5, "professionalism": 5},
        "mode": "manual",
        "countedAt": "2020-01-01T00:00:00+00:00",
        "amendments": [],
    }
    one = len(canonical(record)) + 120
    count = size // one
    package = {
        "format": "volunteer-transfer",
        "version": 1,
        "packageId": str(uuid.uuid4()),
        "transferId": str(uuid.uuid4()),
        "createdAt": timezone.now().isoformat(),
        "source": {"regionCode": PEER, "regionName": "广西壮族自治区"},
        "destination": {"regionCode": "530000"},
        "consent": {"consentedAt": timezone.now().isoformat(), "consentedBy": "volunteer:gx"},
        "volunteer": {
            "number": number,
            "name": "韦长青",
            "gender": "male",
            "birthDate": birth.isoformat(),
            "idType": "resident_id",
            "idNumber": id_number(birth, area="450102"),
            "phone": f"137{uuid.uuid4().int % 10**8:08d}",
            "serviceArea": "南宁",
            "serviceIntentions": [],
            "skills": [],
            "verification": "verified",
            "guardianName": "",
            "registeredAt": "2000-01-01T00:00:00+00:00",
        },
        "records": [
            {
                **record,
                "serviceDate": (today - datetime.timedelta(days=index + 1)).isoformat(),
                "provenance": {
                    "regionCode": PEER,
                    "recordId": f"gx-{number}-{index}",
                    "groupName": "南宁志愿者协会",
                    "recorder": "recorder:gx",
                },
            }
            for index in range(count)
        ],
        "trainings": [],
        "awards": [],
        "complaints": [],
        "starLevel": 0,
    }
    value = base64.b64encode(peer.key.sign(canonical(package))).decode()
    return {
        "package": package,
        "signature": {"algorithm": "Ed25519", "keyId": PEER, "value": value},
    }


def test_a_long_history_near_the_limit_transfers_whole(peer, server):
    """Finding 7: one limit (INTEROP_INBOX_MAX_BYTES, 20 MiB), enforced by the inbox
    itself — not Django's 2.5 MiB DATA_UPLOAD_MAX_MEMORY_SIZE. A package just under
    it is imported whole; one byte over it is 413 TOO_LARGE."""
    limit = 20 * 1024 * 1024  # as documented (interop/README.md)
    # Sealed for the wire (issue 11 finding 9), a package grows by a third (base64).
    envelope = _big_package(peer, (limit - 400 * 1024) * 3 // 4)
    content = json.dumps(signing.seal_for("530000", envelope), ensure_ascii=False).encode()
    assert limit - 512 * 1024 < len(content) <= limit, len(content)
    count = len(envelope["package"]["records"])
    inbox = f"{server.base_url}/interop/inbox"
    headers = {"Host": "localhost", "Content-Type": "application/json"}
    with httpx.Client(timeout=300) as client:
        answer = client.post(inbox, content=content, headers=headers)
        assert answer.status_code == 200, answer.text[:500]
        assert answer.json()["status"] == "imported"
        over = client.post(
            inbox, content=content + b" " * (limit + 1 - len(content)), headers=headers
        )
    assert over.status_code == 413 and over.json()["error"]["code"] == "TOO_LARGE"
    number = envelope["package"]["volunteer"]["number"]
    with tenant_context(region("yunnan")):
        from tenants.records.models import ServiceRecord

        assert ServiceRecord.objects.filter(volunteer__number=number).count() == count
    assert count > 2000  # a long history: about six years of daily service
    assert limit == settings.INTEROP_INBOX_MAX_BYTES  # the one setting that says so


def _processes_with(marker: str) -> list[tuple[int, int, str]]:
    """(pid, ppid, command line) of every live process whose environment has ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() not in (entry / "environ").read_bytes():
                continue
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] == "Z":
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            found.append((int(entry.name), int(fields[1]), cmdline))
        except OSError:
            continue
    return found


def test_the_worker_survives_odd_answers_and_a_database_restart(gql, peer):
    """Finding 6: `interop deliver --loop` as a real process: a non-JSON 2xx is
    retried, its database connections killed under it is one line on stderr, and
    it carries on to deliver the transfer."""
    app = f"i11-deliver-{uuid.uuid4().hex[:8]}"
    log = Path(tempfile.mkdtemp(prefix="i11-deliver-")) / "stderr"
    peer.answer(raw(200, b"OK"), raw(200, b"not json either"))
    with log.open("w") as stderr:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "interop", "deliver", "--loop", "--interval", "0.5"],
            cwd=REPO,
            env=child_env(platform_database_url(), PGAPPNAME=app),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        _, _, transfer_id = consent_to_peer(gql)
        # Two non-JSON 200s: retried (2 s backoff), the worker still there.
        wait_until(lambda: len(peer.received) >= 2, 30, "a second attempt after a non-JSON 200")
        assert worker.poll() is None, log.read_text()
        url = platform_database_url()

        def kill_connections():
            with psycopg2.connect(url) as conn, conn.cursor() as cursor:
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = %s",
                    [app],
                )
                row = cursor.fetchone()
                assert row is not None  # count() answers one row
                return row[0]

        wait_until(kill_connections, 10, "the worker's connection to kill")
        wait_until(lambda: "interop deliver:" in log.read_text(), 15, "the error line")
        peer.answer(accept(peer))
        wait_until(lambda: state(transfer_id)[0].state == "completed", 40, "the transfer completed")
        assert worker.poll() is None, log.read_text()
        lines = [line for line in log.read_text().splitlines() if line.strip()]
        assert all(line.startswith("interop deliver: ") for line in lines), lines
        assert any("Error" in line for line in lines), lines
        assert len(peer.received) >= 3  # two odd answers, then the receipt
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)


def test_up_supervises_the_delivery_worker(fresh_database):
    """Finding 6: `manage.py up` starts `interop deliver --loop` as its child,
    restarts it when it dies, and leaves no process behind after SIGTERM."""
    url, _ = fresh_database
    marker = f"I11_UP_MARKER={uuid.uuid4().hex}"
    name, value = marker.split("=")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "up", "--no-seed", "--port", str(port), "--workers", "1"],
        cwd=REPO,
        env=child_env(url, **{name: value}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, process, timeout=240)

        def workers():
            return [
                (pid, ppid)
                for pid, ppid, cmd in _processes_with(marker)
                if "interop deliver --loop" in cmd
            ]

        first = wait_until(workers, 30, "the delivery worker")
        assert len(first) == 1 and first[0][1] == process.pid, first
        os.kill(first[0][0], signal.SIGKILL)  # it dies: up starts another
        second = wait_until(lambda: [w for w in workers() if w != first[0]], 30, "a restart")
        assert len(second) == 1 and second[0][1] == process.pid
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            stop_process(process)
    assert process.stdout is not None
    output = process.stdout.read()
    assert "interop delivery worker: started" in output, output
    assert "restarting" in output, output
    wait_until(lambda: not _processes_with(marker), 15, "no process of up's left")
    # --no-deliver: served without the worker (production runs it as its own service).
    process = subprocess.Popen(
        [sys.executable, "manage.py", "up", "--no-seed", "--no-deliver", "--port", str(port)],
        cwd=REPO,
        env=child_env(url, **{name: value}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, process, timeout=240)
        time.sleep(2)
        assert not [cmd for _, _, cmd in _processes_with(marker) if "interop deliver" in cmd]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert process.stdout is not None
    assert "interop delivery worker: off (--no-deliver)" in process.stdout.read()
    wait_until(lambda: not _processes_with(marker), 15, "no process of up's left")


def test_a_worker_killed_mid_delivery_loses_and_doubles_nothing(gql, peer):
    """Faults rule: ``interop deliver --loop`` killed with -9 while the peer holds
    its POST (sent, not answered). The message's row lock and its attempt go with
    the worker's connection: nothing is marked delivered or completed on an
    answer that never came. The next round sends the same package again, the
    peer answers ``already_imported`` with a receipt (it imports a package once:
    tests/test_interop_peers.py), and the transfer completes once."""
    app = f"faults-deliver-{uuid.uuid4().hex[:8]}"
    held, release = threading.Event(), threading.Event()

    def hold(envelope):
        held.set()
        release.wait(60)
        return 503, {}, b""  # to a client that is gone

    peer.answer(hold)
    _, _, transfer_id = consent_to_peer(gql)
    attempts_before = state(transfer_id)[1].attempts
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "interop", "deliver", "--loop", "--interval", "0.5"],
        cwd=REPO,
        env=child_env(platform_database_url(), PGAPPNAME=app),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert held.wait(60), "the worker never sent the package"
        worker.kill()
        worker.wait(10)
    finally:
        release.set()
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)

    def worker_sessions() -> int:
        with psycopg2.connect(platform_database_url()) as conn, conn.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [app]
            )
            row = cursor.fetchone()
        conn.close()
        assert row is not None
        return row[0]

    wait_until(lambda: worker_sessions() == 0, 30, "the killed worker's session gone")
    transfer, message = state(transfer_id)
    assert transfer.state == "exported"
    assert message.delivered_at is None and message.attempts == attempts_before
    peer.answer(accept(peer, "already_imported"))
    transfer, message = deliver_mine(transfer_id)
    assert transfer.state == "completed", message.last_error
    assert message.delivered_at is not None and message.attempts == attempts_before + 1
    # The same package twice, nothing else; completed once, never sent again.
    assert len(peer.received) == 2
    first, second = peer.received
    assert isinstance(first, dict) and first == second
    deliver_mine(transfer_id)
    assert len(peer.received) == 2
