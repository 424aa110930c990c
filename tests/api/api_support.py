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

#: The one campaign in the API tests' repository.
CAMPAIGN = """\
name: hello
description: Say hello
body: "Hi {{ first_name }}, use {{ code }}"
vars: {code: HELLO24}
audience:
  recipients:
    - {phone: "+14155550100", first_name: Ada}
    - {phone: "+14155550101", first_name: Bo}
    - {phone: "12", first_name: Bad}
schedule:
  cron: "0 9 * * MON"
  timezone: Europe/Berlin
"""


def sign(url: str, params: Mapping[str, str], token: str = AUTH_TOKEN) -> str:
    """The X-Twilio-Signature Twilio would send for this exact URL and form."""
    return str(RequestValidator(token).compute_signature(url, dict(params)))


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Await a store call from a test (on the store's own background loop)."""
    return db.run_sync(coro)
