"""The import graph of rdm_core: no circle between modules, and every arrow between packages points down the
layers of the architecture (DESIGN.md), lazy imports inside functions included."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import rdm_core

PACKAGE = Path(rdm_core.__file__).parent
# package -> rank: a module may import packages of lower rank only (and its own package); equal ranks are
# siblings that know nothing of each other (evaluation never sees generators or training).
LAYERS = {"": 0, "io": 0, "optim": 0, "config": 0, "runlog": 0,
          "data": 1, "compare": 1,
          "representation": 2, "toy": 2,
          "reference": 3,
          "generators": 4, "eval": 4,
          "train": 5,
          "report": 6,
          "cli": 7}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str) -> set[str]:
    """The rdm_core modules ``name`` imports anywhere in its file (relative imports resolved)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: imports(name) for name in MODULES}


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_every_package_has_a_layer():
    assert {layer(name) for name in MODULES} <= set(LAYERS), set(map(layer, MODULES)) - set(LAYERS)


def test_no_circle_between_modules():
    assert cycles(GRAPH) == []


def test_no_arrow_runs_back_up():
    upward = defaultdict(list)
    for name, targets in GRAPH.items():
        for target in targets:
            if layer(target) != layer(name) and LAYERS[layer(target)] >= LAYERS[layer(name)]:
                upward[name].append(target)
    assert not upward, dict(upward)


def test_the_checks_see_a_circle_and_an_upward_arrow():
    """The walker itself: a made-up graph with one circle, and the real graph's own edges are found."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert "rdm_core.compare.kernels" in GRAPH["rdm_core.compare.mmd"]
    assert LAYERS["train"] > LAYERS["eval"] and LAYERS["eval"] == LAYERS["generators"]
