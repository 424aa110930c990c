"""hub check / hub render hold a campaign's content template to the send path's rules: approved only (one the
registry does not hold as approved is looked up at Twilio when it is configured), content_variables that fit, and
text within 1,024 characters once rendered (63021)."""

from __future__ import annotations

from pathlib import Path

import pytest
from template_support import campaign_yaml, fail_next, hub, run, set_approval, write_config

from hub.config import Settings
from hub.faketwilio import FakeTwilioHandle
from hub.store import db, queries
from hub.store.templates import TemplateRecord
from hub.transport.content import ContentClient

SID = "HX" + "c" * 32


def _register(status: str = "approved") -> None:
    run(
        queries.upsert_template(
            TemplateRecord(
                friendly_name="order_ready",
                language="en",
                content_sid=SID,
                body="Hi {{1}}, order {{2}}",
                declared=["1", "2"],
                samples={"1": "Ada", "2": "7"},
                approval_status=status,
            )
        )
    )


def _campaign(root: Path, variables: dict[str, str]) -> None:
    (root / "campaigns" / "orders.yaml").write_text(campaign_yaml("orders", SID, variables), encoding="utf-8")


def test_check_reports_a_variable_count_mismatch(settings: Settings, config_path: Path) -> None:
    _register()
    _campaign(config_path.parent, {"1": "{{ first_name }}"})
    result = hub(config_path, "check")
    assert result.exit_code == 1
    assert (
        f"campaigns/orders.yaml: content_variables: template 'order_ready' ({SID}): "
        "the template declares 2 variable(s) ('1', '2'); got 1"
    ) in result.output


def test_check_reports_a_gap_in_keys(settings: Settings, config_path: Path) -> None:
    _register()
    _campaign(config_path.parent, {"1": "{{ first_name }}", "3": "x"})
    result = hub(config_path, "check")
    assert result.exit_code == 1
    assert "keys must run 1..n without gaps ('1', '2'); found '1', '3'" in result.output


def test_check_refuses_a_template_the_registry_holds_as_pending_and_twilio_does_not_know(
    settings: Settings, config_path: Path
) -> None:
    _register(status="pending")
    _campaign(config_path.parent, {"1": "{{ first_name }}", "2": "42"})
    result = hub(config_path, "check")
    assert result.exit_code == 1, result.output
    assert f"campaigns/orders.yaml: content_sid: content template {SID} does not exist at Twilio" in result.output


def _at_twilio(
    settings: Settings, fake: FakeTwilioHandle, status: str | None, body: str = "Hi {{1}}, order {{2}}"
) -> str:
    """A template created at the (fake) Twilio only, the registry unaware; its approval ``status`` (None: never
    submitted)."""
    client = ContentClient(settings)
    try:
        body, samples = "Hi {{1}}, order {{2}}", {"1": "Ada", "2": "7"}
        sid = client.create(friendly_name="order_ready", language="en", body=body, variables=samples).sid
    finally:
        client.close()
    if status is not None:
        set_approval(fake, sid, status)
    return sid


def _write(root: Path, sid: str, note: str = "42") -> None:
    text = campaign_yaml("orders", sid, {"1": "{{ first_name }}", "2": "{{ note }}"})
    text = text.replace("first_name: Ada}", f"first_name: Ada, note: {note}}}")
    (root / "campaigns" / "orders.yaml").write_text(text, encoding="utf-8")


def test_check_looks_an_unknown_template_up_at_twilio_and_passes_an_approved_one(
    settings: Settings, config_path: Path, fake: FakeTwilioHandle
) -> None:
    sid = _at_twilio(settings, fake, "approved")
    _write(config_path.parent, sid)
    result = hub(config_path, "check")
    assert (result.exit_code, result.output) == (0, "1 campaign OK\n")
    assert run(queries.get_template(sid)) is None  # a check registers nothing


