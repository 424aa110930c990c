"""Wire shapes of the HTTP API (SPEC §7): msgspec structs, kept apart from the database tables."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Example
from litestar.params import Body, BodyKwarg, PathParameter, QueryParameter

__all__ = [
    "MAX_ID",
    "BulkSendCreate",
    "BulkSendResult",
    "CampaignList",
    "CampaignRead",
    "ContactList",
    "ContactPatch",
    "ContactPut",
    "ContactRead",
    "EnteredRead",
    "EntryList",
    "EntryOut",
    "EventAccepted",
    "EventCreate",
    "Health",
    "HistoryEntry",
    "LegacyBulkSend",
    "MessageAccepted",
    "MessageCreate",
    "MessageFields",
    "MessageList",
    "MessageRead",
    "PathId",
    "PathStep",
    "QueryId",
    "QueryTime",
    "Readiness",
    "Rejected",
    "RenderItem",
    "RenderRequest",
    "RenderResult",
    "RunCreate",
    "RunDetail",
    "RunFailure",
    "RunList",
    "RunRead",
    "RunWait",
    "StepRead",
    "Timestamp",
    "json_body",
]


#: Largest row id the databases hold (a signed 64-bit integer); larger ids cannot exist.
MAX_ID = 2**63 - 1
#: A ledger or run id in a path: out of range is a 400, not a database overflow.
#: The bounds written as integers: Litestar documents ``ge``/``le`` as floats, and 2**63 - 1 as a float is 2**63.
_ID_SCHEMA = {"format": "int64", "minimum": 1, "maximum": MAX_ID}
PathId = Annotated[int, PathParameter(ge=1, le=MAX_ID, schema_extra=_ID_SCHEMA)]
QueryId = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID, schema_extra=_ID_SCHEMA)]
#: A moment in a query string, RFC 3339 with an offset (``hub.api.plan.parse_time`` reads it).
QueryTime = Annotated[str | None, QueryParameter(schema_extra={"format": "date-time"})]


#: A moment on the wire: an RFC 3339 string with an offset (``2026-12-01T09:00:00Z``), never a number.
#: Declared as a string so msgspec cannot read a number as epoch seconds; ``hub.api.plan.due_time`` parses it.
Timestamp = Annotated[str, msgspec.Meta(extra_json_schema={"extra": {"format": "date-time"}})]


def json_body(*examples: dict[str, Any]) -> BodyKwarg:
    """A JSON request body with examples: for readers of the document, and schemathesis's examples phase."""
    return Body(media_type=RequestEncodingType.JSON, examples=[Example(value=example) for example in examples])


SEND_EXAMPLES = (
    {"to": "+14155550100", "body": "Hello from WhatsApp Hub"},
    {"to": "+14155550101", "body": "Your code is 1234", "send_at": "2030-01-01T09:00:00Z"},
)
BULK_EXAMPLES = (
    {"phone_numbers": ["+14155550100", "+14155550101"], "message": "Hello from WhatsApp Hub"},
    {
        "recipients": [{"to": "+14155550100", "name": "Ada"}, {"to": "+14155550101", "name": "Bo"}],
        "body": "Hi {{ name }}",
    },
)
RENDER_EXAMPLES = ({"to": "+14155550100", "body": "Hi {{ name | default('there') }}"},)
RUN_EXAMPLES = ({"send_at": "2030-01-01T09:00:00Z"},)
CONTACT_PUT_EXAMPLES = (
    {"attributes": {"first_name": "Ada", "tier": "vip", "timezone": "Europe/Berlin"}, "tags": ["vip"]},
)
CONTACT_PATCH_EXAMPLES = ({"attributes": {"tier": "gold", "city": None}, "add_tags": ["newsletter"]},)


