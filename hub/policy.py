"""Twilio send-error policy: what a failed create means (retry, give up, or unknown) and how long to wait (pure).

The tables follow ``TWILIO.md`` §6. Three outcomes:

- **transient** (:class:`TransientSendError`): Twilio answered and did not take the message (429/20429, a 5xx it
  answered itself, queue or rate codes), or nothing was sent (connection refused). Safe to retry with backoff.
- **permanent** (:class:`PermanentSendError`): retrying cannot help (bad number, opted out, content errors...).
- **ambiguous** (:class:`AmbiguousSendError`): the request may have reached Twilio and nobody knows whether a
  message exists (a read timeout after sending, a connection reset mid-request). Never re-sent blindly.

Decision on 5xx (SPEC §8, TWILIO.md §1.2): 500, 502 and 504 are ambiguous: a server error or a gateway that gave up
waiting on the API behind it says nothing about whether the message was created. 503 (service unavailable) and
other 5xx are transient: the request was turned away before it was processed. Unknown codes fall back by HTTP
status: permanent for 4xx, transient for 429 and the other 5xx.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

from hub.errors import AmbiguousSendError, PermanentSendError, SendError, TransientSendError

HOUR_MS = 3_600_000

#: Codes that mean "not now": Twilio did not take the message, or Meta pushed back; retry later.
TRANSIENT_CODES: frozenset[int] = frozenset(
    {
        20429,  # too many concurrent requests: never processed, always safe to retry
        20500,  # Twilio internal error
        20503,  # service unavailable
        21611,  # From queue exceeds 10 h of messages
        30001,  # queue overflow
        30008,  # unknown carrier error: limited attempts
        63012,  # channel generic error
        63017,  # account above 2,000 MPS
        63018,  # Meta rate / messaging-limit tier: defer by hours
        63023,  # channel internal error
        63049,  # Meta declined a marketing template; only non-US numbers are retried (see classify_http)
    }
)

#: Codes that mean "this message will never go through as it is".
PERMANENT_CODES: frozenset[int] = frozenset(
    {
        21211,  # invalid To
        21408,  # region not enabled
        21608,  # trial / unverified To
        21610,  # unsubscribed (STOP)
        21614,  # not a mobile number
        21617,  # body too long
        21654,  # ContentVariables without ContentSid
        21655,  # invalid ContentSid
        21656,  # invalid ContentVariables
        63003,  # channel could not find To
        63007,  # From is not a WhatsApp channel
        63014,  # blocked by the user
        63016,  # outside the 24 h window: resend as a template
        63021,  # invalid content
        63024,  # not on WhatsApp / ToS not accepted
        63028,  # template variable count mismatch
        63032,  # user's number in a Meta experiment
    }
)

#: Codes after which the contact must not be messaged again (opt out / block).
OPT_OUT_CODES: frozenset[int] = frozenset({21610, 63014})

#: Codes whose cause clears slowly: a suggested wait (ms) before the next attempt.
LONG_DEFERRAL_MS: dict[int, int] = {
    63018: 4 * HOUR_MS,  # messaging-limit tier: "wait until 24 hours have passed"; try again in hours
    63049: 6 * HOUR_MS,  # per-user marketing limit
    21611: 10 * 60_000,  # sender queue full: come back when it drained
    30001: 10 * 60_000,
    63017: 60_000,
}

#: HTTP statuses after which the request may have been processed (the message may exist): outcome unknown.
AMBIGUOUS_STATUSES: frozenset[int] = frozenset({500, 502, 504})

SendErrorType = type[SendError]


def _is_us(to: str | None) -> bool:
    return to is not None and to.removeprefix("whatsapp:").startswith("+1")


def classify_code(code: int, *, to: str | None = None) -> SendErrorType | None:
    """The class a known Twilio error code maps to, or None when the code is not in the tables.

    Args:
        code: Twilio error code (sync or from a callback).
        to: recipient in E.164 (with or without ``whatsapp:``); only 63049 depends on it (US: permanent).
    """
    if code == 63049:
        return PermanentSendError if to is None or _is_us(to) else TransientSendError
    if code in PERMANENT_CODES:
        return PermanentSendError
    if code in TRANSIENT_CODES:
        return TransientSendError
    if 35000 <= code < 36000:  # scheduling validation: fix the request
        return PermanentSendError
    return None


def classify_http(status: int, code: int | None, *, to: str | None = None) -> SendErrorType:
    """Classify an error answer from the Messages API.

    Args:
        status: HTTP status Twilio answered with.
        code: Twilio error code from the body, or None.
        to: recipient, see :func:`classify_code`.

    Returns:
        :class:`TransientSendError`, :class:`PermanentSendError` or :class:`AmbiguousSendError`.
    """
    if status in AMBIGUOUS_STATUSES:
        return AmbiguousSendError
    if code is not None and code != status:
        known = classify_code(code, to=to)
        if known is not None:
            return known
    if status == 429 or status >= 500:
        return TransientSendError
    return PermanentSendError


def suggested_retry_after_ms(code: int | None) -> int | None:
    """A minimum wait (ms) for codes whose cause clears slowly (63018: hours), else None."""
    return LONG_DEFERRAL_MS.get(code) if code is not None else None


def send_error(
    status: int,
    code: int | None,
    message: str,
    *,
    to: str | None = None,
    retry_after_ms: int | None = None,
) -> SendError:
    """Build the classified error for an HTTP error answer.

    A ``code`` equal to ``status`` (what the twilio package reports when the body is not JSON) is dropped.
    The wait is Twilio's ``Retry-After`` when given, else the code's long deferral, else None.
    """
    real_code = None if code == status else code
    cls = classify_http(status, real_code, to=to)
    wait = retry_after_ms if retry_after_ms is not None else suggested_retry_after_ms(real_code)
    return cls(message, code=real_code, http_status=status, retry_after_ms=wait)


def classify(exc: BaseException, *, to: str | None = None, request_sent: bool | None = None) -> SendError:
    """Turn any exception raised by a send into a classified :class:`SendError`.

    Args:
        exc: a :class:`SendError` (returned as is); an object with int ``status`` and ``code`` attributes
            (the twilio package's ``TwilioRestException``, duck-typed so this module stays pure); or a
            network error.
        to: recipient, see :func:`classify_code`.
        request_sent: for network errors, whether the request had been written when it failed (the transport
            knows); None means "work it out from the exception type".

    Returns:
        The error to raise. Network errors are transient when nothing was sent (connection refused, connect
        timeout) and ambiguous otherwise; anything unrecognised is ambiguous, because re-sending blindly is the
        one mistake that cannot be undone.
    """
    if isinstance(exc, SendError):
        return exc
    status = getattr(exc, "status", None)
    if isinstance(status, int) and not isinstance(exc, OSError):
        code = getattr(exc, "code", None)
        message = str(getattr(exc, "msg", "") or f"Twilio answered HTTP {status}")
        retry_after = getattr(exc, "retry_after_ms", None)
        return send_error(status, code if isinstance(code, int) else None, message, to=to, retry_after_ms=retry_after)
    description = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if request_sent is None:
        request_sent = not isinstance(exc, ConnectionRefusedError)
    if request_sent:
        return AmbiguousSendError(f"outcome unknown after the request was sent ({description})")
    return TransientSendError(f"request not sent ({description})")


def opts_out_contact(code: int | None) -> bool:
    """True when a failure with this code means the contact opted out or blocked us (21610, 63014)."""
    return code in OPT_OUT_CODES


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> int | None:
    """Parse a ``Retry-After`` header (delta seconds or an HTTP date) into milliseconds; None when absent or bad."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0, round(float(value) * 1000))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0, round((when - now).total_seconds() * 1000))


def backoff_ms(
    attempt: int,
    *,
    min_ms: int,
    max_ms: int,
    retry_after_ms: int | None = None,
    jitter: Literal["full", "equal"] = "equal",
    rng: Callable[[], float] = random.random,
) -> int:
    """Milliseconds to wait before retry number ``attempt`` (1 = first retry).

    Exponential: ``min_ms * 2 ** (attempt - 1)`` capped at ``max_ms``, then jittered so that many workers
    retrying together spread out. ``equal`` jitter keeps at least half the step (never hammers a 429);
    ``full`` spreads over ``[0, step]``. A server-requested ``retry_after_ms`` wins outright (it is not capped:
    Twilio or Meta know better than our default cap).

    Args:
        attempt: retry number, starting at 1 (0 is treated as 1).
        min_ms: first step, ms.
        max_ms: largest step, ms.
        retry_after_ms: server-requested wait, ms.
        jitter: ``equal`` or ``full``.
        rng: returns a float in [0, 1); injected for tests.
    """
    if retry_after_ms is not None:
        return max(0, int(retry_after_ms))
    exponent = min(max(attempt, 1) - 1, 62)
    step = min(max_ms, min_ms * (1 << exponent))
    if jitter == "full":
        return int(step * rng())
    half = step / 2
    return int(half + half * rng())


__all__ = [
    "AMBIGUOUS_STATUSES",
    "OPT_OUT_CODES",
    "PERMANENT_CODES",
    "TRANSIENT_CODES",
    "backoff_ms",
    "classify",
    "classify_code",
    "classify_http",
    "opts_out_contact",
    "parse_retry_after",
    "send_error",
    "suggested_retry_after_ms",
]
