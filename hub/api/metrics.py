"""``/metrics``: HTTP traffic, webhook handling, and the ledger's messages by status (cached a few seconds)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.prometheus import Counter, Gauge, Histogram, exposition
from hub.config import Settings

__all__ = [
    "AppMetrics",
    "MetricsController",
    "http_metrics_middleware",
    "ledger_snapshot",
    "queue_depths",
    "snapshot_for",
]

log = logging.getLogger(__name__)

_LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0)

#: Snapshot of the ledger: {"by_status": {status: n}, "by_error_code": {code: n}, "queue_depth": {queue: n}}.
LedgerSnapshot = Mapping[str, Mapping[str, float]]


class AppMetrics:
    """Every metric one API process exposes. Counters are per process (Prometheus sums across workers).

    Args:
        snapshot: coroutine returning the ledger snapshot; called at most once per ``cache_s`` seconds.
        cache_s: how long a snapshot is reused, in seconds (a scrape must stay cheap on a large ledger).
    """

    def __init__(self, snapshot: Callable[[], Awaitable[LedgerSnapshot]] | None = None, cache_s: float = 5.0) -> None:
        self.http_requests = Counter(
            "hub_http_requests_total", "HTTP requests by route and status", ("method", "route", "status")
        )
        self.http_seconds = Histogram(
            "hub_http_request_duration_seconds", "HTTP request handling time", ("route",), _LATENCY_BUCKETS_S
        )
        self.webhook_callbacks = Counter(
            "hub_webhook_callbacks_total", "Twilio callbacks by kind and outcome", ("kind", "outcome")
        )
        self.duplicate_creates = Counter(
            "hub_duplicate_creates_total", "Second messages at Twilio for one ledger row, seen in status callbacks"
        )
        self.webhook_seconds = Histogram(
            "hub_webhook_lag_seconds",
            "Time from a Twilio callback's arrival to its durable application, in seconds",
            ("kind",),
            _LATENCY_BUCKETS_S,
        )
        self.messages = Gauge("hub_messages", "Ledger rows by status", ("status",))
        self.message_errors = Gauge("hub_messages_by_error_code", "Failed ledger rows by Twilio error code", ("code",))
        self.queue_depth = Gauge("hub_queue_depth", "Messages waiting in the broker queue", ("queue",))
        self._snapshot = snapshot
        self._cache_s = cache_s
        self._fetched_at = -float("inf")

    async def refresh(self) -> None:
        """Reload the ledger gauges unless the last snapshot is younger than ``cache_s``."""
        if self._snapshot is None or time.monotonic() - self._fetched_at < self._cache_s:
            return
        self._fetched_at = time.monotonic()
        try:
            snap = await self._snapshot()
        except Exception as exc:  # a scrape must still answer when the database is down
            log.warning("metrics: ledger snapshot failed (%s)", type(exc).__name__)
            return
        self.messages.replace(((k,), float(v)) for k, v in snap.get("by_status", {}).items())
        self.message_errors.replace(((k,), float(v)) for k, v in snap.get("by_error_code", {}).items())
        self.queue_depth.replace(((k,), float(v)) for k, v in snap.get("queue_depth", {}).items())

    def render(self) -> str:
        return exposition(
            [
                self.http_requests,
                self.http_seconds,
                self.webhook_callbacks,
                self.duplicate_creates,
                self.webhook_seconds,
                self.messages,
                self.message_errors,
                self.queue_depth,
            ]
        )


def http_metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Count every routed HTTP request by method, route template and status, and time it."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            metrics: AppMetrics = scope["app"].state.metrics
            route = str(scope.get("path_template") or "unmatched")
            metrics.http_requests.inc(str(scope.get("method", "GET")), route, str(status[0]))
            metrics.http_seconds.observe(time.perf_counter() - started, route)

    return middleware


class MetricsController(Controller):
    """Prometheus scrape endpoint; not behind the API key (bind it to a private network)."""

    tags = ["operations"]
    opt = {"store": False}  # a scrape answers even when the database is down

    @get("/metrics", operation_id="metrics", summary="Prometheus metrics", media_type="text/plain; version=0.0.4")
    async def metrics(self, state: State) -> Response[str]:
        metrics: AppMetrics = state.metrics
        await metrics.refresh()
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


#: Dramatiq queues whose backlog is reported (each also has a ``.DQ`` delay queue).
QUEUES = ("send", "default")


async def ledger_snapshot() -> LedgerSnapshot:
    """Messages by status and by error code, from the run tallies (never a scan of the ledger's rows)."""
    from hub.store import queries

    return await queries.message_totals()


def snapshot_for(settings: Settings) -> Callable[[], Awaitable[LedgerSnapshot]]:
    """The ledger snapshot plus the broker's queue depths (``LLEN`` per queue, on ``redis.url`` or, with embedded
    Redis, on this process's: ``hub run`` serves the API beside the workers that consume it)."""

    async def snapshot() -> LedgerSnapshot:
        totals = dict(await ledger_snapshot())
        totals["queue_depth"] = await queue_depths(settings)
        return totals

    return snapshot


async def queue_depths(settings: Settings) -> dict[str, float]:
    """Messages waiting in each Dramatiq queue and its delay queue (Redis ``LLEN``; ``redis.namespace`` keys)."""
    from hub.embedded_redis import async_client

    names = [name for queue in QUEUES for name in (queue, f"{queue}.DQ")]
    client = async_client(settings)
    try:
        async with client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.llen(f"{settings.redis.namespace}:{name}")
            lengths = await pipe.execute()
    finally:
        await client.aclose()
    return {name: float(length) for name, length in zip(names, lengths, strict=True)}
