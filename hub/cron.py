"""Crontab lines read the way crontab reads them, turned into APScheduler 3 triggers (pure)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_TOKEN = re.compile(r"^(?P<range>\*|[0-7](?:-[0-7])?)(?:/(?P<step>[1-9][0-9]*))?$")


def crontab_weekdays(field: str) -> str:
    """Rewrite a crontab day-of-week field with names.

    crontab counts Sunday as 0 (and 7); APScheduler 3 counts Monday as 0, so a numbered field handed to it
    as is fires on the wrong days. Names mean the same to both. Fields already written with names are kept.

    Raises:
        ValueError: a numbered field that is not a valid crontab day-of-week.
    """
    if not re.search(r"[0-9]", field) or re.search(r"[a-zA-Z]", field):
        return field
    days: set[int] = set()
    for token in field.lower().split(","):
        match = _TOKEN.match(token)
        if match is None:
            raise ValueError(f"expected day-of-week numbers 0-7 or names, found {token!r}")
        span, step = match.group("range"), int(match.group("step") or 1)
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            first, last = (int(x) for x in span.split("-"))
            if first > last:
                raise ValueError(f"expected a rising day range, found {token!r}")
        else:
            first = last = int(span)
            if match.group("step"):
                last = 7
        days.update(day % 7 for day in range(first, last + 1, step))
    if len(days) == 7:
        return "*"
    return ",".join(_NAMES[day] for day in sorted(days))


def cron_trigger(expr: str, timezone: str) -> CronTrigger:
    """An APScheduler trigger for a standard 5-field crontab line in ``timezone``.

    Raises:
        ValueError: not 5 fields, or a field APScheduler rejects.
    """
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 cron fields (minute hour day-of-month month day-of-week), found {len(fields)}")
    fields[4] = crontab_weekdays(fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=ZoneInfo(timezone))
