"""One stored entry through the engine: its row and a stimulus in, the state, path and message rows to save out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import msgspec

from hub.campaigns.spec import CampaignSpec
from hub.contacts import contact_zone
from hub.errors import RenderError
from hub.journeys.engine import Context, EntryState, Stimulus, advance
from hub.journeys.variables import JourneyRenderer, entry_recipient
from hub.phones import timezone_for
from hub.status import MessageStatus
from hub.store.journeys import EntryRow
from hub.store.records import NewMessage

__all__ = ["Outcome", "next_for", "state_of"]


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What to save for an entry: its next state, its path lines and its messages (``(step index, row)``)."""

    state: EntryState
    path: list[tuple[str, datetime, str, str | None]]
    messages: list[tuple[int, NewMessage]]


def state_of(entry: EntryRow) -> EntryState | None:
    """The engine's view of a stored entry; None while it is entering (its first steps not yet taken)."""
    if entry.phase == "entering":
        return None
    phase = entry.phase if entry.phase in ("ready", "waiting", "awaiting", "ended") else "ended"
    return EntryState(
        step=entry.step,
        phase=phase,  # type: ignore[arg-type]
        reached_at=entry.reached_at,
        due_at=entry.due_at,
        seen=frozenset(entry.seen),
        outcome=entry.outcome,
    )


def next_for(
    entry: EntryRow,
    stimulus: Stimulus,
    spec: CampaignSpec,
    renderer: JourneyRenderer,
    *,
    timezone: str,
    send_at: Callable[[str, str | None], datetime | None],
    contact: Mapping[str, Any] | None = None,
) -> Outcome:
    """Advance one entry and render the messages its steps send (a render error is a ``rejected`` row).

    Args:
        entry: the stored entry.
        stimulus: what happened (``Enter`` for an entering entry, a due ``Timer``, an ``Event``).
        spec: the run's pinned journey.
        renderer: its compiled messages.
        timezone: the fallback zone (the campaign's); the number's own zone wins when it has one, and the contact's
            ``timezone`` attribute wins over both.
        send_at: when a message to a number (in the contact's zone, when it names one) may go (its send window),
            or None for now.
        contact: the contact's attributes (``contact`` in templates and conditions); None: none.
    """
    assert spec.journey is not None
    recipient = entry_recipient(
        entry.recipient,
        entry.vars,
        source=f"entry {entry.id}",
        event=entry.event,
        contact=contact,
        entry_id=entry.id,
        started_at=entry.started_at,
    )
    own_zone = contact_zone(contact)
    context = Context(
        campaign=spec.name,
        phone=entry.recipient,
        timezone=lambda: own_zone or timezone_for(entry.recipient, timezone),
        evaluate=lambda text: renderer.condition(text, recipient),
    )
    decision = advance(spec.journey, state_of(entry), stimulus, context)
    messages: list[tuple[int, NewMessage]] = []
    for send in decision.sends:
        index = spec.journey.step(send.step).index
        meta = {"journey_step": send.step}
        try:
            message = renderer.render(send.step, recipient)
        except RenderError as exc:
            row = NewMessage(recipient=entry.recipient, status=MessageStatus.REJECTED, error_message=str(exc))
        else:
            row = NewMessage(
                recipient=message.to,
                body=message.body,
                content_sid=message.content_sid,
                content_variables=message.content_variables,
                media_url=list(message.media_url),
                send_at=send_at(entry.recipient, own_zone),
                meta=meta,
            )
        messages.append((index, row))
    path = [(line.step, line.at, line.outcome, line.detail) for line in decision.path]
    return Outcome(state=decision.state, path=path, messages=messages)
