"""Phone numbers: parse, validate and normalise to E.164; find a number's time zone."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult
from phonenumbers import timezone as phone_timezones
from phonenumbers.phonemetadata import PhoneMetadata

from hub.errors import InvalidPhoneError

__all__ = ["e164_to_int", "normalize_phone", "timezone_for"]

_WHATSAPP = "whatsapp:"
_PLAIN_E164 = re.compile(r"\+([1-9]\d{6,16})")
_UNKNOWN_ZONE = "Etc/Unknown"

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "no country code: write +CC or set phones.default_region",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short to be a phone number",
    NumberParseException.TOO_LONG: "too long to be a phone number",
}

_LENGTH_REASONS = {
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "wrong length",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "a local number without its area code",
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
}


class _Desc(NamedTuple):
    """One number type of one region: the lengths it allows and its national-number pattern."""

    lengths: frozenset[int]
    pattern: re.Pattern[str]

    def matches(self, national: str) -> bool:
        # Same test as phonenumbers' _is_number_matching_desc: lengths first (when listed), then the pattern.
        return (not self.lengths or len(national) in self.lengths) and self.pattern.fullmatch(national) is not None


class _Region(NamedTuple):
    leading_digits: re.Pattern[str] | None
    general: _Desc | None
    common: tuple[_Desc, ...]  # fixed line and mobile: what nearly every WhatsApp number is

    def quick_valid(self, national: str) -> bool:
        return (
            self.general is not None
            and self.general.matches(national)
            and any(desc.matches(national) for desc in self.common)
        )


class _Country(NamedTuple):
    national_prefix: re.Pattern[str] | None
    regions: tuple[_Region, ...]


# Calling code -> its precompiled rules. Bounded: about 250 calling codes exist.
_COUNTRIES: dict[int, _Country] = {}


def normalize_phone(raw: str, default_region: str | None = None) -> str:
    """Validate a phone number and return it in E.164 (``+14155550100``).

    Args:
        raw: the number as written: ``+14155550100``, ``whatsapp:+14155550100``, ``(415) 555-0100``...
        default_region: ISO 3166 region (``US``, ``IN``) for numbers written without ``+CC``.

    Returns:
        The number in E.164, without the ``whatsapp:`` prefix.

    Raises:
        InvalidPhoneError: the number cannot be parsed or is not a valid number; the message says why.
    """
    text = raw.strip()
    if text[: len(_WHATSAPP)].lower() == _WHATSAPP:
        text = text[len(_WHATSAPP) :].strip()
    if not text:
        raise InvalidPhoneError("empty phone number")
    fast = _fast_e164(text)
    if fast is not None:
        return fast
    return _slow_e164(text, default_region)


def e164_to_int(e164: str) -> int:
    """The E.164 number as an int (``+14155550100`` -> ``14155550100``): a compact key for de-duplication.

    E.164 numbers never start with 0 after the ``+``, so the mapping is one-to-one.
    """
    return int(e164[1:])


def timezone_for(e164: str, fallback: str) -> str:
    """The IANA time zone of a number's owner, as far as the number tells.

    Args:
        e164: a number in E.164 (as returned by :func:`normalize_phone`).
        fallback: the zone to use when the number spans several zones (most of the US) or none is known.

    Returns:
        One IANA zone name.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return fallback
    zones = phone_timezones.time_zones_for_number(number)
    if len(zones) == 1 and zones[0] != _UNKNOWN_ZONE:
        return zones[0]
    return fallback


def _fast_e164(text: str) -> str | None:
    """Validate an already-canonical ``+DIGITS`` number without the general parser (about 2x faster).

    Returns None whenever the general parser could read the digits differently (a leading 0, a national
    prefix it might strip) or the number is invalid, so the slow path decides and explains.
    """
    match = _PLAIN_E164.fullmatch(text)
    if match is None:
        return None
    digits = match.group(1)
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    if national.startswith("0") or not 2 <= len(national) <= 17:
        return None
    country = _country(country_code)
    if country.national_prefix is not None and country.national_prefix.match(national):
        return None
    return text if _quick_valid(national, country) else None


def _quick_valid(national: str, country: _Country) -> bool:
    """True only when phonenumbers.is_valid_number would say so; False means "ask it".

    Mirrors how phonenumbers picks the region of a shared calling code (+1, +7, +44): the first region whose
    leading digits match, or else whose patterns accept the number. Only fixed-line and mobile patterns are
    tried, so a rarer type (toll-free, pager...) falls through to the full check.
    """
    if len(country.regions) == 1:
        return country.regions[0].quick_valid(national)
    for region in country.regions:
        if region.leading_digits is not None:
            if region.leading_digits.match(national):
                return region.quick_valid(national)
            continue
        if region.general is None or not region.general.matches(national):
            continue  # this region's type for the number is unknown: phonenumbers moves on too
        return region.quick_valid(national)
    return False


def _country(country_code: int) -> _Country:
    country = _COUNTRIES.get(country_code)
    if country is None:
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code]
        main = PhoneMetadata.metadata_for_region_or_calling_code(country_code, regions[0])
        pattern = main.national_prefix_for_parsing if main is not None else None
        country = _Country(
            national_prefix=re.compile(pattern) if pattern else None,
            regions=tuple(_region(country_code, region, single=len(regions) == 1) for region in regions),
        )
        _COUNTRIES[country_code] = country
    return country


def _region(country_code: int, region: str, *, single: bool) -> _Region:
    if single:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    else:
        metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None:
        return _Region(None, None, ())
    leading = re.compile(metadata.leading_digits) if metadata.leading_digits and not single else None
    common = tuple(d for d in (_desc(metadata.fixed_line), _desc(metadata.mobile)) if d is not None)
    return _Region(leading, _desc(metadata.general_desc), common)


def _desc(desc: Any) -> _Desc | None:
    if desc is None or not desc.national_number_pattern:
        return None
    return _Desc(frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern))


def _slow_e164(text: str, default_region: str | None) -> str:
    region = default_region.upper() if default_region else None
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        reason = _PARSE_REASONS.get(exc.error_type, "not a phone number")
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE and text.lstrip().startswith("+"):
            reason = "unknown country code"
        raise InvalidPhoneError(reason) from None
    if number.extension:
        raise InvalidPhoneError("has an extension; WhatsApp numbers cannot have one")
    if not phonenumbers.is_valid_number(number):
        length = phonenumbers.is_possible_number_with_reason(number)
        detail = _LENGTH_REASONS.get(length)
        country = f"+{number.country_code}"
        raise InvalidPhoneError(f"not a valid number ({detail} for {country})" if detail else "not a valid number")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
