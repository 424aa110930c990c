"""Constants and helpers shared by the API tests (imported by name: test folders are not packages)."""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from twilio.request_validator import RequestValidator

from hub.store import db

T = TypeVar("T")

API_KEY = "test-api-key"
AUTH_TOKEN = "test-auth-token"
PUBLIC_URL = "https://hooks.example.com"
STATUS_URL = f"{PUBLIC_URL}/webhooks/twilio/status"
INBOUND_URL = f"{PUBLIC_URL}/webhooks/twilio/inbound"


def sign(url: str, params: Mapping[str, str], token: str = AUTH_TOKEN) -> str:
    """The X-Twilio-Signature Twilio would send for this exact URL and form."""
    return str(RequestValidator(token).compute_signature(url, dict(params)))


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Await a store call from a test (on the store's own background loop)."""
    return db.run_sync(coro)
