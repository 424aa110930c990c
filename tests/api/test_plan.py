"""Send planning (pure): validate, normalise and render every recipient before anything is stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hub.api.errors import Unprocessable
from hub.api.plan import RawRecipient, message_spec, plan_send, raw_recipients
from hub.config import Settings

BODY = {
    "body": None,
    "template": None,
    "content_sid": None,
    "content_variables": None,
    "media_url": [],
    "variables": {},
}


def spec(**fields: Any) -> Any:
    return message_spec(**{**BODY, **fields})


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "body"),
        ({"body": "hi", "template": "x.j2"}, "body"),
        ({"body": "hi", "content_sid": "HX1"}, "body"),
        ({"body": "hi", "content_variables": {"1": "a"}}, "content_variables"),
    ],
)
def test_message_spec_refuses_ambiguous_message(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        spec(**fields)
    assert caught.value.field == field


def test_raw_recipients_reads_flat_and_nested_vars_in_order() -> None:
    got = raw_recipients(
        [{"to": "+14155550100", "first_name": "Ada"}, {"phone": "+14155550101", "vars": {"first_name": "Bo"}}],
        ["+14155550102"],
    )
    assert got == [
        RawRecipient("+14155550100", {"first_name": "Ada"}, "recipients[0]"),
        RawRecipient("+14155550101", {"first_name": "Bo"}, "recipients[1]"),
        RawRecipient("+14155550102", {}, "phone_numbers[0]"),
    ]


@pytest.mark.parametrize(
    ("recipients", "numbers", "field"),
    [
        (None, None, "recipients"),
        ([], [], "recipients"),
        ([{"first_name": "Ada"}], None, "recipients[0]"),
        ([{"to": 14155550100}], None, "recipients[0]"),
        ([{"to": "+14155550100", "vars": []}], None, "recipients[0].vars"),
        (None, ["+14155550100", ""], "phone_numbers[1]"),
    ],
)
def test_raw_recipients_refuses_malformed(recipients: Any, numbers: Any, field: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        raw_recipients(recipients, numbers)
    assert caught.value.field == field


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


def test_plan_renders_each_recipient_with_its_vars(settings: Settings) -> None:
    recipients = raw_recipients([{"to": "+14155550100", "name": "Ada"}, {"to": "+1 415 555 0101", "name": "Bo"}], None)
    plan = plan_send(spec(body="Hi {{ name }}"), recipients, settings)
    assert [(p.message.to, p.message.body) for p in plan.accepted] == [
        ("+14155550100", "Hi Ada"),
        ("+14155550101", "Hi Bo"),
    ]
    assert plan.rejected == []


def test_plan_rejects_invalid_and_skips_duplicate_numbers_with_reasons(settings: Settings) -> None:
    recipients = raw_recipients(None, ["+14155550100", "12", "whatsapp:+14155550100"])
    plan = plan_send(spec(body="Hi"), recipients, settings)
    assert [p.message.to for p in plan.accepted] == ["+14155550100"]
    assert [to for to, _ in plan.rejected] == ["12"]
    assert plan.rejected[0][1].startswith("invalid phone number")
    assert plan.skipped == [("whatsapp:+14155550100", "duplicate of phone_numbers[0]")]


def test_plan_strict_numbers_raises_with_field(settings: Settings) -> None:
    with pytest.raises(Unprocessable) as caught:
        plan_send(spec(body="Hi"), [RawRecipient("12", {}, "to")], settings, strict_numbers=True)
    assert caught.value.field == "to"


def test_plan_missing_variable_fails_whole_request_naming_recipient(settings: Settings) -> None:
    recipients = raw_recipients([{"to": "+14155550100", "name": "Ada"}, {"to": "+14155550101"}], None)
    with pytest.raises(Unprocessable) as caught:
        plan_send(spec(body="Hi {{ name }}"), recipients, settings)
    assert caught.value.field == "recipients[1]"
    assert "name" in caught.value.detail


def test_plan_syntax_error_is_field_error(settings: Settings) -> None:
    with pytest.raises(Unprocessable) as caught:
        plan_send(spec(body="Hi {{ name "), raw_recipients(None, ["+14155550100"]), settings)
    assert caught.value.field == "body"


def test_plan_oversize_body_fails(settings: Settings) -> None:
    with pytest.raises(Unprocessable) as caught:
        plan_send(spec(body="x" * 1601), raw_recipients(None, ["+14155550100"]), settings)
    assert "1600" in caught.value.detail


def test_plan_content_template_renders_variables(settings: Settings) -> None:
    message = spec(content_sid="HX0123456789abcdef0123456789abcdef", content_variables={"1": "{{ name }}"})
    plan = plan_send(message, raw_recipients([{"to": "+14155550100", "name": "Ada"}], None), settings)
    assert (plan.accepted[0].message.content_sid, plan.accepted[0].message.content_variables) == (
        "HX0123456789abcdef0123456789abcdef",
        {"1": "Ada"},
    )
