"""Contact attributes and tags (pure): what a PUT, PATCH or erase changes; the time zone a contact names."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.errors import HubError
from hub.rendering import Attributes
from hub.store.records import ContactChange

__all__ = [
    "MAX_ATTRIBUTES_CHARS",
    "MAX_TAG_CHARS",
    "ContactRefusal",
    "contact_zone",
    "erase",
    "patch",
    "replace",
    "with_contact",
    "zone_of",
]

#: Longest tag: a label, not a document.
MAX_TAG_CHARS = 64
#: Largest attributes object, as JSON: every journey batch and fan-out chunk reads it per recipient.
MAX_ATTRIBUTES_CHARS = 16_384


class ContactRefusal(HubError):
    """A change that is not stored: ``field`` names the request field, the message what to fix (the API: 422)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def contact_zone(attributes: Mapping[str, Any] | None) -> str | None:
    """The IANA zone a contact's ``timezone`` attribute names, or None (absent or not a zone this machine knows).

    It wins over the zone derived from the number (SPEC §13).
    """
    zone = (attributes or {}).get("timezone")
    if not isinstance(zone, str) or not zone.strip():
        return None
    try:
        ZoneInfo(zone.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return zone.strip()


def zone_of(variables: Mapping[str, Any]) -> str | None:
    """The zone the ``contact`` among a recipient's variables names (``with_contact``), or None."""
    contact = variables.get("contact")
    if isinstance(contact, Attributes) and "timezone" in contact:
        return contact_zone({"timezone": contact["timezone"]})
    return None


def with_contact(variables: Mapping[str, Any], attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """A recipient's variables plus ``contact``: its contact's attributes (none known: an empty contact, so
    ``contact.tier | default('')`` renders and ``contact.tier`` alone names what is missing)."""
    return {**variables, "contact": Attributes(attributes or {})}


def replace(attributes: Mapping[str, Any], tags: Iterable[str]) -> ContactChange:
    """A PUT: the contact's attributes and tags become these.

    Raises:
        ContactRefusal: a tag or an attribute that cannot be stored.
    """
    return ContactChange(replace=True, attributes=_attributes(attributes), tags=_tags(tags, "tags"))


def patch(
    attributes: Mapping[str, Any] | None = None,
    *,
    tags: Iterable[str] | None = None,
    add_tags: Iterable[str] = (),
    remove_tags: Iterable[str] = (),
) -> ContactChange:
    """A PATCH: ``attributes`` merged over the stored ones (a null value removes that attribute, as in a JSON merge
    patch); ``tags`` (when given) replace the stored ones, then ``add_tags`` are added and ``remove_tags`` removed.

    Raises:
        ContactRefusal: a tag or an attribute that cannot be stored.
    """
    given = dict(attributes or {})
    kept = {name: value for name, value in given.items() if value is not None}
    return ContactChange(
        attributes=_attributes(kept),
        drop=sorted(name for name, value in given.items() if value is None),
        tags=None if tags is None else _tags(tags, "tags"),
        add_tags=_tags(add_tags, "add_tags"),
        remove_tags=_tags(remove_tags, "remove_tags"),
    )


def erase() -> ContactChange:
    """A DELETE: no attributes and no tags (the opt-out and the 24 h window stay: they are not the contact's data
    but what the law and WhatsApp make us keep)."""
    return ContactChange(replace=True, tags=[])


def _tags(tags: Iterable[str], field: str) -> list[str]:
    found: set[str] = set()
    for tag in tags:
        text = tag.strip()
        if not text:
            raise ContactRefusal("a tag must not be empty", field=field)
        if len(text) > MAX_TAG_CHARS or ";" in text or "\0" in text:
            raise ContactRefusal(
                f"a tag is at most {MAX_TAG_CHARS} characters, without ';' (it separates tags in an import): "
                f"{text[:80]!r}",
                field=field,
            )
        found.add(text)
    return sorted(found)


def _attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    values = dict(attributes)
    if len(json.dumps(values, default=str)) > MAX_ATTRIBUTES_CHARS:
        raise ContactRefusal(f"attributes are at most {MAX_ATTRIBUTES_CHARS} characters as JSON", field="attributes")
    zone = values.get("timezone")
    if zone is not None and contact_zone(values) is None:
        raise ContactRefusal(
            f"timezone must be an IANA time zone such as 'Europe/Berlin', found {zone!r}", field="attributes.timezone"
        )
    return values
