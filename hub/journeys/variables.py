"""What a journey's templates and conditions see for one entry: §5's variables plus event, contact and entry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import msgspec

from hub.campaigns.files import display_path
from hub.campaigns.spec import CampaignSpec
from hub.config import Settings
from hub.contacts import with_contact
from hub.rendering import (
    Attributes,
    CompiledMessage,
    OutboundMessage,
    compile_expression,
    compile_message,
    compile_text,
    evaluate,
    names_in,
    render_message,
)

__all__ = ["Attributes", "EntryRecipient", "JourneyRenderer", "entry_recipient"]


class EntryRecipient(msgspec.Struct, frozen=True):
    """A recipient as rendering sees it inside one entry (``RecipientLike``)."""

    phone: str
    vars: dict[str, Any]
    source: str


def entry_recipient(
    phone: str,
    own: Mapping[str, Any],
    *,
    source: str,
    event: Mapping[str, Any] | None,
    contact: Mapping[str, Any] | None,
    entry_id: int | None,
    started_at: datetime,
) -> EntryRecipient:
    """The recipient of one entry: its own fields, then ``event``, ``contact`` and ``entry`` (SPEC §10)."""
    extra = {"event": Attributes(event or {}), "entry": {"id": entry_id, "started_at": started_at}}
    return EntryRecipient(phone=phone, vars=with_contact({**own, **extra}, contact), source=source)


def _reads_contact(spec: CampaignSpec, messages: Iterable[CompiledMessage]) -> bool:
    assert spec.journey is not None
    if spec.schedule is not None and spec.schedule.send_window is not None:
        return True
    conditions = []
    for step in spec.journey.steps:
        if step.wait is not None and step.wait.until is not None:
            return True
        conditions += [step.guard, *(arm.condition for arm in step.branch)]
    return any("contact" in message.names for message in messages) or any(
        "contact" in names_in(text, expression=True) for text in conditions if text is not None
    )


class JourneyRenderer:
    """A journey's messages and conditions compiled once, rendered or evaluated per entry.

    Args:
        spec: a journey (``spec.journey`` set).
        settings: for the templates folder.

    Raises:
        CampaignError: a template does not compile (``hub check`` reports it first, located).
    """

    def __init__(self, spec: CampaignSpec, settings: Settings) -> None:
        assert spec.journey is not None
        self.name = spec.name
        self.base = dict(spec.journey.vars)
        source = display_path(spec.source, settings)
        self.messages: dict[str, CompiledMessage] = {
            step.id: compile_message(step.send, settings, name=spec.name, source=source)
            for step in spec.journey.steps
            if step.send is not None
        }
        self._conditions: dict[str, Any] = {}
        key = spec.journey.entry.key
        self._key = compile_text(key) if key is not None else None
        #: Whether an entry's key reads ``contact`` (entering then reads the recipients' attributes).
        self.key_reads_contact = key is not None and "contact" in names_in(key)
        #: Whether deciding or rendering an entry reads its contact's attributes: ``contact`` in a message or a
        #: condition, or a recipient-local time (``wait: {until}``, a send window), where the ``timezone`` attribute
        #: wins. When not, the advancer reads no attributes for the run's entries.
        self.reads_contact = self.key_reads_contact or _reads_contact(spec, self.messages.values())

    def render(self, step: str, recipient: EntryRecipient) -> OutboundMessage:
        """A send step's message for one entry (raises RenderError)."""
        return render_message(self.messages[step], recipient)

    def key(self, recipient: EntryRecipient) -> str:
        """The entry key for a recipient (``entry.key`` rendered; "" without one). Raises RenderError."""
        if self._key is None:
            return ""
        variables = {**self.base, **recipient.vars, "phone": recipient.phone, "campaign": self.name}
        return str(evaluate(self._key, variables, recipient, "entry.key")).strip()

    def condition(self, text: str, recipient: EntryRecipient) -> bool:
        """A guard or branch condition's truth for one entry (raises RenderError, naming the recipient)."""
        compiled = self._conditions.get(text)
        if compiled is None:
            compiled = self._conditions[text] = compile_expression(text)
        variables = {**self.base, **recipient.vars, "phone": recipient.phone, "campaign": self.name}
        return bool(evaluate(compiled, variables, recipient, f"if {text!r}"))
