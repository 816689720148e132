"""Import boundaries, read from the source with `ast` (every import counts: module level, inside functions,
under TYPE_CHECKING; relative imports resolved; `importlib.import_module("...")` with a literal name too):

- the core (`worldsim/`) never imports a built-in plugin (`plugins.*`);
- a plugin package (`plugins/<a>/`) never imports another one (`plugins.<b>`, b != a): shared code lives
  in the core, other plugins' stages are reached through the registry;
- the core's modules import each other without a cycle. Edges: `import worldsim.x` -> worldsim.x;
  `from worldsim.x import y` -> worldsim.x.y when that is a module, else worldsim.x.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, tuple[str, ...], int]]:
    """(imported module, names imported from it, line) for every import in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, tuple(a.name for a in node.names), node.lineno))
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__")))):
            found.append((node.args[0].value, (), node.lineno))
    return found


def sources(top: str) -> list[Path]:
    return sorted(p for p in (ROOT / top).rglob("*.py") if "__pycache__" not in p.parts)


def imported_plugins(target: str, names: tuple[str, ...]) -> set[str]:
    """The plugin packages an import names: plugins.<a>... or `from plugins import <a>`."""
    if target == "plugins":
        return set(names)
    if target.startswith("plugins."):
        return {target.split(".")[1]}
    return set()


def test_the_core_never_imports_a_plugin():
    bad = [f"{p.relative_to(ROOT)}:{line}: {target}{' import ' + ', '.join(names) if names else ''}"
           for p in sources("worldsim") for target, names, line in imports(p)
           if target == "plugins" or target.startswith("plugins.")]
    assert not bad, "worldsim/ imports built-in plugins (move the shared code into the core):\n" + "\n".join(bad)


def test_no_plugin_imports_another_plugin():
    bad = []
    for p in sources("plugins"):
        parts = p.relative_to(ROOT / "plugins").parts
        if len(parts) < 2:  # plugins/__init__.py
            continue
        own = parts[0]
        for target, names, line in imports(p):
            others = imported_plugins(target, names) - {own}
            if others:
                bad.append(f"{p.relative_to(ROOT)}:{line}: {target} ({', '.join(sorted(others))})")
    assert not bad, "plugins import other plugins (use the core, or the registry for stages):\n" + "\n".join(bad)


def core_graph() -> dict[str, set[str]]:
    files = sources("worldsim")
    modules = {module_name(p) for p in files}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for p in files:
        source = module_name(p)
        for target, names, _ in imports(p):
            if not (target == "worldsim" or target.startswith("worldsim.")):
                continue
            targets = [f"{target}.{n}" if f"{target}.{n}" in modules else target for n in names] or [target]
            for t in targets:
                while t not in modules and "." in t:  # `import worldsim.x.y` of a name that is not a file
                    t = t.rpartition(".")[0]
                if t != source:
                    graph[source].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle per strongly connected component with more than one module (Tarjan, then BFS)."""
    index, low, stack, on_stack, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v):  # recursion depth is bounded by the number of core modules
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.add(w)
                if w == v:
                    break
            if len(scc) > 1:
                sccs.append(scc)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    found = []
    for scc in sccs:
        start = min(scc)
        parent, frontier = {start: None}, [start]
        while frontier and start not in [w for v in frontier for w in graph[v]]:
            nxt = []
            for v in frontier:
                for w in sorted(graph[v] & scc):
                    if w not in parent:
                        parent[w] = v
                        nxt.append(w)
            frontier = nxt
        last = next(v for v in frontier if start in graph[v])
        path = [last]
        while parent[path[-1]] is not None:
            path.append(parent[path[-1]])
        found.append(list(reversed(path)) + [start])
    return found


def test_cycles_finds_a_cycle_and_nothing_else():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_core_has_no_import_cycle():
    found = cycles(core_graph())
    assert not found, "import cycles among worldsim modules:\n" + "\n".join(" -> ".join(c) for c in found)
