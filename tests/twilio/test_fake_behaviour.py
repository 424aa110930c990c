"""The fake Twilio's decisions (pure): validation like Twilio's, magic recipients, the random failure mix."""

from __future__ import annotations

import random
from collections import deque

import pytest

from hub.faketwilio.behaviour import FakeConfig, decide, normal_steps, over_rate_limit, validate

OK = {"To": ["whatsapp:+14155550100"], "From": ["whatsapp:+14155238886"], "Body": ["hi"]}
HX = "HX" + "0" * 32


def form(**changes: list[str] | None) -> dict[str, list[str]]:
    out = dict(OK)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (form(), None),
        (form(To=None), 21604),
        (form(To=["+14155550100"]), 21211),
        (form(To=["whatsapp:14155550100"]), 21211),
        (form(From=None), 21603),
        (form(From=None, MessagingServiceSid=["MG" + "0" * 32]), None),
        (form(Body=None), 21619),
        (form(Body=None, MediaUrl=["https://a/1.png"]), None),
        (form(ContentSid=[HX]), 21619),
        (form(Body=None, ContentSid=[HX]), None),
        (form(Body=None, ContentSid=[HX], ContentVariables=['{"1": "Ana"}']), None),
        (form(Body=None, ContentSid=[HX], ContentVariables=['{"1": ""}']), 21656),
        (form(Body=None, ContentSid=[HX], ContentVariables=["not json"]), 21656),
        (form(Body=None, ContentSid=[HX], ContentVariables=['["a"]']), 21656),
        (form(ContentVariables=['{"1": "a"}']), 21654),
        (form(Body=None, ContentSid=["HX123"]), 21655),
        (form(Body=["x" * 1600]), None),
        (form(Body=["x" * 1601]), 21617),
        (form(MediaUrl=[f"https://a/{i}.png" for i in range(11)]), 21623),
    ],
)
def test_validate_like_twilio(params: dict[str, list[str]], code: int | None) -> None:
    result = validate(params)
    assert (result.code if result else None) == code


@pytest.mark.parametrize(
    ("last", "previous", "kind", "status", "code"),
    [
        ("0001", 0, "error", 400, 21211),
        ("0002", 0, "error", 400, 21610),
        ("0003", 0, "error", 429, 20429),
        ("0003", 1, "ok", 201, None),
        ("0004", 0, "error", 500, 20500),
        ("0004", 1, "ok", 201, None),
        ("0005", 0, "hang", 201, None),
        ("0006", 0, "ok", 201, None),
        ("0008", 0, "drop", 201, None),
        ("0009", 3, "error", 503, 20503),
        ("0042", 0, "ok", 201, None),
    ],
)
def test_magic_recipients(last: str, previous: int, kind: str, status: int, code: int | None) -> None:
    decision = decide(form(To=[f"whatsapp:+1500555{last}"]), config=FakeConfig(), previous_creates=previous)
    assert (decision.kind, decision.http_status, decision.code) == (kind, status, code)


def test_magic_needs_the_test_prefix() -> None:
    assert decide(form(To=["whatsapp:+14155550001"]), config=FakeConfig(), previous_creates=0).kind == "ok"


def test_429_magic_says_retry_after() -> None:
    decision = decide(form(To=["whatsapp:+15005550003"]), config=FakeConfig(), previous_creates=0)
    assert decision.retry_after_s == 1


@pytest.mark.parametrize(
    ("last", "steps"),
    [
        ("0006", (("failed", 63016),)),
        ("0007", (("sent", None), ("undelivered", 63024))),
        ("0042", (("sent", None), ("delivered", None), ("read", None))),
    ],
)
def test_callback_plans(last: str, steps: tuple[tuple[str, int | None], ...]) -> None:
    assert decide(form(To=[f"whatsapp:+1500555{last}"]), config=FakeConfig(), previous_creates=0).steps == steps


def test_messaging_service_messages_report_queued_first() -> None:
    assert normal_steps(True)[0] == ("queued", None)


def test_fail_rate_gives_only_transient_errors_at_about_the_rate() -> None:
    rng = random.Random(7)
    decisions = [decide(form(), config=FakeConfig(fail_rate=0.3), previous_creates=0, rng=rng) for _ in range(2000)]
    failed = [d for d in decisions if d.kind == "error"]
    assert {(d.http_status, d.code) for d in failed} == {(429, 20429), (503, 20503)}
    assert 0.25 < len(failed) / len(decisions) < 0.35


def test_config_update_rejects_unknown_keys() -> None:
    with pytest.raises(KeyError):
        FakeConfig().update({"latency": 5})


def test_a_rate_limit_refuses_the_creates_beyond_it_in_the_last_second() -> None:
    taken: deque[float] = deque()
    answers = [over_rate_limit(taken, now, 2.0) for now in (0.0, 0.1, 0.2, 0.9, 1.05, 1.08)]
    # two go in any second; a refused create takes no room; room comes back a second after each
    assert answers == [False, False, True, True, False, True]
    assert not any(over_rate_limit(deque(), 0.0, None) for _ in range(5))
