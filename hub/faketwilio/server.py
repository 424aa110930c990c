"""The fake Twilio Messages API: an aiohttp app that answers creates like Twilio, records them, posts callbacks."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import random
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import msgspec
from aiohttp import web

from hub.faketwilio.behaviour import RATE_LIMITED, Decision, FakeConfig, decide, error_body, over_rate_limit
from hub.faketwilio.callbacks import CallbackPoster
from hub.faketwilio.content import FakeContent
from hub.faketwilio.listing import list_page

CREATE_PATH = "/2010-04-01/Accounts/{account_sid}/Messages.json"
_encode = msgspec.json.Encoder().encode


@dataclass
class Recorder:
    """Every create the fake has seen, for tests and benchmarks."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)  # every create per To
    accepted: dict[str, int] = field(default_factory=dict)  # creates that made a message, per To
    errors: dict[int, int] = field(default_factory=dict)
    requests: int = 0
    auth_failures: int = 0

    def stats(self, *, detail: bool = True) -> dict[str, Any]:
        accepted_total = sum(self.accepted.values())
        out: dict[str, Any] = {
            "requests": self.requests,
            "creates": len(self.messages),
            "accepted": accepted_total,
            "errors": {str(k): v for k, v in sorted(self.errors.items())},
            "auth_failures": self.auth_failures,
            "recipients": len(self.accepted),
            "duplicates": sorted(to for to, n in self.accepted.items() if n > 1),
        }
        if detail:
            out["accepted_per_recipient"] = self.accepted
            out["attempts_per_recipient"] = self.attempts
        return out


def _rfc2822(now: datetime) -> str:
    return format_datetime(now, usegmt=True)


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


