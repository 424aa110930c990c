"""Test modules import shared helpers by a unique module name, never ``from conftest``."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
#: ``conftest`` in sys.modules is whichever folder's conftest pytest loaded last (`pytest tests/run tests/api`
#: loads tests/api's after tests/run's), so importing helpers from it depends on the command line.
_CONFTEST_IMPORT = re.compile(r"^\s*(from\s+conftest\s+import|import\s+conftest\b)", re.MULTILINE)


def test_no_test_module_imports_helpers_from_conftest() -> None:
    offenders = [
        str(path.relative_to(TESTS))
        for path in sorted(TESTS.rglob("*.py"))
        if _CONFTEST_IMPORT.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
