"""Per-process state of the actors: the settings, the Redis limits, and what lives on the worker's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from actors.metrics import WorkerMetrics
from actors.middleware.limits import AsyncRecipientWindow, AsyncSlots, Limits
from actors.pacing import WAVE_ROOM_ROWS, WaveRoom
from hub.store.sends import Submits, new_submits
from hub.templates.status_cache import TemplateStatusCache

if TYPE_CHECKING:
    from actors.holds import RunStates
    from hub.config import Settings
    from hub.transport import Transport
    from hub.webhooks import StatusCallback

TransportFactory = Callable[["Settings"], "Transport"]


@dataclass
class ReconcileState:
    """Where the sweep's reconcile passes resume (``cursor``), and the Twilio client they ask (built once per
    ``key``: account, base URL, timeout); ``passing`` lets one pass run at a time on that client."""

    cursor: int = 0
    key: tuple[Any, ...] | None = None
    lookup: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    passing: threading.Lock = field(default_factory=threading.Lock)


AsyncRedisFactory = Callable[[], Any]
#: Seconds a stop waits for a transport's pending work (the simulator's callbacks) before closing it.
DRAIN_TIMEOUT_S = 5.0


class Runtime:
    """Everything an actor needs besides its message: built once per process by :func:`actors.setup`.

    The transport, the asyncio Redis client and the database pool belong to one event loop (Dramatiq's AsyncIO
    thread in a worker), so they are created by :meth:`start` on that loop, not here.

    Args:
        settings: the hub settings.
        limits: the Redis the limiters share (sync client and key prefix).
        async_redis: builds an asyncio Redis client on the running loop (per-recipient window in the actor).
        transport_factory: builds the transport; defaults to :func:`hub.transport.build_transport`.
        namespace: Redis key prefix of the limits.
        clock: monotonic seconds, what claims' leases are measured on (:mod:`hub.claims`); tests stop it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        limits: Limits,
        async_redis: AsyncRedisFactory,
        transport_factory: TransportFactory | None = None,
        namespace: str = "hub",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.limits = limits
        self.namespace = namespace
        self._async_redis = async_redis
        self._transport_factory = transport_factory
        self.transport: Transport | None = None
        self.recipients: AsyncRecipientWindow | None = None
        self.slots: AsyncSlots | None = None  # send slots taken on the loop
        #: The loop's rows holding a wave slot not yet spent (a wave reserves only as many as there is room for).
        self.wave_room = WaveRoom(WAVE_ROOM_ROWS)
        # Set when the worker begins a clean stop: a batch gives back the rows it has not sent yet.
        self.stopping = threading.Event()
        self._metrics: WorkerMetrics | None = None
        self._runs: RunStates | None = None
        #: Where reconcile passes resume, per process (one ledger).
        self.reconcile = ReconcileState()
        #: Campaign name -> (monotonic read time, ``rate_limit.per_second`` or None), see actors.enqueue.campaign_rate.
        self.campaign_rates: dict[str, tuple[float, float | None]] = {}
        #: Template statuses the send path read (hub.templates.guard), trusted for a few seconds.
        self.templates = TemplateStatusCache()
        #: Submits of one loop's sends within a few ms, written in one statement (hub.store.sends).
        self.submits: Submits = new_submits()
        self._redis: Any = None

    @property
    def metrics(self) -> WorkerMetrics:
        """The process's send-path metrics, built on first use (``prometheus_client`` is imported then, once the
        worker process knows where multiprocess counters live)."""
        if self._metrics is None:
            self._metrics = WorkerMetrics()
        return self._metrics

    @property
    def runs(self) -> RunStates:
        """The process's cache of run states (read before each send: hold, expiry and ValidityPeriod)."""
        if self._runs is None:
            from actors.holds import RunStates
            from hub.store import queries

            self._runs = RunStates(queries.get_run)
        return self._runs

    async def start(self) -> None:
        """Connect the store, build the transport and the asyncio Redis client on the running loop. Idempotent."""
        from hub.store import db

        await db.connect(self.settings)
        if self.transport is None:
            self.transport = self._build_transport()
        if self.recipients is None:
            self._redis = self._async_redis()
            self.recipients = AsyncRecipientWindow(self._redis, namespace=self.namespace)
            self.slots = AsyncSlots(self._redis, namespace=self.namespace)

    async def stop(self) -> None:
        """Close what :meth:`start` opened (the loop's pool, the transport's connections)."""
        from hub.store import db

        if self.transport is not None:
            drain = getattr(self.transport, "drain", None)
            if drain is not None:
                # The simulator's pending status callbacks: let them land (bounded) so a clean stop leaves
                # no message stuck at `queued` that no callback will ever advance.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(drain(), DRAIN_TIMEOUT_S)
            await self.transport.close()
            self.transport = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
            self.recipients = None
            self.slots = None
        await db.disconnect()

    def _build_transport(self) -> Transport:
        if self._transport_factory is not None:
            return self._transport_factory(self.settings)
        from hub.transport import build_transport

        return build_transport(self.settings, on_status=apply_simulated_status)


async def apply_simulated_status(callback: StatusCallback) -> str:
    """Apply a callback the simulator produced exactly as the status webhook applies Twilio's (``source``
    ``simulator``): the same ``StatusUpdate`` built from the same parsed ``StatusCallback``, the same store call.

    Returns:
        The store's outcome (``applied``, ``recorded``, ``duplicate`` or ``parked``).
    """
    from datetime import UTC, datetime

    from hub.store import queries
    from hub.store.records import StatusUpdate

    update = StatusUpdate.from_callback(callback, source="simulator", at=datetime.now(UTC))
    return await queries.apply_status(update, retries=_current.settings.retries if _current is not None else None)


_current: Runtime | None = None


def install(runtime: Runtime | None) -> None:
    """Make ``runtime`` the process's runtime (``actors.setup`` does this)."""
    global _current
    _current = runtime


def current() -> Runtime:
    """The process's runtime.

    Raises:
        RuntimeError: :func:`actors.setup` was not called in this process.
    """
    if _current is None:
        raise RuntimeError("the actors are not set up: call actors.setup(settings) first")
    return _current


__all__ = ["Runtime", "apply_simulated_status", "current", "install"]
