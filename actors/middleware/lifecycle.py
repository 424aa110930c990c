"""Lifecycle: per worker process, open the store, transport and Redis client on the event loop; close them at exit."""

from __future__ import annotations

from typing import Any

from dramatiq.asyncio import EventLoopThread, get_event_loop_thread, set_event_loop_thread
from dramatiq.middleware import AsyncIO

from actors import runtime


class Lifecycle(AsyncIO):
    """Dramatiq's :class:`AsyncIO` middleware (one event loop thread per worker process) that also starts and
    stops the :class:`actors.runtime.Runtime` resources on that loop.

    It extends ``AsyncIO`` rather than sitting next to it because the resources must be opened after the loop
    starts and closed before it stops, and Dramatiq calls both hooks of every middleware in the same order.
    """

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        # AsyncIO's own hook, but with a daemon loop thread: Dramatiq's is not a daemon, so when the worker
        # process exits without its shutdown hooks (a second SIGTERM within a second of the first makes Dramatiq
        # sys.exit() before worker.stop()), the interpreter waits for the loop forever and the process lives
        # on, orphaned and idle (seen after test runs). Shutdown still stops it in after_worker_shutdown.
        loop_thread = EventLoopThread(self.logger)
        loop_thread.daemon = True
        loop_thread.start(timeout=1.0)
        set_event_loop_thread(loop_thread)
        runtime.current().stopping.clear()
        loop_thread.run_coroutine(runtime.current().start())

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        # A send_batch in progress gives back the rows still waiting for a send slot (they stay owed), so a
        # clean stop does not wait for a whole paced batch.
        runtime.current().stopping.set()
        super().before_worker_shutdown(broker, worker)

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            try:
                loop_thread.run_coroutine(runtime.current().stop())
            except Exception:  # closing must not keep the loop alive; the process is exiting anyway
                self.logger.exception("Closing the worker's resources failed.")
        super().after_worker_shutdown(broker, worker)


__all__ = ["Lifecycle"]
