"""SimulatorTransport: no Twilio at all; issues realistic sids and later plays status callbacks back into the hub."""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from hub.transport import ApplyStatus, Receipt
from hub.webhooks import parse_status, row_of

if TYPE_CHECKING:
    from hub.config import Settings
    from hub.rendering import OutboundMessage

log = logging.getLogger(__name__)

#: (code, message) a simulated ``failed`` / ``undelivered`` message ends with, picked at random: final codes only,
#: since a retryable one (30008) makes the row owed again and the simulated run would not settle.
FAILED_ERRORS: tuple[tuple[int, str], ...] = (
    (63016, "Failed to send freeform message because you are outside the allowed window."),
    (63003, "Channel could not find To address"),
)
#: Final codes only: a retryable one (30008, 63018...) would make the row owed again (hub.policy), not undelivered.
UNDELIVERED_ERRORS: tuple[tuple[int, str], ...] = (
    (63032, "User's number is part of an experiment"),
    (63024, "Invalid message recipient"),
)


def new_sid() -> str:
    """A message sid shaped like Twilio's: ``SM`` + 32 hex digits."""
    return "SM" + uuid.uuid4().hex


def plan_statuses(rng: random.Random, failure_rate: float, undelivered_rate: float) -> list[tuple[str, int | None]]:
    """The statuses one simulated message goes through after ``queued``, with an error code on the last one.

    ``failed`` comes before ``sent`` (Twilio or Meta refused it), ``undelivered`` after ``sent``.
    """
    draw = rng.random()
    if draw < failure_rate:
        return [("failed", rng.choice(FAILED_ERRORS)[0])]
    if draw < failure_rate + undelivered_rate:
        return [("sent", None), ("undelivered", rng.choice(UNDELIVERED_ERRORS)[0])]
    return [("sent", None), ("delivered", None), ("read", None)]


_MESSAGES = {code: text for code, text in FAILED_ERRORS + UNDELIVERED_ERRORS}


class SimulatorTransport:
    """Takes every message at once (``queued``, or ``accepted`` with a messaging service) and, one step every
    ``simulator.step_delay_ms``, reports ``sent`` → ``delivered`` → ``read`` (or ``failed`` / ``undelivered`` at
    ``simulator.failure_rate`` / ``undelivered_rate``) by calling ``apply_status`` with the same
    ``StatusCallback`` the status webhook parses, so the same store path runs.

    Args:
        settings: hub settings (``simulator`` section; ``twilio.from`` / ``messaging_service_sid`` when set).
        apply_status: async callable taking a ``StatusCallback``; None means statuses are not played back.
        rng: random source (seed it in tests).
    """

    name = "simulator"

    def __init__(self, settings: Settings, apply_status: ApplyStatus | None, *, rng: random.Random | None = None):
        sim = settings.simulator
        self._apply = apply_status
        self._delay_s = max(sim.step_delay_ms, 0) / 1000
        self._failure_rate = sim.failure_rate
        self._undelivered_rate = sim.undelivered_rate
        self._rng = rng or random.Random()
        self._service = settings.twilio.messaging_service_sid
        self._from = settings.twilio.from_ or "whatsapp:+10000000000"
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Messages whose simulated callbacks have not all been played yet."""
        return len(self._tasks)

    async def send(self, msg: OutboundMessage, *, status_callback: str | None = None) -> Receipt:
        sid = new_sid()
        if self._apply is not None:
            steps = plan_statuses(self._rng, self._failure_rate, self._undelivered_rate)
            row = row_of(urlsplit(status_callback).query) if status_callback else None
            task = asyncio.get_running_loop().create_task(self._play(sid, msg.to, steps, row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return Receipt(sid=sid, status="accepted" if self._service else "queued")

    async def _play(self, sid: str, to: str, steps: list[tuple[str, int | None]], row: int | None) -> None:
        for status, code in steps:
            await asyncio.sleep(self._delay_s)
            params = {
                "MessageSid": sid,
                "SmsSid": sid,
                "MessageStatus": status,
                "SmsStatus": status,
                "To": f"whatsapp:{to}",
                "From": self._from,
                "ChannelPrefix": "whatsapp",
                "ApiVersion": "2010-04-01",
            }
            if status == "read":
                params["EventType"] = "READ"
            if code is not None:
                params["ErrorCode"] = str(code)
                params["ChannelStatusMessage"] = _MESSAGES[code]
            callback = parse_status(params, idempotency_token=uuid.uuid4().hex, message_id=row)
            try:
                result = self._apply(callback)  # type: ignore[misc]
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                # A failing store must not kill the loop of other messages; the real webhook would be retried.
                log.exception("simulator: applying %s for %s failed", status, sid)

    async def find_sent(self, to: str, since: object) -> None:
        """None, always: the simulator keeps no record of what it took, so it cannot say what never arrived
        (``unknown`` rows stay ``unknown`` rather than risk a second send)."""
        return None

    async def drain(self) -> None:
        """Wait until every scheduled status has been played (tests, graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()


__all__ = ["FAILED_ERRORS", "UNDELIVERED_ERRORS", "SimulatorTransport", "new_sid", "plan_statuses"]
