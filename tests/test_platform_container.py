"""Issue 13 point 6: the platform's image and its compose file (platform/).

The first tests read the files (they run everywhere); the last builds and runs the
compose project and is skipped where no Docker daemon and compose plugin answer
(``-m docker`` selects it alone)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import httpx
import pytest
import yaml

from tests.support import REPO, free_port

PLATFORM = REPO / "platform"


def compose() -> dict:
    return yaml.safe_load((PLATFORM / "compose.yaml").read_text())


def test_compose_runs_the_platform_postgresql_and_the_scheduler():
    services = compose()["services"]
    assert set(services) == {"postgres", "platform", "scheduler"}
    platform, scheduler = services["platform"], services["scheduler"]
    for service in (platform, scheduler):
        assert service["build"] == {
            "context": "..",
            "dockerfile": "platform/Dockerfile",
            "args": {"PIP_INDEX_URL": "${PIP_INDEX_URL:-https://pypi.org/simple}"},
        }
        assert "@postgres:5432/" in service["environment"]["DATABASE_URL"]
        assert service["init"] is True
    assert platform["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert scheduler["depends_on"]["platform"]["condition"] == "service_healthy"
    assert platform["volumes"] == ["platform-data:/srv/platform/.data"]
    # The scheduler's jobs are commands that exist.
    assert scheduler["command"] == ["platform/scheduler.sh"]
    script = (PLATFORM / "scheduler.sh").read_text()
    from django.core.management import get_commands

    for job in ("interop deliver --loop", "schedule --loop"):
        assert f"python manage.py {job}" in script
        assert job.split()[0] in get_commands()  # beside whichever app holds it
    assert os.access(PLATFORM / "scheduler.sh", os.X_OK)
    syntax = subprocess.run(["sh", "-n", str(PLATFORM / "scheduler.sh")], capture_output=True)
    assert syntax.returncode == 0, syntax.stderr


def test_the_image_is_non_root_installs_from_the_lock_and_runs_up_without_delivery():
    dockerfile = (PLATFORM / "Dockerfile").read_text()
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    assert '"manage.py", "up"' in cmd and '"--no-deliver"' in cmd and '"0.0.0.0"' in cmd
    assert '"--no-schedule"' in cmd  # the scheduler service runs the daily jobs
    assert "/healthz" in dockerfile
    ignored = (PLATFORM / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".venv", ".data"} <= set(ignored)


def _docker_ready() -> bool:
    if shutil.which("docker") is None:
        return False
    for probe in (["docker", "info"], ["docker", "compose", "version"]):
        if subprocess.run(probe, capture_output=True, timeout=30).returncode != 0:
            return False
    return True


@pytest.mark.docker
@pytest.mark.skipif(not _docker_ready(), reason="no Docker daemon with the compose plugin")
def test_compose_builds_and_serves(tmp_path):
    port = free_port()
    project = f"vrp-test-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "POSTGRES_PASSWORD": uuid.uuid4().hex,
        "DJANGO_SECRET_KEY": uuid.uuid4().hex,
        "PLATFORM_PORT": str(port),
        "PLATFORM_IMAGE": f"{project}:latest",
    }
    base = ["docker", "compose", "-p", project, "-f", str(PLATFORM / "compose.yaml")]

    def run(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*base, *args], env=env, capture_output=True, text=True, timeout=timeout
        )

    built = run("up", "--build", "--detach", "--wait", "--wait-timeout", "600")
    try:
        assert built.returncode == 0, built.stdout + built.stderr
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "{ region { code } }"},
            headers={"Host": "chongqing.localhost"},
        )
        assert answer.json()["data"]["region"]["code"] == "500000", answer.text
        uid = run("exec", "-T", "platform", "id", "-u", timeout=60)
        assert uid.stdout.strip() not in ("", "0"), uid
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            logs = run("logs", "scheduler", timeout=60).stdout
            if "scheduler: every" in logs:
                break
            time.sleep(2)
        assert "scheduler: every" in logs, logs[-3000:]
    finally:
        run("down", "--volumes", timeout=300)
        subprocess.run(["docker", "image", "rm", "-f", env["PLATFORM_IMAGE"]], capture_output=True)
