"""The API says what it does: the OpenAPI document's errors, request objects and ids, and the answers behind them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs  # schemathesis validates with it: the same validator as the schema run
import pytest
from api_support import API_KEY, CAMPAIGN, PUBLIC_URL, run
from litestar import Litestar
from litestar.testing import TestClient

from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.api.openapi import finish_document, route_errors
from hub.config import Settings
from hub.store import queries

Client = TestClient[Litestar]


async def _ok() -> None:
    return None


@pytest.fixture
def pg_api(
    pg_settings: Settings, make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[tuple[Client, RecordingEnqueuer]]:
    """The app on this session's PostgreSQL database, one campaign in its repository, a keyed client."""
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "templates" / "messages").mkdir(parents=True)
    (tmp_path / "campaigns" / "hello.yaml").write_text(CAMPAIGN, encoding="utf-8")
    settings = make_settings({"database": {"url": pg_settings.database.url}, "api": {"keys": [API_KEY]}})
    enqueuer = RecordingEnqueuer()
    app = create_app(settings, enqueuer=enqueuer, probes={"database": _ok, "redis": _ok})
    with TestClient(app=app, base_url=PUBLIC_URL) as client:
        client.headers["Authorization"] = f"Bearer {API_KEY}"
        yield client, enqueuer


@pytest.fixture
def api(pg_api: tuple[Client, RecordingEnqueuer]) -> Client:
    return pg_api[0]


@pytest.fixture
def document(api: Client) -> dict[str, Any]:
    answer = api.get("/schema/openapi.json")
    assert answer.status_code == 200
    return dict(answer.json())


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if len(schema.get("allOf", [])) == 1:  # a body with examples: {"allOf": [{"$ref": ...}], "examples": [...]}
        schema = schema["allOf"][0]
    ref = schema.get("$ref")
    return dict(document["components"]["schemas"][ref.rsplit("/", 1)[-1]]) if ref else schema


