"""Pacing arithmetic (pure): which buckets a send takes, what to do with a bucket's answer, when a slot is missed.

A send takes a slot of a GCRA bucket shared by every worker through Redis, at most :data:`HORIZON_MS` ahead, and
goes at that slot. Slots further ahead are not reserved (idle workers cannot hoard capacity): the worker polls
until the slot enters the horizon, and past :data:`MAX_BLOCK_MS` it hands the row back to the queue with the
delay. A send that wakes more than :data:`MAX_LATE_MS` after its slot does not use it (it only lowers that
window) and takes a new one: lateness never raises a 1-s window above the cap. A rate limit from Twilio lowers
the sender's pace for a while (:func:`after_rate_limit`, :func:`throttled_pace`): a 429 that persists slows the
sends, it never fails one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from hub.policy import throttled_rate

#: A send may use its slot up to this late (ms): at most 4 % of a second's slots spill into the next window at any
#: cap, while a stricter bound drops more slots on a busy machine (each one a send missing from its window).
MAX_LATE_MS = 40.0
#: How far ahead a slot may be reserved, ms.
HORIZON_MS = 1000.0
#: Longest a send waits for its slot, ms, before its row goes back to the queue with the delay (a run capped at a
#: few per minute).
MAX_BLOCK_MS = 30_000.0
#: Longest a batch waits for the first slot of its next wave, ms, before its unclaimed ids go back to the queue.
WAVE_MAX_BLOCK_MS = 5_000.0
#: A wave's slots start at least this far ahead (ms): its rows are claimed and read first, and a slot that comes
#: before they are ready would be missed (at a low cap, one slot lost per wave).
WAVE_LEAD_MS = 100.0
# Never poll a bucket faster than this, whatever the arithmetic says.
_MIN_POLL_MS = 2.0
#: A rate limit from Twilio (429 / 20429) halves the sender's pace at most once per this many seconds (the sends in
#: flight when Twilio began refusing answer 429 together), and the pace regains a tenth of the cap per step after.
THROTTLE_STEP_S = 2.0


@dataclass(frozen=True, slots=True)
class Slot:
    """The answer of one bucket.

    Attributes:
        granted: True when a slot ``wait_ms`` from now is reserved for the caller (it must wait, then go).
            False when nothing was reserved: the earliest slot is ``wait_ms`` away, beyond the horizon.
        wait_ms: milliseconds from now.
        now_from: the earliest time, on the caller's monotonic clock (seconds), at which the bucket can have read
            its clock for this answer, if known (else the caller takes the moment it asked).
        now_until: the latest such time, if known (else the moment the caller resumed, which on a busy event loop
            can be long after the bucket answered and says nothing about when the slot was granted).
    """

    granted: bool
    wait_ms: float
    now_from: float | None = field(default=None, compare=False)
    now_until: float | None = field(default=None, compare=False)


class Decision(NamedTuple):
    """What to do with one bucket answer: ``go`` after ``wait_ms``, ``poll`` again after ``wait_ms``, or
    ``requeue`` the row with a delay of ``wait_ms``."""

    action: Literal["go", "poll", "requeue"]
    wait_ms: float


def decide(slot: Slot, *, blocked_ms: float, horizon_ms: float, max_block_ms: float, jitter_ms: float) -> Decision:
    """Turn one bucket answer into an action.

    Args:
        slot: the bucket's answer.
        blocked_ms: how long this send has already waited, ms.
        horizon_ms: how far ahead the bucket reserves, ms.
        max_block_ms: longest a send may wait, ms.
        jitter_ms: a random spread in ``[0, horizon_ms / 2)`` so waiting sends do not all poll at once.
    """
    if slot.granted:
        return Decision("go", slot.wait_ms)
    until_in_horizon = max(_MIN_POLL_MS, slot.wait_ms - horizon_ms) + jitter_ms
    if blocked_ms + until_in_horizon <= max_block_ms:
        return Decision("poll", until_in_horizon)
    return Decision("requeue", until_in_horizon)


def buckets_for(run_id: int | None, run_rate: float | None, per_second: float) -> list[tuple[str, float]]:
    """The buckets one send takes, in order: the run's own, at ``run_rate`` (its cap or its fair share,
    :func:`fair_share`) when below the sender's pace, then the sender's.

    The run's bucket first: a slow run then never pushes the shared sender bucket into the future (which would
    hold back every other run).
    """
    buckets: list[tuple[str, float]] = []
    if run_rate and run_rate < per_second and run_id is not None:
        buckets.append((f"run:{run_id}", float(run_rate)))
    buckets.append(("sender", per_second))
    return buckets


def fair_share(run_id: int, caps: Mapping[int, float | None], per_second: float) -> float:
    """The pace run ``run_id`` may take of the sender's (max-min fair): the runs sending at once each get their own
    cap (None: none) or an even part of what the lower-capped ones leave, whichever is lower.

    Args:
        run_id: the run asking; it counts as sending whether ``caps`` names it or not (with no cap then).
        caps: the runs sending now and their own caps.
        per_second: the sender's pace.
    """
    sending = {**caps, run_id: caps.get(run_id)}
    left = per_second
    shares: dict[int, float] = {}
    ordered = sorted(sending.items(), key=lambda item: (item[1] is None, item[1] or 0.0, item[0]))
    for index, (run, cap) in enumerate(ordered):
        even = left / (len(ordered) - index)
        shares[run] = min(cap, even) if cap else even
        left -= shares[run]
    return shares[run_id]


class Throttle(NamedTuple):
    """The sender's pace as Twilio's rate limits left it (epoch seconds).

    Attributes:
        rate: the pace, messages per second, as last halved.
        halved_s: when it was last halved.
        limited_s: when Twilio last refused a create for the rate (the pace comes back only after it).
    """

    rate: float
    halved_s: float
    limited_s: float


#: A 429 within this long of the last one recorded changes nothing worth a write (seconds).
_MARK_EVERY_S = 0.5


def throttled_pace(throttle: Throttle | None, cap: float, now_s: float) -> float:
    """The sender's pace at ``now_s``: ``cap`` when never throttled, else the rate the rate limits left, regained by
    a tenth of ``cap`` per :data:`THROTTLE_STEP_S` without a 429 (:func:`hub.policy.throttled_rate`)."""
    if throttle is None:
        return cap
    rate = min(throttle.rate, cap)
    for _ in range(min(10, int(max(0.0, now_s - throttle.limited_s) // THROTTLE_STEP_S))):
        rate = throttled_rate(rate, cap, throttled=False)
    return rate


def after_rate_limit(throttle: Throttle | None, cap: float, now_s: float) -> Throttle | None:
    """The sender's throttle after Twilio refused a create for its rate at ``now_s``: the pace halved at most once
    per :data:`THROTTLE_STEP_S` (the sends in flight when Twilio began refusing answer 429 together), its recovery
    put off; None when nothing changes enough to record."""
    if throttle is not None and now_s - throttle.halved_s < THROTTLE_STEP_S:
        if now_s - throttle.limited_s < _MARK_EVERY_S:
            return None
        return throttle._replace(limited_s=now_s)
    pace = throttled_rate(throttled_pace(throttle, cap, now_s), cap, throttled=True)
    return Throttle(pace, now_s, now_s)


def is_late(woke_s: float, slot_s: float, *, max_late_ms: float = MAX_LATE_MS) -> bool:
    """Whether a send that woke at ``woke_s`` missed its slot at ``slot_s`` (both in seconds on one clock)."""
    return (woke_s - slot_s) * 1000 > max_late_ms


__all__ = [
    "HORIZON_MS",
    "MAX_BLOCK_MS",
    "MAX_LATE_MS",
    "THROTTLE_STEP_S",
    "WAVE_LEAD_MS",
    "WAVE_MAX_BLOCK_MS",
    "Decision",
    "Slot",
    "Throttle",
    "after_rate_limit",
    "buckets_for",
    "decide",
    "fair_share",
    "is_late",
    "throttled_pace",
]
