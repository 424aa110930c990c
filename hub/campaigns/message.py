"""What one message says; shared by campaign files, journey steps and API sends."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["MessageSpec"]


class MessageSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What one message says: exactly one of ``template`` / ``body`` / ``content_sid``.

    Shared by campaign files and API sends, so both render through the same path.
    """

    template: str | None = None  # a file under templates/messages/
    body: str | None = None  # inline Jinja
    content_sid: str | None = None  # an approved WhatsApp template (HX...)
    content_variables: dict[str, str] | None = None  # each value is Jinja
    media_url: list[str] = []  # Jinja allowed
    vars: dict[str, Any] = {}  # campaign-wide variables
