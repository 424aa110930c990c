"""Scenario 7: no way in without a key, no crash on oversized input, no 5xx on generated requests."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from litestar import Litestar

from hub.config import Settings
from tests.chaos.app_support import API_KEY, api_client, keyed_settings

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the `test` extra")

from hypothesis import HealthCheck, given  # noqa: E402
from hypothesis import settings as hsettings  # noqa: E402

_PARAM = re.compile(r"\{([^}:]+)(?::(\w+))?\}")


def _v1_routes(app: Litestar) -> list[tuple[str, str]]:
    """(method, concrete path) of every ``/v1`` route, path parameters filled in."""
    out = []
    for route in app.routes:
        if not route.path.startswith("/v1"):
            continue
        path = _PARAM.sub(lambda m: "1" if m.group(2) == "int" else "x", route.path)
        out += [(method, path) for method in sorted(route.methods) if method not in {"HEAD", "OPTIONS"}]
    return out


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", f"Basic {API_KEY}", "Bearer ", API_KEY])
def test_every_v1_route_without_the_right_key_is_401(
    pg_settings: Settings, tmp_path: Path, report: Callable[[str], None], authorization: str | None
) -> None:
    settings = keyed_settings(pg_settings, tmp_path)
    with api_client(settings, keyed=False) as client:
        routes = _v1_routes(client.app)
        headers = {"Authorization": authorization} if authorization is not None else {}
        answers = {f"{m} {p}": client.request(m, p, headers=headers, json={}).status_code for m, p in routes}
    report(f"authorization {authorization!r}: {len(routes)} /v1 routes, answers: {sorted(set(answers.values()))}")
    assert len(routes) >= 15
    assert {k: v for k, v in answers.items() if v != 401} == {}


@pytest.mark.parametrize(
    ("path", "payload_size"),
    [("/v1/bulk-send", 11 * 1024 * 1024), ("/bulk-send", 11 * 1024 * 1024), ("/v1/messages", 11 * 1024 * 1024)],
)
def test_oversized_body_is_413(pg_settings: Settings, tmp_path: Path, path: str, payload_size: int) -> None:
    settings = keyed_settings(pg_settings, tmp_path)
    body = b'{"message": "hi", "phone_numbers": ["' + b"1" * payload_size + b'"]}'
    with api_client(settings) as client:
        response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]


def test_huge_recipient_list_is_a_clear_answer_not_a_crash(
    pg_settings: Settings, tmp_path: Path, report: Callable[[str], None]
) -> None:
    settings = keyed_settings(pg_settings, tmp_path)
    numbers = [
        f"+4915100{i:06d}" for i in range(20_000)
    ]  # a large batch under the body cap: accepted or refused, never a 5xx
    with api_client(settings) as client:
        response = client.post("/v1/bulk-send", json={"phone_numbers": numbers, "body": "hi"})
    report(f"bulk-send of {len(numbers)} numbers: {response.status_code} {response.text[:160]}")
    assert response.status_code in {202, 413, 422}
    assert response.json()


@pytest.mark.slow
def test_generated_requests_with_and_without_a_key_never_get_a_server_error(
    pg_settings: Settings, tmp_path: Path, report: Callable[[str], None]
) -> None:
    settings = keyed_settings(pg_settings, tmp_path)
    from hub.api.app import create_app
    from hub.api.enqueue import RecordingEnqueuer

    async def ok() -> None:
        return None

    app = create_app(settings, enqueuer=RecordingEnqueuer(), probes={"database": ok, "redis": ok})
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    server_errors: list[str] = []
    calls = 0
    for operation in operations:

        @given(case=operation.as_strategy())
        @hsettings(
            max_examples=8, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
        )
        def probe(case: object) -> None:
            nonlocal calls
            for headers in ({"Authorization": f"Bearer {API_KEY}"}, {}):
                calls += 1
                response = case.call(headers=headers)  # type: ignore[attr-defined]
                if response.status_code >= 500:
                    server_errors.append(f"{case.method} {case.formatted_path} -> {response.status_code}")  # type: ignore[attr-defined]

        probe()
    report(f"schemathesis: {len(operations)} operations, {calls} requests, 5xx: {len(server_errors)}")
    assert server_errors == []
