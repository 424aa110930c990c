"""The pure verdict on an ``unknown`` row given what Twilio holds for its recipient."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.reconcile_policy import Action, Unsettled, decide, same_content
from hub.transport.lookup import RemoteMessage

CLAIM = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
QUARANTINE = timedelta(seconds=20)
LATE = CLAIM + timedelta(minutes=5)  # well past the quarantine
EARLY = CLAIM + timedelta(seconds=5)  # a slow create could still land
ROW = Unsettled(id=1, recipient="+14155550100", body="hi", content_sid=None, claimed_at=CLAIM)
TEMPLATE_ROW = Unsettled(id=1, recipient="+14155550100", body=None, content_sid="HX" + "a" * 32, claimed_at=CLAIM)


def msg(sid: str = "SM1", body: str = "hi", seconds: float = 1, direction: str = "outbound-api") -> RemoteMessage:
    return RemoteMessage(
        sid=sid,
        to="+14155550100",
        body=body,
        status="queued",
        created_at=CLAIM + timedelta(seconds=seconds),
        direction=direction,
    )


@pytest.mark.parametrize(
    ("row", "found", "known", "rivals", "now", "action", "sid"),
    [
        (ROW, [msg()], set(), 0, EARLY, Action.ATTACH, "SM1"),
        (ROW, [msg()], set(), 0, LATE, Action.ATTACH, "SM1"),
        (ROW, [msg("SM1"), msg("SM2")], set(), 0, LATE, Action.AMBIGUOUS, None),
        (ROW, [msg("SM1"), msg("SM2")], {"SM2"}, 0, LATE, Action.ATTACH, "SM1"),
        (ROW, [msg()], set(), 1, LATE, Action.AMBIGUOUS, None),
        (ROW, [], set(), 0, LATE, Action.RELEASE, None),
        (ROW, [], set(), 2, LATE, Action.RELEASE, None),
        (ROW, [], set(), 0, EARLY, Action.WAIT, None),
        (ROW, [msg()], {"SM1"}, 0, LATE, Action.RELEASE, None),
        (ROW, [msg(body="other")], set(), 0, LATE, Action.RELEASE, None),
        (ROW, [msg(seconds=-3600)], set(), 0, LATE, Action.RELEASE, None),
        (ROW, [msg(seconds=-30)], set(), 0, LATE, Action.ATTACH, "SM1"),
        (ROW, [msg(direction="inbound")], set(), 0, LATE, Action.RELEASE, None),
        (ROW, None, set(), 0, LATE, Action.UNANSWERABLE, None),
        (Unsettled(1, "+14155550100", "hi", None, None), [msg()], set(), 0, LATE, Action.UNANSWERABLE, None),
        (TEMPLATE_ROW, [msg(body="Your order shipped")], set(), 0, LATE, Action.ATTACH, "SM1"),
    ],
    ids=[
        "one-match-young-claim",
        "one-match",
        "two-matches",
        "other-match-owned",
        "rival-row",
        "nothing-found-old-claim",
        "nothing-found-rivals-irrelevant",
        "nothing-found-young-claim",
        "only-match-owned",
        "other-body",
        "created-before-claim",
        "within-clock-skew",
        "inbound",
        "cannot-answer",
        "no-claim-time",
        "template-any-body",
    ],
)
def test_decide(
    row: Unsettled,
    found: list[RemoteMessage] | None,
    known: set[str],
    rivals: int,
    now: datetime,
    action: Action,
    sid: str | None,
) -> None:
    verdict = decide(row, found, known_sids=known, rivals=rivals, now=now, quarantine=QUARANTINE)

    assert (verdict.action, verdict.message.sid if verdict.message else None) == (action, sid)


@pytest.mark.parametrize(
    ("body", "remote", "expected"),
    [("hi", "hi", True), ("hi ", " hi\n", True), ("hi", "hello", False), ("hi", None, False)],
)
def test_same_content_compares_free_form_bodies(body: str, remote: str | None, expected: bool) -> None:
    row = Unsettled(id=1, recipient="+1", body=body, content_sid=None, claimed_at=CLAIM)
    remote_message = RemoteMessage(sid="SM1", to="+1", body=remote, status="queued", created_at=CLAIM)

    assert same_content(row, remote_message) is expected


@pytest.mark.parametrize(
    ("listed", "steps"),
    [
        ("queued", ("queued", None)),
        ("accepted", ("accepted", None)),
        ("scheduled", ("scheduled", None)),
        ("sending", ("sending", None)),
        ("sent", ("accepted", "sent")),
        ("delivered", ("accepted", "delivered")),
        ("read", ("accepted", "read")),
        ("failed", ("accepted", "failed")),
        ("undelivered", ("accepted", "undelivered")),
        ("receiving", ("receiving", None)),
    ],
)
def test_a_status_past_what_a_create_answers_follows_the_sid_as_a_report(
    listed: str, steps: tuple[str, str | None]
) -> None:
    from hub.reconcile_policy import attach_steps

    assert attach_steps(listed) == steps


def test_the_default_quarantine_is_at_least_ten_minutes() -> None:
    from actors.reconcile import quarantine
    from hub.config import Settings

    assert quarantine(Settings()) >= timedelta(minutes=10)


def test_the_quarantine_is_never_shorter_than_twice_the_client_timeout() -> None:
    from actors.reconcile import quarantine
    from hub.config import Settings, TwilioSettings

    settings = Settings(twilio=TwilioSettings(timeout_seconds=30, reconcile_quarantine_seconds=1))
    assert quarantine(settings) == timedelta(seconds=60)
