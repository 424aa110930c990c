"""The journey engine (pure): from an entry's state and what just happened, its next state and what to do."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import msgspec

from hub.campaigns.journey import END, STATUS_EVENTS, Journey, Step
from hub.campaigns.message import MessageSpec
from hub.errors import RenderError
from hub.journeys.timing import wait_until

__all__ = [
    "Context",
    "Decision",
    "Enter",
    "EntryState",
    "Event",
    "PathRecord",
    "SendAction",
    "Stimulus",
    "Timer",
    "advance",
    "split_target",
]

#: ready: just reached (guard not yet read); waiting: on a step's `wait`; awaiting: on a `wait_for`.
Phase = Literal["ready", "waiting", "awaiting", "ended"]
#: A journey that passes more steps than this without waiting is a bug (`hub check` refuses loops without waits).
MAX_HOPS = 1000
#: What each reported status says happened to the most recent message (read implies delivered).
_IMPLIES = {
    "read": frozenset({"read", "delivered"}),
    "delivered": frozenset({"delivered"}),
    "failed": frozenset({"failed"}),
}


class EntryState(msgspec.Struct, frozen=True, kw_only=True):
    """Where one entry stands.

    Attributes:
        step: the current step's id, or ``end`` once ended.
        phase: see :data:`Phase`.
        reached_at: when the current step was reached (a reply counts only after it).
        due_at: the one pending timer (end of a `wait`, or a `wait_for` timeout), or None.
        seen: statuses the most recent sent message has reached (``read``, ``delivered``, ``failed``).
        outcome: why the entry ended (``completed``, ``exit:replied``, ``error: ...``), None while active.
    """

    step: str
    phase: Phase
    reached_at: datetime
    due_at: datetime | None = None
    seen: frozenset[str] = frozenset()
    outcome: str | None = None


class Enter(msgspec.Struct, frozen=True):
    at: datetime


class Timer(msgspec.Struct, frozen=True):
    """The entry's timer for ``step`` fell due; a timer for any other step or time is stale and ignored."""

    at: datetime
    step: str


class Event(msgspec.Struct, frozen=True):
    """``replied``, ``opted_out``, a status of the entry's latest message (read, delivered, failed), or custom."""

    type: str
    at: datetime


Stimulus = Enter | Timer | Event


class SendAction(msgspec.Struct, frozen=True):
    """Send a step's message (the edge renders it and writes the message row)."""

    step: str
    message: MessageSpec


class PathRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One line of an entry's path: a step, when, what happened there, and where it led."""

    step: str
    at: datetime
    outcome: str
    detail: str | None = None


class Decision(msgspec.Struct, frozen=True):
    state: EntryState
    sends: tuple[SendAction, ...] = ()
    path: tuple[PathRecord, ...] = ()


class Context(msgspec.Struct, frozen=True, kw_only=True):
    """What the engine needs to know of the entry's recipient.

    Attributes:
        campaign: the campaign's name (splits are stable per campaign, step and recipient).
        phone: the recipient (E.164).
        timezone: the recipient's IANA zone, for `wait: {until}`; or a function giving it (read only when a step
            waits until a local time: a number's zone costs a parse).
        evaluate: a guard or branch condition's truth for this entry; raises RenderError.
    """

    campaign: str
    phone: str
    timezone: str | Callable[[], str]
    evaluate: Callable[[str], bool]


def advance(journey: Journey, state: EntryState | None, stimulus: Stimulus, context: Context) -> Decision:
    """The next state of an entry, the messages to send and the path lines to record.

    Args:
        journey: the journey as pinned by the entry's run.
        state: the entry's state, or None for a new entry (the stimulus is then ``Enter``).
        stimulus: what happened.
        context: the recipient.

    Returns:
        The decision; ``state.due_at`` is the one timer the entry should have (None: no timer).
    """
    walk = _Walk(journey, context)
    if isinstance(stimulus, Enter):
        if state is not None:
            return Decision(state)
        return walk.run(EntryState(step=journey.steps[0].id, phase="ready", reached_at=stimulus.at), stimulus.at)
    assert state is not None
    if state.phase == "ended":
        return Decision(state)
    if isinstance(stimulus, Timer):
        return walk.timer(state, stimulus)
    return walk.event(state, stimulus)


def split_target(campaign: str, step: Step, phone: str) -> str:
    """The arm of a split for a recipient: a weighted pick that is the same every time for that recipient."""
    digest = hashlib.sha256(f"{campaign}\0{step.id}\0{phone}".encode()).digest()
    total = sum(weight for _, weight in step.split)
    point = int.from_bytes(digest[:8], "big") * total >> 64
    for target, weight in step.split:
        if point < weight:
            return target
        point -= weight
    return step.split[-1][0]