class FakeTwilio:
    """State and handlers of one fake server. Build the aiohttp app with :meth:`app`.

    Args:
        config: the knobs; mutated in place by ``POST /_fake/config``.
        rng: random source for the failure mix.
    """

    def __init__(self, config: FakeConfig | None = None, *, rng: random.Random | None = None) -> None:
        self.config = config or FakeConfig()
        self.recorder = Recorder()
        self.content = FakeContent(self.config)  # the Content API (templates), same credentials
        self.callbacks = CallbackPoster(lambda: max(self.config.callback_delay_ms, 0) / 1000)
        self._rng = rng or random.Random()
        self._taken: deque[float] = deque()  # times of the creates within the last second (rate_limit_per_second)
        self._closing = asyncio.Event()  # set at shutdown: hung creates give up so the server stops at once

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(CREATE_PATH, self.create)
        app.router.add_get(CREATE_PATH, self.list_api)
        app.router.add_get("/_fake/messages", self.list_messages)
        app.router.add_get("/_fake/stats", self.get_stats)
        app.router.add_post("/_fake/reset", self.reset)
        app.router.add_post("/_fake/config", self.set_config)
        app.router.add_get("/_fake/config", self.get_config)
        self.content.add_routes(app)
        app.on_startup.append(self._start)
        app.on_shutdown.append(self._shutdown)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, _app: web.Application) -> None:
        await self.callbacks.start()

    async def _shutdown(self, _app: web.Application) -> None:
        self._closing.set()

    async def _stop(self, _app: web.Application) -> None:
        await self.callbacks.stop()

    def _json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(body=_encode(body), status=status, content_type="application/json", headers=headers)

    def _error(self, http_status: int, code: int, message: str, retry_after_s: int | None = None) -> web.Response:
        headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
        return self._json(error_body(http_status, code, message), http_status, headers)

    async def create(self, request: web.Request) -> web.StreamResponse:
        """``POST /2010-04-01/Accounts/{sid}/Messages.json``."""
        self.recorder.requests += 1
        account_sid = request.match_info["account_sid"]
        creds = _basic_auth(request.headers.get("Authorization"))
        cfg = self.config
        if (
            creds is None
            or creds[0] != account_sid
            or not account_sid.startswith("AC")
            or (cfg.account_sid is not None and account_sid != cfg.account_sid)
            or (cfg.auth_token is not None and creds[1] != cfg.auth_token)
        ):
            self.recorder.auth_failures += 1
            return self._error(401, 20003, "Authenticate")
        posted = await request.post()
        form: dict[str, list[str]] = {}
        for key, value in posted.items():
            form.setdefault(key, []).append(str(value))
        if cfg.latency_ms > 0:
            await asyncio.sleep(cfg.latency_ms / 1000)
        to = form.get("To", [""])[-1]
        previous = self.recorder.attempts.get(to, 0)
        self.recorder.attempts[to] = previous + 1
        refusal = self.content.send_refusal(form.get("ContentSid", [""])[-1])  # a paused/disabled template
        if refusal is not None:
            return self._error(*refusal)
        decision = decide(form, config=cfg, previous_creates=previous, rng=self._rng)
        if decision.created and over_rate_limit(self._taken, time.monotonic(), cfg.rate_limit_per_second):
            decision = RATE_LIMITED
        if not decision.created:
            assert decision.code is not None
            self.recorder.errors[decision.code] = self.recorder.errors.get(decision.code, 0) + 1
            return self._error(decision.http_status, decision.code, decision.message, decision.retry_after_s)
        message = self._accept(account_sid, form, decision, creds[1])
        if decision.kind == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), cfg.hang_s)
        elif decision.kind == "drop":
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # nothing more to say on a dead connection
        return self._json(message, 201)

    def _accept(
        self, account_sid: str, form: dict[str, list[str]], decision: Decision, password: str
    ) -> dict[str, Any]:
        def one(key: str) -> str | None:
            values = form.get(key)
            return values[-1] if values else None

        sid = "SM" + uuid.uuid4().hex
        service = one("MessagingServiceSid")
        now = _rfc2822(datetime.now(UTC))
        message: dict[str, Any] = {
            "sid": sid,
            "account_sid": account_sid,
            "messaging_service_sid": service,
            "to": one("To"),
            "from": one("From"),
            "body": one("Body") or "",
            "status": "accepted" if service else "queued",
            "direction": "outbound-api",
            "num_segments": "0" if service else "1",
            "num_media": str(len(form.get("MediaUrl", []))),
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"},
        }
        to = message["to"]
        self.recorder.accepted[to] = self.recorder.accepted.get(to, 0) + 1
        # "at" (epoch seconds) lets benchmarks cut the creates into 1-s pace windows.
        # The values as tuples of str, which the collector stops tracking (and then the dicts that hold only them):
        # a run's creates kept here are not walked again by every collection (a third of the fake's CPU at 40,000).
        params = {key: tuple(values) for key, values in form.items()}
        self.recorder.messages.append(
            {"sid": sid, "to": to, "outcome": decision.kind, "params": params, "at": time.time()}
        )
        callback = one("StatusCallback")
        if callback and self.config.callbacks:
            base = {
                "AccountSid": account_sid,
                "MessageSid": sid,
                "SmsSid": sid,
                "To": to,
                "From": one("From") or "whatsapp:+15005550006",
                "ApiVersion": "2010-04-01",
                "ChannelPrefix": "whatsapp",
            }
            if service:
                base["MessagingServiceSid"] = service
            self.callbacks.schedule(callback, self.config.auth_token or password, base, decision.steps)
        return message

    async def list_api(self, request: web.Request) -> web.Response:
        """``GET /2010-04-01/Accounts/{sid}/Messages.json``: Twilio's list (see ``hub.faketwilio.listing``)."""
        account_sid = request.match_info["account_sid"]
        creds = _basic_auth(request.headers.get("Authorization"))
        if creds is None or creds[0] != account_sid or (self.config.auth_token and creds[1] != self.config.auth_token):
            return self._error(401, 20003, "Authenticate")
        return self._json(list_page(account_sid, self.recorder.messages, request.query))

    async def list_messages(self, request: web.Request) -> web.Response:
        """``GET /_fake/messages[?to=whatsapp:+1...]``: every recorded create."""
        to = request.query.get("to")
        items = self.recorder.messages if to is None else [m for m in self.recorder.messages if m["to"] == to]
        return self._json(items)

    async def get_stats(self, request: web.Request) -> web.Response:
        """``GET /_fake/stats[?detail=0]``: counts, per-recipient creates, callback counters."""
        out = self.recorder.stats(detail=request.query.get("detail", "1") != "0")
        cb = self.callbacks.stats
        out["callbacks"] = {
            "posted": cb.posted,
            "failed": cb.failed,
            "dropped": cb.dropped,
            "queued": self.callbacks.queued,
            "by_status": cb.by_status,
        }
        return self._json(out)

    async def reset(self, _request: web.Request) -> web.Response:
        """``POST /_fake/reset``: forget every create and pending callback."""
        self.recorder = Recorder()
        self.callbacks.reset()
        return self._json({"ok": True})

    async def get_config(self, _request: web.Request) -> web.Response:
        data = {k: getattr(self.config, k) for k in self.config.__dataclass_fields__ if k != "auth_token"}
        return self._json(data)

    async def set_config(self, request: web.Request) -> web.Response:
        """``POST /_fake/config`` with a JSON object of :class:`FakeConfig` fields to change."""
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            self.config.update(changes)
        except (ValueError, KeyError) as exc:
            return self._json({"error": "bad config", "detail": str(exc)}, 400)
        return await self.get_config(request)


async def serve(fake: FakeTwilio, host: str, port: int, *, backlog: int = 2048) -> web.AppRunner:
    """Start ``fake`` listening on ``host:port`` (0 picks a free port); returns the runner (``.addresses``)."""
    runner = web.AppRunner(fake.app(), access_log=None, keepalive_timeout=75.0, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=backlog, reuse_address=True)
    await site.start()
    return runner


__all__ = ["CREATE_PATH", "FakeTwilio", "Recorder", "serve"]
