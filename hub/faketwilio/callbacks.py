"""Signed status callbacks from the fake Twilio: a bounded queue drained by a fixed pool of posting tasks."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from hub.faketwilio.behaviour import CALLBACK_ERRORS, Step
from hub.webhooks import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, compute_signature

log = logging.getLogger(__name__)


@dataclass
class _Job:
    due: float  # loop time, s
    url: str
    token: str  # the auth token the callback is signed with
    base: dict[str, str]  # parameters common to every step of this message
    steps: tuple[Step, ...]
    attempt: int = 0
    idem: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class CallbackStats:
    posted: int = 0
    failed: int = 0
    dropped: int = 0  # not queued: the queue was full
    by_status: dict[str, int] = field(default_factory=dict)


class CallbackPoster:
    """Posts each message's status callbacks in order, ``delay_s()`` apart, signed like Twilio signs them.

    Jobs are due in the order they are queued (the delay is the same for all), so a FIFO queue is enough.
    The queue is bounded; when it is full a callback is counted as ``dropped`` rather than slowing creates.

    Args:
        delay_s: returns the current delay between steps, seconds (read per step so it can change at runtime).
        workers: concurrent posting tasks (and HTTP connections).
        max_queue: queue bound.
        retries: extra attempts for a callback that failed to connect or got a 5xx (Twilio retries too).
    """

    def __init__(
        self, delay_s: Callable[[], float], *, workers: int = 32, max_queue: int = 200_000, retries: int = 1
    ) -> None:
        self._delay_s = delay_s
        self._workers = workers
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=max_queue)
        self._retries = retries
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self.stats = CallbackStats()

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._workers, limit_per_host=0)
        self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=15))
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._session is not None:
            await self._session.close()

    def reset(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        self.stats = CallbackStats()

    def schedule(self, url: str, token: str, base: dict[str, str], steps: tuple[Step, ...]) -> None:
        """Queue the callbacks of one message; the first is due ``delay_s()`` from now."""
        if steps:
            self._put(_Job(self._now() + self._delay_s(), url, token, base, steps))

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _put(self, job: _Job) -> None:
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self.stats.dropped += 1

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            wait = job.due - self._now()
            if wait > 0:
                await asyncio.sleep(wait)
            ok = await self._post(job)
            if ok:
                if len(job.steps) > 1:
                    self._put(_Job(self._now() + self._delay_s(), job.url, job.token, job.base, job.steps[1:]))
            elif job.attempt < self._retries:
                job.attempt += 1
                job.due = self._now() + 1.0
                self._put(job)

    async def _post(self, job: _Job) -> bool:
        status, code = job.steps[0]
        params = dict(job.base)
        params["MessageStatus"] = params["SmsStatus"] = status
        if status == "read":
            params["EventType"] = "READ"
        if code is not None:
            params["ErrorCode"] = str(code)
            params["ChannelStatusMessage"] = CALLBACK_ERRORS.get(code, "error")
        headers = {
            SIGNATURE_HEADER: compute_signature(job.url, params, job.token),
            IDEMPOTENCY_HEADER: f"{job.idem}-{status}",
            "User-Agent": "TwilioProxy/1.1",
        }
        assert self._session is not None
        started = time.monotonic()
        try:
            async with self._session.post(job.url, data=params, headers=headers) as resp:
                await resp.read()
                ok = resp.status < 500
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.debug("callback %s to %s failed after %.3fs: %r", status, job.url, time.monotonic() - started, exc)
            ok = False
        if ok:
            self.stats.posted += 1
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
        else:
            self.stats.failed += 1
        return ok


__all__ = ["CallbackPoster", "CallbackStats"]
