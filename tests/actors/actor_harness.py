"""The actor test harness (imported by ``conftest.py`` and the tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dramatiq
import fakeredis
from dramatiq import Worker

import actors
from hub.config import Settings
from hub.status import RunState
from hub.store import db
from hub.store import queries as q
from hub.transport.fake import FakeTransport


def wait_until(condition: Callable[[], bool], *, timeout_s: float = 10.0) -> None:
    """Poll ``condition`` until it holds (a worker thread is doing the work); fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


@dataclass
class Harness:
    settings: Settings
    broker: dramatiq.Broker
    redis: fakeredis.FakeRedis
    transport: FakeTransport
    namespace: str
    worker: Worker | None = None

    def start(self) -> None:
        self.worker = Worker(self.broker, worker_threads=2, worker_timeout=20)
        self.worker.start()

    def drain(self) -> None:
        """Process every queued message, delayed ones included, until nothing is left (starts the worker)."""
        if self.worker is None:
            self.start()
        for queue in ("default", actors.send.SEND_QUEUE):
            self.broker.join(queue, fail_fast=False)
        assert self.worker is not None
        self.worker.join()

    def queued_sends(self) -> list[tuple[int, dramatiq.Message[Any]]]:
        """Each ledger row id waiting in the send queue with its message (a ``send_batch`` message per many ids)."""
        found = []
        for data in self.broker.queues[actors.send.SEND_QUEUE].queue:
            message = dramatiq.Message.decode(data)
            first = message.args[0]
            found.extend((int(i), message) for i in (first if isinstance(first, list) else [first]))
        return found

    def pending_messages(self, queue: str) -> int:
        return self.broker.queues[queue].qsize() + self.broker.queues[f"{queue}.DQ"].qsize()

    def run(self, coro: Any) -> Any:
        return db.run_sync(coro)

    def new_run(self, phones: list[str], *, body: str = "hi", **kwargs: Any) -> tuple[q.RunRecord, list[int]]:
        async def make() -> tuple[q.RunRecord, list[int]]:
            run, _ = await q.create_run(state=RunState.RUNNING, **kwargs)
            ids = await q.insert_messages(run.id, [q.NewMessage(recipient=p, body=body) for p in phones])
            return run, ids

        return db.run_sync(make())

    def message(self, message_id: int) -> q.MessageRecord:
        record = db.run_sync(q.get_message(message_id))
        assert record is not None
        return record
