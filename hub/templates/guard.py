"""The one check every send entry point makes: only an ``approved`` content template is sent.

Entry points (API run creation and sends, ``hub send``, the scheduler) call :func:`assert_sendable` before creating
a run. The send actor calls :func:`hold_if_blocked` after claiming a row and :func:`hold_after_error` when Twilio
answers with a "template blocked" code, so a template that is not (or no longer) approved pauses its run instead
of failing every remaining message. With Twilio configured, a template the registry does not hold as approved is
looked up at Twilio first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hub.errors import HubError, SendError
from hub.status import RunState
from hub.store import queries
from hub.templates.approval import APPROVED, TEMPLATE_BLOCKED_CODES, blocks_sending, normalize_status, refusal_reason
from hub.templates.registry import TemplateNotFound, refresh_template
from hub.templates.status_cache import STATUS_CACHE_S, TemplateStatusCache
from hub.twilio_rules import template_too_long

if TYPE_CHECKING:
    from hub.config import Settings
    from hub.store.templates import TemplateRecord

log = logging.getLogger(__name__)


class TemplateNotSendable(HubError):
    """The message's content template is not approved (or Twilio could not say that it is).

    Attributes:
        content_sid: the template.
        status: its approval status (``unknown``: not at Twilio; ``unverified``: Twilio could not be asked).
        reason: the full sentence (also ``str(exc)``).
    """

    def __init__(self, content_sid: str, status: str, reason: str) -> None:
        super().__init__(reason)
        self.content_sid = content_sid
        self.status = status
        self.reason = reason


async def assert_sendable(content_sid: str | None, *, settings: Settings | None = None) -> TemplateRecord | None:
    """Refuse a template that is not ``approved``.

    With Twilio configured in ``settings``, a template the registry does not hold, or holds as not approved, is
    looked up at Twilio first (and registered): only Twilio's ``approved`` passes. A template the registry holds as
    rejected, paused or disabled is refused without asking. Without Twilio (the simulator,
    or no ``settings``) a template the registry does not know passes: there is nobody to ask and nothing real is
    sent. Needs the store connected.

    Returns:
        The registry's record of the template (None: no template, or one nobody could be asked about).

    Raises:
        TemplateNotSendable: with the reason (its status and WhatsApp's rejection reason, or why Twilio could
            not say).
    """
    if not content_sid:
        return None
    record = await queries.get_template(content_sid)
    if record is not None and record.content_sid != content_sid:
        record = None  # a template *named* like this sid: not the one sent
    if worth_asking(record) and twilio_configured(settings):
        assert settings is not None
        record = await _ask_twilio(content_sid, settings)
    if record is None:
        return None
    refusal = refusal_of(record)
    if refusal is not None:
        raise refusal
    return record


def refusal_of(record: TemplateRecord) -> TemplateNotSendable | None:
    """Why a template the registry (or Twilio) holds is not sent, or None when it is approved (pure)."""
    status = normalize_status(record.approval_status)
    if status == APPROVED:
        return None
    reason = refusal_reason(record.friendly_name, record.content_sid, status, record.rejection_reason)
    return TemplateNotSendable(record.content_sid, status, reason)


def not_at_twilio(content_sid: str) -> TemplateNotSendable:
    """The refusal of a template Twilio does not have."""
    reason = f"content template {content_sid} does not exist at Twilio; it cannot be sent"
    return TemplateNotSendable(content_sid, "unknown", reason)


def unverified(content_sid: str, error: Exception) -> TemplateNotSendable:
    """The refusal of a template whose approval Twilio could not be asked for."""
    reason = f"content template {content_sid}: its approval could not be read at Twilio ({error}); not sent"
    return TemplateNotSendable(content_sid, "unverified", reason)


def text_refusal(body: str | None, variables: Mapping[str, str] | None) -> str | None:
    """Why a template's text with these variables would fail with 63021 (over 1,024 characters), or None when it
    fits or the text is not known (a template managed outside the registry: Twilio decides)."""
    return template_too_long(body, variables) if body else None


def cached_text_refusal(
    cache: TemplateStatusCache, content_sid: str | None, variables: Mapping[str, str] | None
) -> str | None:
    """:func:`text_refusal` with the text the send path's last check read (:func:`hold_if_blocked` warms ``cache``)."""
    return text_refusal(cache.cached_body(content_sid), variables) if content_sid else None


