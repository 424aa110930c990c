"""Phone numbers: E.164 normalisation, reasons for refusals, and time zones."""

from __future__ import annotations

import random
import re

import phonenumbers
import pytest

from hub.errors import InvalidPhoneError
from hub.phones import _fast_e164, _slow_e164, e164_to_int, normalize_phone, timezone_for


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+14155552671", None, "+14155552671"),
        ("+1 (415) 555-2671", None, "+14155552671"),
        ("whatsapp:+14155552671", None, "+14155552671"),
        ("WhatsApp:+14155552671", None, "+14155552671"),
        ("  +4915112345678  ", None, "+4915112345678"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("015112345678", "DE", "+4915112345678"),
        ("0151 1234 5678", "de", "+4915112345678"),
        ("00 49 151 12345678", "DE", "+4915112345678"),
        ("+4915112345678", "US", "+4915112345678"),
        ("98765 43210", "IN", "+919876543210"),
        ("+390612345678", None, "+390612345678"),
        ("+442079460000", None, "+442079460000"),
    ],
)
def test_normalize_phone_returns_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("", None, "empty"),
        ("whatsapp:", None, "empty"),
        ("garbage", None, "not a phone number"),
        ("415 555 2671", None, "no country code: write +CC or set phones.default_region"),
        ("+1415", None, "too short"),
        ("+4420794600001", None, "not a valid number (too long for +44)"),
        ("+999123456789", None, "unknown country code"),
        ("+14155552671 ext. 12", None, "extension"),
        ("555-0100", "US", "not a valid number"),
        ("+10005550100", None, "not a valid number"),
    ],
)
def test_normalize_phone_refuses_with_reason(raw: str, region: str | None, reason: str) -> None:
    with pytest.raises(InvalidPhoneError, match=re.escape(reason)):
        normalize_phone(raw, region)


def _example_numbers() -> list[str]:
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, number_type)
            if example is not None:
                numbers.append(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    return numbers


def test_fast_path_agrees_with_the_full_parser_for_every_region() -> None:
    # The fast path may decline (None) but must never accept a number the parser reads differently.
    disagreements = []
    for number in _example_numbers():
        for candidate in (number, number[:-1], number + "1"):
            fast = _fast_e164(candidate)
            if fast is None:
                continue
            try:
                slow = _slow_e164(candidate, None)
            except InvalidPhoneError:
                slow = None
            if fast != slow:
                disagreements.append((candidate, fast, slow))
    assert disagreements == []


@pytest.mark.parametrize("country_code", [1, 7, 44, 49, 61, 91, 262, 590])
def test_fast_path_agrees_with_the_full_parser_on_random_digits(country_code: int) -> None:
    # Shared calling codes (+1, +7, +44, +262, +590) pick a region per number: the fast path must pick the same.
    rng = random.Random(country_code)
    disagreements = []
    for _ in range(300):
        candidate = f"+{country_code}{rng.randrange(10**7, 10**11)}"
        fast = _fast_e164(candidate)
        if fast is not None and fast != _slow_or_none(candidate):
            disagreements.append(candidate)
    assert disagreements == []


def _slow_or_none(candidate: str) -> str | None:
    try:
        return _slow_e164(candidate, None)
    except InvalidPhoneError:
        return None


def test_e164_to_int_is_the_digits() -> None:
    assert e164_to_int("+14155552671") == 14155552671


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        ("+4915112345678", "Europe/Berlin"),
        ("+14155552671", "America/Los_Angeles"),
        ("+12015550123", "America/New_York"),
        ("+79123456789", "fallback/zone"),  # Russia spans many zones
        ("+80012345678", "fallback/zone"),  # international freephone: no zone
        ("not a number", "fallback/zone"),
    ],
)
def test_timezone_for_uses_the_number_or_the_fallback(e164: str, expected: str) -> None:
    assert timezone_for(e164, "fallback/zone") == expected
