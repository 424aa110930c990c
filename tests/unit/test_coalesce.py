"""hub.coalesce: calls close together run as one batch; each caller gets its own answer."""

from __future__ import annotations

import asyncio

import pytest

from hub.coalesce import Coalescer


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def recording() -> tuple[list[list[int]], Coalescer[int, int]]:
    batches: list[list[int]] = []

    async def flush(items: list[int]) -> list[int | BaseException]:
        batches.append(list(items))
        return [item * 10 for item in items]

    return batches, Coalescer(flush, max_delay_s=0.001)


def test_concurrent_calls_are_written_as_one_batch() -> None:
    batches, coalesce = recording()

    async def main() -> list[int]:
        return await asyncio.gather(*(coalesce(i) for i in range(5)))

    assert run(main()) == [0, 10, 20, 30, 40]
    assert batches == [[0, 1, 2, 3, 4]]


def test_each_caller_gets_its_own_result_in_order() -> None:
    _, coalesce = recording()

    async def main() -> list[int]:
        return await asyncio.gather(coalesce(7), coalesce(3))

    assert run(main()) == [70, 30]


def test_a_full_batch_is_flushed_without_waiting() -> None:
    batches: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        batches.append(list(items))
        return items

    coalesce: Coalescer[int, int] = Coalescer(flush, max_items=2, max_delay_s=60)

    async def main() -> list[int]:
        return await asyncio.wait_for(asyncio.gather(*(coalesce(i) for i in range(4))), timeout=5)

    assert run(main()) == [0, 1, 2, 3]
    assert batches == [[0, 1], [2, 3]]


def test_calls_apart_in_time_are_separate_batches() -> None:
    batches, coalesce = recording()

    async def main() -> None:
        await coalesce(1)
        await coalesce(2)

    run(main())
    assert batches == [[1], [2]]


def test_a_failed_flush_reaches_every_caller_of_the_batch() -> None:
    async def flush(items: list[int]) -> list[int]:
        raise ConnectionError("database down")

    coalesce: Coalescer[int, int] = Coalescer(flush)

    async def main() -> list[object]:
        return await asyncio.gather(coalesce(1), coalesce(2), return_exceptions=True)

    outcomes = run(main())
    assert [type(o) for o in outcomes] == [ConnectionError, ConnectionError]


def test_an_exception_result_is_raised_to_its_caller_alone() -> None:
    async def flush(items: list[int]) -> list[int | BaseException]:
        return [ValueError(f"bad {i}") if i < 0 else i for i in items]

    coalesce: Coalescer[int, int] = Coalescer(flush)

    async def main() -> list[object]:
        return await asyncio.gather(coalesce(1), coalesce(-1), return_exceptions=True)

    ok, bad = run(main())
    assert ok == 1
    assert isinstance(bad, ValueError) and str(bad) == "bad -1"


def test_a_flush_returning_the_wrong_count_fails_its_callers() -> None:
    async def flush(items: list[int]) -> list[int]:
        return items[:1]

    coalesce: Coalescer[int, int] = Coalescer(flush)

    async def main() -> list[object]:
        return await asyncio.gather(coalesce(1), coalesce(2), return_exceptions=True)

    assert all(isinstance(o, RuntimeError) for o in run(main()))


def test_a_cancelled_caller_does_not_take_its_item_out_of_the_batch() -> None:
    batches, coalesce = recording()

    async def main() -> int:
        first = asyncio.ensure_future(coalesce(1))
        second = asyncio.ensure_future(coalesce(2))
        await asyncio.sleep(0)
        first.cancel()
        return await second

    assert run(main()) == 20
    assert batches == [[1, 2]]


def test_each_event_loop_batches_its_own_calls() -> None:
    batches, coalesce = recording()

    async def main(base: int) -> list[int]:
        return await asyncio.gather(coalesce(base), coalesce(base + 1))

    assert run(main(0)) == [0, 10]
    assert run(main(5)) == [50, 60]
    assert batches == [[0, 1], [5, 6]]


def test_drain_waits_for_the_flush_in_flight() -> None:
    written: list[int] = []

    async def flush(items: list[int]) -> list[int]:
        await asyncio.sleep(0.01)
        written.extend(items)
        return items

    coalesce: Coalescer[int, int] = Coalescer(flush, max_delay_s=60)

    async def main() -> None:
        task = asyncio.ensure_future(coalesce(1))
        await asyncio.sleep(0)
        await coalesce.drain()
        assert written == [1]
        assert task.done()

    run(main())


def test_max_items_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_items"):
        Coalescer(lambda items: asyncio.sleep(0, items), max_items=0)