def worth_asking(record: TemplateRecord | None) -> bool:
    """Unknown, or on its way to approval (unsubmitted, received, pending): Twilio may know better. A blocked one
    (rejected, paused, disabled) stays blocked until the registry is refreshed on purpose."""
    return record is None or (record.approval_status != APPROVED and not blocks_sending(record.approval_status))


def twilio_configured(settings: Settings | None) -> bool:
    """Whether Twilio can be asked about templates (real sends are configured)."""
    return settings is not None and settings.effective_transport == "twilio"


async def _ask_twilio(content_sid: str, settings: Settings) -> TemplateRecord:
    """The template's approval as Twilio has it now, recorded in the registry."""
    from hub.transport.content import ContentApiError, ContentClient

    client = ContentClient(settings)
    try:
        return await refresh_template(client, content_sid)
    except TemplateNotFound:
        raise not_at_twilio(content_sid) from None
    except ContentApiError as exc:
        raise unverified(content_sid, exc) from None
    finally:
        client.close()


async def _blocked_reason(content_sid: str, settings: Settings | None, cache: TemplateStatusCache) -> str | None:
    known = cache.cached(content_sid)
    if known is not None:
        return known[1]
    try:
        record = await assert_sendable(content_sid, settings=settings)
    except TemplateNotSendable as exc:
        cache.remember(content_sid, exc.status, exc.reason)
        return exc.reason
    cache.remember(content_sid, APPROVED, None, record.body if record is not None else None)
    return None


async def _pause(message_id: int, run_id: int, reason: str, code: int | None, claimed_at: datetime | None) -> None:
    # The row goes back to owed (not failed): resuming the run after the template recovers sends it.
    await queries.release_for_retry(
        message_id,
        next_attempt_at=datetime.now(UTC),
        error_code=code,
        error_message=reason,
        claimed_at=claimed_at,
        count_attempt=False,
    )
    paused = await queries.set_run_state(run_id, RunState.PAUSED, from_states=[RunState.RUNNING, RunState.SCHEDULED])
    if paused is not None:
        log.warning("run %r paused: %s", run_id, reason)


async def hold_if_blocked(
    message_id: int,
    run_id: int,
    content_sid: str | None,
    *,
    cache: TemplateStatusCache,
    claimed_at: datetime | None = None,
    settings: Settings | None = None,
) -> bool:
    """Send-path hook after a claim: when the template is not approved, give the row back and pause its run.

    ``claimed_at`` is the caller's claim (:mod:`hub.claims`): a row claimed again since is left alone. ``cache``
    is the worker's memory of statuses (its runtime's).

    Returns:
        True when the message must not be sent now (the caller stops; resume re-enqueues the run's rows).
    """
    if not content_sid:
        return False
    reason = await _blocked_reason(content_sid, settings, cache)
    if reason is None:
        return False
    await _pause(message_id, run_id, reason, None, claimed_at)
    return True


async def hold_after_error(
    message_id: int,
    run_id: int,
    content_sid: str | None,
    exc: SendError,
    *,
    cache: TemplateStatusCache,
    claimed_at: datetime | None = None,
) -> bool:
    """Send-path hook on a failed create: a "template paused/disabled" code pauses the run and marks the template.

    Returns:
        True when handled (the row is owed again and the run paused); False for every other error.
    """
    if not content_sid or exc.code not in TEMPLATE_BLOCKED_CODES:
        return False
    record = await queries.set_template_status(content_sid, "paused", rejection_reason=exc.message)
    name = record.friendly_name if record is not None else content_sid
    reason = refusal_reason(name, content_sid, "paused", f"Twilio {exc.code}: {exc.message}")
    cache.remember(content_sid, "paused", reason)
    await _pause(message_id, run_id, reason, exc.code, claimed_at)
    return True


__all__ = [
    "STATUS_CACHE_S",
    "TemplateNotSendable",
    "assert_sendable",
    "cached_text_refusal",
    "hold_after_error",
    "hold_if_blocked",
    "not_at_twilio",
    "refusal_of",
    "text_refusal",
    "twilio_configured",
    "unverified",
    "worth_asking",
]
