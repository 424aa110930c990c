"""Typed shape of a journey (SPEC §10): the steps, how recipients enter, and what ends an entry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

import msgspec

from hub.campaigns.message import MessageSpec

__all__ = [
    "END",
    "EXIT_EVENTS",
    "STATUS_EVENTS",
    "WAIT_EVENTS",
    "BranchArm",
    "EntrySpec",
    "Journey",
    "Step",
    "StepKind",
    "Wait",
]

#: The target that ends an entry (``next: end``, ``on: {replied: end}``).
END = "end"
#: Events about the entry's most recent sent message; they count even if they happened before a wait began.
STATUS_EVENTS = ("read", "delivered", "failed")
#: What a `wait_for` may name besides custom event types (``cart.abandoned``: a dotted name).
WAIT_EVENTS = ("replied", *STATUS_EVENTS)
#: What `exit_when` may name besides custom event types.
EXIT_EVENTS = (*WAIT_EVENTS, "opted_out")
StepKind = Literal["send", "wait", "wait_for", "branch", "split"]


class Wait(msgspec.Struct, frozen=True, kw_only=True):
    """A pause: a fixed ``duration``, or until the next ``until`` (``HH:MM``) in the recipient's time zone."""

    duration: timedelta | None = None
    until: str | None = None


class BranchArm(msgspec.Struct, frozen=True, kw_only=True):
    """``{if: EXPR, goto: ID}``; the ``else`` arm has ``condition`` None."""

    condition: str | None
    goto: str


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """One step; ``kind`` says which one thing it does.

    Attributes:
        id: unique within the journey.
        kind: what the step does.
        index: its position in ``steps`` (errors and the default next step).
        guard: the ``if`` expression; false skips the step.
        next: where to go after the step (a step id or ``end``); None means the following step.
        wait: a pause before the step's action (a ``wait`` step, or a ``send`` step's pause before it sends).
        send: the message of a ``send`` step.
        events: what a ``wait_for`` step waits for, in the order written.
        timeout: how long a ``wait_for`` step waits.
        on: where each awaited event (and ``timeout``) leads; an event not named goes to the next step.
        branch: the arms of a ``branch`` step, the ``else`` arm last.
        split: ``(target, weight)`` pairs of a ``split`` step.
    """

    id: str
    kind: StepKind
    index: int
    guard: str | None = None
    next: str | None = None
    wait: Wait | None = None
    send: MessageSpec | None = None
    events: tuple[str, ...] = ()
    timeout: timedelta | None = None
    on: dict[str, str] = {}
    branch: tuple[BranchArm, ...] = ()
    split: tuple[tuple[str, int], ...] = ()


class EntrySpec(msgspec.Struct, frozen=True, kw_only=True):
    """How a recipient enters.

    Attributes:
        event: the custom event type (``cart.abandoned``) that enters the recipient through ``POST /v1/events``.
        key: a Jinja template; one entry per recipient and rendered key (None: one active entry per recipient).
        reentry: ``never``, or how long after the previous entry ended the recipient may enter again
            (None: as soon as the previous entry ended).
    """

    event: str | None = None
    key: str | None = None
    reentry: timedelta | Literal["never"] | None = None

    @property
    def never_again(self) -> bool:
        """A recipient whose entry ended may never enter again."""
        return self.reentry == "never"

    @property
    def reenter_after_s(self) -> float:
        """Seconds after an entry ended before the recipient may enter again (0: at once)."""
        return self.reentry.total_seconds() if isinstance(self.reentry, timedelta) else 0.0


class Journey(msgspec.Struct, frozen=True, kw_only=True):
    """The multi-step part of a campaign."""

    steps: tuple[Step, ...]
    entry: EntrySpec = EntrySpec()
    exit_when: tuple[str, ...] = ()
    vars: dict[str, Any] = {}  # campaign-wide variables (also in each send step's message)

    def step(self, step_id: str) -> Step:
        """The step with this id (KeyError when there is none)."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def following(self, step: Step) -> str:
        """Where a step goes by default: its ``next``, else the step after it, else ``end``."""
        if step.next is not None:
            return step.next
        return self.after(step)

    def after(self, step: Step) -> str:
        """The step written after ``step`` (``end`` after the last one), ignoring ``next``."""
        return self.steps[step.index + 1].id if step.index + 1 < len(self.steps) else END
