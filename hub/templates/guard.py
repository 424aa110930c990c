"""The one check every send entry point makes: a template that is rejected, paused or disabled is not sent.

Entry points (API run creation and sends, ``hub send``) call :func:`assert_sendable` before creating a run.
The send actor calls :func:`hold_if_blocked` after claiming a row and :func:`hold_after_error` when Twilio
answers with a "template blocked" code, so a template that becomes paused mid-run pauses its run instead of
failing every remaining message.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from hub.errors import HubError, SendError
from hub.status import RunState
from hub.templates.approval import TEMPLATE_BLOCKED_CODES, blocks_sending, refusal_reason

log = logging.getLogger(__name__)

#: How long the send path trusts a registry status it read, seconds (one lookup per template, not per message).
STATUS_CACHE_S = 5.0

_cache: dict[str, tuple[float, str | None, str | None]] = {}


class TemplateNotSendable(HubError):
    """The message's content template is rejected, paused or disabled.

    Attributes:
        content_sid: the template.
        status: its approval status.
        reason: the full sentence (also ``str(exc)``).
    """

    def __init__(self, content_sid: str, status: str, reason: str) -> None:
        super().__init__(reason)
        self.content_sid = content_sid
        self.status = status
        self.reason = reason


async def assert_sendable(content_sid: str | None) -> None:
    """Refuse a template the registry knows to be rejected, paused or disabled.

    Templates not in the registry, and messages without a template, pass: the registry is advisory for
    templates managed elsewhere. Needs the store connected.

    Raises:
        TemplateNotSendable: with the reason (status and WhatsApp's rejection reason).
    """
    if not content_sid:
        return
    from hub.store import queries

    record = await queries.get_template(content_sid)
    if record is None or record.content_sid != content_sid:
        return
    if blocks_sending(record.approval_status):
        reason = refusal_reason(record.friendly_name, content_sid, record.approval_status, record.rejection_reason)
        raise TemplateNotSendable(content_sid, record.approval_status, reason)


async def _blocked_reason(content_sid: str) -> str | None:
    now = time.monotonic()
    cached = _cache.get(content_sid)
    if cached is not None and now - cached[0] < STATUS_CACHE_S:
        return cached[2]
    try:
        await assert_sendable(content_sid)
    except TemplateNotSendable as exc:
        _cache[content_sid] = (now, exc.status, exc.reason)
        return exc.reason
    _cache[content_sid] = (now, None, None)
    return None


def forget_cached_statuses() -> None:
    """Drop the send path's status cache (after a sync, and in tests)."""
    _cache.clear()


async def _pause(message_id: int, run_id: int, reason: str, code: int | None, claimed_at: datetime | None) -> None:
    from hub.store import queries

    # The row goes back to owed (not failed): resuming the run after the template recovers sends it.
    await queries.release_for_retry(
        message_id, next_attempt_at=datetime.now(UTC), error_code=code, error_message=reason, claimed_at=claimed_at
    )
    paused = await queries.set_run_state(run_id, RunState.PAUSED, from_states=[RunState.RUNNING, RunState.SCHEDULED])
    if paused is not None:
        log.warning("run %r paused: %s", run_id, reason)


async def hold_if_blocked(
    message_id: int, run_id: int, content_sid: str | None, *, claimed_at: datetime | None = None
) -> bool:
    """Send-path hook after a claim: when the template is blocked, give the row back and pause its run.

    ``claimed_at`` is the caller's claim (:mod:`hub.claims`): a row claimed again since is left alone.

    Returns:
        True when the message must not be sent now (the caller stops; resume re-enqueues the run's rows).
    """
    if not content_sid:
        return False
    reason = await _blocked_reason(content_sid)
    if reason is None:
        return False
    await _pause(message_id, run_id, reason, None, claimed_at)
    return True


async def hold_after_error(
    message_id: int, run_id: int, content_sid: str | None, exc: SendError, *, claimed_at: datetime | None = None
) -> bool:
    """Send-path hook on a failed create: a "template paused/disabled" code pauses the run and marks the template.

    Returns:
        True when handled (the row is owed again and the run paused); False for every other error.
    """
    if not content_sid or exc.code not in TEMPLATE_BLOCKED_CODES:
        return False
    from hub.store import queries

    record = await queries.set_template_status(content_sid, "paused", rejection_reason=exc.message)
    name = record.friendly_name if record is not None else content_sid
    reason = refusal_reason(name, content_sid, "paused", f"Twilio {exc.code}: {exc.message}")
    _cache[content_sid] = (time.monotonic(), "paused", reason)
    await _pause(message_id, run_id, reason, exc.code, claimed_at)
    return True


__all__ = [
    "STATUS_CACHE_S",
    "TemplateNotSendable",
    "assert_sendable",
    "forget_cached_statuses",
    "hold_after_error",
    "hold_if_blocked",
]
