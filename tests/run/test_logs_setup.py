"""hub.logs: JSON lines off a terminal, readable lines on one, ids as fields, secrets masked everywhere."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from hub.config import Settings
from hub.logs import RedactFilter, secrets_of, setup_logging


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_off_a_terminal_each_line_is_json_with_the_ids_passed_as_extra() -> None:
    stream = io.StringIO()
    setup_logging("info", stream=stream)
    logging.getLogger("hub.test").info("sent %s", "it", extra={"run_id": 3, "message_id": 42})
    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert entry["msg"] == "sent it"
    assert (entry["level"], entry["logger"], entry["run_id"], entry["message_id"]) == ("info", "hub.test", 3, 42)


def test_on_a_terminal_lines_are_human_readable() -> None:
    stream = _Tty()
    setup_logging("info", stream=stream)
    logging.getLogger("hub.test").warning("careful")
    line = stream.getvalue().splitlines()[-1]
    assert line.endswith("WARNING hub.test: careful")


def test_level_filters_lower_records() -> None:
    stream = io.StringIO()
    setup_logging("warning", stream=stream)
    logging.getLogger("hub.test").info("chatter")
    assert stream.getvalue() == ""


def test_secrets_of_settings_are_masked_in_messages_and_tracebacks(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        env={
            "TWILIO_AUTH_TOKEN": "tok-very-secret",
            "HUB_API_KEYS": "api-key-secret",
            "REDIS_URL": "redis://:redis-pw-secret@cache:6379/0",
        }
    )
    stream = io.StringIO()
    setup_logging("info", settings=settings, stream=stream)
    log = logging.getLogger("hub.test")
    log.info("token is %s and key %s", "tok-very-secret", "api-key-secret")
    try:
        raise ConnectionError("cannot reach redis://:redis-pw-secret@cache:6379/0")
    except ConnectionError:
        log.exception("redis down")
    text = stream.getvalue()
    assert "***" in text
    for secret in ("tok-very-secret", "api-key-secret", "redis-pw-secret"):
        assert secret not in text


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, []),
        ({"TWILIO_AUTH_TOKEN": "abcdef"}, ["abcdef"]),
        ({"DATABASE_URL": "postgresql://u:pw-long@h/db"}, ["pw-long"]),
        ({"HUB_API_KEYS": "k1,longer-key"}, ["longer-key"]),  # too short to mask without masking words
    ],
)
def test_secrets_of(make_settings: Callable[..., Settings], env: dict[str, str], expected: list[str]) -> None:
    assert secrets_of(make_settings(env=env)) == expected


def test_redact_masks_a_longer_secret_whole_before_a_shorter_one_inside_it() -> None:
    assert RedactFilter(["abcd-efgh", "abcd"]).redact("x abcd-efgh y abcd") == "x *** y ***"
