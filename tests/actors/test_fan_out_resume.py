"""fan_out_run after a crash mid-run: resumes from its checkpoint, loses no recipient,
sends none twice."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fakeredis
import msgspec
import pytest
from actor_harness import Harness

import actors
from actors import fan_out
from actors.sweep import sweep
from hub.config import Settings
from hub.status import RunState
from hub.store import queries as q
from hub.transport.fake import FakeTransport

PHONES = [f"+1415555020{i}" for i in range(7)]
CAMPAIGN = "name: resume\nbody: 'Hi {{ name }}'\naudience:\n  recipients:\n" + "".join(
    f"    - {{phone: '{p}', name: P{i}}}\n" for i, p in enumerate(PHONES)
)


class Crash(Exception):
    """Stands for the process dying at that point."""


@pytest.fixture
def engine_harness(db_settings: Settings) -> Iterator[Harness]:
    """The actor harness (StubBroker, fakeredis, FakeTransport) on the ledger engine of ``db_settings``."""
    rate = msgspec.structs.replace(db_settings.rate_limits, per_second=10_000.0)
    settings = msgspec.structs.replace(db_settings, rate_limits=rate)
    redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    transport = FakeTransport()
    namespace = f"t{secrets.token_hex(4)}"
    broker = actors.setup(
        settings, client=redis, stub=True, namespace=namespace, transport_factory=lambda _s: transport
    )
    harness = Harness(settings, broker, redis, transport, namespace)
    yield harness
    if harness.worker is not None:
        harness.worker.stop()
    broker.close()


@pytest.fixture
def run_id(engine_harness: Harness, monkeypatch: pytest.MonkeyPatch) -> int:
    """A running run of a 7-recipient campaign, fanned out in chunks of 3 (3, 3, 1)."""
    monkeypatch.setattr(fan_out, "CHUNK", 3)
    folder = Path(engine_harness.settings.paths.campaigns)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "resume.yaml").write_text(CAMPAIGN, encoding="utf-8")
    run, _ = engine_harness.run(q.create_run(campaign="resume", state=RunState.RUNNING))
    return run.id


def _crash_on_call(n: int, real: Callable[..., Any]) -> Callable[..., Any]:
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == n:
            raise Crash(f"call {n}")
        return real(*args, **kwargs)

    return wrapper


def _state(harness: Harness, run_id: int) -> tuple[int, int]:
    """(the run's checkpoint, its ledger rows)."""
    run = harness.run(q.get_run(run_id))
    assert run is not None
    return run.checkpoint, sum(harness.run(q.run_counts(run_id)).values())


def test_a_chunk_that_fails_stops_the_fan_out_at_the_chunk_before_it(
    engine_harness: Harness, run_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a fan-out whose second chunk fails to write once the third is queued behind it in the writer
    monkeypatch.setattr(fan_out, "WRITES_AHEAD", 2)
    all_queued = threading.Event()
    real_chunks, real_write = fan_out._chunks, fan_out.insert_chunk

    def chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
        yield from real_chunks(items, size)
        all_queued.set()  # resumed after the last chunk was handed to the writer

    def write(*args: Any) -> list[int]:
        if args[2] == 6:  # the second chunk (its checkpoint)
            assert all_queued.wait(10)
            raise Crash("second chunk")
        return real_write(*args)

    monkeypatch.setattr(fan_out, "_chunks", chunks)
    monkeypatch.setattr(fan_out, "insert_chunk", write)
    # When it runs
    with pytest.raises(Crash):
        actors.fan_out_run.fn(run_id)
    # Then only the first chunk is written and the checkpoint stands at its end: the third chunk, though queued,
    # was not written (its checkpoint would have passed the failed rows)
    assert _state(engine_harness, run_id) == (3, 3)


def test_a_fan_out_resumed_after_a_failed_chunk_sends_each_recipient_once(
    engine_harness: Harness, run_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a fan-out that died writing its second chunk
    real = fan_out.insert_chunk
    monkeypatch.setattr(fan_out, "insert_chunk", _crash_on_call(2, real))
    with pytest.raises(Crash):
        actors.fan_out_run.fn(run_id)
    # When it runs again (its retry) and the queues are processed
    monkeypatch.setattr(fan_out, "insert_chunk", real)
    actors.fan_out_run.fn(run_id)
    engine_harness.drain()
    # Then every recipient has one row and one send, and the fan-out is complete
    assert sorted(c.msg.to for c in engine_harness.transport.calls) == PHONES
    assert _state(engine_harness, run_id) == (7, 7)


def test_rows_written_whose_enqueue_died_are_sent_once(
    engine_harness: Harness, run_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a fan-out that died after writing its second chunk, before enqueueing its sends
    real = fan_out.enqueue_rows
    monkeypatch.setattr(fan_out, "enqueue_rows", _crash_on_call(2, real))
    with pytest.raises(Crash):
        actors.fan_out_run.fn(run_id)
    checkpoint, rows = _state(engine_harness, run_id)
    assert checkpoint == rows >= 6  # the checkpoint committed with the rows (the third chunk's may be written too)
    # When it runs again, the queues are processed, then the sweeper looks for rows nobody enqueued
    monkeypatch.setattr(fan_out, "enqueue_rows", real)
    actors.fan_out_run.fn(run_id)
    engine_harness.drain()
    sent_before_sweep = len(engine_harness.transport.calls)
    report = sweep(engine_harness.settings, datetime.now(UTC) + timedelta(minutes=5))
    engine_harness.drain()
    # Then the rows nobody had (the second chunk's, and the third's when it was written before the crash) were
    # queued by the run's first batch as it ended (hub.run_share) or else by the sweeper, and each recipient got
    # one send
    assert sent_before_sweep + report.requeued == len(PHONES)
    assert sorted(c.msg.to for c in engine_harness.transport.calls) == PHONES
    assert _state(engine_harness, run_id) == (7, 7)
