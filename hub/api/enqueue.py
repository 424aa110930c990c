"""The API's seam to the queue: enqueue sends and fan-outs without the app knowing the broker."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from hub.config import Settings

__all__ = ["ActorEnqueuer", "Enqueuer", "RecordingEnqueuer"]


@runtime_checkable
class Enqueuer(Protocol):
    """What the API asks of the queue. Losing a message is harmless: the ledger row stays owed and is swept."""

    def enqueue_sends(
        self, message_ids: Sequence[int], *, run_id: int | None = None, meta: dict[str, Any] | None = None
    ) -> None:
        """Queue one send per ledger row id; with their run's id and meta, so the send actor applies its cap."""

    def enqueue_fan_out(self, run_id: int) -> None:
        """Queue the fan-out of a campaign run."""

    def enqueue_advance(self) -> None:
        """Queue an advance of journey entries (new entries and queued events go on now, not at the next sweep)."""


class ActorEnqueuer:
    """The production enqueuer: Dramatiq actors on the configured broker (set up on first use).

    Imported lazily, so an app that never sends (health checks, webhooks) does not need Redis to start. When this
    process has not set the actors up yet (``hub api`` alone), the first send does it with ``settings``; in
    ``hub run`` or tests the broker already set up is used as is.

    Args:
        settings: the hub settings (``redis.url`` names the broker).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._fan_out: Any = None
        self._advance: Any = None
        self._batch: Any = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._batch is None:
                self._import()

    def _import(self) -> None:
        actors = importlib.import_module("actors")
        try:
            actors.runtime.current()
        except RuntimeError:
            actors.setup(self._settings)
        self._fan_out = actors.fan_out_run
        self._advance = actors.advance_journeys
        self._batch = actors.enqueue_sends  # pipelined: one Redis round trip per batch

    def enqueue_sends(
        self, message_ids: Sequence[int], *, run_id: int | None = None, meta: dict[str, Any] | None = None
    ) -> None:
        self._load()
        if message_ids:
            self._batch(list(message_ids), run_id=run_id, meta=meta)

    def enqueue_fan_out(self, run_id: int) -> None:
        self._load()
        self._fan_out.send(run_id)

    def enqueue_advance(self) -> None:
        self._load()
        self._advance.send()


class RecordingEnqueuer:
    """Keeps what would have been queued; for tests and dry runs."""

    def __init__(self) -> None:
        self.sends: list[int] = []
        self.fan_outs: list[int] = []
        self.send_runs: list[int | None] = []  # the run_id given with each enqueue_sends call
        self.advances = 0

    def enqueue_sends(
        self, message_ids: Sequence[int], *, run_id: int | None = None, meta: dict[str, Any] | None = None
    ) -> None:
        self.sends.extend(message_ids)
        self.send_runs.append(run_id)

    def enqueue_fan_out(self, run_id: int) -> None:
        self.fan_outs.append(run_id)

    def enqueue_advance(self) -> None:
        self.advances += 1
