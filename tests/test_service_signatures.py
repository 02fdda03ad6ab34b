"""Issue 15 point 4: who acts, under which rules and for which region is typed in
the signatures of the platform's services and selectors, so mypy checks what each
caller passes: no ``principal``, ``policy`` or ``region`` parameter left untyped
(an untyped one is ``Any``, and mypy checks nothing that goes through it)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import REPO

TYPED = {"principal", "policy", "region"}
# Services, selectors and permission checks beside their models, the interop side,
# the control side's modules and the API. Not here: management commands, whose
# options come from argparse.
MODULES = sorted(
    {
        *REPO.glob("tenants/*/services.py"),
        *REPO.glob("tenants/*/selectors.py"),
        *REPO.glob("tenants/*/permissions.py"),
        *REPO.glob("schema/*.py"),
        *REPO.glob("interop/*.py"),
        *REPO.glob("central/*.py"),
        *REPO.glob("schema/region/**/*.py"),
    }
)


def untyped(path: Path, root: Path = REPO) -> list[str]:
    """``file:line function(parameter)`` for each untyped parameter named in TYPED."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            for argument in arguments:
                if argument.arg in TYPED and argument.annotation is None:
                    where = path.relative_to(root)
                    found.append(f"{where}:{node.lineno} {node.name}({argument.arg})")
    return found


def test_the_modules_are_found():
    names = {str(path.relative_to(REPO)) for path in MODULES}
    assert {"tenants/records/services.py", "tenants/volunteers/selectors.py"} <= names
    assert {"interop/receipts.py", "central/errors.py", "schema/region/prefetch.py"} <= names
    assert {"tenants/groups/permissions.py", "schema/persisted.py"} <= names


def test_no_service_or_selector_takes_an_untyped_principal_policy_or_region():
    assert [line for path in MODULES for line in untyped(path)] == []


def test_the_check_finds_an_untyped_one(tmp_path):
    module = tmp_path / "services.py"
    module.write_text(
        "def typed(*, principal: object, policy: object) -> None: ...\n"
        "def loose(*, principal, region: object, policy) -> None: ...\n"
    )
    assert untyped(module, tmp_path) == [
        "services.py:2 loose(principal)",
        "services.py:2 loose(policy)",
    ]
