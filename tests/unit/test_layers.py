"""Layers import downwards only: hub/ is the domain, the scheduler and the actors are edges beside each other,
handed what they call by the process that wires them (hub/runner, hub/cli). Checked on the source, function-level
imports included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Where hub/ wires processes (or reads a worker's queues) and so may import the edges.
HUB_EDGES = ("hub/cli/", "hub/runner/", "hub/api/metrics.py")


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offences(package: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(allowed):
            continue
        bad = sorted(n for n in _imported(path) if any(n == f or n.startswith(f + ".") for f in forbidden))
        if bad:
            found[relative] = bad
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("scheduler", ("actors",)), ("actors", ("scheduler",))],
    ids=["scheduler-never-imports-actors", "actors-never-import-the-scheduler"],
)
def test_the_edges_never_import_each_other(package: str, forbidden: tuple[str, ...]) -> None:
    assert _offences(package, forbidden) == {}


def test_the_domain_imports_no_edge_outside_the_process_wiring() -> None:
    assert _offences("hub", ("actors", "scheduler"), allowed=HUB_EDGES) == {}


def test_the_check_sees_function_level_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from scheduler.main import Hooks\n", encoding="utf-8")
    assert _imported(module) == {"scheduler.main"}
