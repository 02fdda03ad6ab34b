"""Transfers (转移接续, issue 11): how long a volunteer's move takes, against the same
rows moved with plain SQL in the same run.

- **one volunteer, 1,000 records** (重庆 → 云南, one deployment): the volunteer's
  `consentTransfer` over HTTP (export, sign, verify, import, complete: one
  transaction across both schemas), against reading the same records with their
  amendments and writing them into a table with plain SQL;
- **100 volunteers of one group** (随州 → 云南) as a batch: the authority of the
  group's area asks once (`requestGroupTransfer`), then each member consents; the
  sum of their `consentTransfer` calls, against the same rows moved with plain SQL,
  and beside it the old way for a further ``--old`` members of the same group (each
  asks with `requestTransfer`, then consents), one after another.

Everything runs on a throwaway embedded PostgreSQL (deleted on exit) and a
gunicorn on a loopback port. Run: ``.venv/bin/python bench/transfers.py``
(about 3 minutes).
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "bench_transfers"
PASSWORD = "Bench-pass-2026"
DESTINATION = "530000"
LONG, GROUP = ("500000", "chongqing"), ("421300", "suizhou")

REQUEST = """mutation($to: String!) { requestTransfer(toRegion: $to) {
  transfer { id state } errors { code message } } }"""
CONSENT = """mutation($t: ID!) { consentTransfer(transferId: $t, offline: false) {
  transfer { id state } errors { code message } } }"""
REQUEST_GROUP = """mutation($g: ID!, $to: String!, $n: [String!]) {
  requestGroupTransfer(groupId: $g, toRegion: $to, reason: "区划调整", volunteerNumbers: $n) {
  batch { id counts { requested } refused { number reason }
  transfers(first: 100) { id volunteerNumber } } errors { code message } } }"""
MINE = """{ transfers(direction: OUTGOING, state: "requested") { id batchId } }"""
LOGIN = """mutation($u: String!, $p: String!) { login(username: $u, password: $p) {
  token errors { message } } }"""

# The baseline: the same records and their amendments read and written with plain SQL.
COPY_SQL = """
CREATE TEMP TABLE moved_records ON COMMIT DROP AS
SELECT r.* FROM {schema}.records_servicerecord r WHERE r.volunteer_id = ANY(%s) AND false;
INSERT INTO moved_records SELECT r.* FROM {schema}.records_servicerecord r
  WHERE r.volunteer_id = ANY(%s) AND r.state = 'counted';
CREATE TEMP TABLE moved_amendments ON COMMIT DROP AS
SELECT a.* FROM {schema}.records_amendment a JOIN moved_records m ON m.id = a.record_id;
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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


