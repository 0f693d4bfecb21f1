"""The import rules of relay/, read from the source with ``ast`` (nothing is imported).

1. No import cycle between modules. Only imports that run when a module is loaded count
   (module level, including under ``if``/``try``, but not under ``if TYPE_CHECKING:``, which
   never runs). Imports inside functions run later and may close a loop on purpose (to
   break a load-time cycle); those loops are listed by an informational test that never
   fails, so a reader sees them.
2. The local org is a world of its own: ``relay/localorg`` imports nothing of Relay's but
   ``relay.config`` and ``relay.logs``, and only ``relay/cli`` (which starts it) imports
   ``relay.localorg`` -- at any depth, function-level imports included. The Salesforce
   adapter reaches the org over HTTPS, like any org (docs/design.md §7).
3. The SMTP edge and the delivery loops meet only in what they share: ``relay/runners``
   never imports ``relay.smtp`` (nor ``relay.daemon`` or ``relay.cli``, which start
   it), ``relay/smtp`` never imports ``relay.runners`` nor ``relay.delivery``, and
   ``relay/reps`` (the reps and their snapshot, read by both) imports neither, nor
   ``relay.cli`` -- at any depth, function-level imports included.
4. The delivery steps are below their loop: ``relay/delivery`` never imports
   ``relay.smtp``, ``relay.runners``, ``relay.daemon`` or ``relay.cli`` (as in rule 3).
5. Loading the runners or the delivery steps loads neither the daemon nor the SMTP edge,
   through any chain of modules: the closure of the imports that run at load time (a
   module's parent packages included, as Python loads them first) from ``relay/runners``
   never reaches the modules rule 3 forbids it, from ``relay/delivery`` those of rule 4,
   and from ``relay/smtp`` neither ``relay.delivery`` nor ``relay.runners``.
   (``relay.config`` checks SMTP password hashes with an import inside a function: the
   configuration, below every package, stays out of these loops.)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

RELAY = Path(__file__).resolve().parent.parent / "relay"

LOCALORG = "relay.localorg"
LOCALORG_MAY_IMPORT = ("relay.config", "relay.logs", LOCALORG)
LOCALORG_IMPORTED_ONLY_BY = ("relay.cli", LOCALORG)

SMTP, RUNNERS, REPS, CLI = "relay.smtp", "relay.runners", "relay.reps", "relay.cli"
DELIVERY, DAEMON = "relay.delivery", "relay.daemon"
NEVER_IMPORTS: dict[str, tuple[str, ...]] = {
    RUNNERS: (SMTP, DAEMON, CLI),
    SMTP: (RUNNERS, DELIVERY),
    REPS: (SMTP, RUNNERS, CLI),
    DELIVERY: (SMTP, RUNNERS, DAEMON, CLI),
}
STORE, SALESFORCE = "relay.store", "relay.salesforce"
SUPERVISOR, SERVE = "relay.supervisor", "relay.cli.serve"
NEVER_LOADS: dict[str, tuple[str, ...]] = {
    RUNNERS: (SMTP, DAEMON, CLI),
    DELIVERY: (SMTP, RUNNERS, DAEMON, CLI),
    SMTP: (DELIVERY, RUNNERS),
    # The supervisor process only starts and watches children (docs/design.md §2): the
    # daemon, the store and the Salesforce client load in the children, never in it
    # (about 50 MiB of RSS saved, docs/benchmarks.md).
    SUPERVISOR: (DAEMON, STORE, SMTP, SALESFORCE, RUNNERS, DELIVERY),
    SERVE: (DAEMON, STORE, SALESFORCE, RUNNERS, DELIVERY),
}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. "relay.cli.org"
    target: str  # the imported module, e.g. "relay.localorg.runner"
    line: int
    at_load: bool  # runs when ``source`` is loaded (not in a function, not TYPE_CHECKING)


def _module_name(path: Path) -> str:
    parts = path.relative_to(RELAY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(RELAY.rglob("*.py"))}


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(source: str, node: ast.ImportFrom) -> str:
    """The module a ``from`` import names, relative imports resolved against ``source``."""
    if not node.level:
        return node.module or ""
    is_package = MODULES[source].name == "__init__.py"
    base = source.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(source: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            # ``import relay.a.b`` loads relay.a.b (the deepest module named).
            if alias.name.startswith("relay"):
                yield alias.name
        return
    module = _absolute(source, node)
    if not _within(module, ("relay",)):
        return
    for alias in node.names:
        # ``from relay.a import b`` imports the submodule relay.a.b when there is one,
        # else the name b from relay.a.
        submodule = f"{module}.{alias.name}"
        yield submodule if submodule in MODULES else module


def _walk(source: str, body: list[ast.stmt], at_load: bool) -> Iterator[Import]:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in _targets(source, node):
                yield Import(source, target, node.lineno, at_load)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _walk(source, node.body, at_load=False)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _walk(source, node.body, at_load=False)
            yield from _walk(source, node.orelse, at_load)
        else:
            # Class bodies, if/else, try/except/finally, with, loops: all run at load
            # when they are at module level.
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    stmts = [c for c in children if isinstance(c, ast.stmt)]
                    yield from _walk(source, stmts, at_load)
                    for handler in children:
                        if isinstance(handler, ast.ExceptHandler):
                            yield from _walk(source, handler.body, at_load)


def _imports() -> list[Import]:
    found: list[Import] = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found.extend(i for i in _walk(name, tree.body, at_load=True) if i.target != name)
    return found


IMPORTS = _imports()


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each shown as
    one concrete loop through it, so a failure names the modules to untangle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [_loop_through(component, edges) for component in components]


def _loop_through(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """A shortest loop from the component's first module back to itself (breadth first)."""
    start, members = component[0], set(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in sorted(edges.get(node, set()) & members):
                if nxt == start:
                    loop = [node]
                    while loop[-1] != start:
                        loop.append(previous[loop[-1]])
                    return [start, *reversed(loop[:-1]), start]
                if nxt not in previous:
                    previous[nxt] = node
                    following.append(nxt)
        frontier = following
    return component


def _edges(imports: list[Import]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for found in imports:
        if found.target in MODULES:
            edges.setdefault(found.source, set()).add(found.target)
    return edges


def test_the_walk_sees_relay() -> None:
    """Guards the guard: the walk finds modules and their imports, or every rule would pass."""
    assert "relay.localorg.server" in MODULES
    assert "relay.cli.org" in MODULES
    assert any(i.source == "relay.cli.org" and _within(i.target, (LOCALORG,)) for i in IMPORTS)
    assert "relay.reps.snapshot" in MODULES
    assert any(i.source == "relay.smtp.senders" and _within(i.target, (REPS,)) for i in IMPORTS)
    assert any(i.source.startswith(RUNNERS) and _within(i.target, (REPS,)) for i in IMPORTS)
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_cycle_at_load_time() -> None:
    cycles = _cycles(_edges([i for i in IMPORTS if i.at_load]))
    assert not cycles, "import cycles at load time:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_cycles_closed_inside_functions_are_listed() -> None:
    """Informational: loops that exist only through imports inside functions (deferred to
    break a load-time cycle). Printed with ``-s`` (or ``-rP``); never fails on them."""
    cycles = _cycles(_edges(IMPORTS))
    for cycle in cycles:
        print("cycle through a function-level import: " + " -> ".join(cycle))
    assert all(cycle[0] == cycle[-1] for cycle in cycles)


def test_the_local_org_imports_only_config_and_logs() -> None:
    stray = [
        f"{i.source}:{i.line} imports {i.target}"
        for i in IMPORTS
        if _within(i.source, (LOCALORG,)) and not _within(i.target, LOCALORG_MAY_IMPORT)
    ]
    assert not stray, "\n".join(stray)


def test_only_the_cli_imports_the_local_org() -> None:
    stray = [
        f"{i.source}:{i.line} imports {i.target}"
        for i in IMPORTS
        if _within(i.target, (LOCALORG,)) and not _within(i.source, LOCALORG_IMPORTED_ONLY_BY)
    ]
    assert not stray, "\n".join(stray)


def _stray(source: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{i.source}:{i.line} imports {i.target}"
        for i in IMPORTS
        if _within(i.source, (source,)) and _within(i.target, forbidden)
    ]


def test_the_runners_never_import_the_smtp_edge_the_daemon_or_the_cli() -> None:
    stray = _stray(RUNNERS, NEVER_IMPORTS[RUNNERS])
    assert not stray, "\n".join(stray)


def test_the_smtp_edge_never_imports_the_runners() -> None:
    stray = _stray(SMTP, NEVER_IMPORTS[SMTP])
    assert not stray, "\n".join(stray)


def test_the_reps_import_neither_the_edge_nor_the_runners_nor_the_cli() -> None:
    stray = _stray(REPS, NEVER_IMPORTS[REPS])
    assert not stray, "\n".join(stray)


def test_the_delivery_steps_import_no_loop_edge_daemon_or_cli() -> None:
    stray = _stray(DELIVERY, NEVER_IMPORTS[DELIVERY])
    assert not stray, "\n".join(stray)


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [p for i in range(1, len(parts)) if (p := ".".join(parts[:i])) in MODULES]


def _loaded_by(source: str, edges: dict[str, set[str]]) -> dict[str, str | None]:
    """Every module loading ``source``'s modules loads, each with the module that
    imports it (None for a module of ``source`` itself), breadth first."""
    start = [m for m in MODULES if _within(m, (source,))]
    via: dict[str, str | None] = dict.fromkeys(start)
    frontier = start
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in [*sorted(edges.get(node, ())), *_parents(node)]:
                if nxt not in via:
                    via[nxt] = node
                    following.append(nxt)
        frontier = following
    return via


def _chains(source: str, forbidden: tuple[str, ...], edges: dict[str, set[str]]) -> list[str]:
    via = _loaded_by(source, edges)
    chains = []
    for module in sorted(m for m in via if _within(m, forbidden)):
        chain = [module]
        while (previous := via[chain[-1]]) is not None:
            chain.append(previous)
        chains.append(" <- ".join(chain))
    return chains


LOAD_EDGES = _edges([i for i in IMPORTS if i.at_load])


def test_the_closure_finds_a_chain() -> None:
    """Guards the guard: the closure follows chains and parent packages."""
    assert _chains("relay.cli.serve_children", (DAEMON,), LOAD_EDGES)
    assert "relay.runners" in _loaded_by(DAEMON, LOAD_EDGES)  # the parent of runners.context
    assert any(c.startswith("relay.smtp") for c in _chains(DAEMON, (SMTP,), LOAD_EDGES))


def test_loading_the_runners_or_the_steps_never_loads_the_daemon_or_the_edge() -> None:
    stray = [
        chain
        for source, forbidden in NEVER_LOADS.items()
        for chain in _chains(source, forbidden, LOAD_EDGES)
    ]
    assert not stray, "loaded through:\n" + "\n".join(stray)