class _Walk:
    """Moves one entry through steps until it waits or ends, collecting sends and path lines."""

    def __init__(self, journey: Journey, context: Context) -> None:
        self.journey = journey
        self.context = context
        self.sends: list[SendAction] = []
        self.path: list[PathRecord] = []

    def decision(self, state: EntryState) -> Decision:
        return Decision(state, tuple(self.sends), tuple(self.path))

    def record(self, step: str, at: datetime, outcome: str, detail: str | None = None) -> None:
        self.path.append(PathRecord(step=step, at=at, outcome=outcome, detail=detail))

    def timer(self, state: EntryState, timer: Timer) -> Decision:
        if state.step != timer.step or state.due_at is None or timer.at < state.due_at:
            return Decision(state)  # stale: the entry moved on, or the timer was claimed early
        step = self.journey.step(state.step)
        if state.phase == "waiting":
            self.record(step.id, timer.at, "waited")
            return self.run(msgspec.structs.replace(state, due_at=None), timer.at, resumed=True)
        target = step.on.get("timeout", self.journey.following(step))
        self.record(step.id, timer.at, "timeout", target)
        return self.run(self.goto(state, target, timer.at), timer.at)

    def event(self, state: EntryState, event: Event) -> Decision:
        if event.type in self.journey.exit_when:
            self.record(state.step, event.at, f"exit:{event.type}")
            return self.decision(self.end(state, event.at, f"exit:{event.type}"))
        happened = _IMPLIES.get(event.type, frozenset({event.type}))
        if event.type in STATUS_EVENTS:
            state = msgspec.structs.replace(state, seen=state.seen | happened)
        if state.phase != "awaiting" or (event.type == "replied" and event.at < state.reached_at):
            return self.decision(state)
        step = self.journey.step(state.step)
        matched = next((name for name in step.events if name in happened), None)
        if matched is None:
            return self.decision(state)
        target = step.on.get(matched, self.journey.following(step))
        self.record(step.id, event.at, matched, target)
        return self.run(self.goto(state, target, event.at), event.at)

    def goto(self, state: EntryState, target: str, at: datetime) -> EntryState:
        return EntryState(step=target, phase="ready", reached_at=at, seen=state.seen)

    def end(self, state: EntryState, at: datetime, outcome: str) -> EntryState:
        return EntryState(step=END, phase="ended", reached_at=at, seen=state.seen, outcome=outcome)

    def run(self, state: EntryState, at: datetime, *, resumed: bool = False) -> Decision:
        for _ in range(MAX_HOPS):
            if state.step == END:
                return self.decision(self.end(state, at, "completed"))
            step = self.journey.step(state.step)
            try:
                moved = self.act(step, state, at, resumed)
            except RenderError as exc:
                self.record(step.id, at, "error", str(exc))
                return self.decision(self.end(state, at, f"error: {exc}"))
            if moved.phase != "ready":
                return self.decision(moved)
            state, resumed = moved, False
        raise RuntimeError(f"journey passed {MAX_HOPS} steps without waiting (a loop hub check should refuse)")

    def act(self, step: Step, state: EntryState, at: datetime, resumed: bool) -> EntryState:
        """Do a step's part that takes no time; return the state it leaves (ready at the next step, or waiting)."""
        following = self.journey.following(step)
        if not resumed:
            if step.guard is not None and not self.context.evaluate(step.guard):
                # A false guard skips the step: the entry goes on where the step would have led (its `next`).
                self.record(step.id, at, "skipped", following)
                return self.goto(state, following, at)
            if step.wait is not None:
                zone = self.context.timezone
                due = wait_until(step.wait, at, zone if isinstance(zone, str) else zone())
                if due > at:
                    self.record(step.id, at, "waiting", due.isoformat())
                    return msgspec.structs.replace(state, phase="waiting", reached_at=at, due_at=due)
        if step.kind == "send":
            assert step.send is not None
            self.sends.append(SendAction(step.id, step.send))
            self.record(step.id, at, "sent", following)
            return EntryState(step=following, phase="ready", reached_at=at)  # a new latest message: nothing seen
        if step.kind == "wait":
            return self.goto(state, following, at)
        if step.kind == "wait_for":
            return self.await_(step, state, at)
        target = self.choose(step)
        self.record(step.id, at, step.kind, target)
        return self.goto(state, target, at)

    def await_(self, step: Step, state: EntryState, at: datetime) -> EntryState:
        matched = next((name for name in step.events if name in STATUS_EVENTS and name in state.seen), None)
        if matched is not None:
            target = step.on.get(matched, self.journey.following(step))
            self.record(step.id, at, matched, target)
            return self.goto(state, target, at)
        assert step.timeout is not None
        due = at + step.timeout
        self.record(step.id, at, "awaiting", ", ".join(step.events))
        return EntryState(step=step.id, phase="awaiting", reached_at=at, due_at=due, seen=state.seen)

    def choose(self, step: Step) -> str:
        if step.kind == "split":
            return split_target(self.context.campaign, step, self.context.phone)
        for arm in step.branch:
            if arm.condition is None or self.context.evaluate(arm.condition):
                return arm.goto
        return self.journey.after(step)
