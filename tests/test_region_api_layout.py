"""Issue 15 point 3: the region API is one package per domain, and its modules import
one another without a cycle and without function-local imports to dodge one.

Read from the source (nothing is imported): an import inside a function or method
is what hid the old types ⇄ records ⇄ prefetch ⇄ recognition cycle, so the graph is
built from every import statement, wherever it stands, except under
``if TYPE_CHECKING:`` (never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

REGION = Path(__file__).resolve().parent.parent / "schema" / "region"
DOMAINS = (
    "accounts",
    "volunteers",
    "groups",
    "projects",
    "records",
    "recognition",
    "certificates",
    "interop",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(REGION.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[ast.AST, str]]:
    """(statement, module) for each import of a schema.region module in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []  # never run: not an edge
    found: list[tuple[ast.stmt, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [(node, node.module)] + [(node, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(node, a.name) for a in node.names]
    return [(node, name) for node, name in found if name.startswith("schema.region")]


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in REGION.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        edges = set()
        for _node, imported in _imports(path):
            parts = imported.split(".")
            # importing a.b.c runs a.b's __init__ too
            edges |= {".".join(parts[:i]) for i in range(3, len(parts) + 1)}
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def test_each_domain_is_a_package_with_types_queries_and_mutations():
    for domain in DOMAINS:
        package = REGION / domain
        for module in ("__init__", "types", "queries", "mutations"):
            assert (package / f"{module}.py").is_file(), f"{domain}/{module}.py"
        # a domain's __init__ imports nothing: importing one of its modules pulls no other
        assert not _imports(package / "__init__.py"), domain


def test_the_region_api_imports_without_a_cycle():
    graph = _graph()
    graph["schema.region"] = set()  # the root merges every domain; nothing here imports it
    done, on_path, cycles = set(), [], []

    def visit(name):
        on_path.append(name)
        for dep in sorted(graph[name]):
            if dep in on_path:
                cycles.append(" -> ".join([*on_path[on_path.index(dep) :], dep]))
            elif dep not in done:
                visit(dep)
        on_path.pop()
        done.add(name)

    for name in sorted(graph):
        if name not in done:
            visit(name)
    assert not cycles, cycles


def test_no_function_local_imports_in_the_region_api():
    local = []
    for path in REGION.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(func):
                    if isinstance(node, ast.Import | ast.ImportFrom):
                        local.append(f"{path.relative_to(REGION)}:{node.lineno}")
    assert not local, local
