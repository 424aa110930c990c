"""hub check / hub render verify content_variables against the registry, only when the database exists."""

from __future__ import annotations

from pathlib import Path

from template_support import campaign_yaml, hub, run, write_config

from hub.config import Settings
from hub.store import db, queries
from hub.store.templates import TemplateRecord

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


def test_check_warns_about_an_unapproved_template_without_failing(settings: Settings, config_path: Path) -> None:
    _register(status="pending")
    _campaign(config_path.parent, {"1": "{{ first_name }}", "2": "42"})
    result = hub(config_path, "check")
    assert result.exit_code == 0, result.output
    assert "content_sid: warning: template approval status is 'pending'" in result.output


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
