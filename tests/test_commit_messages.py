"""Issue 15 point 7: a commit's subject is at most 72 characters, so `git log
--oneline` can be scanned, and a body says why.

Checked for every commit after ``RULE_SINCE``, the last commit before the rule
was enforced. The history before it stays as it was published: rewriting it
would change every commit id that clones, notes and issue comments point to.
Merges of ``main`` into a working branch (``git merge main`` to catch up) are
commits git writes itself and carry nothing to explain; the merges on main's own
line, which bring a piece of work in, are checked.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support import REPO

RULE_SINCE = "ad1a116749c9836005ee9a06e422f8e9e8afa543"
SUBJECT_MAX = 72


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)


def commits(*revs: str) -> list[tuple[str, str, str]]:
    """(id, subject, body) of each commit ``git log`` lists for ``revs``."""
    out = git("log", "--format=%H%x1f%s%x1f%b%x1e", *revs).stdout
    rows = [row.strip("\n").split("\x1f") for row in out.split("\x1e") if row.strip()]
    return [(sha, subject, body.strip()) for sha, subject, body in rows]


def problems(listed: list[tuple[str, str, str]]) -> list[str]:
    found = []
    for sha, subject, body in listed:
        if len(subject) > SUBJECT_MAX:
            found.append(f"{sha[:7]} subject has {len(subject)} characters: {subject}")
        if not body:
            found.append(f"{sha[:7]} has no body saying why: {subject}")
    return found


@pytest.fixture(scope="module")
def since() -> str:
    if shutil.which("git") is None or git("rev-parse", "--git-dir").returncode:
        pytest.skip("not a git checkout (an unpacked archive has no history to check)")
    if git("cat-file", "-e", f"{RULE_SINCE}^{{commit}}").returncode:
        pytest.skip("a shallow clone without the commit the rule starts after")
    return RULE_SINCE


def test_every_commit_since_the_rule_has_a_short_subject_and_a_body(since):
    own = commits("--no-merges", f"{since}..HEAD")
    merges = commits("--merges", "--first-parent", f"{since}..HEAD")
    assert own, "the rule was enforced by a commit after RULE_SINCE"
    assert problems(own + merges) == []


def test_the_check_finds_a_long_subject_and_a_missing_body():
    long = "x" * (SUBJECT_MAX + 1)
    assert problems([("a" * 40, long, "why"), ("b" * 40, "short", ""), ("c" * 40, "ok", "y")]) == [
        f"aaaaaaa subject has {SUBJECT_MAX + 1} characters: {long}",
        "bbbbbbb has no body saying why: short",
    ]
