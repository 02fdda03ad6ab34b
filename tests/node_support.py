"""Running the JavaScript GraphQL clients front-ends are built with.

Each client test lives in a small npm project under ``tests/clients/<name>/``
(its own ``package.json`` and ``package-lock.json``). ``node_project`` installs
it once per checkout (``npm ci`` into its ``node_modules``, skipped when the
lockfile has not changed since) and ``run_node`` runs one of its scripts with
the server's address in the environment, returning what the script printed as
JSON. A script fails the test by exiting non-zero; its stderr is in the message.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

CLIENTS = Path(__file__).parent / "clients"


def node_project(name: str) -> Path:
    """The npm project ``tests/clients/<name>``, its dependencies installed."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed for the front-end client tests")
    project = CLIENTS / name
    lockfile = project / "package-lock.json"
    stamp = project / "node_modules" / ".installed-from"
    digest = hashlib.sha256(lockfile.read_bytes()).hexdigest()
    with open(project / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers or parallel checkouts
        if not stamp.exists() or stamp.read_text() != digest:
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=project,
                check=True,
                timeout=600,
            )
            stamp.write_text(digest)
    return project


def run_node(
    name: str, script: str, *args: str, timeout: float = 120, **env: str
) -> dict[str, Any]:
    """Run ``tests/clients/<name>/<script>`` and decode the JSON object it printed last."""
    printed = _printed(name, script, *args, timeout=timeout, **env)
    assert isinstance(printed, dict), f"{name}/{script} printed {printed!r}, no JSON object"
    return printed


def run_node_list(
    name: str, script: str, *args: str, timeout: float = 120, **env: str
) -> list[dict[str, Any]]:
    """``run_node`` for a script that prints a JSON array of objects."""
    printed = _printed(name, script, *args, timeout=timeout, **env)
    assert isinstance(printed, list), f"{name}/{script} printed {printed!r}, no JSON array"
    assert all(isinstance(item, dict) for item in printed), printed
    return printed


def _printed(name: str, script: str, *args: str, timeout: float, **env: str) -> object:
    """What ``tests/clients/<name>/<script>`` printed last, decoded (``None``: nothing)."""
    project = node_project(name)
    completed = subprocess.run(
        ["node", script, *args],
        cwd=project,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode != 0:
        pytest.fail(f"{name}/{script} failed:\n{completed.stdout}\n{completed.stderr}")
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None
