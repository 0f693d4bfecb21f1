"""The store is the bottom of the house: it imports nothing above it, and no cycle.

Walks every module under relay/store with ``ast`` (imports inside functions included,
since a function-level import is how a cycle hides) and checks the rules the package's
docstring states (relay/store/__init__.py).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

STORE = Path(__file__).resolve().parents[2] / "relay" / "store"

FORBIDDEN = ("relay.smtp", "relay.runners", "relay.cli", "relay.salesforce", "relay.matching")
"""The layers above the store: the store never reaches up into them."""

ALLOWED = ("relay.envelope", "relay.errors", "relay.logs")
"""The only relay modules outside the package the store may import."""


def module_name(path: Path) -> str:
    parts = path.relative_to(STORE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def store_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(STORE.rglob("*.py"))}


def imported_names(path: Path, package: str) -> Iterator[tuple[str, int]]:
    """Every module name an import statement anywhere in the file names, with its line;
    ``from X import y`` yields ``X.y`` too, since ``y`` may be a submodule."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def store_edges() -> dict[str, set[str]]:
    """module -> the relay.store modules it imports (the package itself when a name is
    imported from ``relay.store``'s ``__init__``)."""
    modules = store_modules()
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for imported, _ in imported_names(path, package_of(name, path)):
            if imported in modules and imported != name:
                edges[name].add(imported)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that returns to its start, or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(edges[node]):
            cycle = visit(target)
            if cycle is not None:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in sorted(edges):
        cycle = visit(start)
        if cycle is not None:
            return cycle
    return None


QUEUE_PARTS = (
    "relay.store.intake",
    "relay.store.queue_reads",
    "relay.store.claims",
    "relay.store.state_changes",
    "relay.store.readiness",
)
"""The queue's parts (relay/store/sql_store.py): what they share, SqlStore holds."""


def test_the_walk_sees_the_store_modules() -> None:
    edges = store_edges()
    assert "relay.store.sql_store" in edges
    assert "relay.store.ledger" in edges["relay.store.sql_store"]
    assert "relay.store.history" in edges["relay.store.ledger"]
    assert set(QUEUE_PARTS) <= edges["relay.store.sql_store"]


def test_the_queue_parts_import_neither_each_other_nor_the_store_that_joins_them() -> None:
    # One idea per module: a part that needs another's method declares it (an
    # annotation) and SqlStore provides it, so no part grows a chain of imports.
    edges = store_edges()
    found = {
        f"{part} imports {imported}"
        for part in QUEUE_PARTS
        for imported in edges[part]
        if imported in {*QUEUE_PARTS, "relay.store.sql_store", "relay.store"}
    }
    assert found == set()


def test_no_store_module_imports_a_layer_above_the_store() -> None:
    found = [
        f"{module}:{line} imports {imported}"
        for module, path in store_modules().items()
        for imported, line in imported_names(path, package_of(module, path))
        if any(imported == layer or imported.startswith(layer + ".") for layer in FORBIDDEN)
    ]
    assert found == []


def test_the_store_imports_only_what_its_package_docstring_allows() -> None:
    allowed = ("relay.store", *ALLOWED)
    found = [
        f"{module}:{line} imports {imported}"
        for module, path in store_modules().items()
        for imported, line in imported_names(path, package_of(module, path))
        if (imported == "relay" or imported.startswith("relay."))
        and not any(imported == name or imported.startswith(name + ".") for name in allowed)
    ]
    assert found == []


def test_no_import_cycle_between_store_modules() -> None:
    # The package's __init__ imports sql_store (open_store builds one); a module below it
    # importing the package back would close a cycle, so the package takes part too.
    assert find_cycle(store_edges()) is None


def test_the_cycle_finder_reports_a_function_level_cycle(tmp_path: Path) -> None:
    # What the walk saw in the old ledger: a function body importing its own subclass's
    # module. Proves that imports inside functions count and that a cycle is reported.
    source = "def finish():\n    from relay.store.sql_store import helper\n"
    path = tmp_path / "ledger.py"
    path.write_text(source, encoding="utf-8")
    names = {name for name, _ in imported_names(path, "relay.store")}
    assert "relay.store.sql_store" in names
    edges = {
        "relay.store.ledger": {"relay.store.sql_store"},
        "relay.store.sql_store": {"relay.store.ledger"},
    }
    assert find_cycle(edges) == [
        "relay.store.ledger",
        "relay.store.sql_store",
        "relay.store.ledger",
    ]
