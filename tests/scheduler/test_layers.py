"""The scheduler is a lower layer than the actors: it is handed what it sets in motion and never imports them,
not even inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import scheduler


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_scheduler_module_imports_the_actors() -> None:
    found = {
        path.name: sorted(name for name in _imported(path) if name == "actors" or name.startswith("actors."))
        for path in sorted(Path(scheduler.__path__[0]).glob("*.py"))
    }
    assert {name: imports for name, imports in found.items() if imports} == {}
