"""A recipient's journey played out on paper (`hub render NAME --to PHONE --assume ...`), by the real engine."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime

import msgspec

from hub.campaigns.journey import Journey
from hub.errors import RenderError
from hub.journeys.engine import Context, Decision, Enter, Event, Timer, advance
from hub.journeys.variables import EntryRecipient, JourneyRenderer
from hub.rendering import OutboundMessage

__all__ = ["TIMEOUT", "TimelineLine", "timeline"]

#: The assumption that nothing awaited happens before the timeout (also what is assumed once the list runs out).
TIMEOUT = "timeout"
#: A journey that has not ended after this many waits is shown only that far (loops that always wait).
MAX_WAITS = 50


class TimelineLine(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a timeline: a step, when, what happened (a decision, or the message sent) and where it led."""

    step: str
    at: datetime
    outcome: str
    detail: str | None = None
    message: OutboundMessage | None = None
    error: str | None = None


def timeline(
    journey: Journey,
    renderer: JourneyRenderer,
    recipient: EntryRecipient,
    *,
    timezone: str,
    start: datetime,
    assume: Sequence[str],
) -> list[TimelineLine]:
    """Every step the recipient would pass, from entering at ``start`` until the entry ends.

    Args:
        journey: the journey.
        renderer: its compiled messages and conditions.
        recipient: the entry's recipient, with its event and contact variables.
        timezone: the recipient's zone (for ``wait: {until}``).
        start: when the entry begins.
        assume: what happens at each successive ``wait_for`` (``replied``, ``read``, ``failed``, a custom event, or
            ``timeout``); ``timeout`` once the list runs out. An assumption the step does not await is followed by
            its timeout.

    Returns:
        The lines, the last one ``end`` with the entry's outcome.
    """
    context = Context(
        campaign=renderer.name,
        phone=recipient.phone,
        timezone=timezone,
        evaluate=lambda text: renderer.condition(text, recipient),
    )
    lines: list[TimelineLine] = []
    pending = deque(assume)
    decision = advance(journey, None, Enter(start), context)
    for _ in range(MAX_WAITS):
        lines.extend(_lines(decision, renderer, recipient))
        state = decision.state
        if state.phase == "ended" or state.due_at is None:
            break
        timer = Timer(state.due_at, state.step)
        if state.phase == "awaiting":
            assumed = pending.popleft() if pending else TIMEOUT
            if assumed != TIMEOUT:
                decision = advance(journey, state, Event(assumed, state.reached_at), context)
                moved = decision.state.step != state.step or decision.state.phase != "awaiting"
                if moved:
                    continue
                lines.append(TimelineLine(step=state.step, at=state.reached_at, outcome=f"{assumed} (not awaited)"))
                state = decision.state
        decision = advance(journey, state, timer, context)
    state = decision.state
    if state.phase == "ended":
        lines.append(TimelineLine(step="end", at=state.reached_at, outcome=state.outcome or "completed"))
    return lines


def _lines(decision: Decision, renderer: JourneyRenderer, recipient: EntryRecipient) -> list[TimelineLine]:
    sends = {send.step: send for send in decision.sends}
    out: list[TimelineLine] = []
    for record in decision.path:
        message, error = None, None
        if record.outcome == "sent" and record.step in sends:
            try:
                message = renderer.render(record.step, recipient)
            except RenderError as exc:
                error = str(exc)
        out.append(
            TimelineLine(
                step=record.step,
                at=record.at,
                outcome=record.outcome,
                detail=record.detail,
                message=message,
                error=error,
            )
        )
    return out