def _validator(document: dict[str, Any], name: str) -> jsonschema_rs.Draft202012Validator:
    """A validator for one component, with the document's other components resolvable."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(schema)


# --- one error schema, every status each route answers --------------------------------------------------------


def test_every_error_response_is_the_one_error_body(document: dict[str, Any]) -> None:
    wrong = [
        (method, path, status)
        for method, path, operation in _operations(document)
        for status, response in operation["responses"].items()
        if int(status) >= 400
        and (method, path, status) != ("GET", "/readyz", "503")  # readiness answers its checks, by design
        and response["content"]["application/json"]["schema"] != {"$ref": "#/components/schemas/ErrorBody"}
    ]
    assert wrong == []


def test_error_body_schema_is_the_errors_shape(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["ErrorBody"]
    assert set(schema["properties"]) >= {"error", "detail", "field"}
    assert sorted(schema["required"]) == ["detail", "error"]


def test_every_v1_route_documents_401_and_every_body_400_413_422(document: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in _operations(document):
        statuses = set(operation["responses"])
        if path.startswith("/v1") and "401" not in statuses:
            missing.append((method, path, "401"))
        if "requestBody" in operation:
            missing += [(method, path, s) for s in ("400", "413", "422") if s not in statuses]
    assert missing == []


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/runs/{run_id}", "404"),
        ("POST", "/v1/runs/{run_id}/pause", "409"),
        ("POST", "/v1/messages", "409"),
        ("POST", "/v1/campaigns/{name}/runs", "404"),
        ("POST", "/v1/render", "404"),
        ("GET", "/v1/templates/{sid_or_name}", "409"),
        ("POST", "/webhooks/twilio/status", "403"),
        ("GET", "/v1/messages", "503"),
    ],
)
def test_route_documents_the_status_it_answers(document: dict[str, Any], method: str, path: str, status: str) -> None:
    assert status in document["paths"][path][method.lower()]["responses"]


def test_common_statuses_follow_what_a_route_takes() -> None:
    facts = {"guarded": True, "has_body": True, "has_input": False, "has_path_params": True, "store": True}
    assert route_errors(**facts) == {400, 401, 404, 413, 422, 503}
    bare = dict.fromkeys(facts, False)
    assert route_errors(**bare) == set()


@pytest.mark.parametrize(
    ("method", "path", "payload", "status"),
    [
        ("GET", "/v1/runs/999", None, 404),
        ("GET", "/v1/messages?limit=0", None, 422),
        ("POST", "/v1/messages", {"to": "+14155550100", "body": "hi", "bogus": 1}, 422),
        ("POST", "/v1/campaigns/nope/runs", {}, 404),
    ],
)
def test_error_answers_match_the_error_schema(
    api: Client, document: dict[str, Any], method: str, path: str, payload: Any, status: int
) -> None:
    answer = api.request(method, path, json=payload)
    assert answer.status_code == status
    _validator(document, "ErrorBody").validate(answer.json())


def test_an_unkeyed_request_answers_401_in_the_error_shape(api: Client, document: dict[str, Any]) -> None:
    answer = api.get("/v1/runs/1", headers={"Authorization": "Bearer wrong"})
    assert answer.status_code == 401
    _validator(document, "ErrorBody").validate(answer.json())


# --- request objects forbid unknown fields, and the API refuses them the same way ----------------------------


def test_request_schemas_forbid_unknown_fields(document: dict[str, Any]) -> None:
    open_bodies = []
    for method, path, operation in _operations(document):
        if "requestBody" not in operation or path == "/bulk-send":  # the original payload: extra fields ignored
            continue
        for media in operation["requestBody"]["content"].values():
            for schema in media["schema"].get("oneOf", [media["schema"]]):
                if schema != {"type": "null"} and _resolve(document, schema).get("additionalProperties") is not False:
                    open_bodies.append((method, path))
    assert open_bodies == []


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/v1/messages", {"to": "+14155550100", "body": "hi", "bogus": 1}),
        ("/v1/bulk-send", {"phone_numbers": ["+14155550100"], "body": "hi", "bogus": 1}),
        ("/v1/render", {"to": "+14155550100", "body": "hi", "bogus": 1}),
        ("/v1/campaigns/hello/runs", {"bogus": 1}),
    ],
)
def test_unknown_field_is_refused_with_422_naming_it(api: Client, path: str, payload: dict[str, Any]) -> None:
    answer = api.post(path, json=payload)
    assert (answer.status_code, answer.json()["error"]) == (422, "invalid_request")
    assert "bogus" in answer.json()["detail"]


# --- ids are int64 ----------------------------------------------------------------------------------------------


def test_ids_are_int64_in_the_schema(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["RunRead"]["properties"]["id"] == {"type": "integer", "format": "int64"}
    assert schemas["MessageRead"]["properties"]["id"] == {"type": "integer", "format": "int64"}
    assert schemas["BulkSendResult"]["properties"]["run_id"] == {"type": "integer", "format": "int64"}
    (parameter,) = document["paths"]["/v1/runs/{run_id}"]["get"]["parameters"]
    assert parameter["schema"] == {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1}


# --- times are RFC 3339 strings with an offset, nothing else ---------------------------------------------------


def test_send_at_is_a_date_time_string_in_the_schema(document: dict[str, Any]) -> None:
    for name in ("MessageCreate", "BulkSendCreate", "RunCreate"):
        send_at = document["components"]["schemas"][name]["properties"]["send_at"]
        assert (send_at["format"], {"type": "string"} in send_at["oneOf"]) == ("date-time", True)


@pytest.mark.parametrize("send_at", [1e-50, 0, 1893456000, "1893456000", "2030-01-01T09:00:00", "2030-02-30T09:00Z"])
@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/v1/messages", {"to": "+14155550100", "body": "hi"}),
        ("/v1/bulk-send", {"phone_numbers": ["+14155550100"], "body": "hi"}),
        ("/v1/campaigns/hello/runs", {}),
    ],
)
def test_send_at_other_than_rfc3339_with_offset_is_422_and_starts_nothing(
    pg_api: tuple[Client, RecordingEnqueuer], path: str, payload: dict[str, Any], send_at: Any
) -> None:
    client, enqueuer = pg_api
    answer = client.post(path, json={**payload, "send_at": send_at})
    assert (answer.status_code, answer.json()["field"]) == (422, "send_at")
    assert (run(queries.list_runs(limit=10)), enqueuer.sends, enqueuer.fan_outs) == ([], [], [])


@pytest.mark.parametrize(
    "send_at", ["2030-01-01T09:00:00Z", "2030-01-01t09:00:00.5+02:00", "2030-01-01 09:00:00-05:30"]
)
def test_send_at_rfc3339_with_offset_is_scheduled(api: Client, send_at: str) -> None:
    answer = api.post("/v1/messages", json={"to": "+14155550100", "body": "hi", "send_at": send_at})
    assert answer.status_code == 202
    assert api.get(f"/v1/messages/{answer.json()['id']}").json()["send_at"] is not None


@pytest.mark.parametrize("value", ["0.5", "1893456000", "2030-01-01T09:00:00", "null"])
def test_list_filters_on_time_take_rfc3339_only(api: Client, value: str) -> None:
    answer = api.get("/v1/messages", params={"since": value})
    assert (answer.status_code, answer.json()["field"]) == (422, "since")


# --- small shapes --------------------------------------------------------------------------------------------


def test_render_does_not_count_skipped_recipients_as_rejected(api: Client) -> None:
    run(queries.set_opt_out("+14155550100", source="api"))
    payload = {"phone_numbers": ["+14155550100", "+14155550101", "12"], "body": "hi"}
    result = api.post("/v1/render", json=payload).json()
    assert [i["status"] for i in result["items"]] == ["skipped", "ok", "rejected"]
    assert (result["rendered"], result["rejected"], result["skipped"]) == (1, 1, 1)


def test_campaign_list_has_next_cursor(api: Client) -> None:
    body = api.get("/v1/campaigns").json()
    assert ([c["name"] for c in body["items"]], body["next_cursor"]) == (["hello"], None)


def test_unencoded_plus_in_to_is_read_as_the_number(api: Client) -> None:
    sent = api.post("/v1/messages", json={"to": "+14155550100", "body": "hi"}).json()
    # Written by hand into the URL: the query string's "+" is decoded as a space.
    answer = api.get("/v1/messages?to=+14155550100")
    assert answer.status_code == 200
    assert [item["id"] for item in answer.json()["items"]] == [sent["id"]]


def test_run_id_null_is_refused_not_ignored(api: Client) -> None:
    answer = api.get("/v1/messages?run_id=null")
    assert (answer.status_code, answer.json()["field"]) == (422, "run_id")


def test_options_lists_every_method_of_the_path(api: Client) -> None:
    allow = api.options("/v1/messages").headers["allow"]
    assert set(allow.split(", ")) == {"GET", "OPTIONS", "POST"}


def test_text_with_a_nul_character_is_422_not_a_server_error(api: Client) -> None:
    answer = api.post("/v1/bulk-send", json={"phone_numbers": ["1\u0000"], "body": "hi"})
    assert (answer.status_code, answer.json()["error"]) == (422, "invalid_request")


def test_a_template_name_with_a_nul_character_is_422_naming_it(api: Client) -> None:
    answer = api.post("/v1/messages", json={"to": "+14155550100", "template": "a\u0000b"})
    assert (answer.status_code, answer.json()["field"]) == (422, "template")


# --- the document as served ----------------------------------------------------------------------------------


def test_query_parameters_are_never_null_and_an_optional_body_is_not_required(document: dict[str, Any]) -> None:
    since = next(p for p in document["paths"]["/v1/messages"]["get"]["parameters"] if p["name"] == "since")
    assert since["schema"] == {"type": "string", "format": "date-time"}
    assert document["paths"]["/v1/campaigns/{name}/runs"]["post"]["requestBody"]["required"] is False


def test_finish_document_is_pure_on_the_json_form() -> None:
    document = {
        "paths": {
            "/x": {
                "get": {"parameters": [{"in": "query", "schema": {"oneOf": [{"type": "string"}, {"type": "null"}]}}]}
            }
        }
    }
    finished = finish_document(document, links=())
    assert finished["paths"]["/x"]["get"]["parameters"][0]["schema"] == {"type": "string"}
