"""Issue 13 point 7: a newcomer's first ten minutes.

The README's walkthrough runs here exactly as written (its marked code blocks,
in order, in bash) against ``up --demo`` on a fresh database; the provisioning
example runs against the test database; a busy port stops ``up`` with one line;
the docs point at nothing outside the repository and cover every article the
code cites.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from decimal import Decimal
from typing import Any

import psutil
import psycopg2

from central.services import SEED_REGIONS
from tests.support import (
    REPO,
    child_env,
    code_blocks,
    free_port,
    platform_database_url,
    readme_section,
    wait_for_port,
)
from tests.test_up import fresh_database  # noqa: F401 (a fixture)

DEMO_ROLES = ("authority", "group-admin", "volunteer")


def bash(script: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def counts(url: str) -> dict[str, int]:
    """Volunteers and accounts per seed region."""
    found = {}
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        for spec in SEED_REGIONS:
            schema = f"region_{spec.slug}"
            for table in ("volunteers_volunteer", "accounts_account"):
                cursor.execute(f"SELECT count(*) FROM {schema}.{table}")
                row = cursor.fetchone()
                assert row is not None  # a count answers one row
                found[f"{spec.slug}.{table}"] = row[0]
    return found


def region_lines(output: str) -> dict[str, str]:
    """What ``demo`` said of each seed region: ``{code: state}`` (its lines come after
    ``up``'s own seed-region lines, which look alike, so they win)."""
    return dict(re.findall(r"^\s+\[\d/\d\] (\d{6}) \S+ … (.*)$", output, re.M))


def test_readme_walkthrough_runs_verbatim(fresh_database, tmp_path):  # noqa: F811
    url, _ = fresh_database
    walkthrough = readme_section("The first ten minutes")
    [serve] = code_blocks(walkthrough, "walkthrough: serve")
    steps = code_blocks(walkthrough, "walkthrough")
    assert len(steps) >= 5, steps

    # Demo data on a fresh database: every seed region filled, logins printed.
    first = subprocess.run(
        [sys.executable, "manage.py", "up", "--demo", "--no-serve"],
        cwd=REPO,
        env=child_env(url),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert first.returncode == 0, first.stderr
    filled = region_lines(first.stdout)
    assert sorted(filled) == sorted(spec.code for spec in SEED_REGIONS), first.stdout
    assert all(re.search(r"\d", state) for state in filled.values()), filled  # how many added
    for spec in SEED_REGIONS:
        for role in DEMO_ROLES:
            login = f"{spec.slug}.{role} / demo-{spec.slug}-{role}"
            assert login in first.stdout, (login, first.stdout)
    before = counts(url)
    assert all(before.values()), before

    # The README's own command serves it; the demo is already there: nothing added.
    port = free_port()
    log = tmp_path / "up.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", "-c", serve],
            cwd=REPO,
            env=child_env(url, PORT=str(port)),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, process, timeout=300)
        served = region_lines(log.read_text())
        assert sorted(served) == sorted(filled) and len(set(served.values())) == 1, served
        assert not re.search(r"\d", next(iter(served.values()))), served  # nothing added

        # The walkthrough, block after block, in one shell, as a reader pastes it.
        run = bash("\n".join(steps), cwd=tmp_path, env=child_env(url, PORT=str(port)))
        assert run.returncode == 0, (run.stdout, run.stderr)
        # The same hours pasted again: the typed refusal the README promises.
        recording = next(i for i, step in enumerate(steps) if "recordHours" in step)
        again = bash("\n".join(steps[: recording + 1]), env=child_env(url, PORT=str(port)))
        assert again.returncode == 0, (again.stdout, again.stderr)
        refused = json.loads(again.stdout.strip().splitlines()[-1])["data"]["recordHours"]
        assert refused["record"] is None and refused["errors"][0]["code"] == "CONFLICT", refused
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
    pdf = tmp_path / "certificate.pdf"
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF-"), (run.stdout, run.stderr)
    answers = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert len(answers) >= 4, run.stdout
    for answer in answers:
        assert "errors" not in answer, answer
        assert not any(payload.get("errors") for payload in answer["data"].values() if payload)
    volunteer = answers[0]["data"]["me"]["volunteer"]
    assert volunteer["records"]["edges"] and float(volunteer["totalHours"]) > 0, volunteer
    recorded = next(a["data"]["recordHours"] for a in answers if "recordHours" in a["data"])
    assert Decimal(recorded["record"]["hours"]) == Decimal("1.5"), recorded
    assert recorded["record"]["state"] == "COUNTED", recorded  # 重庆 has no publicity
    verified = answers[-1]["data"]["verifyCertificate"]
    assert verified["genuine"] is True and "*" in verified["idNumberMasked"], verified
    # The walkthrough added a record and a certificate, no account and no volunteer.
    assert counts(url) == before


