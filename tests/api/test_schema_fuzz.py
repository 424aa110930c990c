"""A bounded schemathesis run over /schema: generated requests to every operation never get a 5xx."""

from __future__ import annotations

import pytest
from api_support import API_KEY
from litestar import Litestar

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the `test` extra")

from hypothesis import HealthCheck, given, settings  # noqa: E402  (after the optional import)

#: Generated cases per operation: enough to hit validation edges, few enough to finish in seconds.
EXAMPLES_PER_OPERATION = 6


def test_generated_requests_never_get_a_server_error(app: Litestar) -> None:
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    server_errors: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def probe(case: object) -> None:
            response = case.call(headers={"Authorization": f"Bearer {API_KEY}"})  # type: ignore[attr-defined]
            if response.status_code >= 500:
                server_errors.append(f"{case.method} {case.formatted_path} -> {response.status_code}")  # type: ignore[attr-defined]

        probe()
    assert server_errors == []
