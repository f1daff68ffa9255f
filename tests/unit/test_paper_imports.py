"""The `paper` extra of pyproject.toml (which environment.yml installs) declares every module the paper battery
imports: the modules its code imports (read from the source, lazy imports inside loaders included, through the
package's own modules) and those its specs name as imported by remote model code. Needs none of them installed."""

import ast
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from rdm_core.representation.paper import SPECS
from rdm_core.representation.spec import LOADERS, get_spec

ROOT = Path(__file__).parents[2]
DISTRIBUTIONS = {"open_clip": "open-clip-torch"}  # import names that differ from their distribution's name


def imported_modules(module: str) -> set[str]:
    """Top-level third-party modules imported by ``module`` and the project modules it imports, transitively."""
    seen, todo, found = set(), [module], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = ROOT / Path(*name.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        package = name.rsplit(".", 1)[0] if path.name != "__init__.py" else name
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                names = [base]
            else:
                continue
            for n in names:
                if n.split(".")[0] == "rdm_core":
                    is_module = (ROOT / Path(*n.split("."))).with_suffix(".py").exists()
                    todo.append(n if is_module else n.rsplit(".", 1)[0])
                elif n.split(".")[0] not in sys.stdlib_module_names and n != "__future__":
                    found.add(n.split(".")[0])
    return found


def declared(*groups: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [r for g in groups for r in project["optional-dependencies"][g]]
    return {Requirement(r).name.lower().replace("_", "-") for r in reqs}


def distribution(module: str) -> str:
    return DISTRIBUTIONS.get(module, module).lower().replace("_", "-")


def test_the_paper_extra_declares_every_module_the_battery_imports():
    modules = imported_modules("rdm_core.representation.paper")
    modules |= {m for spec in SPECS for m in spec.options.get("imports", ())}
    assert {"timm", "transformers", "diffusers", "dreamsim", "einops", "torchvision"} <= modules  # the scan works
    undeclared = sorted(m for m in modules if distribution(m) not in declared("paper"))
    assert not undeclared, f"the paper battery imports {undeclared}, which pyproject's `paper` extra does not declare"


def test_environment_yml_installs_the_paper_extra():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-e .[paper]" in pip


def test_remote_code_imports_are_checked_before_loading(monkeypatch):
    monkeypatch.setitem(sys.modules, "einops", None)  # as if not installed
    with pytest.raises(ImportError, match=r"cradiov3_l.*\['einops'\].*\.\[paper\]"):
        LOADERS["hf_remote_summary"](get_spec("cradiov3_l"), "/nonexistent")
