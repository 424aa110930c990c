"""Settings whose project root holds the fixture templates, audiences and campaigns."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.config import PathSettings, Settings

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _settings(root: Path) -> Settings:
    return Settings(root=root, paths=PathSettings(campaigns=root / "campaigns", templates=root / "templates"))


@pytest.fixture
def settings() -> Settings:
    """Rooted at tests/campaigns/fixtures: three valid campaigns, a template, audiences."""
    return _settings(FIXTURES)


@pytest.fixture
def project(tmp_path: Path) -> Settings:
    """A writable copy of the fixture project with an empty ``campaigns/`` folder (root = ``settings.root``)."""
    shutil.copytree(FIXTURES / "templates", tmp_path / "templates")
    shutil.copytree(FIXTURES / "audiences", tmp_path / "audiences")
    (tmp_path / "campaigns").mkdir()
    return _settings(tmp_path)
