"""Durations written the short way: ``90s``, ``30m``, ``12h``, ``2d``."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

_DURATION = re.compile(r"\s*(\d+)\s*([smhd])\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """Parse ``<positive integer><unit>`` where unit is s, m, h or d.

    Args:
        text: e.g. ``"12h"``.

    Returns:
        The duration as a timedelta.

    Raises:
        ValueError: the text is not of that form, or the duration is zero. The message says what was expected.
    """
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"expected a duration like 90s, 30m, 12h or 2d, found {text!r}")
    amount = int(match.group(1))
    if amount == 0:
        raise ValueError(f"expected a positive duration, found {text!r}")
    return timedelta(seconds=amount * _UNIT_SECONDS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """The shortest exact form of a duration (``timedelta(hours=36)`` -> ``"36h"``), inverse of parse_duration."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"
