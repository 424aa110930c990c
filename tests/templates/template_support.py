"""Helpers shared by the template tests (imported by name: test folders are not packages)."""

from __future__ import annotations

from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml
from click.testing import CliRunner, Result

from hub.config import Settings, load_settings
from hub.faketwilio import FakeTwilioHandle
from hub.store import db

T = TypeVar("T")

API_KEY = "templates-test-key"
SENDER = "whatsapp:+14155238886"


def write_config(root: Path, fake: FakeTwilioHandle | None, *, database: str | None = None) -> Path:
    """A project config in ``root``: the ledger at ``database`` (default: embedded), Twilio pointed at ``fake``."""
    config: dict[str, Any] = {"api": {"keys": [API_KEY]}, "phones": {"default_region": "US"}}
    if database:
        config["database"] = {"url": database}
    if fake is not None:
        config["twilio"] = {
            "account_sid": fake.account_sid,
            "auth_token": fake.auth_token,
            "from": SENDER,
            "api_base_url": fake.base_url,
        }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    for folder in ("campaigns", "templates/messages"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    return path


def settings_for(path: Path) -> Settings:
    return load_settings(path, env={})


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Await a store call from a test (on the store's own background loop)."""
    return db.run_sync(coro)


def set_approval(fake: FakeTwilioHandle, sid: str, status: str, reason: str = "") -> None:
    """Cue the fake: the template's WhatsApp approval is ``status`` now."""
    answer = httpx.post(
        f"{fake.base_url}/_fake/content/{sid}/approval", json={"status": status, "rejection_reason": reason}
    )
    answer.raise_for_status()


def fail_next(fake: FakeTwilioHandle, status: int, code: int, message: str = "fake failure") -> None:
    """Cue the fake: the next Content API call fails with ``status`` / ``code``."""
    httpx.post(f"{fake.base_url}/_fake/content/fail", json={"status": status, "code": code, "message": message})


def campaign_yaml(name: str, content_sid: str, variables: dict[str, str], phone: str = "+14155550100") -> str:
    lines = [f"name: {name}", f"content_sid: {content_sid}", "content_variables:"]
    lines += [f'  "{key}": "{value}"' for key, value in variables.items()]
    lines += ["audience:", "  recipients:", f'    - {{phone: "{phone}", first_name: Ada}}']
    return "\n".join(lines) + "\n"


def hub(config: Path, *args: str) -> Result:
    from hub.cli import main

    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)