class Api:
    def __init__(self, port: int, host: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.host = host

    def call(self, query: str, variables: dict, token: str | None = None) -> dict:
        headers = {"Host": self.host, "Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps({"query": query, "variables": variables})
        self.conn.request("POST", "/graphql", body, headers)
        body = json.loads(self.conn.getresponse().read())
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        payload = next(iter(body["data"].values()))
        if isinstance(payload, dict) and payload.get("errors"):
            raise RuntimeError(payload["errors"])
        return payload


def accounts_for(code: str, count: int, records_at_least: int) -> list[tuple[str, str, int]]:
    """(username, number, counted records) of ``count`` volunteers of the region with
    at least ``records_at_least`` counted records, each given an account to log in."""
    from django.db.models import Count, Q
    from django_tenants.utils import tenant_context

    from central.models import Region
    from tenants.accounts import services as accounts
    from tenants.records.models import DaySlot, ServiceRecord
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
            # Consent waits for records still declared or under objection: the group
            # decides them first (here: declined and voided).
            ServiceRecord.objects.filter(volunteer=volunteer, state="declared").update(
                state="rejected", state_reason="bench: decided before the move"
            )
            ServiceRecord.objects.filter(volunteer=volunteer, state="objected").update(
                state="void", state_reason="bench: decided before the move"
            )
            DaySlot.objects.filter(
                record__volunteer=volunteer, record__state__in=["rejected", "void"]
            ).delete()
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
    if done["state"] != "completed":
        raise RuntimeError(f"transfer ended {done['state']}")
    return elapsed


def authority_of_group(code: str, number: str) -> tuple[str, int]:
    """An authority account of the whole region (it covers the group) and the id of
    the group ``number`` is an active member of."""
    from django_tenants.utils import tenant_context

    from central.models import Region
    from tenants.accounts import services as accounts
    from tenants.groups.models import Membership

    target = Region.objects.get(code=code)
    with tenant_context(target):
        username = "bench-authority"
        accounts.create_authority_account(
            username,
            PASSWORD,
            "民政干部",
            target.level,
            f"{target.name}民政局",
            division_code=code,
            region_code=code,
            actor="bench",
        )
        group_id = (
            Membership.objects.filter(volunteer__number=number, status="active")
            .values_list("group_id", flat=True)
            .first()
        )
    return username, group_id


def batch_move(api: Api, authority: str, group_id: int, members) -> tuple[float, list[float]]:
    """The authority asks once for the members; each logs in, finds the request among
    their transfers and consents. (time of the request, times of each consent)"""
    token = api.call(LOGIN, {"u": authority, "p": PASSWORD})["token"]
    started = time.perf_counter()
    batch = api.call(
        REQUEST_GROUP,
        {"g": str(group_id), "to": DESTINATION, "n": [number for _, number, _ in members]},
        token,
    )["batch"]
    asked = time.perf_counter() - started
    if batch["refused"] or batch["counts"]["requested"] != len(members):
        raise RuntimeError(f"the batch left out {batch['refused']}")
    each = []
    for username, _, _ in members:
        mine = api.call(LOGIN, {"u": username, "p": PASSWORD})["token"]
        own = [t for t in api.call(MINE, {}, mine) if t["batchId"] == batch["id"]]
        started = time.perf_counter()
        done = api.call(CONSENT, {"t": own[0]["id"]}, mine)["transfer"]
        each.append(time.perf_counter() - started)
        if done["state"] != "completed":
            raise RuntimeError(f"transfer ended {done['state']}")
    return asked, each


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000, help="of the long history")
    parser.add_argument("--group", type=int, default=100, help="volunteers moving together")
    parser.add_argument("--old", type=int, default=20, help="of them moved the old way too")
    args = parser.parse_args()

    from central.database import (
        database_url,
        ensure_database,
        parse_database_url,
        start_embedded_server,
    )

    workdir = Path(tempfile.mkdtemp(prefix="bench-transfers-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    admin_uri = start_embedded_server(workdir / "pg", cleanup="delete")
    ensure_database(admin_uri, DB_NAME)
    url = database_url({**parse_database_url(admin_uri), "NAME": DB_NAME})
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="central.settings")
    env = {**os.environ, "PLATFORM_LOG_LEVEL": "WARNING", "DJANGO_DEBUG": "0"}
    log("setting up …")
    manage(env, "up", "--no-serve")
    for code, volunteers, records in (
        (LONG[0], 3, args.records),  # most count; some wait in publicity or were voided
        (GROUP[0], args.group + args.old, 12),
    ):
        log(f"generating {volunteers} volunteers × {records} records in {code} …")
        generate = ["generate_data", "--region", code, "--volunteers", str(volunteers)]
        manage(env, *generate, "--groups", "1", "--records-per-volunteer", str(records))

    import django

    django.setup()
    from tests.support import PlatformServer

    long_history = accounts_for(LONG[0], 1, 1)
    everyone = accounts_for(GROUP[0], args.group + args.old, 1)
    group, old_way = everyone[: args.group], everyone[args.group :]
    authority, group_id = authority_of_group(GROUP[0], group[0][1])
    with PlatformServer(url, workers=2, threads=4) as server:
        api = Api(server.port, f"{LONG[1]}.localhost")
        # 1. one long history
        baseline = sql_move(url, f"region_{LONG[1]}", [long_history[0][1]])
        spent = move(api, long_history[0][0])
        # 2. a group: one batch request, then each member's consent
        api = Api(server.port, f"{GROUP[1]}.localhost")
        group_baseline = sql_move(url, f"region_{GROUP[1]}", [number for _, number, _ in group])
        asked, each = batch_move(api, authority, group_id, group)
        # 3. the old way, for comparison: each member asks, then consents
        before = [move(api, username) for username, _, _ in old_way]

    print("transfers (issue 11), one deployment, gunicorn 2 × 4, embedded PostgreSQL")
    print(
        f"one volunteer, {long_history[0][2]} counted records: consentTransfer "
        f"{spent * 1000:.0f} ms; plain SQL {baseline * 1000:.1f} ms; ratio {spent / baseline:.0f}×"
    )
    total = sum(each)
    records = sum(counted for _, _, counted in group)
    print(
        f"{len(group)} volunteers of one group ({records} counted records) as a batch: "
        f"requestGroupTransfer {asked * 1000:.0f} ms, then each consents: {total:.1f} s in "
        f"all, median {statistics.median(each) * 1000:.0f} ms each; plain SQL for all "
        f"{group_baseline * 1000:.1f} ms; ratio {total / group_baseline:.0f}×"
    )
    if before:
        print(
            f"the old way (each asks, then consents; {len(before)} more members): median "
            f"consent {statistics.median(before) * 1000:.0f} ms each"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