@pytest.mark.parametrize(("status", "said"), [(None, "is unsubmitted"), ("rejected", "is rejected")])
def test_check_refuses_a_template_twilio_holds_as_not_approved(
    settings: Settings, config_path: Path, fake: FakeTwilioHandle, status: str | None, said: str
) -> None:
    sid = _at_twilio(settings, fake, status)
    _write(config_path.parent, sid)
    result = hub(config_path, "check")
    assert result.exit_code == 1, result.output
    assert f"campaigns/orders.yaml: content_sid: content template 'order_ready' ({sid}) {said}" in result.output


def test_check_refuses_a_template_twilio_could_not_be_asked_about(
    settings: Settings, config_path: Path, fake: FakeTwilioHandle
) -> None:
    sid = _at_twilio(settings, fake, "approved")
    _write(config_path.parent, sid)
    fail_next(fake, 503, 20503, "Service unavailable")
    result = hub(config_path, "check")
    assert result.exit_code == 1, result.output
    assert (
        f"campaigns/orders.yaml: content_sid: content template {sid}: its approval could not be read" in result.output
    )
    assert "Traceback" not in result.output


def test_check_refuses_an_inline_recipient_whose_variables_make_the_text_too_long(
    settings: Settings, config_path: Path, fake: FakeTwilioHandle
) -> None:
    sid = _at_twilio(settings, fake, "approved")
    _write(config_path.parent, sid, note="x" * 1020)
    result = hub(config_path, "check")
    assert result.exit_code == 1, result.output
    assert (
        f"campaigns/orders.yaml: audience.recipients[0]: template 'order_ready' ({sid}): the template's text with "
        "its variables is 1034 characters; WhatsApp allows 1024 (63021)"
    ) in result.output


def test_render_rejects_a_recipient_whose_text_would_be_too_long(
    settings: Settings, config_path: Path, fake: FakeTwilioHandle
) -> None:
    sid = _at_twilio(settings, fake, "approved")
    _write(config_path.parent, sid, note="x" * 1020)
    result = hub(config_path, "render", "orders")
    assert result.exit_code == 1, result.output
    assert "WhatsApp allows 1024 (63021)" in result.output


def test_render_refuses_a_template_twilio_holds_as_not_approved(
    settings: Settings, config_path: Path, fake: FakeTwilioHandle
) -> None:
    sid = _at_twilio(settings, fake, "rejected")
    _write(config_path.parent, sid)
    result = hub(config_path, "render", "orders")
    assert result.exit_code == 1, result.output
    assert f"error: campaigns/orders.yaml: content_sid: content template 'order_ready' ({sid}) is rejected" in (
        result.output
    )


def test_render_refuses_variables_that_do_not_fit(settings: Settings, config_path: Path) -> None:
    _register()
    _campaign(config_path.parent, {"1": "{{ first_name }}", "2": "42", "3": "extra"})
    result = hub(config_path, "render", "orders")
    assert result.exit_code == 1
    assert "not declared by the template: '3'" in result.output


def test_render_of_fitting_variables_renders(settings: Settings, config_path: Path) -> None:
    _register()
    _campaign(config_path.parent, {"1": "{{ first_name }}", "2": "42"})
    result = hub(config_path, "render", "orders")
    assert result.exit_code == 0, result.output
    assert "{{1}}: Ada" in result.output


def test_check_without_a_database_skips_the_registry_and_creates_no_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, None)  # database.url: embedded, and no data folder yet
    _campaign(tmp_path, {"1": "{{ first_name }}"})  # would not fit the template, but nothing knows it
    result = hub(config, "check")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / ".hub").exists()
    db.reset()


def test_check_with_an_unmigrated_database_skips_the_registry(tmp_path: Path, empty_database_url: str) -> None:
    config = write_config(tmp_path, None, database=empty_database_url)
    _campaign(tmp_path, {"1": "{{ first_name }}"})
    result = hub(config, "check")
    assert result.exit_code == 0, result.output
    db.reset()
