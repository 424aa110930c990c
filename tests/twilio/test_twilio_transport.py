"""TwilioTransport through the real twilio client against the fake Twilio server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest

from hub.config import Settings, TwilioSettings
from hub.errors import AmbiguousSendError, ConfigError, PermanentSendError, TransientSendError
from hub.faketwilio import FakeTwilioHandle
from hub.rendering import OutboundMessage
from hub.transport import Receipt, Transport, build_transport
from hub.transport.twilio import TwilioTransport, form_body

T = TypeVar("T")
HX = "HX" + "a" * 32
FROM = "whatsapp:+14155238886"
SERVICE = "MG" + "1" * 32
MakeSettings = Callable[..., Settings]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def send_once(settings: Settings, msg: OutboundMessage) -> Receipt:
    transport = TwilioTransport(settings)
    try:
        return await transport.send(msg)
    finally:
        await transport.close()


def params_of(fake: FakeTwilioHandle) -> dict[str, list[str]]:
    (only,) = fake.messages()
    return only["params"]


def test_success_returns_sid_and_status(settings: Settings, fake: FakeTwilioHandle) -> None:
    receipt = run(send_once(settings, OutboundMessage(to="+14155550100", body="hi")))
    assert receipt.sid.startswith("SM") and len(receipt.sid) == 34
    assert receipt.status == "queued"
    assert fake.messages()[0]["sid"] == receipt.sid


def test_create_carries_whatsapp_addresses_body_and_callback(settings: Settings, fake: FakeTwilioHandle) -> None:
    run(send_once(settings, OutboundMessage(to="+14155550100", body="hi")))
    assert params_of(fake) == {
        "To": ["whatsapp:+14155550100"],
        "From": [FROM],
        "Body": ["hi"],
        "StatusCallback": ["https://hub.example.com/webhooks/twilio/status"],
    }


def test_a_body_with_reserved_and_non_ascii_characters_arrives_intact(
    settings: Settings, fake: FakeTwilioHandle
) -> None:
    body = "Olá Zoë & co: 50% off + free 🚚 (a=b?c)"
    run(send_once(settings, OutboundMessage(to="+14155550100", body=body)))
    assert params_of(fake)["Body"] == [body]


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "a b+c&d=e#f?g/h:i%j",
        "!$'()*,;@[]~_.-",
        "héllo ✓ 😀",
        "line\nbreak\ttab",
        "",
        "http://h:1/p?message_id=7",
    ],
)
def test_the_form_body_is_what_urlencode_gives(value: str) -> None:
    pairs = [("To", "whatsapp:+14155550100"), ("Body", value), ("MediaUrl", value)]
    assert form_body(pairs) == urlencode(pairs).encode()


def test_explicit_status_callback_wins(settings: Settings, fake: FakeTwilioHandle) -> None:
    async def go() -> None:
        transport = TwilioTransport(settings)
        await transport.send(OutboundMessage(to="+14155550100", body="x"), status_callback="https://other.example/cb")
        await transport.close()

    run(go())
    assert params_of(fake)["StatusCallback"] == ["https://other.example/cb"]


def test_content_sid_and_variables_arrive_as_json(settings: Settings, fake: FakeTwilioHandle) -> None:
    msg = OutboundMessage(to="+14155550100", content_sid=HX, content_variables={"1": "Ana", "2": "12/1"})
    run(send_once(settings, msg))
    params = params_of(fake)
    assert params["ContentSid"] == [HX]
    assert json.loads(params["ContentVariables"][0]) == {"1": "Ana", "2": "12/1"}
    assert "Body" not in params


def test_messaging_service_replaces_from(fake: FakeTwilioHandle, twilio_settings: MakeSettings) -> None:
    settings = twilio_settings(fake.base_url, account_sid=fake.account_sid, auth_token=fake.auth_token, service=True)
    receipt = run(send_once(settings, OutboundMessage(to="+14155550100", body="hi")))
    params = params_of(fake)
    assert (params["MessagingServiceSid"], "From" in params, receipt.status) == ([SERVICE], False, "accepted")


def test_media_urls_are_repeated_keys(settings: Settings, fake: FakeTwilioHandle) -> None:
    msg = OutboundMessage(
        to="+14155550100", body="look", media_url=["https://a.example/1.png", "https://a.example/2.png"]
    )
    run(send_once(settings, msg))
    assert params_of(fake)["MediaUrl"] == ["https://a.example/1.png", "https://a.example/2.png"]


def test_invalid_number_is_permanent_with_code(settings: Settings, fake: FakeTwilioHandle) -> None:
    with pytest.raises(PermanentSendError) as info:
        run(send_once(settings, OutboundMessage(to="+15005550001", body="x")))
    assert (info.value.code, info.value.http_status) == (21211, 400)
    assert "Invalid 'To' Phone Number" in info.value.message


def test_429_is_transient_with_retry_after_then_success(settings: Settings, fake: FakeTwilioHandle) -> None:
    async def go() -> tuple[BaseException | None, Receipt]:
        transport = TwilioTransport(settings)
        try:
            try:
                await transport.send(OutboundMessage(to="+15005550003", body="x"))
                first: BaseException | None = None
            except TransientSendError as exc:
                first = exc
            return first, await transport.send(OutboundMessage(to="+15005550003", body="x"))
        finally:
            await transport.close()

    first, receipt = run(go())
    assert isinstance(first, TransientSendError)
    assert (first.code, first.http_status, first.retry_after_ms) == (20429, 429, 1000)
    assert receipt.sid.startswith("SM")
    assert fake.stats()["accepted_per_recipient"] == {"whatsapp:+15005550003": 1}


def test_500_is_ambiguous(settings: Settings, fake: FakeTwilioHandle) -> None:
    with pytest.raises(AmbiguousSendError) as info:
        run(send_once(settings, OutboundMessage(to="+15005550004", body="x")))
    assert info.value.http_status == 500


def test_read_timeout_is_ambiguous(fake: FakeTwilioHandle, twilio_settings: MakeSettings) -> None:
    settings = twilio_settings(fake.base_url, account_sid=fake.account_sid, auth_token=fake.auth_token, timeout=0.3)
    with pytest.raises(AmbiguousSendError):
        run(send_once(settings, OutboundMessage(to="+15005550005", body="x")))
    assert fake.stats()["accepted"] == 1  # Twilio did create it: exactly why it must not be re-sent blindly


def test_dropped_connection_is_ambiguous(settings: Settings, fake: FakeTwilioHandle) -> None:
    with pytest.raises(AmbiguousSendError):
        run(send_once(settings, OutboundMessage(to="+15005550008", body="x")))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_transient(twilio_settings: MakeSettings) -> None:
    settings = twilio_settings(f"http://127.0.0.1:{_free_port()}", account_sid="AC" + "0" * 32, auth_token="t")
    with pytest.raises(TransientSendError):
        run(send_once(settings, OutboundMessage(to="+14155550100", body="x")))


def test_wrong_auth_token_is_permanent(fake: FakeTwilioHandle, twilio_settings: MakeSettings) -> None:
    settings = twilio_settings(fake.base_url, account_sid=fake.account_sid, auth_token="wrong-token")
    with pytest.raises(PermanentSendError) as info:
        run(send_once(settings, OutboundMessage(to="+14155550100", body="x")))
    assert (info.value.http_status, info.value.code) == (401, 20003)
    assert "wrong-token" not in str(info.value)


def test_many_concurrent_sends_share_one_transport(settings: Settings, fake: FakeTwilioHandle) -> None:
    fake.configure(latency_ms=20)

    async def go() -> list[Receipt]:
        transport = TwilioTransport(settings)
        try:
            msgs = [OutboundMessage(to=f"+1415555{i:04d}", body="x") for i in range(100)]
            return await asyncio.gather(*(transport.send(m) for m in msgs))
        finally:
            await transport.close()

    receipts = run(go())
    assert len({r.sid for r in receipts}) == 100


def test_missing_credentials_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        TwilioTransport(Settings(transport="twilio", twilio=TwilioSettings(account_sid="AC1")))


def test_build_transport_picks_twilio_with_credentials(settings: Settings) -> None:
    transport = build_transport(settings)
    assert isinstance(transport, TwilioTransport) and isinstance(transport, Transport)
    run(transport.close())


def test_build_transport_picks_simulator_without_credentials() -> None:
    assert build_transport(Settings()).name == "simulator"


def test_auth_token_is_not_in_the_transport_repr(settings: Settings) -> None:
    transport = TwilioTransport(settings)
    assert settings.twilio.auth_token is not None
    assert settings.twilio.auth_token.reveal() not in repr(vars(transport))
    run(transport.close())


def test_validity_period_is_sent_when_the_message_has_one(settings: Settings, fake: FakeTwilioHandle) -> None:
    run(send_once(settings, OutboundMessage(to="+14155550100", body="hi", validity_period_s=7200)))
    run(send_once(settings, OutboundMessage(to="+14155550101", body="hi")))
    first, second = (m["params"] for m in fake.messages())
    assert (first["ValidityPeriod"], "ValidityPeriod" in second) == (["7200"], False)
