"""The journey engine, pure: from an entry's state and what happened, the next state, sends and path lines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from journey_support import START, context, hours, journey, play

from hub.errors import RenderError
from hub.journeys.engine import Enter, Event, Timer, advance, split_target

CART = journey("""
exit_when: [opted_out]
steps:
  - id: remind
    send: {body: "Hi"}
  - id: wait-reply
    wait_for: [replied, read]
    timeout: 24h
    on: {replied: end, read: thanks, timeout: nudge}
  - id: nudge
    send: {body: "Still there?"}
    next: end
  - id: thanks
    send: {body: "Thanks!"}
""")


def sent(decisions: list) -> list[str]:
    return [send.step for decision in decisions for send in decision.sends]


@pytest.mark.parametrize(
    ("stimuli", "sends", "outcome"),
    [
        ([Event("replied", hours(1))], ["remind"], "completed"),
        ([Event("read", hours(1))], ["remind", "thanks"], "completed"),
        ([Timer(hours(24), "wait-reply")], ["remind", "nudge"], "completed"),
        ([Event("delivered", hours(1)), Timer(hours(24), "wait-reply")], ["remind", "nudge"], "completed"),
        ([Event("opted_out", hours(1))], ["remind"], "exit:opted_out"),
        ([Event("replied", hours(1)), Timer(hours(24), "wait-reply")], ["remind"], "completed"),
        ([Timer(hours(24), "wait-reply"), Event("replied", hours(25))], ["remind", "nudge"], "completed"),
    ],
    ids=[
        "reply",
        "read",
        "timeout",
        "unawaited-status-then-timeout",
        "exit",
        "timer-after-reply",
        "reply-after-timeout",
    ],
)
def test_each_outcome_of_a_wait_takes_its_branch_once(stimuli: list, sends: list[str], outcome: str) -> None:
    decisions = play(CART, [Enter(START), *stimuli])
    assert sent(decisions) == sends
    assert decisions[-1].state.phase == "ended"
    assert decisions[-1].state.outcome == outcome
    assert decisions[-1].state.due_at is None


def test_entering_sends_the_first_message_and_waits_with_a_timeout() -> None:
    [decision] = play(CART, [Enter(START)])
    assert [send.step for send in decision.sends] == ["remind"]
    assert decision.sends[0].message.body == "Hi"
    assert (decision.state.step, decision.state.phase, decision.state.due_at) == ("wait-reply", "awaiting", hours(24))
    assert [(line.step, line.outcome) for line in decision.path] == [("remind", "sent"), ("wait-reply", "awaiting")]


def test_a_second_enter_of_the_same_entry_changes_nothing() -> None:
    first, second = play(CART, [Enter(START), Enter(hours(1))])
    assert second.state == first.state and second.sends == ()


def test_an_early_or_stale_timer_is_ignored() -> None:
    entered, early, other = play(CART, [Enter(START), Timer(hours(23), "wait-reply"), Timer(hours(24), "nudge")])
    assert early.state == entered.state and other.state == entered.state
    assert early.sends == other.sends == ()


PAUSED = journey("""
steps:
  - id: remind
    send: {body: "Hi"}
  - id: pause
    wait: 1h
  - id: wait-read
    wait_for: [read, replied]
    timeout: 1d
    on: {read: thanks, replied: answered, timeout: end}
  - id: thanks
    send: {body: "Thanks for reading"}
    next: end
  - id: answered
    send: {body: "Thanks for answering"}
""")


def test_a_read_before_the_wait_began_counts() -> None:
    decisions = play(PAUSED, [Enter(START), Event("read", hours(0.5)), Timer(hours(1), "pause")])
    assert sent(decisions) == ["remind", "thanks"]
    assert decisions[-1].state.outcome == "completed"


def test_a_reply_before_the_wait_began_does_not_count() -> None:
    decisions = play(PAUSED, [Enter(START), Event("replied", hours(0.5)), Timer(hours(1), "pause")])
    assert sent(decisions) == ["remind"]
    assert (decisions[-1].state.step, decisions[-1].state.phase) == ("wait-read", "awaiting")


def test_a_new_send_forgets_what_the_previous_message_reached() -> None:
    j = journey("""
steps:
  - id: one
    send: {body: "One"}
  - id: two
    wait: 1h
    send: {body: "Two"}
  - id: wait-read
    wait_for: read
    timeout: 1d
""")
    decisions = play(j, [Enter(START), Event("read", hours(0.5)), Timer(hours(1), "two")])
    assert (decisions[-1].state.step, decisions[-1].state.phase) == ("wait-read", "awaiting")


def test_read_counts_as_delivered() -> None:
    j = journey("""
steps:
  - id: one
    send: {body: "One"}
  - id: wait
    wait_for: delivered
    timeout: 1d
    on: {delivered: two, timeout: end}
  - id: two
    send: {body: "Two"}
""")
    assert sent(play(j, [Enter(START), Event("read", hours(1))])) == ["one", "two"]


def test_an_awaited_event_not_named_in_on_goes_to_the_next_step() -> None:
    j = journey("""
steps:
  - id: wait
    wait_for: [replied, shop.visited]
    timeout: 1d
    on: {replied: end}
  - id: after
    send: {body: "Next"}
""")
    decisions = play(j, [Enter(START), Event("shop.visited", hours(1))])
    assert sent(decisions) == ["after"]
    assert decisions[-1].path[0].outcome == "shop.visited"


def test_exit_when_ends_the_entry_at_once_and_drops_its_timer() -> None:
    j = journey("""
