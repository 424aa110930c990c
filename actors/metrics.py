"""The worker's Prometheus metrics (``prometheus_client``), one set per runtime.

``hub worker`` runs Dramatiq's ``Prometheus`` middleware: its processes write these (and Dramatiq's own per-actor
counts) to ``PROMETHEUS_MULTIPROC_DIR``, and the exposition server it forks serves them all on
``dramatiq_prom_port`` (9191 by default). In one process (``hub run``, tests) they stay in the runtime's registry.
"""

from __future__ import annotations

from typing import Any

#: Seconds buckets of the create call (the twilio client's HTTP round trip).
CREATE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Seconds buckets of a send's wait for its slot.
WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class WorkerMetrics:
    """Counters and histograms of the send path.

    Built on the worker's process once ``PROMETHEUS_MULTIPROC_DIR`` is set (``actors.boot`` sets it before
    anything imports ``prometheus_client``, which picks its storage at import).
    """

    def __init__(self) -> None:
        import prometheus_client as prom

        self.registry = prom.CollectorRegistry()
        r = self.registry
        self.creates = prom.Counter(
            "hub_worker_creates", "Create calls to Twilio, by outcome and error code.", ["outcome", "code"], registry=r
        )
        self.create_seconds = prom.Histogram(
            "hub_worker_create_seconds", "Duration of create calls to Twilio.", buckets=CREATE_BUCKETS, registry=r
        )
        self.retries = prom.Counter("hub_worker_retries", "Rows owed again after a transient failure.", registry=r)
        self.pacing_wait_seconds = prom.Histogram(
            "hub_worker_pacing_wait_seconds", "How long a send waited for its slot.", buckets=WAIT_BUCKETS, registry=r
        )
        self.missed_slots = prom.Counter(
            "hub_worker_missed_slots", "Slots dropped: the send woke too late.", registry=r
        )
        self.claims_given_back = prom.Counter(
            "hub_worker_claims_given_back", "Claims given back before any create, by reason.", ["reason"], registry=r
        )
        self.reconcile_verdicts = prom.Counter(
            "hub_worker_reconcile_verdicts", "Unknown rows checked against Twilio, by verdict.", ["verdict"], registry=r
        )
        self.duplicates = prom.Counter(
            "hub_worker_duplicates",
            "Creates Twilio took for a row whose claim had passed to another worker.",
            registry=r,
        )
        self._creates: dict[tuple[str, int | None], Any] = {}

    def created(self, outcome: str, code: int | None, seconds: float | None = None) -> None:
        """One create call ended with ``outcome`` (``accepted``, or the policy's action) and Twilio's ``code``."""
        child = self._creates.get((outcome, code))
        if child is None:  # labels() validates and locks on every call: once per outcome and code is enough
            child = self._creates[outcome, code] = self.creates.labels(outcome, "" if code is None else str(code))
        child.inc()
        if seconds is not None:
            self.create_seconds.observe(seconds)

    def gave_back(self, reason: str) -> None:
        self.claims_given_back.labels(reason).inc()

    def waited(self, seconds: float) -> None:
        self.pacing_wait_seconds.observe(seconds)

    def reconciled(self, counts: dict[Any, int]) -> None:
        """One reconcile pass: rows by verdict (``hub.reconcile_policy.Action`` or its value)."""
        for verdict, count in counts.items():
            if count:
                self.reconcile_verdicts.labels(getattr(verdict, "value", str(verdict))).inc(count)


__all__ = ["CREATE_BUCKETS", "WAIT_BUCKETS", "WorkerMetrics"]
