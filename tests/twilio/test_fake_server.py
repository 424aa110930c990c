"""The fake Twilio over HTTP: auth, Twilio-shaped errors, the inspection API and signed status callbacks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from aiohttp import web

from hub.config import Settings
from hub.faketwilio import FakeTwilioHandle
from hub.rendering import OutboundMessage
from hub.transport.twilio import TwilioTransport
from hub.webhooks import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, parse_status, verify_signature


def create_url(fake: FakeTwilioHandle, account_sid: str | None = None) -> str:
    return f"{fake.base_url}/2010-04-01/Accounts/{account_sid or fake.account_sid}/Messages.json"


def post_create(fake: FakeTwilioHandle, data: dict[str, str], auth: tuple[str, str] | None = None) -> httpx.Response:
    return httpx.post(create_url(fake), data=data, auth=auth or (fake.account_sid, fake.auth_token))


MSG = {"To": "whatsapp:+14155550100", "From": "whatsapp:+14155238886", "Body": "hi"}


def test_wrong_password_is_a_twilio_shaped_401(fake: FakeTwilioHandle) -> None:
    resp = post_create(fake, MSG, auth=(fake.account_sid, "nope"))
    assert resp.status_code == 401
    assert resp.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }


def test_success_body_looks_like_twilio(fake: FakeTwilioHandle) -> None:
    resp = post_create(fake, MSG)
    body = resp.json()
    assert resp.status_code == 201
    assert (body["status"], body["to"], body["from"], body["body"], body["error_code"]) == (
        "queued",
        MSG["To"],
        MSG["From"],
        "hi",
        None,
    )
    assert body["sid"].startswith("SM") and body["date_created"].endswith("GMT")


def test_invalid_content_variables_is_21656(fake: FakeTwilioHandle) -> None:
    data = {**MSG, "ContentSid": "HX" + "0" * 32, "ContentVariables": '{"1": ""}'}
    del data["Body"]
    resp = post_create(fake, data)
    assert (resp.status_code, resp.json()["code"]) == (400, 21656)


def test_stats_and_messages_endpoints_report_creates(fake: FakeTwilioHandle) -> None:
    post_create(fake, MSG)
    post_create(fake, MSG)
    post_create(fake, {**MSG, "To": "whatsapp:+15005550001"})
    stats = httpx.get(f"{fake.base_url}/_fake/stats").json()
    assert (stats["requests"], stats["accepted"], stats["errors"], stats["duplicates"]) == (
        3,
        2,
        {"21211": 1},
        [MSG["To"]],
    )
    listed = httpx.get(f"{fake.base_url}/_fake/messages", params={"to": MSG["To"]}).json()
    assert [m["params"]["Body"] for m in listed] == [["hi"], ["hi"]]


def test_reset_forgets_everything(fake: FakeTwilioHandle) -> None:
    post_create(fake, MSG)
    httpx.post(f"{fake.base_url}/_fake/reset")
    assert httpx.get(f"{fake.base_url}/_fake/stats").json()["requests"] == 0


def test_config_endpoint_changes_knobs_and_rejects_unknown_ones(fake: FakeTwilioHandle) -> None:
    ok = httpx.post(f"{fake.base_url}/_fake/config", json={"fail_rate": 1.0})
    bad = httpx.post(f"{fake.base_url}/_fake/config", json={"nope": 1})
    assert (ok.status_code, ok.json()["fail_rate"], bad.status_code) == (200, 1.0, 400)
    assert post_create(fake, MSG).status_code in {429, 503}


async def _collect_callbacks(
    settings: Settings, fake: FakeTwilioHandle, sends: list[OutboundMessage], expected: int
) -> tuple[str, list[tuple[dict[str, str], dict[str, str]]]]:
    """Stand up a receiver, send, and wait for ``expected`` callbacks: (callback URL, [(form, headers)])."""
    got: list[tuple[dict[str, str], dict[str, str]]] = []
    done = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        got.append((dict(await request.post()), dict(request.headers)))
        if len(got) >= expected:
            done.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/webhooks/twilio/status", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks/twilio/status?run=7"
    transport = TwilioTransport(settings)
    try:
        for msg in sends:
            await transport.send(msg, status_callback=url)
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await transport.close()
        await runner.cleanup()
    return url, got


def run_callbacks(settings: Settings, fake: FakeTwilioHandle, sends: list[OutboundMessage], expected: int) -> Any:
    fake.configure(callbacks=True, callback_delay_ms=0)
    return asyncio.run(_collect_callbacks(settings, fake, sends, expected))


def test_callbacks_are_signed_for_the_url_they_are_posted_to(settings: Settings, fake: FakeTwilioHandle) -> None:
    url, got = run_callbacks(settings, fake, [OutboundMessage(to="+14155550100", body="hi")], 3)
    assert all(verify_signature(url, params, headers[SIGNATURE_HEADER], fake.auth_token) for params, headers in got)
    assert not verify_signature(url.replace("?run=7", ""), got[0][0], got[0][1][SIGNATURE_HEADER], fake.auth_token)


def test_callbacks_walk_sent_delivered_read_with_tokens(settings: Settings, fake: FakeTwilioHandle) -> None:
    _, got = run_callbacks(settings, fake, [OutboundMessage(to="+14155550100", body="hi")], 3)
    parsed = [parse_status(p, idempotency_token=h.get(IDEMPOTENCY_HEADER)) for p, h in got]
    assert [(c.status, c.event_type) for c in parsed] == [("sent", None), ("delivered", None), ("read", "READ")]
    assert len({c.dedupe_key for c in parsed}) == 3 and all(c.idempotency_token for c in parsed)
    assert {c.sid for c in parsed} == {fake.messages()[0]["sid"]}


def test_magic_failures_arrive_as_callbacks(settings: Settings, fake: FakeTwilioHandle) -> None:
    sends = [OutboundMessage(to="+15005550006", body="x"), OutboundMessage(to="+15005550007", body="x")]
    _, got = run_callbacks(settings, fake, sends, 3)
    by_to: dict[str, list[tuple[str, int | None]]] = {}
    for params, _headers in got:
        cb = parse_status(params)
        by_to.setdefault(cb.to or "", []).append((cb.status, cb.error_code))
    assert by_to == {
        "whatsapp:+15005550006": [("failed", 63016)],
        "whatsapp:+15005550007": [("sent", None), ("undelivered", 63024)],
    }


def test_messaging_service_messages_get_a_queued_callback_first(
    fake: FakeTwilioHandle, twilio_settings: Callable[..., Settings]
) -> None:
    settings = twilio_settings(fake.base_url, account_sid=fake.account_sid, auth_token=fake.auth_token, service=True)
    _, got = run_callbacks(settings, fake, [OutboundMessage(to="+14155550100", body="hi")], 4)
    assert [p["MessageStatus"] for p, _ in got] == ["queued", "sent", "delivered", "read"]


def test_loadgen_runs_at_a_tiny_size(fake: FakeTwilioHandle) -> None:
    from hub.faketwilio.loadgen import load

    ok, failed, _ = asyncio.run(
        load(fake.base_url, concurrency=4, total=20, account_sid=fake.account_sid, auth_token=fake.auth_token)
    )
    assert (ok, failed, fake.stats()["accepted"]) == (20, 0, 24)


def test_cli_lists_the_fake_twilio_command() -> None:
    from click.testing import CliRunner

    from hub.cli import main

    result = CliRunner().invoke(main, ["fake-twilio", "--help"])
    assert result.exit_code == 0 and "--latency-ms" in result.output
