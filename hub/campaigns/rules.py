"""Pure checks of single campaign values; each raises ValueError saying what was expected and what was found."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.campaigns.fields import describe
from hub.yamlfile import BadTimestamp

__all__ = [
    "check_content_sid",
    "check_content_variable_key",
    "check_cron",
    "check_name",
    "check_timezone",
    "parse_clock",
    "parse_datetime",
]

_NAME = re.compile(r"[a-z0-9-]+")
_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
#: Twilio allows at most 100 variables in a content template.
MAX_CONTENT_VARIABLES = 100


def check_name(name: str) -> str:
    """A campaign name: lowercase letters, digits and dashes."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"expected lowercase letters, digits and dashes ([a-z0-9-]+), found {name!r}")
    return name


def check_content_sid(sid: str) -> str:
    """An approved template's id: ``HX`` then 32 hex digits."""
    if not _CONTENT_SID.fullmatch(sid):
        raise ValueError(f"expected a Content SID (HX followed by 32 hex digits), found {sid!r}")
    return sid


def check_content_variable_key(key: Any) -> str:
    """A placeholder number of a content template, ``"1"`` to ``"100"`` (YAML may hand it over as an int)."""
    text = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
    if not isinstance(text, str) or not text.isdigit() or text.startswith("0"):
        raise ValueError(f'expected a placeholder number such as "1", found {describe(key)}')
    if int(text) > MAX_CONTENT_VARIABLES:
        raise ValueError(f"expected a placeholder number from 1 to {MAX_CONTENT_VARIABLES}, found {text}")
    return text


def check_timezone(name: str) -> str:
    """An IANA time zone name (``Europe/Berlin``)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"expected an IANA time zone such as Europe/Berlin, found {name!r}") from None
    return name


def check_cron(expr: str, timezone: str) -> str:
    """A standard 5-field crontab line; day-of-week numbers mean what crontab means (0 or 7 = Sunday)."""
    # Imported here: APScheduler costs ~100 ms to import, and most importers of hub.campaigns never check a cron.
    from hub.cron import cron_trigger

    try:
        cron_trigger(expr, timezone)
    except ValueError as exc:
        raise ValueError(f"expected a valid 5-field cron expression, found {expr!r}: {exc}") from None
    return expr


def parse_clock(value: Any) -> str:
    """A wall-clock time ``HH:MM`` from 00:00 to 23:59."""
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 20:00 as the base-60 number 1200.
        raise ValueError(f'expected "HH:MM" in quotes, found {describe(value)} (YAML reads an unquoted 20:00 as 1200)')
    if not isinstance(value, str) or not _CLOCK.fullmatch(value.strip()):
        raise ValueError(f"expected a time of day as HH:MM from 00:00 to 23:59, found {describe(value)}")
    return value.strip()


def parse_datetime(value: Any) -> datetime:
    """A date and time: a YAML timestamp, or an ISO 8601 string such as ``2026-12-01T09:00``."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, BadTimestamp):
        raise ValueError(f"expected a real date and time such as 2026-12-01T09:00:00, found {value} ({value.reason})")
    # A date alone (YAML date, or "2026-12-01") is refused: midnight is rarely what the author meant.
    if isinstance(value, str) and len(value.strip()) > len("2026-12-01"):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a date and time such as 2026-12-01T09:00:00, found {describe(value)}")
