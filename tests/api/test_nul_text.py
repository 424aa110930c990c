"""PostgreSQL text cannot hold NUL: a request carrying one is a 422, not a server error."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient


def test_a_body_with_a_nul_character_is_422(client: TestClient[Litestar]) -> None:
    response = client.post("/v1/messages", json={"to": "+14155550100", "body": "Hi\u0000there"})

    assert (response.status_code, response.json()["error"]) == (422, "invalid_request")
