"""A throwaway project (config, campaigns, templates, audiences) for driving the real ``hub`` entry point."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from hub.cli import main

ROOT = Path(__file__).resolve().parents[2]


class Project:
    """A project folder with its own ``config.yaml``; ``hub(...)`` runs the CLI against it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "campaigns").mkdir()
        (root / "templates" / "messages").mkdir(parents=True)
        (root / "audiences").mkdir()
        (root / "config.yaml").write_text("phones: {default_region: DE}\n", encoding="utf-8")

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.write_text(text, encoding="utf-8")
        return path

    def hub(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["--config", str(self.root / "config.yaml"), *args], catch_exceptions=False)
