"""Contact changes (pure): what a PUT, PATCH or erase stores, what is refused, and the zone a contact names."""

from __future__ import annotations

from typing import Any

import pytest

from hub import contacts
from hub.store.records import ContactChange


def test_a_patch_with_a_null_attribute_drops_it() -> None:
    change = contacts.patch({"tier": "vip", "city": None}, add_tags=[" b", "a"], remove_tags=["c"])

    assert change == ContactChange(attributes={"tier": "vip"}, drop=["city"], add_tags=["a", "b"], remove_tags=["c"])


def test_a_put_replaces_attributes_and_tags() -> None:
    assert contacts.replace({"tier": "vip"}, ["x", "x"]) == ContactChange(
        replace=True, attributes={"tier": "vip"}, tags=["x"]
    )


def test_an_erase_empties_attributes_and_tags() -> None:
    assert contacts.erase() == ContactChange(replace=True, attributes={}, tags=[])


@pytest.mark.parametrize(
    ("attributes", "tags", "field"),
    [
        ({}, [""], "tags"),
        ({}, ["a;b"], "tags"),
        ({}, ["x" * 65], "tags"),
        ({"timezone": "Mars/Olympus"}, [], "attributes.timezone"),
        ({"notes": "x" * 20_000}, [], "attributes"),
    ],
    ids=["empty-tag", "separator-in-tag", "long-tag", "unknown-zone", "too-large"],
)
def test_what_cannot_be_stored_is_refused_naming_the_field(
    attributes: dict[str, Any], tags: list[str], field: str
) -> None:
    with pytest.raises(contacts.ContactRefusal) as refused:
        contacts.replace(attributes, tags)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("attributes", "zone"),
    [
        ({"timezone": "Europe/Berlin"}, "Europe/Berlin"),
        ({"timezone": " Asia/Tokyo "}, "Asia/Tokyo"),
        ({"timezone": "Nowhere/Else"}, None),
        ({"timezone": 3}, None),
        ({}, None),
        (None, None),
    ],
)
def test_the_zone_a_contact_names(attributes: dict[str, Any] | None, zone: str | None) -> None:
    assert contacts.contact_zone(attributes) == zone
