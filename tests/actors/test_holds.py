"""The run-state cache send_batch reads before each HTTP call: one read per run per TTL, shared by callers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from actors.holds import RunStates, hold_of
from hub.status import RunState
from hub.store.records import RunRecord

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def run(state: RunState = RunState.RUNNING, *, expires_at: datetime | None = None) -> RunRecord:
    return RunRecord(
        id=7,
        campaign=None,
        kind="bulk",
        trigger="api",
        fire_key=None,
        state=state,
        scheduled_at=None,
        started_at=NOW,
        finished_at=None,
        expires_at=expires_at,
        fanned_out_at=None,
        created_at=NOW,
        total=None,
        checkpoint=0,
        git_commit=None,
        meta={},
    )


@pytest.mark.parametrize(
    ("record", "hold"),
    [
        (run(), None),
        (run(RunState.PAUSED), "paused"),
        (run(RunState.CANCELED), "canceled"),
        (run(expires_at=NOW), "expired"),
        (run(expires_at=NOW + timedelta(seconds=1)), None),
        (None, None),
    ],
    ids=["running", "paused", "canceled", "expired", "not-yet-expired", "unknown-run"],
)
def test_hold_of(record: RunRecord | None, hold: str | None) -> None:
    assert hold_of(record, NOW) == hold


class Store:
    """A run table of one run whose state the test changes; counts reads."""

    def __init__(self) -> None:
        self.state = RunState.RUNNING
        self.reads = 0

    async def read(self, run_id: int) -> RunRecord:
        self.reads += 1
        await asyncio.sleep(0)
        return run(self.state)


def test_concurrent_askers_share_one_read() -> None:
    store = Store()
    states = RunStates(store.read, clock=lambda: 0.0)

    async def ask_many() -> list[str | None]:
        return await asyncio.gather(*(states.hold(7, NOW) for _ in range(50)))

    assert asyncio.run(ask_many()) == [None] * 50
    assert store.reads == 1


def test_a_pause_is_seen_once_the_cached_state_is_older_than_the_ttl() -> None:
    store = Store()
    now = [0.0]
    states = RunStates(store.read, ttl_s=0.25, clock=lambda: now[0])

    async def scenario() -> list[str | None]:
        seen = [await states.hold(7, NOW)]
        store.state = RunState.PAUSED
        now[0] = 0.2
        seen.append(await states.hold(7, NOW))  # still trusted
        now[0] = 0.26
        seen.append(await states.hold(7, NOW))  # read again
        return seen

    assert asyncio.run(scenario()) == [None, None, "paused"]
    assert store.reads == 2


def test_a_cached_hold_is_read_again_before_it_is_believed() -> None:
    # Given a run cached as paused, then resumed
    store = Store()
    now = [0.0]
    states = RunStates(store.read, ttl_s=0.25, clock=lambda: now[0])
    store.state = RunState.PAUSED

    async def scenario() -> list[str | None]:
        seen = [await states.hold(7, NOW)]
        store.state = RunState.RUNNING
        now[0] = 0.1
        seen.append(await states.hold(7, NOW))  # the cached pause is not trusted
        return seen

    # Then a send right after the resume is not given back
    assert asyncio.run(scenario()) == ["paused", None]
    assert store.reads == 2


def test_a_cached_state_past_half_its_ttl_is_renewed_while_it_is_still_answered() -> None:
    # Given a run read at 0 s, with a ttl of 0.25 s
    store = Store()
    now = [0.0]
    states = RunStates(store.read, ttl_s=0.25, clock=lambda: now[0])

    async def scenario() -> list[str | None]:
        seen = [await states.hold(7, NOW)]
        store.state = RunState.PAUSED
        now[0] = 0.2
        seen.append(await states.hold(7, NOW))  # answered from the cache at once; a new read starts beside it
        await asyncio.sleep(0.01)
        return seen

    # Then the asker past half the ttl did not wait, and the cache holds the renewed state before the old expired
    assert asyncio.run(scenario()) == [None, None]
    assert store.reads == 2
    renewed = states.known(7)
    assert renewed is not None and renewed.state is RunState.PAUSED
