"""The API's seam to the queue: enqueue sends and fan-outs without the app knowing the broker."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["ActorEnqueuer", "Enqueuer", "RecordingEnqueuer"]


@runtime_checkable
class Enqueuer(Protocol):
    """What the API asks of the queue. Losing a message is harmless: the ledger row stays owed and is swept."""

    def enqueue_sends(self, message_ids: Sequence[int]) -> None:
        """Queue one send per ledger row id."""

    def enqueue_fan_out(self, run_id: int) -> None:
        """Queue the fan-out of a campaign run."""


class ActorEnqueuer:
    """The production enqueuer: Dramatiq actors on the configured broker (imported on first use).

    The actors package sets the broker up at import time, so it is imported lazily: an app that never sends
    (health checks, webhooks) does not need Redis to start.
    """

    def __init__(self) -> None:
        self._send: Any = None
        self._fan_out: Any = None
        self._batch: Any = None

    def _load(self) -> None:
        if self._send is not None:
            return
        send = importlib.import_module("actors.send")
        self._fan_out = importlib.import_module("actors.fan_out").fan_out_run
        self._send = send.send_message
        # Prefer a pipelined helper when the actors provide one (one Redis round trip per batch).
        self._batch = getattr(send, "enqueue_sends", None)

    def enqueue_sends(self, message_ids: Sequence[int]) -> None:
        self._load()
        if not message_ids:
            return
        if self._batch is not None:
            self._batch(list(message_ids))
            return
        for message_id in message_ids:
            self._send.send(message_id)

    def enqueue_fan_out(self, run_id: int) -> None:
        self._load()
        self._fan_out.send(run_id)


class RecordingEnqueuer:
    """Keeps what would have been queued; for tests and dry runs."""

    def __init__(self) -> None:
        self.sends: list[int] = []
        self.fan_outs: list[int] = []

    def enqueue_sends(self, message_ids: Sequence[int]) -> None:
        self.sends.extend(message_ids)

    def enqueue_fan_out(self, run_id: int) -> None:
        self.fan_outs.append(run_id)
