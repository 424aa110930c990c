"""What Twilio would refuse, checked before sending, and the ValidityPeriod (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.twilio_rules import request_refusal, template_text, template_too_long, validity_period_s

SID = "HX" + "a" * 32
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("content_sid", "media", "field"),
    [
        (None, ["https://x/a.jpg"], None),
        (SID, [], None),
        (SID, ["https://x/a.jpg"], "media_url"),
        ("HX" + "a" * 31, [], "content_sid"),
        ("HX" + "g" * 32, [], "content_sid"),
        ("MG" + "a" * 32, [], "content_sid"),
    ],
)
def test_request_refusal(content_sid: str | None, media: list[str], field: str | None) -> None:
    refusal = request_refusal(content_sid=content_sid, media_url=media)
    assert (refusal.field if refusal else None) == field


def test_template_text_substitutes_the_variables() -> None:
    assert template_text("Hi {{1}}, code {{ 2 }} {{3}}", {"1": "Ada", "2": "X"}) == "Hi Ada, code X {{3}}"


@pytest.mark.parametrize(("length", "refused"), [(1024, False), (1025, True)])
def test_a_template_over_1024_characters_with_its_variables_is_refused(length: int, refused: bool) -> None:
    body = "x" * (length - 5) + "{{1}}"
    reason = template_too_long(body, {"1": "y" * 5})
    assert (reason is not None) == refused
    assert reason is None or "63021" in reason


@pytest.mark.parametrize(
    ("expires_in", "expected"),
    [
        (None, None),
        (timedelta(hours=2), 7200),
        (timedelta(seconds=0.2), 1),
        (timedelta(seconds=-5), 1),
        (timedelta(hours=11), 36000),
    ],
)
def test_validity_period_follows_the_expiry_within_twilios_range(
    expires_in: timedelta | None, expected: int | None
) -> None:
    expires_at = NOW + expires_in if expires_in is not None else None
    assert validity_period_s(expires_at, NOW) == expected
