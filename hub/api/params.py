"""Request values the routes read the same way: a phone number, and an id cursor of a keyset page."""

from __future__ import annotations

from hub.api.errors import Unprocessable
from hub.config import Settings
from hub.errors import InvalidPhoneError
from hub.phones import normalize_phone

__all__ = ["id_cursor", "phone_param"]

#: Digits an id cursor may have: every bigint id fits in 18 (ids past 2^63 do not exist).
_CURSOR_DIGITS = 18


def phone_param(value: str, settings: Settings, field: str) -> str:
    """``value`` in E.164, or a 422 naming ``field``."""
    try:
        return normalize_phone(value, settings.phones.default_region)
    except InvalidPhoneError as exc:
        raise Unprocessable(f"invalid phone number: {exc}", field=field) from None


def id_cursor(cursor: str | None) -> int:
    """The id a page starts after: 0 for the first page, else the cursor the previous page gave, or a 422."""
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > _CURSOR_DIGITS:
        raise Unprocessable("invalid cursor", field="cursor")
    return int(cursor)
