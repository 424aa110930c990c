"""Where a journey run's entries stand, step by step (the API's ``steps`` and ``hub status``)."""

from __future__ import annotations

import msgspec

from hub.config import Settings
from hub.errors import CampaignError
from hub.journeys.pinned import pinned_spec
from hub.store import journeys
from hub.store.records import RunRecord

__all__ = ["StepProgress", "describe_steps", "step_progress"]


class StepProgress(msgspec.Struct, frozen=True):
    """One step of a journey run: its kind, and counts of what happened there (``STATE: int``).

    States: path outcomes (``sent``, ``awaiting``, ``replied``, ``timeout``, ``skipped``...), ``at_step`` (entries
    there now) and ``message_STATUS`` (the step's messages by status).
    """

    id: str
    kind: str
    counts: dict[str, int]


async def step_progress(run: RunRecord, settings: Settings) -> list[StepProgress]:
    """The steps of the journey a run pinned, in order, with their counts; [] for a run that is not a journey's."""
    pinned = run.meta.get("journey")
    if not pinned:
        return []
    try:
        spec = pinned_spec(pinned, settings)
    except CampaignError:
        return []
    assert spec.journey is not None
    counts: dict[str, dict[str, int]] = {}
    for row in await journeys.step_counts(run.id):
        counts.setdefault(row.step, {})[row.state] = row.count
    return [StepProgress(id=step.id, kind=step.kind, counts=counts.get(step.id, {})) for step in spec.journey.steps]


def describe_steps(steps: list[StepProgress]) -> list[str]:
    """One line per step for ``hub status`` (pure): ``  remind (send): sent 120  message_delivered 98``."""
    width = max((len(step.id) for step in steps), default=0)
    lines = []
    for step in steps:
        counts = "  ".join(f"{state} {count}" for state, count in sorted(step.counts.items())) or "not reached"
        lines.append(f"  {step.id.ljust(width)}  {step.kind:<8}  {counts}")
    return lines
