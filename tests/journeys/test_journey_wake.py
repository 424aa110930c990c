"""The webhooks' wake of the journey advancer: at once, then at most once per spacing (a burst is one more wake)."""

from __future__ import annotations

import asyncio

from hub.api.wake import JourneyWake


def test_the_first_wake_goes_at_once_and_a_burst_after_it_goes_as_one_at_the_spacings_end() -> None:
    wakes: list[int] = []

    async def burst() -> None:
        wake = JourneyWake(lambda: wakes.append(1), spacing_s=0.05)
        wake()
        for _ in range(5):
            wake()
        await asyncio.sleep(0.01)
        assert len(wakes) == 1  # the first, at once; the burst waits for the spacing's end
        await asyncio.sleep(0.2)

    asyncio.run(burst())
    assert len(wakes) == 2


def test_a_wake_that_cannot_reach_the_queue_is_left_to_the_sweep() -> None:
    def broken() -> None:
        raise ConnectionError("redis is down")

    async def wake_once() -> None:
        JourneyWake(broken)()
        await asyncio.sleep(0.05)

    asyncio.run(wake_once())  # no exception: the event is in the ledger, the next tick advances it
