"""Operations routes and app-wide behaviour: health, readiness, metrics, OpenAPI, error shape, body limit."""

from __future__ import annotations

from api_support import PUBLIC_URL
from litestar import Litestar
from litestar.testing import TestClient

from hub.api.app import MAX_BODY_BYTES, create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.config import Settings


def test_healthz_answers_ok_without_key(client: TestClient[Litestar]) -> None:
    response = client.get("/healthz", headers={"Authorization": ""})
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_ok_when_every_probe_answers(client: TestClient[Litestar]) -> None:
    response = client.get("/readyz")
    assert (response.status_code, response.json()["checks"]) == (200, {"database": "ok", "redis": "ok"})


def test_readyz_503_names_the_failing_dependency(settings: Settings) -> None:
    async def ok() -> None:
        return None

    async def down() -> None:
        raise ConnectionRefusedError("redis://:secret@10.0.0.1:6379")

    app = create_app(settings, enqueuer=RecordingEnqueuer(), probes={"database": ok, "redis": down})
    with TestClient(app=app, base_url=PUBLIC_URL) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "redis": "unavailable: ConnectionRefusedError"}
    assert "secret" not in response.text


def test_readyz_real_database_probe(settings: Settings) -> None:
    app = create_app(settings, enqueuer=RecordingEnqueuer())  # embedded Redis: up with the process
    with TestClient(app=app, base_url=PUBLIC_URL) as client:
        response = client.get("/readyz")
    assert (response.status_code, response.json()["checks"]) == (200, {"database": "ok", "redis": "ok"})


def test_openapi_schema_lists_v1_routes(client: TestClient[Litestar]) -> None:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert {"/v1/messages", "/v1/bulk-send", "/bulk-send", "/webhooks/twilio/status"} <= set(response.json()["paths"])


def test_unknown_route_is_json_404(client: TestClient[Litestar]) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert set(response.json()) >= {"error", "detail"}


def test_malformed_json_is_400_with_error_shape(client: TestClient[Litestar]) -> None:
    response = client.post("/v1/messages", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert set(response.json()) >= {"error", "detail"}


def test_unknown_field_is_422_naming_it(client: TestClient[Litestar]) -> None:
    response = client.post("/v1/messages", json={"to": "+14155550100", "body": "hi", "bogus": 1})
    assert response.status_code == 422
    assert "bogus" in response.json()["detail"]


def test_oversize_body_is_413(client: TestClient[Litestar]) -> None:
    body = b'{"to": "+14155550100", "body": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}'
    response = client.post("/v1/messages", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_metrics_exposes_http_counts_by_route(client: TestClient[Litestar]) -> None:
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'hub_http_requests_total{method="GET",route="/healthz",status="200"} 1' in response.text


def test_metrics_exposes_ledger_rows_by_status_and_error_code(client: TestClient[Litestar]) -> None:
    client.post("/v1/bulk-send", json={"phone_numbers": ["+14155550100", "+14155550101", "nope"], "body": "hi"})
    text = client.get("/metrics").text
    assert 'hub_messages{status="pending"} 2' in text
    assert 'hub_messages{status="rejected"} 1' in text


def test_metrics_still_answer_when_the_ledger_is_unreachable(settings: Settings) -> None:
    from hub.api.metrics import AppMetrics

    async def broken() -> dict[str, dict[str, float]]:
        raise ConnectionRefusedError("db down")

    app = create_app(settings, enqueuer=RecordingEnqueuer())
    app.state.metrics = AppMetrics(broken)
    with TestClient(app=app, base_url=PUBLIC_URL) as client:
        response = client.get("/metrics")
    assert (response.status_code, "hub_http_requests_total" in response.text) == (200, True)
