"""Fixtures for CLI tests: a throwaway project, and the repository's own examples."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cli_project import ROOT, Project
from click.testing import CliRunner, Result

from hub.cli import main


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


@pytest.fixture
def hub_in_repo() -> Callable[..., Result]:
    """Run the CLI against the repository's own config and example campaigns."""

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, ["--config", str(ROOT / "config.yaml"), *args], catch_exceptions=False)

    return run
