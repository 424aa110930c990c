"""Embedded Redis lives inside one process: every role but `hub run` refuses it, naming the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main


@pytest.mark.parametrize("role", ["api", "scheduler", "worker"])
def test_separate_roles_refuse_embedded_redis(tmp_path: Path, role: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("redis: {url: embedded}\n", encoding="utf-8")
    result = CliRunner(env={"REDIS_URL": ""}).invoke(main, ["--config", str(config), role])
    assert result.exit_code == 2
    assert "embedded Redis only works in `hub run`" in result.output
    assert "REDIS_URL" in result.output
