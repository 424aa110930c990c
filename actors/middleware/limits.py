"""Rate-limit state in Redis: shared send-slot buckets (GCRA) and the per-recipient window, as atomic Lua scripts."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any


def _script(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


GCRA_LUA = _script("gcra.lua")
WINDOW_LUA = _script("window.lua")


@dataclass(frozen=True, slots=True)
class Slot:
    """The answer of one bucket.

    Attributes:
        granted: True when a slot ``wait_ms`` from now is reserved for the caller (it must wait, then go).
            False when nothing was reserved: the earliest slot is ``wait_ms`` away, beyond the horizon.
        wait_ms: milliseconds from now.
    """

    granted: bool
    wait_ms: float


class Limits:
    """The Redis scripts every worker process shares. Sync: it is called from Dramatiq worker threads.

    Args:
        client: a ``redis.Redis`` (or ``fakeredis.FakeRedis``) client.
        namespace: key prefix, so tests and deployments sharing one Redis do not share buckets.
    """

    def __init__(self, client: Any, *, namespace: str = "hub") -> None:
        self.client = client
        self.namespace = namespace
        self._gcra = client.register_script(GCRA_LUA)
        self._window = client.register_script(WINDOW_LUA)

    def preload(self) -> None:
        """Load the scripts on the server ahead of use (a NOSCRIPT reply closes a TcpFakeServer connection)."""
        for body in (GCRA_LUA, WINDOW_LUA):
            self.client.script_load(body)

    def bucket_key(self, name: str) -> str:
        """The Redis key of bucket ``name`` (``sender`` or ``run:42``)."""
        return f"{self.namespace}:throttle:{name}"

    def reserve(self, bucket: str, per_second: float, *, horizon_ms: float, now_us: int | None = None) -> Slot:
        """Reserve the next send slot of ``bucket`` when it starts within ``horizon_ms``.

        Args:
            bucket: bucket name (see :meth:`bucket_key`).
            per_second: the bucket's rate, messages per second (> 0).
            horizon_ms: how far ahead a slot may be reserved, in milliseconds.
            now_us: current time in microseconds; None uses the Redis server clock (shared by every host).
        """
        interval_us = 1_000_000.0 / per_second
        granted, wait_us = self._gcra(
            keys=[self.bucket_key(bucket)],
            args=[f"{interval_us:.0f}", f"{horizon_ms * 1000:.0f}", "" if now_us is None else str(now_us)],
        )
        return Slot(granted=bool(granted), wait_ms=int(wait_us) / 1000)

    def recipient_wait_ms(
        self, phone: str, message_id: int, *, max_sends: int, window_s: float, now_ms: int | None = None
    ) -> int:
        """Record a send to ``phone`` if it has room in its window; else return how long until it has (ms).

        Checking the same ``message_id`` again is free (a retried message does not count twice).

        Returns:
            0 when the send was recorded, else the wait in milliseconds.
        """
        key = f"{self.namespace}:recipient:{phone}"
        args = [str(int(window_s * 1000)), str(max_sends), str(message_id), "" if now_ms is None else str(now_ms)]
        return int(self._window(keys=[key], args=args))


class AsyncSlots:
    """The send-slot buckets on an asyncio Redis client: ``send_batch`` takes each send's slot on the event loop,
    right before its HTTP call (same script and keys as :meth:`Limits.reserve`, so both actors share the caps).

    Args:
        client: a ``redis.asyncio.Redis`` (or ``fakeredis.FakeAsyncRedis``) bound to the worker's event loop.
        namespace: the same key prefix as :class:`Limits`.
    """

    def __init__(self, client: Any, *, namespace: str = "hub") -> None:
        self.client = client
        self.namespace = namespace
        self._gcra = client.register_script(GCRA_LUA)

    async def reserve(self, bucket: str, per_second: float, *, horizon_ms: float, now_us: int | None = None) -> Slot:
        """Async twin of :meth:`Limits.reserve`."""
        interval_us = 1_000_000.0 / per_second
        granted, wait_us = await self._gcra(
            keys=[f"{self.namespace}:throttle:{bucket}"],
            args=[f"{interval_us:.0f}", f"{horizon_ms * 1000:.0f}", "" if now_us is None else str(now_us)],
        )
        return Slot(granted=bool(granted), wait_ms=int(wait_us) / 1000)


class AsyncRecipientWindow:
    """The per-recipient window on an asyncio Redis client (used inside the async send actor).

    Args:
        client: a ``redis.asyncio.Redis`` (or ``fakeredis.FakeAsyncRedis``) bound to the worker's event loop.
        namespace: the same key prefix as :class:`Limits`.
    """

    def __init__(self, client: Any, *, namespace: str = "hub") -> None:
        self.client = client
        self.namespace = namespace
        self._window = client.register_script(WINDOW_LUA)

    async def wait_ms(
        self, phone: str, message_id: int, *, max_sends: int, window_s: float, now_ms: int | None = None
    ) -> int:
        """Async twin of :meth:`Limits.recipient_wait_ms` (same script, same keys)."""
        key = f"{self.namespace}:recipient:{phone}"
        args = [str(int(window_s * 1000)), str(max_sends), str(message_id), "" if now_ms is None else str(now_ms)]
        return int(await self._window(keys=[key], args=args))


__all__ = ["GCRA_LUA", "WINDOW_LUA", "AsyncRecipientWindow", "AsyncSlots", "Limits", "Slot"]
