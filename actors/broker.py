"""The Dramatiq broker: real or embedded (fakeredis) Redis, with the middleware stack declared once."""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
import fakeredis
import redis
import redis.asyncio
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Middleware, Pipelines, ShutdownNotifications, TimeLimit

from actors.middleware.inflight import Inflight
from actors.middleware.lifecycle import Lifecycle
from actors.middleware.limits import Limits
from actors.middleware.retries import build_retries
from actors.runtime import AsyncRedisFactory
from hub.config import Settings

#: Default Redis key prefix of the queues and the rate-limit state.
NAMESPACE = "hub"
#: Connections of a worker loop's asyncio Redis client (shared by every send in flight on that loop).
ASYNC_REDIS_CONNECTIONS = 64

_embedded_server: fakeredis.FakeServer | None = None
_embedded_lock = threading.Lock()


def embedded_server() -> fakeredis.FakeServer:
    """The process's in-memory Redis (``redis.url: embedded``): one server shared by every client in the process."""
    global _embedded_server
    with _embedded_lock:
        if _embedded_server is None:
            _embedded_server = fakeredis.FakeServer()
        return _embedded_server


#: Actors whose live messages are counted for the sweeper: name -> counter field prefix (before each ledger row id of
#: the send actor's list, before the run id of ``fan_out_run``).
INFLIGHT_ACTORS = {"send_batch": "", "fan_out_run": "run:"}


def middleware_stack(settings: Settings, limits: Limits | None) -> list[Middleware]:
    """The middleware of every broker we build, in order.

    ``AgeLimit`` drops nothing (no actor sets ``max_age``) but is kept for ad-hoc actors; ``TimeLimit`` caps a
    message at 10 minutes (the send actor sets its own, shorter limit). Pacing is not a middleware: the send
    actor takes each row's slot itself, after the reads the send depends on (:mod:`actors.pacing`).
    """
    return [
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        build_retries(settings.retries),
        Lifecycle(),
        Inflight(
            client=limits.client if limits else None,
            namespace=limits.namespace if limits else NAMESPACE,
            actors=INFLIGHT_ACTORS,
        ),
    ]


def redis_clients(settings: Settings, client: Any = None) -> tuple[Any, AsyncRedisFactory]:
    """The sync Redis client and a factory of asyncio clients on the same server.

    Args:
        settings: ``redis.url`` (``embedded`` or ``redis://...``).
        client: an explicit sync client (a ``fakeredis.FakeRedis`` in tests); its server is shared with the
            asyncio clients. A real ``redis.Redis`` passed here pairs with asyncio clients on ``redis.url``.
    """
    if client is None:
        if settings.redis.is_embedded:
            client = fakeredis.FakeRedis(server=embedded_server())
        else:
            client = redis.Redis.from_url(settings.redis.url)
    if isinstance(client, fakeredis.FakeRedis):
        server = client.connection_pool.connection_kwargs["server"]
        return client, lambda: fakeredis.FakeAsyncRedis(server=server)
    url = settings.redis.url
    # A blocking pool: send_batch runs a batch's sends concurrently on the loop, more Redis calls at once than a
    # plain pool allows (it raises "Too many connections" past its 100); these wait for a free connection instead.
    # from_pool: the client owns the pool, so closing it (Runtime.stop) closes the connections too.
    return client, lambda: redis.asyncio.Redis.from_pool(
        redis.asyncio.BlockingConnectionPool.from_url(url, max_connections=ASYNC_REDIS_CONNECTIONS)
    )


def build_broker(
    settings: Settings, *, client: Any = None, stub: bool = False, namespace: str = NAMESPACE
) -> tuple[dramatiq.Broker, Limits, AsyncRedisFactory]:
    """Build the broker (not yet global: :func:`actors.setup` installs it).

    Args:
        settings: the hub settings (``redis.url``, ``rate_limits``, ``retries``).
        client: a sync Redis client to use instead of one built from ``redis.url``.
        stub: a ``StubBroker`` (in-memory queues) instead of ``RedisBroker``; the rate limits still use Redis
            (``client``, or the embedded fakeredis).
        namespace: prefix of every Redis key (queues and limits), so deployments and tests can share a server.

    Returns:
        The broker, its rate-limit scripts, and the asyncio Redis client factory for the worker's loop.
    """
    sync_client, async_factory = redis_clients(settings, client)
    limits = Limits(sync_client, namespace=namespace)
    middleware = middleware_stack(settings, limits)
    broker: dramatiq.Broker
    if stub:
        broker = StubBroker(middleware=middleware)
    else:
        broker = RedisBroker(client=sync_client, namespace=namespace, middleware=middleware)
    return broker, limits, async_factory


def placeholder_broker() -> dramatiq.Broker:
    """An unconnected broker with our middleware, so actors can be declared at import with their options.

    :func:`actors.setup` moves them to the real broker.
    """
    return StubBroker(middleware=middleware_stack(Settings(), None))


__all__ = ["NAMESPACE", "build_broker", "embedded_server", "middleware_stack", "placeholder_broker", "redis_clients"]
