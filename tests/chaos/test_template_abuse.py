"""Scenario 8: sandbox-escape templates and hostile variables through POST /v1/messages, /v1/render and campaign
files: refused, or rendered as inert text; never executed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from hub.config import Settings
from tests.chaos.app_support import ESCAPES, api_client, keyed_settings

TO = "+14155550100"
#: What an executed escape would leave in a body: class lists, module reprs, shell output (a refusal may name
#: the attribute it refused, e.g. ``__globals__``: that is not a leak).
LEAKS = ("<class", "<module", "<built-in", "uid=", "root:", "Popen", "<function")


@pytest.mark.parametrize("template", ESCAPES)
def test_escape_template_in_a_message_or_dry_run_is_refused(
    pg_settings: Settings, tmp_path: Path, template: str
) -> None:
    settings = keyed_settings(pg_settings, tmp_path)
    with api_client(settings) as client:
        sent = client.post("/v1/messages", json={"to": TO, "body": template, "vars": {"first_name": "Ada"}})
        dry = client.post("/v1/render", json={"to": TO, "body": template, "vars": {"first_name": "Ada"}})
    assert sent.status_code in {400, 422}, sent.text
    assert not any(leak in sent.text for leak in LEAKS)
    assert dry.status_code in {200, 400, 422}
    items = dry.json().get("items", []) if dry.status_code == 200 else []
    assert all(item["status"] != "ok" for item in items)
    assert not any(leak in dry.text for leak in LEAKS)
    assert not Path("/tmp/pwned").exists()


@pytest.mark.parametrize("hostile", ["{{ 7*7 }}", "{% raw %}x{% endraw %}", *ESCAPES[:4]])
def test_hostile_variables_are_rendered_as_inert_text(pg_settings: Settings, tmp_path: Path, hostile: str) -> None:
    settings = keyed_settings(pg_settings, tmp_path)
    with api_client(settings) as client:
        dry = client.post("/v1/render", json={"to": TO, "body": "Hi {{ first_name }}", "vars": {"first_name": hostile}})
        sent = client.post(
            "/v1/messages", json={"to": TO, "body": "Hi {{ first_name }}", "vars": {"first_name": hostile}}
        )
        assert sent.status_code == 202, sent.text
        stored = client.get(f"/v1/messages/{sent.json()['id']}").json()
    assert dry.status_code == 200
    assert [item["body"] for item in dry.json()["items"]] == [f"Hi {hostile}"]
    assert stored["body"] == f"Hi {hostile}"


def test_escape_templates_in_campaign_files_never_render(
    pg_settings: Settings, tmp_path: Path, report: Callable[[str], None]
) -> None:
    settings = keyed_settings(pg_settings, tmp_path)
    answers: dict[int, int] = {}
    for index, template in enumerate(ESCAPES):
        spec = {"body": template, "audience": {"recipients": [{"phone": TO, "first_name": "Ada"}]}}
        (settings.paths.campaigns / f"escape-{index}.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
        (settings.paths.templates / f"escape-{index}.j2").write_text(template, encoding="utf-8")
        spec_file = {"template": f"escape-{index}.j2", "audience": spec["audience"]}
        (settings.paths.campaigns / f"escape-file-{index}.yaml").write_text(yaml.safe_dump(spec_file), encoding="utf-8")
    with api_client(settings) as client:
        for name in [f"escape-{i}" for i in range(len(ESCAPES))] + [f"escape-file-{i}" for i in range(len(ESCAPES))]:
            response = client.post(f"/v1/campaigns/{name}/runs", json={})
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
            # A run may be created (its fan-out renders per recipient); the dry run shares that renderer.
            assert response.status_code in {202, 400, 404, 409, 422}, (name, response.text)
            assert not any(leak in response.text for leak in LEAKS)
            rendered = client.post("/v1/render", json={"campaign": name})
            assert not any(leak in rendered.text for leak in LEAKS)
            assert rendered.status_code != 200 or all(i["status"] != "ok" for i in rendered.json()["items"])
    report(f"escape templates: {len(ESCAPES)} x (inline, file); run answers: {answers}; every dry run refused")
    assert not Path("/tmp/pwned").exists()
