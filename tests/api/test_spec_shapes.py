"""SPEC §7's response shapes hold (and §10's journey additions): every field it names is in the OpenAPI document
and in the answers, under its name. Fields may be added, never renamed or dropped."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import run
from litestar import Litestar
from litestar.testing import TestClient

from hub.store import queries

Client = TestClient[Litestar]

#: The shapes as SPEC §7 (and §10) write them: the field names a client may rely on.
MESSAGE = {
    "id", "to", "status", "sid", "error_code", "error_message", "run_id", "campaign", "body", "content_sid",
    "content_variables", "created_at", "sent_at", "updated_at",
}  # fmt: skip
HISTORY_ENTRY = {"status", "at", "source"}
LIST = {"items", "next_cursor"}
BULK_SEND = {"run_id", "accepted", "rejected"}
REJECTED = {"to", "reason"}
RUN = {
    "id", "campaign", "state", "counts", "total", "rate_per_second", "eta_seconds", "created_at", "started_at",
    "finished_at",
}  # fmt: skip
ERROR = {"error", "detail"}
MESSAGE_ACCEPTED = {"id", "status"}
EVENT = {"entered", "delivered"}
ENTERED = {"campaign", "run_id", "entry_id"}
STEP = {"id", "kind", "counts"}
PATH_LINE = {"step", "at", "outcome"}

#: Where each shape is answered: (operationId, status, JSON pointer into the answer, "*" for a list's items).
DOCUMENTED: list[tuple[str, str, str, set[str]]] = [
    ("get_message", "200", "", MESSAGE | {"history"}),
    ("get_message", "200", "/history/*", HISTORY_ENTRY),
    ("list_messages", "200", "", LIST),
    ("list_messages", "200", "/items/*", MESSAGE),
    ("send_message", "202", "", MESSAGE_ACCEPTED),
    ("bulk_send", "202", "", BULK_SEND),
    ("bulk_send", "202", "/rejected/*", REJECTED),
    ("legacy_bulk_send", "202", "", BULK_SEND),
    ("legacy_bulk_send", "202", "/rejected/*", REJECTED),
    ("get_run", "200", "", RUN | {"steps"}),
    ("get_run", "200", "/steps/*", STEP),
    ("list_runs", "200", "", LIST),
    ("list_runs", "200", "/items/*", RUN),
    ("start_campaign_run", "202", "", RUN),
    ("pause_run", "200", "", RUN),
    ("resume_run", "200", "", RUN),
    ("cancel_run", "200", "", RUN),
    ("list_campaigns", "200", "", LIST),
    ("list_entries", "200", "", LIST),
    ("list_templates", "200", "", LIST),
    ("post_event", "202", "", EVENT),
    ("post_event", "202", "/entered/*", ENTERED),
    ("get_entry", "200", "/path/*", PATH_LINE),
]


@pytest.fixture
def document(client: Client) -> dict[str, Any]:
    return dict(client.get("/schema/openapi.json").json())


def _schema(document: dict[str, Any], operation_id: str, status: str) -> dict[str, Any]:
    for item in document["paths"].values():
        for operation in item.values():
            if operation.get("operationId") == operation_id:
                return dict(operation["responses"][status]["content"]["application/json"]["schema"])
    raise KeyError(operation_id)


def _at(document: dict[str, Any], schema: dict[str, Any], pointer: str) -> dict[str, Any]:
    """The object schema ``pointer`` selects (``*``: an array's items), refs and ``X | None`` resolved."""
    parts = [p for p in pointer.split("/") if p]
    while True:
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        elif "oneOf" in schema:
            schema = next(s for s in schema["oneOf"] if s != {"type": "null"})
        elif not parts:
            return schema
        else:
            part = parts.pop(0)
            schema = schema["items"] if part == "*" else schema["properties"][part]


def test_every_spec_field_is_in_the_document_under_its_name(document: dict[str, Any]) -> None:
    missing = {}
    for operation_id, status, pointer, fields in DOCUMENTED:
        schema = _at(document, _schema(document, operation_id, status), pointer)
        absent = fields - set(schema.get("properties", {}))
        if absent:
            missing[f"{operation_id} {status} {pointer or '/'}"] = sorted(absent)
    assert missing == {}


def test_every_error_answer_documents_error_and_detail(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["ErrorBody"]
    assert set(error["properties"]) >= ERROR and set(error["required"]) >= ERROR


def test_answers_carry_the_spec_fields(client: Client) -> None:
    # bulk-send: {run_id, accepted: int, rejected: [{to, reason}]}
    bulk = client.post("/v1/bulk-send", json={"phone_numbers": ["+14155550100", "12"], "body": "hi"}).json()
    assert set(bulk) >= BULK_SEND and isinstance(bulk["accepted"], int)
    assert [set(r) >= REJECTED for r in bulk["rejected"]] == [True]
    # a list: {items, next_cursor: str | null}; a message in it
    listed = client.get("/v1/messages", params={"run_id": bulk["run_id"]}).json()
    assert set(listed) >= LIST and (listed["next_cursor"] is None or isinstance(listed["next_cursor"], str))
    assert all(set(item) >= MESSAGE for item in listed["items"]) and listed["items"]
    # a message, with its history once something happened to it
    accepted = client.post("/v1/messages", json={"to": "+14155550101", "body": "hi"}).json()
    assert set(accepted) >= MESSAGE_ACCEPTED
    run(queries.claim_for_send(accepted["id"]))
    run(queries.mark_submitted(accepted["id"], "SMshape1", "queued"))
    message = client.get(f"/v1/messages/{accepted['id']}").json()
    assert MESSAGE | {"history"} <= set(message)
    assert message["history"] and all(set(entry) >= HISTORY_ENTRY for entry in message["history"])
    # a run: counts per state as integers
    read = client.get(f"/v1/runs/{bulk['run_id']}").json()
    assert set(read) >= RUN and all(isinstance(n, int) for n in read["counts"].values())
    runs = client.get("/v1/runs").json()
    assert set(runs) >= LIST and all(set(item) >= RUN for item in runs["items"])
    started = client.post("/v1/campaigns/hello/runs", json={})
    assert started.status_code == 202 and set(started.json()) >= RUN
    assert set(client.get("/v1/campaigns").json()) >= LIST
    # an error: {error, detail}
    missing = client.get("/v1/runs/999999")
    assert missing.status_code == 404 and set(missing.json()) >= ERROR
    # an event (no journey starts on it here): {entered: [...], delivered: int}
    event = client.post("/v1/events", json={"type": "shape.checked", "to": "+14155550100"})
    assert event.status_code == 202 and set(event.json()) >= EVENT
