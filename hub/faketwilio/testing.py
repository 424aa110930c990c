"""Run the fake Twilio in a background thread, for tests and scripts: ``with start_fake_twilio() as fake: ...``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from hub.faketwilio.behaviour import FakeConfig
from hub.faketwilio.server import FakeTwilio, serve

T = TypeVar("T")

DEFAULT_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEFAULT_AUTH_TOKEN = "fake-auth-token"


class FakeTwilioHandle:
    """A running fake: its URL, credentials, and thread-safe access to what it recorded.

    Attributes:
        base_url: ``http://127.0.0.1:PORT``: set it as ``twilio.api_base_url``.
        account_sid / auth_token: the credentials it accepts and signs callbacks with.
    """

    def __init__(
        self,
        fake: FakeTwilio,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
        port: int,
        stopper: asyncio.Event,
    ) -> None:
        self.fake = fake
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.account_sid = fake.config.account_sid or DEFAULT_ACCOUNT_SID
        self.auth_token = fake.config.auth_token or DEFAULT_AUTH_TOKEN
        self._loop = loop
        self._thread = thread
        self._stopper = stopper

    def _call(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    def messages(self) -> list[dict[str, Any]]:
        """A copy of every recorded create (``sid``, ``to``, ``outcome``, ``params`` with all values)."""
        return self._call(lambda: [_copy(m) for m in self.fake.recorder.messages])

    def stats(self) -> dict[str, Any]:
        """The same counters as ``GET /_fake/stats``."""
        return self._call(lambda: self.fake.recorder.stats())

    def callback_stats(self) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            cb = self.fake.callbacks.stats
            return {"posted": cb.posted, "failed": cb.failed, "dropped": cb.dropped, "by_status": dict(cb.by_status)}

        return self._call(read)

    def configure(self, **changes: Any) -> None:
        """Change :class:`FakeConfig` fields at runtime (``latency_ms=150``, ``fail_rate=0.1``...)."""
        self._call(lambda: self.fake.config.update(changes))

    def reset(self) -> None:
        def run() -> None:
            from hub.faketwilio.server import Recorder

            self.fake.recorder = Recorder()
            self.fake.callbacks.reset()

        self._call(run)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopper.set)
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeTwilioHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_fake_twilio(port: int = 0, *, host: str = "127.0.0.1", **config: Any) -> FakeTwilioHandle:
    """Start a fake Twilio on ``host:port`` in a daemon thread with its own event loop.

    Args:
        port: 0 picks a free port.
        host: interface to bind.
        **config: :class:`FakeConfig` fields; ``account_sid`` and ``auth_token`` default to fixed test values.
    """
    config.setdefault("account_sid", DEFAULT_ACCOUNT_SID)
    config.setdefault("auth_token", DEFAULT_AUTH_TOKEN)
    fake = FakeTwilio(FakeConfig(**config))
    ready: dict[str, Any] = {}
    started = threading.Event()

    def main() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        stopper = asyncio.Event()
        ready["loop"] = loop
        ready["stopper"] = stopper
        runner: web.AppRunner | None = None
        try:
            runner = loop.run_until_complete(serve(fake, host, port))
            ready["port"] = runner.addresses[0][1]
        except BaseException as exc:  # report bind errors to the caller
            ready["error"] = exc
            started.set()
            return
        started.set()
        loop.run_until_complete(stopper.wait())
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=main, name="fake-twilio", daemon=True)
    thread.start()
    started.wait(timeout=10)
    if "error" in ready:
        raise ready["error"]
    return FakeTwilioHandle(fake, ready["loop"], thread, ready["port"], ready["stopper"])


def _copy(recorded: dict[str, Any]) -> dict[str, Any]:
    """A recorded create with its parameters' values as lists (the recorder keeps tuples)."""
    return {**recorded, "params": {key: list(values) for key, values in recorded["params"].items()}}


__all__ = ["DEFAULT_ACCOUNT_SID", "DEFAULT_AUTH_TOKEN", "FakeTwilioHandle", "start_fake_twilio"]
