"""Shared fixtures: settings, and the real-infrastructure switches (skip locally, fail in CI)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent

# Database fixtures (postgres_url, pg_url, pg_settings, db_settings); tests/ is on sys.path (rootdir conftest).
pytest_plugins = ["db_fixtures"]


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Build Settings from a config dict written to a temp ``config.yaml`` (no environment leaks in)."""

    def make(config: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Settings:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config or {}), encoding="utf-8")
        return load_settings(path, env=env or {})

    return make


def _infra(var: str) -> str:
    url = os.environ.get(var)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{var} is not set: CI must run the integration tests against real servers")
        pytest.skip(f"{var} not set (integration test against a real server)")
    return url


@pytest.fixture
def redis_url() -> str:
    """URL of a real Redis for integration tests (``HUB_TEST_REDIS_URL``)."""
    return _infra("HUB_TEST_REDIS_URL")
