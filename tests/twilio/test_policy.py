"""Send-error policy: classification tables from TWILIO.md §6, opt-out codes, Retry-After and backoff."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.config import RetrySettings
from hub.errors import AmbiguousSendError, PermanentSendError, SendError, TransientSendError
from hub.policy import (
    HOUR_MS,
    OPT_OUT_CODES,
    PERMANENT_CODES,
    RULES,
    TRANSIENT_CODES,
    Effect,
    after_callback_error,
    after_create_error,
    backoff_ms,
    classify,
    classify_http,
    opts_out_contact,
    parse_retry_after,
    send_error,
    suggested_retry_after_ms,
    throttled_rate,
)

T, P, A = TransientSendError, PermanentSendError, AmbiguousSendError


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, 20429, T),
        (429, None, T),
        (500, None, A),
        (500, 20500, A),
        (503, 20503, T),
        (503, None, T),
        (502, None, A),
        (504, None, A),
        (400, 21611, T),
        (400, 30001, T),
        (400, 30008, T),
        (400, 63017, T),
        (400, 63018, T),
        (400, 63012, T),
        (400, 63023, T),
        (400, 21211, P),
        (400, 21408, P),
        (400, 21610, P),
        (400, 21614, P),
        (400, 21608, P),
        (400, 21654, P),
        (400, 21656, P),
        (400, 63028, P),
        (400, 35118, P),
        (400, 35114, P),
        (400, 63007, P),
        (400, 63016, P),
        (400, 63003, P),
        (400, 63024, P),
        (400, 63014, P),
        (400, 63021, P),
        (401, 20003, P),
        (404, 20404, P),
        (400, None, P),
        (400, 99999, P),
        (503, 99999, T),
    ],
)
def test_classify_http_follows_the_table(status: int, code: int | None, expected: type[SendError]) -> None:
    assert classify_http(status, code) is expected


@pytest.mark.parametrize(
    ("to", "expected"),
    [("+447700900123", T), ("whatsapp:+447700900123", T), ("+14155550100", P), (None, P)],
)
def test_63049_is_retried_only_outside_the_us(to: str | None, expected: type[SendError]) -> None:
    assert classify_http(400, 63049, to=to) is expected


@pytest.mark.parametrize(("code", "expected"), [(21610, True), (63014, True), (21211, False), (None, False)])
def test_opts_out_contact(code: int | None, expected: bool) -> None:
    assert opts_out_contact(code) is expected


def test_63018_suggests_a_wait_of_hours() -> None:
    err = send_error(400, 63018, "rate limit")
    assert isinstance(err, TransientSendError)
    assert err.retry_after_ms is not None and err.retry_after_ms >= HOUR_MS


def test_retry_after_from_the_server_wins_over_the_suggestion() -> None:
    assert send_error(429, 20429, "slow down", retry_after_ms=2000).retry_after_ms == 2000


def test_code_equal_to_status_means_no_code() -> None:
    err = send_error(503, 503, "HTML error page")
    assert (type(err), err.code, err.http_status) == (TransientSendError, None, 503)


def test_unknown_code_has_no_suggested_wait() -> None:
    assert suggested_retry_after_ms(21211) is None


class FakeRestException(Exception):
    def __init__(self, status: int, code: int | None, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def test_classify_reads_status_and_code_of_a_rest_exception() -> None:
    err = classify(FakeRestException(400, 21211, "Invalid 'To' Phone Number"))
    assert (type(err), err.code, err.http_status, err.message) == (P, 21211, 400, "Invalid 'To' Phone Number")


def test_classify_returns_a_send_error_unchanged() -> None:
    original = PermanentSendError("x", code=1)
    assert classify(original) is original


@pytest.mark.parametrize(
    ("exc", "sent", "expected"),
    [
        (ConnectionRefusedError(111, "refused"), None, T),
        (TimeoutError(), None, A),
        (ConnectionResetError(104, "reset"), None, A),
        (RuntimeError("surprise"), None, A),
        (TimeoutError(), False, T),
        (ConnectionRefusedError(111, "refused"), True, A),
    ],
)
def test_network_errors_are_transient_only_when_nothing_was_sent(
    exc: BaseException, sent: bool | None, expected: type[SendError]
) -> None:
    assert type(classify(exc, request_sent=sent)) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("3", 3000),
        ("0.5", 500),
        ("-4", 0),
        ("Wed, 01 Jan 2025 00:00:10 GMT", 10_000),
        ("soon", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: int | None) -> None:
    assert parse_retry_after(value, now=datetime(2025, 1, 1, tzinfo=UTC)) == expected


@pytest.mark.parametrize(
    ("attempt", "rand", "jitter", "expected"),
    [
        (1, 0.0, "equal", 500),
        (1, 0.999999, "equal", 999),
        (2, 0.0, "equal", 1000),
        (3, 0.5, "equal", 3000),
        (0, 0.0, "equal", 500),
        (10, 0.0, "equal", 5000),
        (200, 1.0, "equal", 10_000),
        (1, 0.0, "full", 0),
        (3, 0.5, "full", 2000),
        (10, 0.5, "full", 5000),
    ],
)
def test_backoff_is_exponential_jittered_and_capped(attempt: int, rand: float, jitter: str, expected: int) -> None:
    got = backoff_ms(attempt, min_ms=1000, max_ms=10_000, jitter=jitter, rng=lambda: rand)  # type: ignore[arg-type]
    assert got == expected


def test_backoff_retry_after_wins_even_above_the_cap() -> None:
    assert backoff_ms(1, min_ms=1000, max_ms=10_000, retry_after_ms=60_000, rng=lambda: 0.0) == 60_000


RETRIES = RetrySettings(max_retries=5, min_backoff_ms=1000, max_backoff_ms=300_000)


@pytest.mark.parametrize("attempts", [1, 6, 50])
def test_a_rate_limit_throttles_and_never_fails(attempts: int) -> None:
    exc = TransientSendError("Too Many Requests", code=20429, http_status=429)
    decision = after_create_error(exc, attempts=attempts, retries=RETRIES)
    assert decision.action == "throttle" and decision.delay_ms > 0


@pytest.mark.parametrize(("status", "code"), [(401, 20003), (401, None), (403, 20008), (400, 63047)])
def test_a_sender_level_error_pauses(status: int, code: int | None) -> None:
    decision = after_create_error(PermanentSendError("no", code=code, http_status=status), attempts=1, retries=RETRIES)
    assert decision.action == "pause" and decision.reason


def test_63018_is_a_new_attempt_hours_later_that_defers_the_run() -> None:
    decision = after_callback_error(63018, message="tier", attempts=1, retries=RETRIES, to="+447700900001")
    assert decision is not None
    assert (decision.action, decision.defer_run) == ("retry", True)
    assert decision.delay_ms >= 4 * HOUR_MS


def test_a_retryable_code_past_the_budget_is_final() -> None:
    decision = after_callback_error(30001, message="queue", attempts=6, retries=RETRIES)
    assert decision is not None and decision.action == "failed"


@pytest.mark.parametrize("code", [21610, 63014])
def test_opt_out_codes_fail_and_opt_out_wherever_they_arrive(code: int) -> None:
    on_create = after_create_error(PermanentSendError("no", code=code, http_status=400), attempts=1, retries=RETRIES)
    on_callback = after_callback_error(code, message="no", attempts=1, retries=RETRIES)
    assert on_callback is not None
    assert (on_create.action, on_create.opt_out) == (on_callback.action, on_callback.opt_out) == ("failed", True)


@pytest.mark.parametrize("code", [None, 12345, 63016])
def test_a_callback_code_that_is_final_or_unknown_changes_nothing_more(code: int | None) -> None:
    decision = after_callback_error(code, message="x", attempts=1, retries=RETRIES)
    assert decision is None or (decision.action, decision.opt_out) == ("failed", False)


def test_every_code_has_one_rule_and_the_derived_sets_agree() -> None:
    assert TRANSIENT_CODES.isdisjoint(PERMANENT_CODES)
    assert OPT_OUT_CODES <= PERMANENT_CODES
    assert {c for c, r in RULES.items() if r.effect is Effect.PAUSE} == {20003, 20008, 63047}


@pytest.mark.parametrize(
    ("rate", "throttled", "expected"),
    [(80.0, True, 40.0), (1.5, True, 1.0), (40.0, False, 48.0), (79.0, False, 80.0)],
)
def test_throttled_rate_halves_on_429_and_recovers_slowly(rate: float, throttled: bool, expected: float) -> None:
    assert throttled_rate(rate, 80.0, throttled=throttled) == expected
