"""Everything but the web server in one process: the Dramatiq worker threads and the scheduler, on one broker."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hub.config import Settings
from hub.runner.recovery import RecoveryReport, recover

if TYPE_CHECKING:
    import dramatiq

    from actors.runtime import TransportFactory
    from scheduler.main import HubScheduler

__all__ = ["WORKER_TIMEOUT_MS", "InProcess", "stop_timeout_s"]

log = logging.getLogger(__name__)

#: How often an idle consumer wakes, in ms: delayed messages (backoffs, throttle holds) come back this promptly.
WORKER_TIMEOUT_MS = 100


def stop_timeout_s(settings: Settings) -> float:
    """How long a clean stop waits for in-flight sends (pure): one Twilio timeout plus 5 s of slack."""
    return settings.twilio.timeout_seconds + 5.0


class InProcess:
    """The worker and scheduler roles of ``hub run``, started and stopped together.

    The web server is the caller's (it owns the main thread and the signals). Start order: the actors on the
    broker (embedded fakeredis or ``redis.url``), the store, the Dramatiq worker threads, start-up recovery
    (with embedded Redis the queue is empty after a restart, so every owed row is queued again), then the
    scheduler. Stop order is the reverse of what produces work: the scheduler first, then the worker, which
    finishes its in-flight sends (bounded) before the store closes.

    Args:
        settings: the hub settings.
        threads: Dramatiq worker threads (sends in flight at once).
        namespace: Redis key prefix of queues and limits (tests share a real Redis).
        transport_factory: builds the transport on the worker loop (tests inject one); default from settings.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        threads: int = 8,
        namespace: str = "hub",
        transport_factory: TransportFactory | None = None,
    ) -> None:
        self.settings = settings
        self.threads = threads
        self.namespace = namespace
        self.transport_factory = transport_factory
        self.broker: dramatiq.Broker | None = None
        self.worker: dramatiq.Worker | None = None
        self.scheduler: HubScheduler | None = None
        self.recovered = RecoveryReport()

    def start(self) -> InProcess:
        """Start the worker threads and the scheduler; returns self. Raises whatever a start-up step raised."""
        import dramatiq

        import actors
        from hub.runner.wiring import scheduler_hooks
        from hub.store import db
        from scheduler.main import build_scheduler

        self.broker = actors.setup(self.settings, namespace=self.namespace, transport_factory=self.transport_factory)
        db.run_sync(db.connect(self.settings))
        self.worker = dramatiq.Worker(self.broker, worker_threads=self.threads, worker_timeout=WORKER_TIMEOUT_MS)
        self.worker.start()
        if self.settings.redis.is_embedded:
            self.recovered = recover(enqueue_fan_out=actors.fan_out_run.send, enqueue_sends=_enqueue_sends)
        # With a real Redis the queue survived: the scheduler's recovery sweep re-enqueues only what it lost.
        self.scheduler = build_scheduler(self.settings, **scheduler_hooks(self.settings))
        self.scheduler.start()
        return self

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop producing work, finish in-flight sends (at most ``timeout_s``), close the store. Idempotent.

        Whatever is still owed stays ``pending`` in the ledger for the next start.
        """
        from hub.store import db

        timeout_s = stop_timeout_s(self.settings) if timeout_s is None else timeout_s
        if self.scheduler is not None:
            log.info("stopping the scheduler")
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        if self.worker is not None:
            log.info("stopping the workers (in-flight sends finish; up to %.0f s)", timeout_s)
            self.worker.stop(timeout=int(timeout_s * 1000))
            self.worker = None
        db.reset()
        log.info("stopped")

    def __enter__(self) -> InProcess:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()


def _enqueue_sends(ids: Any) -> int:
    from actors.enqueue import enqueue_sends

    return enqueue_sends(list(ids))
