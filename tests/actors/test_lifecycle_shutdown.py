"""Lifecycle middleware: a worker process's event loop thread never keeps the process alive at exit."""

from __future__ import annotations

import threading
from typing import Any

from dramatiq.asyncio import get_event_loop_thread

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


def test_the_worker_loop_thread_is_a_daemon_so_an_exit_without_shutdown_hooks_does_not_hang() -> None:
    fake: Any = _Runtime()
    previous = runtime._current
    runtime.install(fake)
    middleware = Lifecycle()
    try:
        middleware.before_worker_boot(None, None)
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None and loop_thread.is_alive()
        assert loop_thread.daemon
    finally:
        middleware.after_worker_shutdown(None, None)
        runtime.install(previous)


def test_shutdown_stops_the_worker_loop_thread() -> None:
    fake: Any = _Runtime()
    previous = runtime._current
    runtime.install(fake)
    middleware = Lifecycle()
    try:
        middleware.before_worker_boot(None, None)
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None
        middleware.before_worker_shutdown(None, None)
        middleware.after_worker_shutdown(None, None)
        loop_thread.join(timeout=5)
        assert not loop_thread.is_alive()
        assert get_event_loop_thread() is None
    finally:
        runtime.install(previous)
