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


# --- central/compat.py: the private parts, checked at start-up ----------------------


def test_compat_knows_the_same_ranges_as_pyproject_and_finds_nothing_wrong():
    from central import compat

    declared = _requirements()
    for name, (lowest, below) in compat.PINNED.items():
        specifier = declared[canonicalize_name(name)].specifier
        dotted = {".".join(map(str, lowest)), ".".join(map(str, below))}
        assert {spec.version for spec in specifier} == dotted, (name, specifier)
    assert set(map(canonicalize_name, compat.PINNED)) <= set(map(canonicalize_name, INTERNALS_USED))
    assert compat.problems() == []


def test_a_library_outside_its_range_or_with_changed_internals_stops_start_up(monkeypatch):
    """``manage.py check`` (and so ``up``) refuses to start with platform.E001 rather
    than fail or fall back to the slow path at request time."""
    from django.core import checks

    from central import compat

    assert compat.private_parts in checks.registry.registry.get_checks()
    monkeypatch.setitem(compat.PINNED, "graphql-core", ((3, 2), (3, 3)))
    errors = compat.private_parts()
    assert [e.id for e in errors] == ["platform.E001"]
    assert "graphql-core 3.3" in errors[0].msg and "outside 3.2 – <3.3" in errors[0].msg

    def moved(schema):
        raise AttributeError("'Schema' object has no attribute '_schema'")

    monkeypatch.setattr(compat, "graphql_schema", moved)
    messages = [e.msg for e in compat.private_parts()]
    assert any("strawberry's internals changed" in m and "_schema" in m for m in messages)


def test_private_parts_of_libraries_are_reached_only_through_compat():
    """The attributes compat.py wraps are not read anywhere else (issue 15 point 1)."""
    wrapped = re.compile(
        r"\.(_schema|_exception_handler_specs|_has_table|wrapped_func|self_parameter)\b"
    )
    offenders = []
    for package in ("central", "schema", "tenants", "interop"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path.name == "compat.py" or "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if wrapped.search(line) and not line.lstrip().startswith("#"):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == [], "\n".join(offenders)
