"""FakeTransport: records sends and fails on cue (tests)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hub.transport import Receipt
from hub.transport.lookup import RemoteMessage

if TYPE_CHECKING:
    from hub.rendering import OutboundMessage


@dataclass(frozen=True)
class SentMessage:
    """One call to :meth:`FakeTransport.send` (successful or not)."""

    msg: OutboundMessage
    status_callback: str | None
    sid: str | None
    error: BaseException | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


class FakeTransport:
    """A transport for tests: returns sequential sids, remembers every call, raises what it is told to.

    Args:
        status: the status each receipt reports.
        latency_s: seconds each send waits (lets tests hold many sends in flight).

    Failures, checked in this order: :meth:`fail_next` (a script consumed one per call), then
    :meth:`fail_for` (every send to that recipient, or the next ``times`` ones).
    """

    name = "fake"

    def __init__(self, *, status: str = "queued", latency_s: float = 0.0) -> None:
        self.status = status
        self.latency_s = latency_s
        self.calls: list[SentMessage] = []
        self.closed = False
        self._counter = itertools.count(1)
        self._script: list[BaseException | None] = []
        self._per_recipient: dict[str, tuple[BaseException, int | None]] = {}

    @property
    def sent(self) -> list[SentMessage]:
        """Calls that returned a receipt."""
        return [c for c in self.calls if c.error is None]

    def sends_to(self, phone: str) -> int:
        """How many calls (successful or not) went to ``phone``."""
        return sum(1 for c in self.calls if c.msg.to == phone)

    def fail_next(self, *errors: BaseException | None) -> None:
        """Script the next calls: each item is raised by one call in order (None: that call succeeds)."""
        self._script.extend(errors)

    def fail_for(self, phone: str, error: BaseException, *, times: int | None = None) -> None:
        """Raise ``error`` for sends to ``phone``: always, or for the next ``times`` sends."""
        self._per_recipient[phone] = (error, times)

    def _error_for(self, phone: str) -> BaseException | None:
        if self._script:
            return self._script.pop(0)
        entry = self._per_recipient.get(phone)
        if entry is None:
            return None
        error, times = entry
        if times is not None:
            if times <= 1:
                del self._per_recipient[phone]
            else:
                self._per_recipient[phone] = (error, times - 1)
        return error

    async def send(self, msg: OutboundMessage, *, status_callback: str | None = None) -> Receipt:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        error = self._error_for(msg.to)
        if error is not None:
            self.calls.append(SentMessage(msg, status_callback, None, error))
            raise error
        sid = f"SM{next(self._counter):032x}"
        self.calls.append(SentMessage(msg, status_callback, sid))
        return Receipt(sid=sid, status=self.status)

    async def find_sent(self, to: str, since: datetime) -> list[RemoteMessage]:
        """What this transport handed over to ``to`` since ``since``, newest first (it knows every call)."""
        return [
            RemoteMessage(sid=c.sid, to=c.msg.to, body=c.msg.body, status=self.status, created_at=c.at)
            for c in reversed(self.calls)
            if c.sid is not None and c.msg.to == to and c.at >= since
        ]

    async def close(self) -> None:
        self.closed = True


__all__ = ["FakeTransport", "SentMessage"]