exit_when: [replied, order.placed]
steps:
  - id: pause
    wait: 2d
    send: {body: "Hi"}
""")
    entered, exited = play(j, [Enter(START), Event("order.placed", hours(1))])
    assert entered.state.due_at == hours(48)
    assert (exited.state.phase, exited.state.due_at, exited.state.outcome) == ("ended", None, "exit:order.placed")
    assert advance(j, exited.state, Timer(hours(48), "pause"), context()).sends == ()


def test_an_ended_entry_ignores_every_event() -> None:
    *_, ended = play(CART, [Enter(START), Event("replied", hours(1))])
    after = advance(CART, ended.state, Event("read", hours(2)), context())
    assert after.state == ended.state and after.sends == () and after.path == ()


GUARDED = journey("""
steps:
  - id: vip
    if: "contact.tier == 'vip'"
    send: {body: "VIP"}
  - id: everyone
    send: {body: "Hello"}
""")


@pytest.mark.parametrize(("vip", "sends"), [(True, ["vip", "everyone"]), (False, ["everyone"])])
def test_a_false_guard_skips_to_the_following_step(vip: bool, sends: list[str]) -> None:
    decisions = play(GUARDED, [Enter(START)], context({"contact.tier == 'vip'": vip}))
    assert sent(decisions) == sends


GUARDED_WITH_NEXT = journey("""
steps:
  - id: route
    branch: [{if: "returning", goto: thanks}, {else: vip}]
  - id: vip
    if: "contact.tier == 'vip'"
    send: {body: "VIP"}
    next: end
  - id: thanks
    send: {body: "Thanks"}
""")


@pytest.mark.parametrize(("vip", "sends"), [(True, ["vip"]), (False, [])])
def test_a_false_guard_goes_where_the_steps_next_leads(vip: bool, sends: list[str]) -> None:
    truths = {"returning": False, "contact.tier == 'vip'": vip}
    decisions = play(GUARDED_WITH_NEXT, [Enter(START)], context(truths))
    assert sent(decisions) == sends


def test_a_guard_that_fails_to_evaluate_ends_the_entry_with_the_error() -> None:
    def broken(text: str) -> bool:
        raise RenderError(f"recipient +4915112345678: if {text!r}: missing variable 'contact'")

    ctx = context()
    ctx = type(ctx)(campaign="t", phone=ctx.phone, timezone=ctx.timezone, evaluate=broken)
    [decision] = play(GUARDED, [Enter(START)], ctx)
    assert decision.sends == ()
    assert decision.state.phase == "ended" and decision.state.outcome is not None
    assert decision.state.outcome.startswith("error: ") and "missing variable" in decision.state.outcome


BRANCHED = journey("""
steps:
  - id: pick
    branch:
      - {if: "city == 'Berlin'", goto: berlin}
      - {if: "city == 'Paris'", goto: paris}
      - {else: elsewhere}
  - id: berlin
    send: {body: "Hallo"}
    next: end
  - id: paris
    send: {body: "Bonjour"}
    next: end
  - id: elsewhere
    send: {body: "Hello"}
""")


@pytest.mark.parametrize(("city", "sends"), [("Berlin", ["berlin"]), ("Paris", ["paris"]), ("Rome", ["elsewhere"])])
def test_a_branch_takes_its_first_true_arm_else_the_else(city: str, sends: list[str]) -> None:
    truths = {"city == 'Berlin'": city == "Berlin", "city == 'Paris'": city == "Paris"}
    decisions = play(BRANCHED, [Enter(START)], context(truths))
    assert sent(decisions) == sends
    assert decisions[0].path[0].outcome == "branch"


SPLIT = journey("""
steps:
  - id: pick
    split: {a: 30, b: 70}
  - id: a
    send: {body: "A"}
    next: end
  - id: b
    send: {body: "B"}
""")


def test_a_split_is_stable_per_recipient_and_follows_the_weights() -> None:
    step = SPLIT.steps[0]
    phones = [f"+49151{n:08d}" for n in range(2000)]
    picks = [split_target("test", step, phone) for phone in phones]
    assert picks == [split_target("test", step, phone) for phone in phones]
    assert 0.25 < picks.count("a") / len(picks) < 0.35
    assert sent(play(SPLIT, [Enter(START)], context(phone=phones[0]))) == [picks[0]]


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (datetime(2026, 12, 7, 8, 0, tzinfo=UTC), datetime(2026, 12, 7, 9, 0, tzinfo=UTC)),  # 09:00 Berlin: today
        (datetime(2026, 12, 7, 9, 0, tzinfo=UTC), datetime(2026, 12, 7, 9, 0, tzinfo=UTC)),  # 10:00 Berlin: now
        (datetime(2026, 12, 7, 10, 0, tzinfo=UTC), datetime(2026, 12, 8, 9, 0, tzinfo=UTC)),  # 11:00: tomorrow
        (datetime(2026, 3, 28, 10, 0, tzinfo=UTC), datetime(2026, 3, 29, 8, 0, tzinfo=UTC)),  # over the DST change
    ],
    ids=["later-today", "exactly-now", "tomorrow", "across-dst"],
)
def test_wait_until_is_the_next_such_time_in_the_recipients_zone(now: datetime, due: datetime) -> None:
    j = journey("""
steps:
  - id: morning
    wait: {until: "10:00"}
    send: {body: "Good morning"}
""")
    [decision] = play(j, [Enter(now)], context(zone="Europe/Berlin"))
    if due == now:
        assert [send.step for send in decision.sends] == ["morning"]
    else:
        assert (decision.state.phase, decision.state.due_at, decision.sends) == ("waiting", due, ())
