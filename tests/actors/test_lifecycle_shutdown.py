"""Lifecycle middleware: a worker process's event loop thread never keeps the process alive at exit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from dramatiq.asyncio import EventLoopThread, get_event_loop_thread

from actors import runtime
from actors.middleware.lifecycle import Lifecycle


class _Runtime:
    """Stands in for the worker's Runtime (nothing to open or close)."""

    def __init__(self) -> None:
        self.stopping = threading.Event()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


@pytest.fixture
def booted() -> Iterator[tuple[Lifecycle, EventLoopThread]]:
    """A Lifecycle middleware after a worker boot, on a stand-in runtime; shut down afterwards if still running."""
    fake: Any = _Runtime()
    previous = runtime._current
    runtime.install(fake)
    middleware = Lifecycle()
    middleware.before_worker_boot(None, None)
    loop_thread = get_event_loop_thread()
    assert loop_thread is not None and loop_thread.is_alive()
    try:
        yield middleware, loop_thread
    finally:
        if get_event_loop_thread() is not None:
            middleware.after_worker_shutdown(None, None)
        runtime.install(previous)


def test_the_worker_loop_thread_is_a_daemon_so_an_exit_without_shutdown_hooks_does_not_hang(
    booted: tuple[Lifecycle, EventLoopThread],
) -> None:
    _, loop_thread = booted
    assert loop_thread.daemon


def test_shutdown_stops_the_worker_loop_thread(booted: tuple[Lifecycle, EventLoopThread]) -> None:
    middleware, loop_thread = booted
    middleware.before_worker_shutdown(None, None)
    middleware.after_worker_shutdown(None, None)
    loop_thread.join(timeout=5)
    assert not loop_thread.is_alive()
    assert get_event_loop_thread() is None
