"""Message states only move forward; duplicates and late callbacks change nothing."""

from __future__ import annotations

import pytest

from hub.status import MessageStatus as S
from hub.status import advance, from_twilio, is_final


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        (S.SENDING, S.QUEUED, S.QUEUED),
        (S.QUEUED, S.SENT, S.SENT),
        (S.SENT, S.DELIVERED, S.DELIVERED),
        (S.DELIVERED, S.READ, S.READ),
        (S.SENT, S.READ, S.READ),  # read without delivered is fine
        (S.DELIVERED, S.SENT, S.DELIVERED),  # late sent after delivered: recorded, not applied
        (S.READ, S.DELIVERED, S.READ),
        (S.READ, S.READ, S.READ),  # duplicate
        (S.ACCEPTED, S.QUEUED, S.QUEUED),
        (S.QUEUED, S.ACCEPTED, S.QUEUED),
        (S.SENT, S.FAILED, S.FAILED),
        (S.SENT, S.UNDELIVERED, S.UNDELIVERED),
        (S.DELIVERED, S.UNDELIVERED, S.DELIVERED),  # a failure cannot undo a delivery
        (S.FAILED, S.DELIVERED, S.FAILED),  # final stays final
        (S.UNDELIVERED, S.READ, S.UNDELIVERED),
        (S.UNKNOWN, S.SENT, S.SENT),  # a callback settles an ambiguous send
        (S.UNKNOWN, S.FAILED, S.FAILED),
        (S.SCHEDULED, S.CANCELED, S.CANCELED),
        (S.SKIPPED, S.SENT, S.SKIPPED),
        (S.REJECTED, S.DELIVERED, S.REJECTED),
    ],
)
def test_advance_is_monotonic(current: S, reported: S, expected: S) -> None:
    assert advance(current, reported) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("delivered", S.DELIVERED),
        ("READ", S.READ),
        (" sent ", S.SENT),
        ("sending", S.QUEUED),
        ("accepted", S.ACCEPTED),
        ("receiving", None),
        ("partially_delivered", None),
        ("bogus", None),
    ],
)
def test_from_twilio_maps_twilio_statuses(raw: str, expected: S | None) -> None:
    assert from_twilio(raw) == expected


@pytest.mark.parametrize(
    ("status", "final"),
    [(S.PENDING, False), (S.SENDING, False), (S.UNKNOWN, False), (S.SENT, False), (S.READ, True), (S.FAILED, True)],
)
def test_is_final(status: S, final: bool) -> None:
    assert is_final(status) is final
