"""The import statements of rdm_core's modules, read from their source (lazy imports inside functions included),
for the tests of the import graph and of the declared dependencies."""

from __future__ import annotations

import ast
from pathlib import Path

import rdm_core

PACKAGE = Path(rdm_core.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported(name: str) -> set[str]:
    """Every dotted name the module ``name`` imports, relative imports resolved; ``from m import x`` gives
    ``m.x`` where that is an rdm_core module, else ``m``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names}
    return found


def project_module(target: str) -> str | None:
    """The rdm_core module a dotted import name lies in (None outside the project)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None
