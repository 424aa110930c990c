"""``GET /2010-04-01/Accounts/{sid}/Messages.json`` on the fake: the creates it recorded, in Twilio's list shape.

Every create the fake accepted is listed, including those it answered past the client's timeout (magic
``0005``) or never answered (``0008``): exactly the messages a client must find when it reconciles. Filters:
``To`` (exact), ``DateSent>`` / ``DateSent<`` / ``DateSent`` (compared with the creation time: the fake does
not track a separate send time), ``PageSize`` (50 by default, 1000 at most) and ``Page``. Newest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def parse_date_filter(value: str) -> datetime | None:
    """``2026-11-24T04:10:00Z`` or ``2026-11-24`` (UTC) -> datetime; None when it is neither (pure)."""
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def resource(account_sid: str, recorded: Mapping[str, Any]) -> dict[str, Any]:
    """Twilio's Message resource for one recorded create (pure)."""

    def one(key: str) -> str | None:
        values = recorded["params"].get(key)
        return values[-1] if values else None

    sid = recorded["sid"]
    service = one("MessagingServiceSid")
    created = format_datetime(datetime.fromtimestamp(recorded["at"], UTC), usegmt=True)
    return {
        "sid": sid,
        "account_sid": account_sid,
        "messaging_service_sid": service,
        "to": recorded["to"],
        "from": one("From"),
        "body": one("Body") or "",
        "status": "accepted" if service else "queued",
        "direction": "outbound-api",
        "num_segments": "0" if service else "1",
        "num_media": str(len(recorded["params"].get("MediaUrl", []))),
        "price": None,
        "price_unit": "USD",
        "error_code": None,
        "error_message": None,
        "date_created": created,
        "date_updated": created,
        "date_sent": None,
        "api_version": "2010-04-01",
        "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"},
    }


def _wanted(recorded: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    to = query.get("To")
    if to is not None and recorded["to"] != to:
        return False
    created = datetime.fromtimestamp(recorded["at"], UTC)
    for key, keep in (
        ("DateSent>", lambda bound: created >= bound),
        ("DateSent<", lambda bound: created <= bound),
        ("DateSent", lambda bound: created.date() == bound.date()),
    ):
        raw = query.get(key)
        bound = parse_date_filter(raw) if raw else None
        if bound is not None and not keep(bound):
            return False
    return True


def list_page(account_sid: str, messages: Iterable[Mapping[str, Any]], query: Mapping[str, str]) -> dict[str, Any]:
    """One page of the list answer (pure).

    Args:
        account_sid: the account in the path.
        messages: the recorded creates, oldest first.
        query: the request's query parameters.
    """
    try:
        size = min(max(int(query.get("PageSize", DEFAULT_PAGE_SIZE)), 1), MAX_PAGE_SIZE)
        page = max(int(query.get("Page", 0)), 0)
    except ValueError:
        size, page = DEFAULT_PAGE_SIZE, 0
    matching = [m for m in reversed(list(messages)) if _wanted(m, query)]
    chunk = matching[page * size : (page + 1) * size]
    base = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
    keep = {k: v for k, v in query.items() if k not in {"Page", "PageSize", "PageToken"}}

    def uri(number: int) -> str:
        return f"{base}?{urlencode({**keep, 'PageSize': size, 'Page': number, 'PageToken': f'PA{number}'})}"

    more = (page + 1) * size < len(matching)
    return {
        "messages": [resource(account_sid, m) for m in chunk],
        "page": page,
        "page_size": size,
        "start": page * size,
        "end": page * size + max(len(chunk) - 1, 0),
        "uri": uri(page),
        "first_page_uri": uri(0),
        "next_page_uri": uri(page + 1) if more else None,
        "previous_page_uri": uri(page - 1) if page > 0 else None,
    }


__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "list_page", "parse_date_filter", "resource"]
