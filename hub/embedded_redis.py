"""The in-process Redis of ``redis.url: embedded`` (fakeredis), and clients on whichever Redis the settings name."""

from __future__ import annotations

import threading

import fakeredis
import redis
import redis.asyncio

from hub.config import Settings

__all__ = ["async_client", "embedded_server", "sync_client"]

_server: fakeredis.FakeServer | None = None
_lock = threading.Lock()


def embedded_server() -> fakeredis.FakeServer:
    """The process's in-memory Redis: one server shared by every client in the process (``hub run``'s workers,
    scheduler and API, so the API reads the queues its workers consume)."""
    global _server
    with _lock:
        if _server is None:
            _server = fakeredis.FakeServer()
        return _server


def sync_client(settings: Settings, *, timeout_s: float = 1.0) -> redis.Redis:
    """A client on ``redis.url``, or on this process's embedded server; a real server's calls give up after
    ``timeout_s`` seconds (a page that reads Redis must not hang on it)."""
    if settings.redis.is_embedded:
        return fakeredis.FakeRedis(server=embedded_server())
    return redis.Redis.from_url(settings.redis.url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)


def async_client(settings: Settings, *, timeout_s: float = 1.0) -> redis.asyncio.Redis:
    """:func:`sync_client` for an event loop."""
    if settings.redis.is_embedded:
        return fakeredis.FakeAsyncRedis(server=embedded_server())
    return redis.asyncio.Redis.from_url(settings.redis.url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
