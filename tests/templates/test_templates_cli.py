"""hub templates list | sync | show, against the fake Content API."""

from __future__ import annotations

from pathlib import Path

from template_support import fail_next, hub, set_approval

from hub.config import Settings
from hub.faketwilio import FakeTwilioHandle
from hub.transport.content import ContentClient


def _twilio_template(settings: Settings, name: str, body: str = "Hi {{1}}") -> str:
    client = ContentClient(settings)
    try:
        return client.create(friendly_name=name, language="en", body=body, variables={"1": "Ada"}).sid
    finally:
        client.close()


def test_sync_pulls_every_template_and_status(settings: Settings, config_path: Path, fake: FakeTwilioHandle) -> None:
    approved = _twilio_template(settings, "order_ready")
    paused = _twilio_template(settings, "spring_sale")
    set_approval(fake, approved, "approved")
    set_approval(fake, paused, "paused", "low quality")
    result = hub(config_path, "templates", "sync")
    assert result.exit_code == 0, result.output
    assert "synced 2 templates" in result.output
    listed = hub(config_path, "templates", "list").output
    assert "order_ready" in listed and "approved" in listed
    assert "spring_sale" in listed and "paused" in listed


def test_show_prints_variables_status_and_reason(settings: Settings, config_path: Path, fake: FakeTwilioHandle) -> None:
    sid = _twilio_template(settings, "spring_sale", body="Hi {{1}}, use code {{2}}")
    set_approval(fake, sid, "rejected", "promotional")
    hub(config_path, "templates", "sync")
    result = hub(config_path, "templates", "show", "spring_sale")
    assert result.exit_code == 0
    assert f"sid:       {sid}" in result.output
    assert "status:    rejected" in result.output
    assert "reason:    promotional" in result.output
    assert "variables: 1, 2" in result.output


def test_show_unknown_template_exits_1(settings: Settings, config_path: Path) -> None:
    result = hub(config_path, "templates", "show", "nothing_here")
    assert result.exit_code == 1


def test_list_of_an_empty_registry_says_how_to_fill_it(settings: Settings, config_path: Path) -> None:
    assert "hub templates sync" in hub(config_path, "templates", "list").output


def test_sync_reports_twilio_failure_and_exits_1(settings: Settings, config_path: Path, fake: FakeTwilioHandle) -> None:
    fail_next(fake, 500, 20500, "Internal Server Error")
    result = hub(config_path, "templates", "sync")
    assert result.exit_code == 1
    assert "Internal Server Error (Twilio 20500)" in result.output
