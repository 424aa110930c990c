"""Fixtures for the Twilio area: a fake Twilio server per module, settings pointing the real client at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from hub.config import Secret, Settings, TwilioSettings
from hub.faketwilio import FakeTwilioHandle, start_fake_twilio

FROM = "whatsapp:+14155238886"
SERVICE = "MG" + "1" * 32


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeTwilioHandle]:
    with start_fake_twilio(callbacks=False, hang_s=5.0) as fake:
        yield fake


@pytest.fixture
def fake(fake_server: FakeTwilioHandle) -> FakeTwilioHandle:
    """The module's fake Twilio, reset and with default knobs."""
    fake_server.reset()
    fake_server.configure(latency_ms=0, fail_rate=0, callbacks=False, callback_delay_ms=0)
    return fake_server


def _twilio_settings(
    base_url: str, *, account_sid: str, auth_token: str, service: bool = False, timeout: float = 2.0
) -> Settings:
    return Settings(
        twilio=TwilioSettings(
            account_sid=account_sid,
            auth_token=Secret(auth_token),
            from_=None if service else FROM,
            messaging_service_sid=SERVICE if service else None,
            api_base_url=base_url,
            timeout_seconds=timeout,
        ),
        public_url="https://hub.example.com",
    )


@pytest.fixture
def twilio_settings() -> Callable[..., Settings]:
    """``twilio_settings(base_url, account_sid=, auth_token=, service=False, timeout=2.0) -> Settings``."""
    return _twilio_settings


@pytest.fixture
def settings(fake: FakeTwilioHandle) -> Settings:
    return _twilio_settings(fake.base_url, account_sid=fake.account_sid, auth_token=fake.auth_token)
