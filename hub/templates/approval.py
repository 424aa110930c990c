"""WhatsApp approval states of a content template and what each allows (pure; TWILIO.md §2.2-2.3).

Twilio documents ``pending``, ``approved``, ``rejected``, ``paused`` and ``disabled``; ``received`` is seen in
practice; ``unsubmitted`` is ours for a template never submitted. Other values are stored as Twilio sent them
(lowercased) and treated as "not approved".
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """WhatsApp template categories accepted on submission."""

    MARKETING = "MARKETING"
    UTILITY = "UTILITY"
    AUTHENTICATION = "AUTHENTICATION"


UNSUBMITTED = "unsubmitted"
APPROVED = "approved"

#: A run using a template in one of these states does not start (and a running one pauses).
BLOCKING: frozenset[str] = frozenset({"rejected", "paused", "disabled"})

#: Twilio error codes meaning "this template cannot be sent now" (paused or disabled by WhatsApp).
#: **[UNCONFIRMED]**: TWILIO.md does not list Twilio's code for Meta's 132015 (paused) / 132016 (disabled);
#: 63047 is what the fake Twilio answers. The registry check at claim time catches the state regardless.
TEMPLATE_BLOCKED_CODES: frozenset[int] = frozenset({63047})


def parse_category(value: object) -> Category:
    """The category named by ``value`` (exact upper-case name).

    Raises:
        ValueError: anything but MARKETING, UTILITY or AUTHENTICATION.
    """
    if isinstance(value, str) and value in Category.__members__:
        return Category(value)
    allowed = ", ".join(c.value for c in Category)
    raise ValueError(f"category must be one of {allowed}; got {value!r}")


def normalize_status(value: object) -> str:
    """Twilio's status string in our form: lowercase, trimmed; empty or missing means ``unsubmitted``."""
    text = str(value or "").strip().lower()
    return text or UNSUBMITTED


def blocks_sending(status: str | None) -> bool:
    """True when WhatsApp will not deliver this template at all (rejected, paused, disabled)."""
    return status is not None and normalize_status(status) in BLOCKING


def refusal_reason(name: str, content_sid: str, status: str, rejection_reason: str | None) -> str:
    """Why a send with this template is refused, for an operator to act on."""
    why = f": {rejection_reason}" if rejection_reason else ""
    return f"content template {name!r} ({content_sid}) is {normalize_status(status)}{why}; it cannot be sent"


def approval_warning(status: str | None) -> str | None:
    """A warning for a template that is not (known to be) approved, or None when it is approved.

    Args:
        status: the registry's status, or None when the template is not in the registry.
    """
    if status is None:
        return "template not in the registry: its approval status is unknown (run `hub templates sync`)"
    status = normalize_status(status)
    if status == APPROVED:
        return None
    if status in BLOCKING:
        return f"template is {status}: runs of this campaign are refused"
    return f"template approval status is {status!r}, not approved: WhatsApp delivers it only inside the 24 h window"


__all__ = [
    "APPROVED",
    "BLOCKING",
    "TEMPLATE_BLOCKED_CODES",
    "UNSUBMITTED",
    "Category",
    "approval_warning",
    "blocks_sending",
    "normalize_status",
    "parse_category",
    "refusal_reason",
]
