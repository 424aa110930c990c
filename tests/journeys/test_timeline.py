"""The timeline of a dry run: the real engine, with each wait_for's outcome assumed in turn."""

from __future__ import annotations

from pathlib import Path

import pytest
from journey_support import START, hours

from hub.campaigns.loader import load_campaign
from hub.config import PathSettings, Settings
from hub.journeys.timeline import timeline
from hub.journeys.variables import JourneyRenderer, entry_recipient

CART = """\
name: cart-recovery
entry: {event: cart.abandoned, key: "{{ event.cart_id }}"}
exit_when: [opted_out]
steps:
  - id: remind
    send: {body: "Hi {{ first_name }}, your cart: {{ event.items }}"}
  - id: wait-reply
    wait_for: [replied, read]
    timeout: 24h
    on: {replied: end, read: thanks, timeout: nudge}
  - id: nudge
    wait: {until: "10:00"}
    send: {body: "Still thinking about {{ event.items }}?"}
    next: end
  - id: thanks
    if: "contact.tier == 'vip'"
    send: {body: "Thanks, {{ first_name }}!"}
"""


@pytest.fixture
def played(tmp_path: Path):
    (tmp_path / "templates").mkdir()
    path = tmp_path / "cart-recovery.yaml"
    path.write_text(CART, encoding="utf-8")
    settings = Settings(root=tmp_path, paths=PathSettings(campaigns=tmp_path, templates=tmp_path / "templates"))
    spec = load_campaign(path, settings)
    assert spec.journey is not None
    renderer = JourneyRenderer(spec, settings)

    def play(*assume: str, tier: str | None = None, own: dict | None = None):
        who = entry_recipient(
            "+4915112345678",
            {"first_name": "Ada"} if own is None else own,
            source="test",
            event={"cart_id": 7, "items": "2 socks"},
            contact={"tier": tier} if tier else {},
            entry_id=None,
            started_at=START,
        )
        assert spec.journey is not None
        lines = timeline(spec.journey, renderer, who, timezone="Europe/Berlin", start=START, assume=assume)
        return [(line.step, line.outcome) for line in lines], lines

    return play


def test_without_assumptions_every_wait_times_out(played) -> None:
    steps, lines = played()
    assert steps == [
        ("remind", "sent"),
        ("wait-reply", "awaiting"),
        ("wait-reply", "timeout"),
        ("nudge", "waiting"),
        ("nudge", "waited"),
        ("nudge", "sent"),
        ("end", "completed"),
    ]
    assert lines[0].message is not None and lines[0].message.body == "Hi Ada, your cart: 2 socks"
    assert lines[2].at == hours(24)
    assert lines[4].at == hours(25)  # 10:00 in Berlin, the morning after the timeout at 09:00 local


def test_an_assumed_reply_takes_the_reply_branch(played) -> None:
    steps, _ = played("replied")
    assert steps == [("remind", "sent"), ("wait-reply", "awaiting"), ("wait-reply", "replied"), ("end", "completed")]


@pytest.mark.parametrize(("tier", "thanked"), [("vip", True), (None, False)])
def test_an_assumed_read_takes_the_read_branch_and_its_guard_reads_the_contact(played, tier, thanked) -> None:
    steps, lines = played("read", tier=tier)
    assert steps[2:4] == [("wait-reply", "read"), ("thanks", "sent" if thanked else "skipped")]
    if thanked:
        assert lines[3].message is not None and lines[3].message.body == "Thanks, Ada!"


def test_an_assumption_the_step_does_not_await_is_followed_by_its_timeout(played) -> None:
    steps, _ = played("failed")
    assert steps[2:4] == [("wait-reply", "failed (not awaited)"), ("wait-reply", "timeout")]


def test_a_missing_variable_is_shown_on_the_line_of_its_send(played) -> None:
    steps, lines = played(own={})
    assert steps[0] == ("remind", "sent")
    assert lines[0].message is None
    assert lines[0].error is not None and "missing variable 'first_name'" in lines[0].error


def test_hub_status_prints_one_line_per_step_with_its_counts() -> None:
    from hub.journeys.progress import StepProgress, describe_steps

    lines = describe_steps(
        [
            StepProgress(id="remind", kind="send", counts={"sent": 2, "message_delivered": 1}),
            StepProgress(id="wait-reply", kind="wait_for", counts={}),
        ]
    )
    assert lines == [
        "  remind      send      message_delivered 1  sent 2",
        "  wait-reply  wait_for  not reached",
    ]
