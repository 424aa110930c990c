"""The document's links lead where they say: each names a real operation, fills its path, and followed by hand
from a real answer reaches what was created."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from hub.api.links import LINKS, Link, add_links

Client = TestClient[Litestar]


@pytest.fixture
def document(client: Client) -> dict[str, Any]:
    return dict(client.get("/schema/openapi.json").json())


def _operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        operation["operationId"]: (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def _schema_at(document: dict[str, Any], schema: dict[str, Any], pointer: str) -> dict[str, Any] | None:
    """The schema of what ``pointer`` selects in a value of ``schema`` (None when it can select nothing)."""
    for part in [p for p in pointer.split("/") if p]:
        while "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        if part.isdigit():
            if schema.get("type") != "array":
                return None
            schema = schema["items"]
        else:
            found = schema.get("properties", {}).get(part)
            if found is None:
                return None
            schema = found
    return schema


def _follow(client: Client, document: dict[str, Any], link: Link, answer: dict[str, Any]) -> Any:
    """GET the link's target with its parameter taken from ``answer`` (the way schemathesis follows it)."""
    method, path, _ = _operations(document)[link.target]
    assert method == "GET"
    value: Any = answer
    for part in [p for p in link.pointer.split("/") if p]:
        value = value[int(part)] if part.isdigit() else value[part]
    return client.get(path.replace("{" + link.parameter + "}", str(value)))


def _link(source: str, target: str) -> Link:
    return next(link for link in LINKS if (link.source, link.target) == (source, target))


def _problems(document: dict[str, Any], link: Link) -> list[str]:
    operations = _operations(document)
    _, _, source = operations[link.source]
    _, target_path, _ = operations[link.target]
    response = source["responses"][str(link.status)]
    problems = []
    if response.get("links", {}).get(link.name) != link.openapi():
        problems.append("not in the document")
    if target_path.count("{") != 1 or "{" + link.parameter + "}" not in target_path:
        problems.append(f"does not fill the path of {target_path}")
    if _schema_at(document, response["content"]["application/json"]["schema"], link.pointer) is None:
        problems.append(f"{link.pointer} selects nothing in the documented answer")
    return problems


def test_every_link_is_in_the_document_fills_its_targets_path_and_points_into_the_answer(
    document: dict[str, Any],
) -> None:
    wrong = {f"{link.source}->{link.target}": _problems(document, link) for link in LINKS}
    assert {name: problems for name, problems in wrong.items() if problems} == {}
    assert len(LINKS) >= 20  # creates to reads, reads to what they name, control to its run


def test_a_link_to_an_operation_the_document_lacks_is_refused() -> None:
    document = {"paths": {"/a": {"get": {"operationId": "a", "responses": {"200": {}}}}}}
    with pytest.raises(KeyError, match="gone"):
        add_links(document, (Link("a", 200, "gone", "id", "/id"),))


def test_a_created_message_links_to_its_read_and_that_to_its_run(client: Client, document: dict[str, Any]) -> None:
    created = client.post("/v1/messages", json={"to": "+14155550100", "body": "hi"})
    assert created.status_code == 202
    message = _follow(client, document, _link("send_message", "get_message"), created.json())
    assert (message.status_code, message.json()["id"]) == (200, created.json()["id"])
    run = _follow(client, document, _link("get_message", "get_run"), message.json())
    assert (run.status_code, run.json()["id"]) == (200, message.json()["run_id"])


@pytest.mark.parametrize(("path", "text"), [("/v1/bulk-send", "body"), ("/bulk-send", "message")])
def test_a_bulk_send_links_to_its_run(client: Client, document: dict[str, Any], path: str, text: str) -> None:
    created = client.post(path, json={"phone_numbers": ["+14155550100"], text: "hi"})
    assert created.status_code == 202
    source = "bulk_send" if path == "/v1/bulk-send" else "legacy_bulk_send"
    run = _follow(client, document, _link(source, "get_run"), created.json())
    assert (run.status_code, run.json()["id"]) == (200, created.json()["run_id"])


def test_a_started_campaign_run_links_to_its_read(client: Client, document: dict[str, Any]) -> None:
    listed = client.get("/v1/campaigns").json()
    campaign = _follow(client, document, _link("list_campaigns", "get_campaign"), listed)
    assert (campaign.status_code, campaign.json()["name"]) == (200, "hello")
    started = client.post("/v1/campaigns/hello/runs", json={})
    assert started.status_code == 202
    run = _follow(client, document, _link("start_campaign_run", "get_run"), started.json())
    assert (run.status_code, run.json()["campaign"]) == (200, "hello")
