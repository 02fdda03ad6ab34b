"""Issue 15 point 1, issue 13 point 6: upper bounds on the libraries whose
internals the code uses, and lock files that agree with ``pyproject.toml`` and
that the README's two commands and ``.ci/run`` install from."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support import REPO

# schema/compiled.py, schema/views.py, central/middleware.py, central/database.py
# reach into these; a release outside the bounds may break them silently.
INTERNALS_USED = ["django", "django-tenants", "strawberry-graphql", "graphql-core", "cross-web"]


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _requirements(extra: str | None = None) -> dict[str, Requirement]:
    project = _project()
    declared = project["dependencies"] + (project["optional-dependencies"][extra] if extra else [])
    return {canonicalize_name(r.name): r for r in map(Requirement, declared)}


def _locked(name: str) -> dict[str, str]:
    """``name==version`` lines of a lock file (their hashes follow on indented lines)."""
    text = (REPO / name).read_text()
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", text, re.M)
    return {canonicalize_name(package): pinned for package, pinned in pins}


def test_libraries_whose_internals_are_used_have_upper_bounds_and_are_installed_within_them():
    declared = _requirements()
    for name in INTERNALS_USED:
        requirement = declared[canonicalize_name(name)]
        assert any(spec.operator in ("<", "<=", "==", "~=") for spec in requirement.specifier), (
            f"{name} has no upper bound: {requirement}"
        )
        installed = version(name)
        assert requirement.specifier.contains(installed, prereleases=True), (
            f"{name} {installed} is installed, outside {requirement.specifier}"
        )
        assert _locked("requirements.lock")[canonicalize_name(name)] == installed


def test_every_declared_dependency_is_locked_within_its_specifier():
    for lock, extra in (("requirements.lock", None), ("requirements-dev.lock", "dev")):
        locked = _locked(lock)
        for name, requirement in _requirements(extra).items():
            assert name in locked, f"{name} is in pyproject.toml but not in {lock}"
            assert requirement.specifier.contains(locked[name], prereleases=True), (
                f"{lock} has {name}=={locked[name]}, outside {requirement.specifier}"
            )


def test_the_two_lock_files_agree_and_carry_hashes():
    runtime, dev = _locked("requirements.lock"), _locked("requirements-dev.lock")
    assert runtime and set(runtime) <= set(dev)
    assert {name: dev[name] for name in runtime} == runtime
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (REPO / lock).read_text()
        assert text.count("--hash=sha256:") >= len(_locked(lock)), f"{lock} lacks hashes"


def test_the_installed_environment_is_the_locked_one():
    """What the tests run against is what the lock says (the install command used it)."""
    different = {
        name: (pinned, version(name))
        for name, pinned in _locked("requirements-dev.lock").items()
        if version(name) != pinned
    }
    assert not different, different


def test_readme_and_ci_install_from_the_lock_files():
    readme = (REPO / "README.md").read_text()
    installs = re.findall(r"^python3 -m venv \.venv && .*$", readme, re.M)
    # Every install line the README shows (the walkthrough's too) goes through a lock.
    assert installs and all("--require-hashes -r requirements" in line for line in installs)
    [run] = [line for line in installs if "manage.py up" in line]
    [test] = [line for line in installs if ".venv/bin/pytest" in line]
    assert "--require-hashes -r requirements.lock" in run
    assert "--require-hashes -r requirements-dev.lock" in test and ".venv/bin/pytest" in test
    ci = (REPO / ".ci" / "run").read_text()
    assert test in ci  # .ci/run runs exactly the README's test command
