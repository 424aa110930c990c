"""``POST /v1/events``: a business event enters the journeys that start on it and reaches entries waiting for it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from hub.campaigns.spec import CampaignSpec
from hub.config import Settings
from hub.journeys.pinned import pinning
from hub.journeys.variables import JourneyRenderer, entry_recipient
from hub.rendering import names_in
from hub.store import journeys

__all__ = ["Entered", "EventPlan", "EventResult", "keys_read_contact", "plan_event", "store_event"]


class Entered(msgspec.Struct, frozen=True):
    campaign: str
    run_id: int
    entry_id: int


class EventResult(msgspec.Struct, frozen=True):
    """The answer: the entries the event created, and how many waiting entries it reached."""

    entered: list[Entered]
    delivered: int


class _Entering(msgspec.Struct, frozen=True):
    campaign: str
    source: str
    text: str
    first_step: str
    key: str
    never_again: bool
    reenter_after_s: float


class EventPlan(msgspec.Struct, frozen=True):
    """What an event will do, decided before any write: the journeys it enters (with each entry's key)."""

    type: str
    to: str
    data: dict[str, Any]
    entering: list[_Entering]


def keys_read_contact(specs: list[CampaignSpec], type_: str) -> bool:
    """Whether a journey this event type enters renders its entry key from ``contact`` (then the recipient's
    attributes are read before planning; otherwise not)."""
    return any(
        spec.journey is not None
        and spec.journey.entry.event == type_
        and spec.journey.entry.key is not None
        and "contact" in names_in(spec.journey.entry.key)
        for spec in specs
    )


def plan_event(
    specs: list[CampaignSpec],
    settings: Settings,
    *,
    type_: str,
    to: str,
    data: dict[str, Any],
    key: str | None,
    now: datetime,
    contact: Mapping[str, Any] | None = None,
) -> EventPlan:
    """Which enabled journeys this event enters, and the key of each entry (``key``, else the journey's own, which
    sees the event's data and the recipient's ``contact`` attributes).

    Raises:
        RenderError: a journey's ``entry.key`` does not render with this event's data.
    """
    entering = []
    for spec in specs:
        journey = spec.journey
        if journey is None or not spec.enabled or journey.entry.event != type_:
            continue
        if key is None:
            who = entry_recipient(to, {}, source="event", event=data, contact=contact, entry_id=None, started_at=now)
            entry_key = JourneyRenderer(spec, settings).key(who)
        else:
            entry_key = key
        source, text = pinning(spec, settings)
        entering.append(
            _Entering(
                campaign=spec.name,
                source=source,
                text=text,
                first_step=journey.steps[0].id,
                key=entry_key,
                never_again=journey.entry.never_again,
                reenter_after_s=journey.entry.reenter_after_s,
            )
        )
    return EventPlan(type=type_, to=to, data=data, entering=entering)


async def store_event(plan: EventPlan, now: datetime) -> EventResult:
    """Enter the recipient in each journey of the plan, and queue the event for its other active entries.

    Call inside a transaction. A recipient already in a journey (same key), or not allowed back yet
    (``reentry``), is not entered again.
    """
    entered: list[Entered] = []
    for item in plan.entering:
        run_id = await journeys.event_run(item.campaign, item.source, item.text, now)
        ids = await journeys.insert_entries(
            run_id,
            item.campaign,
            item.first_step,
            [journeys.NewEntry(recipient=plan.to, key=item.key, event=plan.data)],
            now=now,
            never_again=item.never_again,
            reenter_after_s=item.reenter_after_s,
        )
        entered.extend(Entered(campaign=item.campaign, run_id=run_id, entry_id=entry_id) for entry_id in ids)
    delivered = await journeys.queue_events(plan.to, plan.type, now, skip=[e.entry_id for e in entered])
    return EventResult(entered=entered, delivered=delivered)
