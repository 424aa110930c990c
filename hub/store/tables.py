"""Piccolo tables of the ledger: runs, messages, status events, contacts, inbound messages, idempotency keys.

Only :mod:`hub.store.queries` may import these; everyone else works with the records in
:mod:`hub.store.records`. Composite unique constraints are unique indexes created by the migrations.
"""

from __future__ import annotations

from enum import StrEnum

from piccolo.columns import (
    JSON,
    JSONB,
    Array,
    BigSerial,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from hub.status import MessageStatus, RunState


class RunKind(StrEnum):
    """What started a run's audience: a campaign file, an API bulk send, or one API message."""

    CAMPAIGN = "campaign"
    BULK = "bulk"
    SINGLE = "single"


class RunTrigger(StrEnum):
    """Who asked for the run."""

    SCHEDULE = "schedule"
    API = "api"
    CLI = "cli"


class EventSource(StrEnum):
    """Where a status event came from."""

    CALLBACK = "callback"
    WORKER = "worker"
    SIMULATOR = "simulator"
    API = "api"
    SWEEPER = "sweeper"
    RECONCILE = "reconcile"  # a row settled from Twilio's word: a callback naming it, or its list (no migration)


class Run(Table):
    """One firing of a campaign, one bulk send, or one single API message."""

    id = BigSerial(primary_key=True)
    campaign = Varchar(length=100, null=True, index=True, help_text="Campaign name; null for API sends.")
    kind = Varchar(length=16, choices=RunKind, default=RunKind.CAMPAIGN.value, help_text="campaign, bulk or single.")
    trigger = Varchar(length=16, choices=RunTrigger, default=RunTrigger.API.value, help_text="schedule, api or cli.")
    fire_key = Varchar(
        length=64,
        null=True,
        help_text="Scheduled fire time key; unique with campaign, so a fire makes exactly one run.",
    )
    state = Varchar(length=16, choices=RunState, default=RunState.SCHEDULED.value, index=True, help_text="RunState.")
    scheduled_at = Timestamptz(null=True, default=None, help_text="When the run is meant to start (UTC).")
    started_at = Timestamptz(null=True, default=None, help_text="When fan-out began (UTC).")
    finished_at = Timestamptz(null=True, default=None, help_text="When the run reached a final state (UTC).")
    expires_at = Timestamptz(
        null=True, default=None, help_text="Messages still owed after this instant end as expired (UTC)."
    )
    fanned_out_at = Timestamptz(
        null=True, default=None, help_text="When fan-out wrote the last ledger row; null while it is still running."
    )
    created_at = Timestamptz(default=TimestamptzNow(), help_text="Row creation time (UTC).")
    total = Integer(null=True, default=None, help_text="Audience size when known.")
    checkpoint = Integer(default=0, help_text="Audience position fan-out has reached (rows written up to here).")
    git_commit = Varchar(length=64, null=True, help_text="Commit of the campaign files the run was built from.")
    meta = JSON(default={}, help_text="Message spec, rate limit, send window and other fan-out settings.")


class Message(Table):
    """The ledger: one row per run, step and recipient; claimed and advanced atomically."""

    id = BigSerial(primary_key=True)
    # run and status are indexed by the leading columns of (run, recipient, step, entry) and (status, send_at).
    run = ForeignKey(references=Run, null=False, on_delete=OnDelete.cascade, help_text="Owning run.")
    step = Integer(default=0, help_text="Step of a multi-step campaign (0 for single-message campaigns).")
    recipient = Varchar(length=64, help_text="Recipient in E.164 (raw input when rejected as invalid).")
    body = Text(null=True, default=None, help_text="Rendered free-form body.")
    content_sid = Varchar(length=64, null=True, default=None, help_text="Approved template (Content API) sid.")
    content_variables = JSON(null=True, default=None, help_text="Rendered template variables.")
    media_url = JSON(default=[], help_text="Rendered media URLs.")
    status = Varchar(length=16, choices=MessageStatus, default=MessageStatus.PENDING.value, help_text="MessageStatus.")
    sid = Varchar(length=64, null=True, default=None, unique=True, help_text="Twilio message sid once handed over.")
    error_code = Integer(null=True, default=None, help_text="Twilio error code of the last failure.")
    error_message = Text(null=True, default=None, help_text="Reason of the last failure or rejection.")
    attempts = Integer(default=0, help_text="Number of claims (send attempts).")
    send_at = Timestamptz(null=True, default=None, help_text="Due time (UTC); null means now.")
    next_attempt_at = Timestamptz(null=True, default=None, help_text="Earliest retry time after a transient error.")
    created_at = Timestamptz(default=TimestamptzNow(), help_text="Row creation time (UTC).")
    updated_at = Timestamptz(default=TimestamptzNow(), help_text="Last change (UTC).")
    claimed_at = Timestamptz(null=True, default=None, help_text="When a worker last claimed it (UTC).")
    sent_at = Timestamptz(null=True, default=None, help_text="When Twilio accepted it (UTC).", index=True)
    delivered_at = Timestamptz(null=True, default=None, help_text="Delivery callback time (UTC).")
    read_at = Timestamptz(null=True, default=None, help_text="Read callback time (UTC).")
    finished_at = Timestamptz(null=True, default=None, help_text="When it reached a final state (UTC).")
    meta = JSON(default={}, help_text="Free-form extras (recipient variables, render notes).")


class StatusEvent(Table):
    """Every status change and callback, with its raw payload; the message's history."""

    id = BigSerial(primary_key=True)
    message = ForeignKey(
        references=Message, null=True, on_delete=OnDelete.cascade, index=True, help_text="Null until the sid is known."
    )
    sid = Varchar(length=64, null=True, default=None, index=True, help_text="Twilio message sid, when known.")
    status = Varchar(length=32, help_text="Status as reported (Twilio's word, or ours for worker events).")
    error_code = Integer(null=True, default=None, help_text="Twilio ErrorCode.")
    error_message = Text(null=True, default=None, help_text="Error text reported with the status.")
    source = Varchar(length=16, choices=EventSource, help_text="callback, worker, simulator, api or sweeper.")
    dedupe_key = Varchar(length=200, null=True, default=None, unique=True, help_text="Duplicate callbacks share it.")
    payload = JSON(default={}, help_text="Raw callback parameters.")
    applied = Boolean(default=False, help_text="Whether the event was applied to its message (false while parked).")
    at = Timestamptz(default=TimestamptzNow(), help_text="When the event was received (UTC).")


class Contact(Table):
    """What we know about a phone number: attributes and tags, opt-out and the 24 h session window."""

    id = BigSerial(primary_key=True)
    phone = Varchar(length=32, unique=True, help_text="E.164.")
    opted_out_at = Timestamptz(null=True, default=None, help_text="When the contact opted out; null = subscribed.")
    opt_out_source = Varchar(length=32, null=True, default=None, help_text="keyword, twilio or api.")
    last_inbound_at = Timestamptz(null=True, default=None, help_text="Last inbound message; opens a 24 h window.")
    attributes = JSONB(default={}, help_text="The contact's attributes: `contact.*` in templates and conditions.")
    tags = Array(base_column=Text(), default=list, help_text="Tags, for lists and audiences (GIN-indexed).")
    updated_at = Timestamptz(default=TimestamptzNow(), help_text="Last change (UTC).")


class InboundMessage(Table):
    """A message a contact sent to us (from the inbound webhook)."""

    id = BigSerial(primary_key=True)
    sid = Varchar(length=64, unique=True, help_text="Twilio message sid.")
    from_phone = Varchar(length=32, index=True, help_text="Sender in E.164.")
    to = Varchar(length=64, help_text="Our number as Twilio sent it.")
    body = Text(default="", help_text="Message text.")
    payload = JSON(default={}, help_text="Raw webhook parameters.")
    received_at = Timestamptz(default=TimestamptzNow(), help_text="When it arrived (UTC).")


class IdempotencyKey(Table):
    """The first response given to an ``Idempotency-Key``; replays return it."""

    id = BigSerial(primary_key=True)
    key = Varchar(length=255, unique=True, help_text="Client-chosen key (scoped by the caller).")
    request_hash = Varchar(length=128, help_text="Hash of the request body; a different body is a conflict.")
    response = JSON(default={}, help_text="The response returned the first time.")
    created_at = Timestamptz(default=TimestamptzNow(), help_text="When the key was first used (UTC).")


class ContentTemplate(Table):
    """A WhatsApp content template (Twilio Content API) and its approval state, as last synced."""

    id = BigSerial(primary_key=True)
    friendly_name = Varchar(length=200, index=True, help_text="Twilio friendly name; how people refer to it.")
    language = Varchar(length=16, default="en", help_text="Language code, e.g. en or pt_BR.")
    content_sid = Varchar(length=64, unique=True, help_text="Twilio Content sid (HX...).")
    body = Text(default="", help_text="twilio/text body with {{1}}... placeholders.")
    variables = JSON(default={}, help_text='{"declared": ["1", ...], "samples": {"1": "Ada"}}.')
    category = Varchar(length=32, null=True, default=None, help_text="MARKETING, UTILITY or AUTHENTICATION.")
    approval_status = Varchar(length=32, default="unsubmitted", help_text="WhatsApp approval status, lowercase.")
    rejection_reason = Text(null=True, default=None, help_text="Why WhatsApp rejected or paused it.")
    last_synced_at = Timestamptz(null=True, default=None, help_text="Last time the status was read from Twilio.")
    created_at = Timestamptz(default=TimestamptzNow(), help_text="Row creation time (UTC).")


class CampaignSchedule(Table):
    """The schedule each campaign file has now, and since when a scheduler has seen it (fires before never run)."""

    id = BigSerial(primary_key=True)
    campaign = Varchar(length=100, unique=True, help_text="Campaign name.")
    fingerprint = Varchar(length=64, help_text="Hash of what decides its fire times (hub.planning).")
    seen_since = Timestamptz(help_text="When a scheduler first saw the campaign with this fingerprint (UTC).")


TABLES: tuple[type[Table], ...] = (
    Run,
    Message,
    StatusEvent,
    Contact,
    InboundMessage,
    IdempotencyKey,
    ContentTemplate,
    CampaignSchedule,
)

__all__ = [
    "TABLES",
    "CampaignSchedule",
    "Contact",
    "ContentTemplate",
    "EventSource",
    "IdempotencyKey",
    "InboundMessage",
    "Message",
    "Run",
    "RunKind",
    "RunTrigger",
    "StatusEvent",
]
