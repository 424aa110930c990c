"""Plain records the store takes and returns (msgspec structs); tables never leave :mod:`hub.store`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from hub.status import MessageStatus, RunState

if TYPE_CHECKING:
    from hub.webhooks import StatusCallback


class _Record(msgspec.Struct, kw_only=True, frozen=True):
    pass


class RunRecord(_Record, frozen=True):
    """One run: a campaign firing, a bulk send, or a single API message. Times are UTC."""

    id: int
    campaign: str | None
    kind: str  # campaign | bulk | single
    trigger: str  # schedule | api | cli
    fire_key: str | None
    state: RunState
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None
    fanned_out_at: datetime | None
    created_at: datetime
    total: int | None
    checkpoint: int
    git_commit: str | None
    meta: dict[str, Any]


class NewMessage(_Record, frozen=True):
    """A ledger row to insert. ``status`` other than ``pending`` records a row that will never be sent.

    Attributes:
        recipient: E.164 phone (the raw input when ``status`` is ``rejected`` for an invalid number).
        status: ``pending`` (owed), or ``rejected`` / ``skipped`` with the reason in ``error_message``.
        send_at: due time (UTC); None means now.
    """

    recipient: str
    body: str | None = None
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None
    media_url: list[str] = msgspec.field(default_factory=list)
    step: int = 0
    status: MessageStatus = MessageStatus.PENDING
    error_code: int | None = None
    error_message: str | None = None
    send_at: datetime | None = None
    meta: dict[str, Any] = msgspec.field(default_factory=dict)


class StatusEventRecord(_Record, frozen=True):
    """One entry of a message's history."""

    id: int
    message_id: int | None
    sid: str | None
    status: str
    error_code: int | None
    error_message: str | None
    source: str
    applied: bool
    at: datetime
    payload: dict[str, Any] = msgspec.field(default_factory=dict)


class MessageRecord(_Record, frozen=True):
    """One ledger row. Times are UTC.

    ``campaign`` and ``history`` are filled by the reads (:func:`get_message`, :func:`list_messages`;
    ``history`` only with ``with_history=True``); state-changing calls return them empty.
    """

    id: int
    run_id: int
    step: int
    recipient: str
    body: str | None
    content_sid: str | None
    content_variables: dict[str, str] | None
    media_url: list[str]
    status: MessageStatus
    sid: str | None
    error_code: int | None
    error_message: str | None
    attempts: int
    send_at: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    claimed_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    finished_at: datetime | None
    meta: dict[str, Any]
    campaign: str | None = None
    history: list[StatusEventRecord] = msgspec.field(default_factory=list)


class StatusUpdate(_Record, frozen=True):
    """A status report about a Twilio message (callback, simulator, or worker).

    Attributes:
        sid: Twilio message sid.
        status: the status word as Twilio sent it (``delivered``, ``sending``...).
        error_code: Twilio ``ErrorCode`` when present.
        error_message: ``ChannelStatusMessage`` or similar, when present.
        event_type: Twilio ``EventType`` when present.
        dedupe_key: key shared by duplicates of one report; None means ``sid:status:event_type``.
        payload: the raw parameters, kept in the history.
        source: ``callback``, ``simulator``, ``worker``, ``api`` or ``sweeper``.
        at: when the report was received (UTC).
        message_id: the ledger row the callback's URL names, when it names one (the create was for that row).
    """

    sid: str
    status: str
    at: datetime
    source: str = "callback"
    error_code: int | None = None
    error_message: str | None = None
    event_type: str | None = None
    dedupe_key: str | None = None
    payload: dict[str, str] = msgspec.field(default_factory=dict)
    message_id: int | None = None

    @classmethod
    def from_callback(cls, callback: StatusCallback, *, source: str, at: datetime) -> StatusUpdate:
        """The report a parsed status callback makes (the webhook's, or the simulator's built the same way)."""
        return cls(
            sid=callback.sid,
            status=callback.status,
            at=at,
            source=source,
            error_code=callback.error_code,
            error_message=callback.error_message,
            event_type=callback.event_type,
            dedupe_key=callback.dedupe_key,
            payload=callback.raw,
            message_id=callback.message_id,
        )

    @property
    def effective_dedupe_key(self) -> str:
        """The key duplicates collide on."""
        return self.dedupe_key or f"{self.sid}:{self.status.strip().lower()}:{self.event_type or ''}"


class RunProgress(_Record, frozen=True):
    """Where a run stands: counts per status, recent send rate, and what is left.

    Attributes:
        counts: rows per message status (statuses with no rows are absent).
        owed: rows not yet handed to Twilio (``pending`` + ``sending``).
        rate_per_second: messages handed to Twilio per second over the last ``window_s`` seconds.
        eta_seconds: ``owed / rate_per_second`` when both are positive, else None.
    """

    run: RunRecord
    counts: dict[str, int]
    total: int
    owed: int
    rate_per_second: float
    eta_seconds: float | None
    window_s: float


class ContactRecord(_Record, frozen=True):
    """What we know about one phone number."""

    phone: str
    opted_out_at: datetime | None
    opt_out_source: str | None
    last_inbound_at: datetime | None
    updated_at: datetime

    @property
    def opted_out(self) -> bool:
        return self.opted_out_at is not None


class ContactProfile(_Record, frozen=True):
    """A contact as the API shows it: attributes and tags besides opt-out and the 24 h window."""

    id: int
    phone: str
    attributes: dict[str, Any]
    tags: list[str]
    opted_out_at: datetime | None
    opt_out_source: str | None
    last_inbound_at: datetime | None
    updated_at: datetime


class ContactChange(_Record, frozen=True):
    """What a PUT, PATCH or erase does to a contact's attributes and tags (``hub.contacts`` builds it).

    Attributes:
        replace: start from no attributes (PUT, erase) rather than the stored ones (PATCH).
        attributes: merged over the start.
        drop: attribute names removed after the merge.
        tags: the tags to start from; None keeps the stored ones.
        add_tags / remove_tags: then added / removed.
    """

    replace: bool = False
    attributes: dict[str, Any] = {}
    drop: list[str] = []
    tags: list[str] | None = None
    add_tags: list[str] = []
    remove_tags: list[str] = []


class InboundRecord(_Record, frozen=True):
    """An inbound WhatsApp message (phone numbers in E.164, without ``whatsapp:``)."""

    sid: str
    from_phone: str
    to: str
    body: str
    received_at: datetime
    payload: dict[str, str] = msgspec.field(default_factory=dict)


class IdempotencyRecord(_Record, frozen=True):
    """The first response stored for an ``Idempotency-Key``."""

    key: str
    request_hash: str
    response: Any
    created_at: datetime


__all__ = [
    "ContactChange",
    "ContactProfile",
    "ContactRecord",
    "IdempotencyRecord",
    "InboundRecord",
    "MessageRecord",
    "NewMessage",
    "RunProgress",
    "RunRecord",
    "StatusEventRecord",
    "StatusUpdate",
]