def test_a_busy_port_gives_one_clear_line():
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        process = subprocess.Popen(
            [sys.executable, "manage.py", "up", "--port", str(port), "--no-deliver"],
            cwd=REPO,
            env=child_env(platform_database_url()),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:  # it served regardless: stop it, and fail
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
            raise AssertionError(f"up kept running on a busy port:\n{out}\n{err}") from None
        # Nothing of it is left: no front, no server, no worker on that port.
        leftovers = [
            p.pid
            for p in psutil.process_iter(["cmdline"])
            if p.info["cmdline"] and str(port) in p.info["cmdline"] and p.pid != process.pid
        ]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the port is still the test's own
    assert process.returncode == 1, (out, err)
    assert out == "", out  # no banner, nothing set up
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(port) in lines[0] and "--port" in lines[0], err
    assert "Traceback" not in err and "gunicorn" not in err.lower(), err
    assert leftovers == []


def test_provisioning_example_runs_on_a_code_no_seed_region_takes(gql, central_admin):
    regions = readme_section("Regions")
    [example] = code_blocks(regions, "provisioning example")
    examples = regions[regions.index(example) :]
    examples = examples[: examples.index("\n**")]  # the command line's and GraphQL's
    provisioned = re.findall(
        r'(?:--code |code: "|show |set-policy |suspend |resume )(\d{6})', examples
    )
    assert len(provisioned) >= 8 and set(provisioned) == {"421000"}, provisioned
    assert "421000" not in {spec.code for spec in SEED_REGIONS}

    run = bash(example, cwd=REPO, env=child_env(platform_database_url()))
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert "421000" in run.stdout and "荆州市" in run.stdout

    from central.models import Region

    region = Region.objects.get(code="421000")
    policy = region.get_policy()
    assert region.status == Region.Status.ACTIVE, region.status
    assert policy.publicity_working_days == 3 and policy.guardian_consent_below_age == 18
    assert region.parent.code == "420000" and region.schema_name == "region_jingzhou"

    # The GraphQL example, after the login it starts with: the same region, so
    # provisioning it again is a typed CONFLICT; the rest applies to it.
    [document] = re.findall(r"```graphql\n(.*?)```", examples, re.S)
    operations = re.split(r"\n(?=(?:mutation|query) )", document)
    assert "login(" in operations[1] and len(operations) == 6, operations
    answers = [gql.central(op, token=central_admin["token"]) for op in operations[2:]]
    assert all("errors" not in answer for answer in answers), answers
    provisioned, updated, suspended, listed = (a["data"] for a in answers)
    assert {e["code"] for e in provisioned["provisionRegion"]["errors"]} == {"CONFLICT"}
    assert updated["updateRegionPolicy"]["errors"] == []
    assert suspended["suspendRegion"] == {"region": {"status": "SUSPENDED"}, "errors": []}
    assert {"code": "421000", "name": "荆州市", "status": "SUSPENDED"}.items() <= next(
        r for r in listed["regions"] if r["code"] == "421000"
    ).items()


# Text files a clone has; a reference outside the repository is a dead end there.
OUTSIDE = re.compile(r"\.\./shared|/work/shared|DESIGN\.md|\bDESIGN §|shared/seeds")
ARTICLE = re.compile(r"\b(00[0-4]) Art\.(\d+)(?:[–-](\d+))?((?:, ?(?:Art\.)?\d+(?:[–-]\d+)?)*)")
SECTION = re.compile(r"\b(00[0-4]) §(\d+)")


def cited(text: str) -> set[tuple[str, str]]:
    """(notice, article or top-level section) pairs a text cites, ranges spelled out."""
    found = set()
    for notice, first, last, more in ARTICLE.findall(text):
        found |= {(notice, f"Art.{n}") for n in range(int(first), int(last or first) + 1)}
        for a, b in re.findall(r"(\d+)(?:[–-](\d+))?", more):
            found |= {(notice, f"Art.{n}") for n in range(int(a), int(b or a) + 1)}
    return found | {(notice, f"§{n}") for notice, n in SECTION.findall(text)}


def project_texts() -> dict[str, str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    texts = {}
    for name in listed:
        path = REPO / name
        if (
            path.suffix in {".py", ".md", ".graphql", ".html", ".toml", ".mjs", ".js", ".txt"}
            and path.is_file()
            and "node_modules" not in path.parts
        ):
            texts[name] = path.read_text(errors="replace")
    return texts


def test_docs_are_self_contained_and_summarise_every_cited_article():
    texts = project_texts()
    assert "docs/rules.md" in texts and len(texts) > 100
    outside = {
        name: OUTSIDE.findall(text)
        for name, text in texts.items()
        if OUTSIDE.search(text) and name != "tests/test_newcomer.py"
    }
    assert outside == {}
    rules = texts["docs/rules.md"]
    for notice in ("000", "001", "002", "003", "004"):
        assert f"| {notice} |" in rules, notice
    in_code = set().union(*(cited(t) for n, t in texts.items() if n != "docs/rules.md"))
    assert in_code, "the code cites articles"
    assert in_code - cited(rules) == set()
    assert "docs/rules.md" in readme_section("The first ten minutes")
