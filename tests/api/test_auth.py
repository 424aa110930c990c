"""The /v1 guard decision (pure): bearer keys in constant time, loopback only when no key is configured."""

from __future__ import annotations

import pytest

from hub.api.auth import is_authorized, is_loopback


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("192.168.1.5", False),
        ("2001:db8::1", False),
        ("testclient", False),
        ("localhost", False),  # a name is not an address: the peer address is what counts
        ("", False),
        (None, False),
    ],
)
def test_is_loopback(host: str | None, expected: bool) -> None:
    assert is_loopback(host) is expected


KEYS = ("key-one", "key-two")


@pytest.mark.parametrize(
    ("header", "host", "keys", "expected"),
    [
        ("Bearer key-one", "10.0.0.1", KEYS, True),
        ("Bearer key-two", "10.0.0.1", KEYS, True),
        ("bearer key-two", "10.0.0.1", KEYS, True),
        ("Bearer  key-one ", "10.0.0.1", KEYS, True),
        ("Bearer key-three", "10.0.0.1", KEYS, False),
        ("Bearer key-on", "10.0.0.1", KEYS, False),
        ("Bearer key-one-and-more", "10.0.0.1", KEYS, False),
        ("Basic key-one", "10.0.0.1", KEYS, False),
        ("key-one", "10.0.0.1", KEYS, False),
        ("Bearer ", "10.0.0.1", KEYS, False),
        (None, "10.0.0.1", KEYS, False),
        (None, "127.0.0.1", KEYS, False),  # with keys configured, loopback needs a key too
        (None, "127.0.0.1", (), True),
        ("Bearer anything", "127.0.0.1", (), True),
        (None, "10.0.0.1", (), False),
        ("Bearer key-one", "10.0.0.1", (), False),
    ],
)
def test_is_authorized(header: str | None, host: str, keys: tuple[str, ...], expected: bool) -> None:
    assert is_authorized(header, host, keys) is expected
