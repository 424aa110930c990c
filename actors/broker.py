"""The Dramatiq broker: real or embedded (fakeredis) Redis, with the middleware stack declared once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import uuid4

import dramatiq
import fakeredis
import redis
import redis.asyncio
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import current_millis, dq_name
from dramatiq.middleware import AgeLimit, Callbacks, Middleware, Pipelines, ShutdownNotifications, TimeLimit

from actors.middleware.inflight import Inflight
from actors.middleware.lifecycle import Lifecycle
from actors.middleware.limits import Limits
from actors.middleware.retries import build_retries
from actors.runtime import AsyncRedisFactory
from hub.config import Settings
from hub.embedded_redis import embedded_server

#: Default Redis key prefix of the queues and the rate-limit state.
NAMESPACE = "hub"
#: Connections of a worker loop's asyncio Redis client (shared by every send in flight on that loop).
ASYNC_REDIS_CONNECTIONS = 64


class HubRedisBroker(RedisBroker):
    """Dramatiq's Redis broker with the two operations it lacks: a pipelined batch enqueue and an immediate
    requeue of dead workers' messages.

    The one place Dramatiq's Redis internals are used (its ``dispatch`` script, its argument list,
    ``_max_unpack_size``): dramatiq is pinned to a minor version in ``pyproject.toml``, and
    ``tests/actors/test_broker_contract.py`` checks both operations against a real Redis.
    """

    def enqueue_many(
        self,
        messages: Sequence[dramatiq.Message[Any]],
        *,
        delays: Sequence[int | None] | None = None,
        also: Callable[[Any, list[Any]], None] | None = None,
    ) -> None:
        """Enqueue ``messages`` in one pipelined round trip, as :meth:`enqueue` does one by one (a fresh
        ``redis_message_id`` each, a delayed one on the delay queue with its ``eta``, the ``enqueue`` hooks).

        Args:
            messages: the messages.
            delays: each message's delay in ms (None: none); no delays when omitted.
            also: ``(pipeline, enqueued)`` adds more commands to the same round trip (the inflight counters).
        """
        dispatch = self.scripts["dispatch"]
        max_unpack = self._max_unpack_size()  # warm the class cache outside the pipeline (it returns a value)
        pipe = self.client.pipeline(transaction=False)
        ready = []
        delays = list(delays) if delays is not None else [None] * len(messages)
        for message, delay in zip(messages, delays, strict=True):
            message = message.copy(options={"redis_message_id": str(uuid4())})
            if delay is not None:
                message = message.copy(
                    queue_name=dq_name(message.queue_name), options={"eta": current_millis() + delay}
                )
            self.emit_before("enqueue", message, delay)
            args = [
                "enqueue",
                current_millis(),
                message.queue_name,
                self.broker_id,
                self.heartbeat_timeout,
                self.dead_message_ttl,
                0,  # no queue maintenance from inside a batch
                max_unpack,
                message.options["redis_message_id"],
                message.encode(),
            ]
            dispatch(keys=[self.namespace], args=args, client=pipe)
            ready.append(message)
        if also is not None:
            also(pipe, ready)
        pipe.execute()
        for message, delay in zip(ready, delays, strict=True):
            self.emit_after("enqueue", message, delay)

    def requeue_dead_workers(self, heartbeat_timeout_ms: int | None = None) -> None:
        """Put the unacked messages of workers silent for ``heartbeat_timeout_ms`` (default: the broker's) back on
        their queues now; Dramatiq does it only on a random 0.1 % of its commands."""
        timeout = self.heartbeat_timeout if heartbeat_timeout_ms is None else heartbeat_timeout_ms
        dispatch = self.scripts["dispatch"]
        max_unpack = self._max_unpack_size()
        queues = self.get_declared_queues()
        for queue in sorted(queues | {dq_name(q) for q in queues}):
            args = ["qsize", current_millis(), queue, self.broker_id, timeout, self.dead_message_ttl, 1, max_unpack]
            dispatch(keys=[self.namespace], args=args)


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
        broker = HubRedisBroker(client=sync_client, namespace=namespace, middleware=middleware)
    return broker, limits, async_factory


def placeholder_broker() -> dramatiq.Broker:
    """An unconnected broker with our middleware, so actors can be declared at import with their options.

    :func:`actors.setup` moves them to the real broker.
    """
    return StubBroker(middleware=middleware_stack(Settings(), None))


__all__ = [
    "NAMESPACE",
    "build_broker",
    "embedded_server",
    "middleware_stack",
    "placeholder_broker",
    "redis_clients",
]
