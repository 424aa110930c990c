"""The Dramatiq edge: the broker and its middleware, then the actors (Dramatiq's rule: the broker comes first).

Importing this package declares the actors on a placeholder broker and, when the configuration loads, moves
them to the configured one (Dramatiq's import-time idiom, so ``dramatiq actors.boot`` and lazy importers such as
the API's enqueuer find a working broker). :func:`setup` does it explicitly with given settings; tests call it
with ``stub=True`` and a fakeredis client.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq

from actors.broker import build_broker, placeholder_broker

dramatiq.set_broker(placeholder_broker())

from actors import runtime  # noqa: E402
from actors.enqueue import enqueue_sends  # noqa: E402
from actors.fan_out import fan_out_run  # noqa: E402
from actors.journeys import advance_journeys  # noqa: E402
from actors.runtime import Runtime, TransportFactory  # noqa: E402
from actors.send import send_batch  # noqa: E402
from actors.sweep import sweep, sweep_once  # noqa: E402
from hub.config import Settings  # noqa: E402

log = logging.getLogger(__name__)

#: Every actor, so :func:`setup` can move them to the configured broker.
ACTORS: tuple[dramatiq.Actor[Any, Any], ...] = (send_batch, fan_out_run, advance_journeys)


def setup(
    settings: Settings,
    *,
    client: Any = None,
    stub: bool = False,
    namespace: str | None = None,
    transport_factory: TransportFactory | None = None,
) -> dramatiq.Broker:
    """Build the broker for ``settings``, install the process runtime, and move every actor onto the broker.

    Args:
        settings: the hub settings.
        client: a sync Redis client (a ``fakeredis.FakeRedis`` in tests) instead of one from ``redis.url``.
        stub: use Dramatiq's ``StubBroker`` for the queues (the rate limits still use ``client``).
        namespace: Redis key prefix of queues and limits; ``redis.namespace`` (``hub``) by default.
        transport_factory: builds the transport per worker loop (tests pass a fake).

    Returns:
        The broker, also installed as Dramatiq's global broker.
    """
    namespace = namespace or settings.redis.namespace
    broker, limits, async_redis = build_broker(settings, client=client, stub=stub, namespace=namespace)
    runtime.install(
        Runtime(
            settings, limits=limits, async_redis=async_redis, transport_factory=transport_factory, namespace=namespace
        )
    )
    for actor in ACTORS:
        actor.broker = broker
        broker.declare_actor(actor)
    dramatiq.set_broker(broker)
    return broker


def _setup_from_environment() -> None:
    from hub.config import load_settings
    from hub.errors import ConfigError

    try:
        settings = load_settings()
    except ConfigError as exc:  # the CLI reports it with context; importers may still call setup() themselves
        log.warning("actors: configuration not loaded (%s); call actors.setup(settings)", exc)
        return
    setup(settings)


_setup_from_environment()


__all__ = [
    "ACTORS",
    "enqueue_sends",
    "fan_out_run",
    "send_batch",
    "setup",
    "sweep",
    "sweep_once",
]
