"""Pure template rules: placeholders, variable fit, categories and approval states."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.campaigns.spec import CampaignSpec, MessageSpec
from hub.store.templates import TemplateRecord
from hub.templates.approval import approval_warning, blocks_sending, normalize_status, parse_category
from hub.templates.check import template_findings, text_findings
from hub.templates.guard import not_at_twilio
from hub.templates.variables import body_problems, content_variable_problems, declared_variables

SID = "HX" + "1" * 32


@pytest.mark.parametrize(
    ("body", "declared"),
    [
        ("Hi {{1}}, order {{2}}", ["1", "2"]),
        ("{{ 2 }} then {{1}} then {{2}}", ["1", "2"]),
        ("No placeholders", []),
        ("Hi {{name}}", []),
        ("{{10}} {{9}}", ["9", "10"]),
    ],
)
def test_declared_variables(body: str, declared: list[str]) -> None:
    assert declared_variables(body) == declared


@pytest.mark.parametrize(
    ("body", "samples", "expected"),
    [
        ("Hi {{1}}!", {"1": "Ada"}, None),
        ("Hi {{1}} and {{3}}", {"1": "a", "3": "c"}, "without gaps"),
        ("Hi {{1}}!", {}, "sample value is required"),
        ("Hi {{1}}!", {"1": "  "}, "sample value is required"),
        ("Hi {{1}}!", {"1": "a", "2": "b"}, "does not have: '2'"),
        ("   ", {}, "empty"),
    ],
)
def test_body_problems(body: str, samples: dict[str, str], expected: str | None) -> None:
    problems = body_problems(body, samples)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"1": "{{ first_name }}", "2": "42"}, None),
        ({"1": "a"}, "declares 2 variable(s)"),
        ({"1": "a", "3": "c"}, "without gaps"),
        ({"1": "a", "2": ""}, "empty value for '2'"),
        ({"1": "a", "2": "b", "3": "c"}, "not declared by the template: '3'"),
        (None, "got 0"),
    ],
)
def test_content_variable_problems(given: dict[str, str] | None, expected: str | None) -> None:
    problems = content_variable_problems(["1", "2"], given)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("value", ["MARKETING", "UTILITY", "AUTHENTICATION"])
def test_the_three_categories_are_accepted(value: str) -> None:
    assert parse_category(value).value == value


@pytest.mark.parametrize("value", ["marketing", "TRANSACTIONAL", "", None, 3])
def test_anything_else_is_not_a_category(value: object) -> None:
    with pytest.raises(ValueError, match="MARKETING, UTILITY, AUTHENTICATION"):
        parse_category(value)


@pytest.mark.parametrize(
    ("raw", "status", "blocks"),
    [
        ("APPROVED", "approved", False),
        (" Pending ", "pending", False),
        ("received", "received", False),
        (None, "unsubmitted", False),
        ("rejected", "rejected", True),
        ("PAUSED", "paused", True),
        ("disabled", "disabled", True),
        ("some_new_state", "some_new_state", False),
    ],
)
def test_statuses_normalise_and_block(raw: str | None, status: str, blocks: bool) -> None:
    assert normalize_status(raw) == status
    assert blocks_sending(raw) is blocks


@pytest.mark.parametrize(
    ("status", "expected"),
    [("approved", None), ("pending", "not approved"), ("rejected", "refused"), (None, "unknown")],
)
def test_approval_warning(status: str | None, expected: str | None) -> None:
    warning = approval_warning(status)
    assert warning is None if expected is None else expected in (warning or "")


def _spec(variables: dict[str, str] | None, sid: str = SID) -> CampaignSpec:
    return CampaignSpec(
        name="promo",
        source=Path("campaigns/promo.yaml"),
        message=MessageSpec(content_sid=sid, content_variables=variables),
    )


def _registry(status: str = "approved") -> dict[str, TemplateRecord]:
    record = TemplateRecord(
        friendly_name="promo_t", language="en", content_sid=SID, body="Hi {{1}} {{2}}", declared=["1", "2"]
    )
    return {
        SID: TemplateRecord(**{**{f: getattr(record, f) for f in record.__struct_fields__}, "approval_status": status})
    }


def test_fitting_variables_of_an_approved_template_pass() -> None:
    assert template_findings(_spec({"1": "a", "2": "b"}), _registry(), "promo.yaml") == ([], [])


def test_mismatched_variables_are_located_errors() -> None:
    errors, _ = template_findings(_spec({"1": "a"}), _registry(), "campaigns/promo.yaml")
    assert [str(e) for e in errors] == [
        f"campaigns/promo.yaml: content_variables: template 'promo_t' ({SID}): "
        "the template declares 2 variable(s) ('1', '2'); got 1",
        f"campaigns/promo.yaml: content_variables: template 'promo_t' ({SID}): missing '2'",
    ]


def test_unapproved_template_is_an_error_naming_file_and_field() -> None:
    errors, warnings = template_findings(_spec({"1": "a", "2": "b"}), _registry("pending"), "promo.yaml")
    assert [str(e) for e in errors] == [
        f"promo.yaml: content_sid: content template 'promo_t' ({SID}) is pending; it cannot be sent"
    ]
    assert warnings == []


def test_a_template_twilio_does_not_have_is_an_error() -> None:
    errors, _ = template_findings(_spec({"1": "a"}), {SID: not_at_twilio(SID)}, "promo.yaml")
    assert [str(e) for e in errors] == [
        f"promo.yaml: content_sid: content template {SID} does not exist at Twilio; it cannot be sent"
    ]


@pytest.mark.parametrize(("length", "refused"), [(1024, False), (1025, True)])
def test_the_text_limit_is_the_send_paths(length: int, refused: bool) -> None:
    variables = {"1": "a" * (length - len("Hi  b")), "2": "b"}
    errors = text_findings(
        _spec({"1": "{{ x }}", "2": "b"}), _registry(), "promo.yaml", [("audience.recipients[0]", variables)]
    )
    assert [e.field for e in errors] == (["audience.recipients[0]"] if refused else [])


def test_template_missing_from_the_registry_is_a_warning() -> None:
    errors, warnings = template_findings(_spec({"1": "a"}, sid="HX" + "2" * 32), _registry(), "promo.yaml")
    assert errors == []
    assert "unknown" in warnings[0]
