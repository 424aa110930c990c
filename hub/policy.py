"""The Twilio error policy: one table of what every error code does, wherever it arrives (pure).

:data:`RULES` (TWILIO.md §6, SPEC §8) gives each code an :class:`Effect`: ``retry`` (owed again as a new attempt,
after a wait; 63018 and 30001-class also defer the run), ``throttle`` (a rate limit: paces, never fails),
``fail``, ``opt_out`` (fail and opt the contact out: 21610, 63014) or ``pause`` (the sender cannot send:
401/20003, 20008, 63047 pause the run, rows stay owed). :func:`after_create_error` (a failed create) and
:func:`after_callback_error` (a ``failed``/``undelivered`` status callback) both read it through :func:`decide`.

A create's failure is first classified by what it says about the message (:func:`classify`):

- **transient** (:class:`TransientSendError`): Twilio answered and did not take the message (429, 503, queue or
  rate codes), or nothing was sent (connection refused).
- **permanent** (:class:`PermanentSendError`): retrying cannot help as it is (bad number, opted out, content...).
- **ambiguous** (:class:`AmbiguousSendError`): the message may exist (a read timeout after sending, a dropped
  connection, HTTP 500/502/504: a server error or a gateway that gave up says nothing about whether it was
  created). Never re-sent blindly: the row is ``unknown`` and reconciled.

Unknown codes fall back by HTTP status: permanent for 4xx, transient for 429 and 503-class 5xx; an unknown code in
a callback leaves the row as reported (a final code stays final).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Literal, NamedTuple

from hub.config import RetrySettings
from hub.errors import AmbiguousSendError, PermanentSendError, SendError, TransientSendError

HOUR_MS = 3_600_000
MINUTE_MS = 60_000


class Effect(StrEnum):
    """What a Twilio error code does, wherever it arrives (the create's answer or a status callback)."""

    RETRY = "retry"  # not now: the row is owed again as a new attempt, after a wait (budgeted by max_retries)
    THROTTLE = "throttle"  # a rate limit: owed again after a wait, the pace slows; never uses up the retry budget
    FAIL = "fail"  # this message will never go through as it is: final
    OPT_OUT = "opt_out"  # final, and the contact must not be messaged again (blocked us / unsubscribed)
    PAUSE = "pause"  # the sender cannot send at all (credentials, account, template): pause the run, rows stay owed


@dataclass(frozen=True)
class Rule:
    """One row of :data:`RULES`.

    Attributes:
        effect: see :class:`Effect`.
        wait_ms: the least wait before the next attempt (a cause that clears slowly: 63018 is hours).
        defer_run: the cause is sender-wide (tier, queue): the run's other owed rows wait as long.
        why: what the code means, for the history and the operator.
    """

    effect: Effect
    why: str
    wait_ms: int | None = None
    defer_run: bool = False


_R, _T, _F, _O, _P = Effect.RETRY, Effect.THROTTLE, Effect.FAIL, Effect.OPT_OUT, Effect.PAUSE

#: The one table (TWILIO.md §6, SPEC §8): every Twilio error code the hub treats specially, create or callback.
RULES: dict[int, Rule] = {
    # Rate limits pace, they never drop a message.
    20429: Rule(_T, "too many concurrent requests: never processed, always safe to retry"),
    # The sender cannot send: pause the affected runs with the reason; nothing is failed for it.
    20003: Rule(_P, "Twilio refused the credentials (20003): check twilio.account_sid and the auth token, then resume"),
    20008: Rule(_P, "the Twilio account is suspended or cannot reach this resource (20008): fix it, then resume"),
    63047: Rule(_P, "the WhatsApp template is paused or disabled (63047): resume once it is active again"),
    # Not now: owed again as a new attempt.
    20500: Rule(_R, "Twilio internal error"),
    20503: Rule(_R, "Twilio service unavailable"),
    21611: Rule(_R, "the sender's queue holds more than 10 h of messages", 10 * MINUTE_MS, defer_run=True),
    30001: Rule(_R, "queue overflow: queued too long", 10 * MINUTE_MS, defer_run=True),
    30008: Rule(_R, "unknown error"),
    63012: Rule(_R, "channel generic error"),
    63017: Rule(_R, "account above 2,000 messages per second", MINUTE_MS, defer_run=True),
    63018: Rule(_R, "WhatsApp rate or messaging-limit tier exceeded", 4 * HOUR_MS, defer_run=True),
    63023: Rule(_R, "channel internal error"),
    63049: Rule(_R, "Meta declined a marketing template for this user; retried later (US: final)", 6 * HOUR_MS),
    # The contact said no.
    21610: Rule(_O, "recipient unsubscribed (STOP)"),
    63014: Rule(_O, "blocked by the user"),
    # Final: fix the data, the request or the configuration.
    21211: Rule(_F, "invalid To"),
    21408: Rule(_F, "region not enabled"),
    21608: Rule(_F, "trial account: To not verified"),
    21614: Rule(_F, "not a mobile number"),
    21617: Rule(_F, "body too long"),
    21654: Rule(_F, "ContentVariables without ContentSid"),
    21655: Rule(_F, "invalid ContentSid"),
    21656: Rule(_F, "invalid ContentVariables"),
    63003: Rule(_F, "channel could not find To"),
    63007: Rule(_F, "From is not a WhatsApp channel"),
    63016: Rule(_F, "outside the 24 h window: send an approved template"),
    63021: Rule(_F, "invalid content (a template over 1,024 characters, or a media type WhatsApp refuses)"),
    63024: Rule(_F, "not on WhatsApp, or has not accepted its terms"),
    63028: Rule(_F, "template variable count mismatch"),
    63032: Rule(_F, "the user's number is in a Meta experiment"),
}

#: HTTP statuses that decide without a code: 401 is the credentials (pause), 429 a rate limit.
STATUS_RULES: dict[int, Rule] = {
    401: RULES[20003],
    429: RULES[20429],
}

#: Codes that mean "not now" (derived from :data:`RULES`).
TRANSIENT_CODES: frozenset[int] = frozenset(c for c, r in RULES.items() if r.effect in (_R, _T))
#: Codes that mean "this message will never go through as it is" (derived from :data:`RULES`).
PERMANENT_CODES: frozenset[int] = frozenset(c for c, r in RULES.items() if r.effect in (_F, _O))
#: Codes after which the contact must not be messaged again (opt out / block).
OPT_OUT_CODES: frozenset[int] = frozenset(c for c, r in RULES.items() if r.effect is _O)
#: Codes that pause the run instead of failing the message.
PAUSE_CODES: frozenset[int] = frozenset(c for c, r in RULES.items() if r.effect is _P)

#: HTTP statuses after which the request may have been processed (the message may exist): outcome unknown.
AMBIGUOUS_STATUSES: frozenset[int] = frozenset({500, 502, 504})

SendErrorType = type[SendError]


def rule_for(code: int | None, *, http_status: int | None = None, to: str | None = None) -> Rule | None:
    """The rule for a code (and, without a known code, for the HTTP status), or None when neither is in a table.

    Args:
        code: Twilio error code (None when there is none).
        http_status: the create's HTTP status, when it was a create.
        to: recipient in E.164 (with or without ``whatsapp:``); only 63049 depends on it (US: final).
    """
    rule = RULES.get(code) if code is not None else None
    if rule is None and code is not None and 35000 <= code < 36000:  # scheduling validation: fix the request
        rule = Rule(_F, "scheduling parameters refused")
    if rule is not None and code == 63049 and (to is None or _is_us(to)):
        rule = Rule(_F, "Meta declined a marketing template for this US number")
    if rule is None and http_status is not None:
        rule = STATUS_RULES.get(http_status)
    return rule


def _is_us(to: str | None) -> bool:
    return to is not None and to.removeprefix("whatsapp:").startswith("+1")


def classify_code(code: int, *, to: str | None = None) -> SendErrorType | None:
    """The class a known Twilio error code maps to, or None when the code is not in the table.

    Args:
        code: Twilio error code (sync or from a callback).
        to: recipient in E.164 (with or without ``whatsapp:``); only 63049 depends on it (US: permanent).
    """
    rule = rule_for(code, to=to)
    if rule is None:
        return None
    return TransientSendError if rule.effect in (_R, _T) else PermanentSendError


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
    return PermanentSendError  # a PAUSE rule (401) is applied by :func:`after_create_error` from the code/status


def suggested_retry_after_ms(code: int | None) -> int | None:
    """A minimum wait (ms) for codes whose cause clears slowly (63018: hours), else None."""
    rule = RULES.get(code) if code is not None else None
    return rule.wait_ms if rule is not None else None


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


class Decision(NamedTuple):
    """What a failure does to its row (create or callback).

    Attributes:
        action: ``retry`` (owed again after ``delay_ms``, an attempt used), ``throttle`` (owed again after
            ``delay_ms``, no attempt used: rate limits never fail a message), ``failed``, ``unknown`` (the create
            may exist: reconciled, never re-sent blindly), ``pause`` (owed again, the run paused with ``reason``).
        delay_ms: wait before the next attempt, ms.
        code: the Twilio error code to record.
        reason: the text to record (Twilio's message; for ``pause`` what the operator must fix).
        opt_out: also opt the contact out (21610, 63014).
        defer_run: the run's other owed rows wait ``delay_ms`` too (the cause is sender-wide: 63018, 30001...).
    """

    action: Literal["retry", "throttle", "failed", "unknown", "pause"]
    delay_ms: int = 0
    code: int | None = None
    reason: str | None = None
    opt_out: bool = False
    defer_run: bool = False


def decide(
    code: int | None,
    *,
    message: str,
    attempts: int,
    retries: RetrySettings,
    fallback: Effect,
    http_status: int | None = None,
    to: str | None = None,
    retry_after_ms: int | None = None,
) -> Decision:
    """Decide what a failure does to its row, from :data:`RULES` (pure). The same for a create and a callback.

    Args:
        code: Twilio's error code, if any.
        message: Twilio's error message.
        attempts: attempts of the row so far, the failed one included (1 on the first send).
        retries: ``retries.*`` (budget and backoff bounds, ms).
        fallback: the effect of a code (and status) the tables do not know.
        http_status: the create's HTTP status (None for a callback).
        to: the recipient (63049 depends on it).
        retry_after_ms: Twilio's ``Retry-After``, ms.
    """
    rule = rule_for(code, http_status=http_status, to=to)
    effect = rule.effect if rule is not None else fallback
    if effect is Effect.PAUSE:
        return Decision("pause", code=code, reason=rule.why if rule is not None else message)
    if effect is Effect.OPT_OUT:
        return Decision("failed", code=code, reason=message, opt_out=True)
    if effect is Effect.FAIL:
        return Decision("failed", code=code, reason=message)
    wait = backoff_ms(
        attempts, min_ms=retries.min_backoff_ms, max_ms=retries.max_backoff_ms, retry_after_ms=retry_after_ms
    )
    if rule is not None and rule.wait_ms is not None:
        wait = max(wait, rule.wait_ms)
    defer_run = rule is not None and rule.defer_run
    if effect is Effect.THROTTLE:
        return Decision("throttle", delay_ms=wait, code=code, reason=message)
    if attempts <= retries.max_retries:
        return Decision("retry", delay_ms=wait, code=code, reason=message, defer_run=defer_run)
    return Decision("failed", code=code, reason=f"gave up after {attempts} attempts: {message}")


def after_create_error(exc: SendError, *, attempts: int, retries: RetrySettings, to: str | None = None) -> Decision:
    """What a failed create does to its row (pure): the classified error through :func:`decide`."""
    if isinstance(exc, AmbiguousSendError):
        return Decision("unknown", code=exc.code, reason=exc.message)
    return decide(
        exc.code,
        message=exc.message,
        attempts=attempts,
        retries=retries,
        fallback=Effect.RETRY if isinstance(exc, TransientSendError) else Effect.FAIL,
        http_status=exc.http_status,
        to=to,
        retry_after_ms=exc.retry_after_ms,
    )


def after_callback_error(
    code: int | None, *, message: str | None, attempts: int, retries: RetrySettings, to: str | None = None
) -> Decision | None:
    """What a ``failed``/``undelivered`` status callback with ``code`` does to its row (pure); None when it only
    stands as reported (no code, or one the table does not know: a final code stays final)."""
    if code is None or rule_for(code, to=to) is None:
        return None
    text = message or f"Twilio error {code}"
    return decide(code, message=text, attempts=attempts, retries=retries, fallback=Effect.FAIL, to=to)


def throttled_rate(rate: float, cap: float, *, throttled: bool, floor: float = 1.0) -> float:
    """The send rate after one pacing interval (pure): halved on a 429 (down to ``floor``), else regained by a
    tenth of ``cap`` per interval (up to ``cap``). What makes a persistent 429 slow the pace instead of failing."""
    if throttled:
        return max(min(floor, cap), rate / 2)
    return min(cap, rate + cap / 10)


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
    "PAUSE_CODES",
    "PERMANENT_CODES",
    "RULES",
    "TRANSIENT_CODES",
    "Decision",
    "Effect",
    "Rule",
    "after_callback_error",
    "after_create_error",
    "backoff_ms",
    "classify",
    "classify_code",
    "classify_http",
    "decide",
    "opts_out_contact",
    "parse_retry_after",
    "rule_for",
    "send_error",
    "suggested_retry_after_ms",
    "throttled_rate",
]
