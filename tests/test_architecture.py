"""The layering the package promises: a core that knows no command line, and no circle
closed by assigning another module's names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "convcalc"
CORE = sorted([*PACKAGE.glob("*.py"), *(PACKAGE / "layers").glob("*.py")])
"""The modules usable without the command line: the package's top level and its layers."""


def _imports(path: Path) -> set[str]:
    """Return every module ``path`` imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", [p for p in CORE if p.name != "__main__.py"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_imports_no_command_line(path: Path) -> None:
    """No core module imports typer, rich or convcalc.cli."""
    cli = {name for name in _imports(path)
           if name.split(".")[0] in ("typer", "rich") or name.startswith("convcalc.cli")}
    assert not cli, f"{path.relative_to(ROOT)} imports {sorted(cli)}"


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_assigns_into_another(path: Path) -> None:
    """No core module sets a name on a module it imported (``module.Name = value``)."""
    tree = ast.parse(path.read_text())
    modules = {alias.asname or alias.name for node in ast.walk(tree)
               if isinstance(node, ast.Import | ast.ImportFrom) for alias in node.names}
    assigned = [ast.unparse(target) for node in ast.walk(tree) if isinstance(node, ast.Assign)
                for target in node.targets
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                and target.value.id in modules]
    assert not assigned, f"{path.relative_to(ROOT)} assigns {assigned}"


def test_core_errors_name_no_flags() -> None:
    """convcalc.solve's messages name its parameters, never a command-line flag."""
    text = (PACKAGE / "solve.py").read_text()
    strings = [node.value for node in ast.walk(ast.parse(text))
               if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    flagged = [s for s in strings if " --" in f" {s}" and "``--" not in s]
    assert not flagged, flagged