class _In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Request bodies: an unknown field is a 400 naming it (a typo must not silently change a send)."""


class _Out(msgspec.Struct, kw_only=True):
    """Response bodies: fields may be added, never renamed."""


# --- requests ---------------------------------------------------------------------------------------------------


class MessageFields(_In):
    """The message part of a send or render request (``hub.api.plan.spec_of`` checks it): exactly one of
    ``body`` / ``template`` / ``content_sid``, ``content_variables`` only with ``content_sid``."""

    body: str | None = None
    template: str | None = None
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None
    media_url: list[str] = []


class MessageCreate(MessageFields, kw_only=True):
    """``POST /v1/messages``: one message. Exactly one of ``body`` / ``template`` / ``content_sid``."""

    to: str
    vars: dict[str, Any] = {}
    send_at: Timestamp | None = None  # in the future = stored as a due row


class BulkSendCreate(MessageFields):
    """``POST /v1/bulk-send``: many recipients, one run.

    ``recipients`` items carry ``to`` (or ``phone``) plus their own variables, flat or under ``vars``;
    ``phone_numbers`` is a plain list. ``message`` is a synonym of ``body`` (the original payload's name).
    """

    recipients: list[dict[str, Any]] | None = None
    phone_numbers: list[str] | None = None
    message: str | None = None
    vars: dict[str, Any] = {}
    send_at: Timestamp | None = None


class LegacyBulkSend(msgspec.Struct, kw_only=True):
    """``POST /bulk-send``: the original WhatsApp Hub payload, accepted as is (extra fields ignored)."""

    phone_numbers: list[str]
    message: str


class RunCreate(_In):
    """``POST /v1/campaigns/{name}/runs``: start now, or at ``send_at``."""

    send_at: Timestamp | None = None


class RenderRequest(MessageFields):
    """``POST /v1/render``: a dry run. Either a repository ``campaign`` (optionally one number ``to`` and a
    ``limit``), or an ad-hoc message with ``recipients`` / ``phone_numbers`` / ``to``."""

    campaign: str | None = None
    to: str | None = None
    limit: int = msgspec.field(default=20)
    recipients: list[dict[str, Any]] | None = None
    phone_numbers: list[str] | None = None
    vars: dict[str, Any] = {}


# --- responses --------------------------------------------------------------------------------------------------


class MessageAccepted(_Out):
    id: int
    status: str


class Rejected(_Out):
    to: str
    reason: str


class BulkSendResult(_Out, omit_defaults=True):
    run_id: int
    accepted: int
    rejected: list[Rejected]
    skipped: list[Rejected] = []  # numbers given twice, sent once; left out when none (the original answer's shape)


class HistoryEntry(_Out):
    status: str
    at: datetime
    source: str


class MessageRead(_Out):
    id: int
    to: str
    status: str
    sid: str | None
    error_code: int | None
    error_message: str | None
    run_id: int | None
    campaign: str | None
    body: str | None
    content_sid: str | None
    content_variables: dict[str, str] | None
    media_url: list[str]
    send_at: datetime | None
    created_at: datetime | None
    sent_at: datetime | None
    updated_at: datetime | None
    history: list[HistoryEntry] | None = None


class MessageList(_Out):
    items: list[MessageRead]
    next_cursor: str | None


class RunRead(_Out):
    id: int
    campaign: str | None
    state: str
    counts: dict[str, int]
    total: int
    rate_per_second: float | None
    eta_seconds: float | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    scheduled_at: datetime | None = None


class RunFailure(_Out):
    """Failed rows of a run sharing a status and a Twilio error code, with Twilio's message and a sample number."""

    status: str
    error_code: int | None
    error_message: str | None
    count: int
    sample_to: str


class RunWait(_Out):
    """Owed rows of a run held back for one reason (``reason``), the earliest falling due at ``next_at``."""

    reason: str
    error_code: int | None
    count: int
    next_at: datetime | None


class RunDetail(RunRead, kw_only=True):
    """``GET /v1/runs/{id}``: a run, plus its failures by error code and why its owed rows wait."""

    failures: list[RunFailure] = []
    waits: list[RunWait] = []
    steps: list[StepRead] = []  # a journey's steps with their counts (empty for a one-message run)


class RunList(_Out):
    items: list[RunRead]
    next_cursor: str | None


class CampaignRead(_Out):
    name: str
    description: str
    enabled: bool
    source: str
    kind: str  # "template" | "body" | "content_sid"
    schedule: dict[str, Any] | None
    next_fire_time: datetime | None
    last_runs: list[RunRead] = []


class CampaignList(_Out):
    items: list[CampaignRead]
    problems: list[str] = []  # campaign files that failed to load: "file: field: message"
    next_cursor: str | None = None  # the list shape (SPEC §7); every campaign fits in one page


class RenderItem(_Out):
    """One recipient of a dry run, in the shape of ``hub render --json`` (SPEC §6)."""

    to: str
    status: str  # "ok" | "rejected" | "skipped"
    body: str | None = None
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None
    media_url: list[str] = []
    error: str | None = None
    send_at: datetime | None = None  # the campaign's send window holds it until then; None: it would go now


class RenderResult(_Out):
    items: list[RenderItem]
    rendered: int
    rejected: int
    skipped: int = 0  # opted out, duplicates: not sent, and not the request's fault


class Health(_Out):
    status: str


class Readiness(_Out):
    status: str
    checks: dict[str, str]


class EventCreate(_In):
    """``POST /v1/events``: a business event about one recipient (``cart.abandoned``, ``appointment.booked``)."""

    type: str
    to: str
    data: dict[str, Any] = {}
    key: str | None = None  # the entry key (default: the journey's entry.key rendered with the event)


class EnteredRead(_Out):
    campaign: str
    run_id: int
    entry_id: int


class EventAccepted(_Out):
    entered: list[EnteredRead]
    delivered: int  # waiting entries of the recipient the event was delivered to


class PathStep(_Out):
    step: str
    at: datetime
    outcome: str
    detail: str | None = None


class EntryOut(_Out):
    id: int
    run_id: int
    campaign: str
    to: str
    key: str
    active: bool
    step: str
    phase: str
    due_at: datetime | None
    outcome: str | None
    started_at: datetime
    ended_at: datetime | None
    path: list[PathStep]


class EntryList(_Out):
    items: list[EntryOut]
    next_cursor: str | None


class StepRead(_Out):
    """A journey step of a run: its kind and how many entries reached each outcome there (``STATE: int``)."""

    id: str
    kind: str
    counts: dict[str, int]


# --- contacts (SPEC §13) ----------------------------------------------------------------------------------------


class ContactPut(_In):
    """``PUT /v1/contacts/{phone}``: the contact's attributes and tags become these (its opt-out stays)."""

    attributes: dict[str, Any] = {}
    tags: list[str] = []


class ContactPatch(_In):
    """``PATCH /v1/contacts/{phone}``: ``attributes`` merged over the stored ones (``null`` removes one); ``tags``
    (when given) replace the stored ones, then ``add_tags`` are added and ``remove_tags`` removed."""

    attributes: dict[str, Any] = {}
    tags: list[str] | None = None
    add_tags: list[str] = []
    remove_tags: list[str] = []


class ContactRead(_Out):
    """A contact: its attributes (``contact.*`` in templates and journeys), tags, opt-out and 24 h window."""

    phone: str
    attributes: dict[str, Any]
    tags: list[str]
    opted_out: bool
    opted_out_at: datetime | None
    opt_out_source: str | None
    last_inbound_at: datetime | None
    updated_at: datetime


class ContactList(_Out):
    items: list[ContactRead]
    next_cursor: str | None
