"""Scenario 6: forged, unsigned, replayed-with-changed-params, oversized and malformed status callbacks are refused
and change nothing; a concurrent flood of valid duplicates leaves one event per callback."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hub.config import Settings
from hub.store import db
from hub.store import queries as q
from tests.chaos.app_support import STATUS_PATH, api_client, callback, keyed_settings, sign, submitted

pytestmark = pytest.mark.integration


def _state(message_id: int) -> tuple[str, list[tuple[str, str]]]:
    record = db.run_sync(q.get_message(message_id, with_history=True))
    assert record is not None
    return record.status.value, [(e.status, e.source) for e in record.history]


def _abuses() -> dict[str, tuple[bytes | dict[str, str], dict[str, str]]]:
    """name -> (form or raw body, headers) of each refused callback for sid SMABUSE."""
    good = callback("SMABUSE", "delivered")
    changed = dict(good, MessageStatus="failed", ErrorCode="30008")
    big = dict(good, Body="x" * 2_000_000)
    return {
        "unsigned": (good, {}),
        "forged (wrong token)": (good, {"X-Twilio-Signature": sign(STATUS_PATH, good, token="guessed")}),
        "forged (garbage)": (good, {"X-Twilio-Signature": "AAAA"}),
        "replayed with changed params": (changed, {"X-Twilio-Signature": sign(STATUS_PATH, good)}),
        "signed for another URL": (good, {"X-Twilio-Signature": sign("/webhooks/twilio/inbound", good)}),
        "oversized": (big, {"X-Twilio-Signature": sign(STATUS_PATH, big)}),
        "malformed body": (
            b"\xff\xfe%%%&&&=\x00",
            {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(STATUS_PATH, {})},
        ),
        "JSON instead of a form": (b'{"MessageSid": "SMABUSE"}', {"Content-Type": "application/json"}),
        "signed but no MessageSid": (
            {"MessageStatus": "delivered"},
            {"X-Twilio-Signature": sign(STATUS_PATH, {"MessageStatus": "delivered"})},
        ),
    }


def test_abusive_callbacks_are_refused_and_change_nothing(
    pg_settings: Settings, tmp_path: Path, report: Callable[[str], None]
) -> None:
    settings = keyed_settings(pg_settings, tmp_path)
    message_id = submitted("SMABUSE")
    before = _state(message_id)
    answers: dict[str, int] = {}
    with api_client(settings, keyed=False) as client:
        for name, (payload, headers) in _abuses().items():
            if isinstance(payload, bytes):
                response = client.post(STATUS_PATH, content=payload, headers=headers)
            else:
                response = client.post(STATUS_PATH, data=payload, headers=headers)
            answers[name] = response.status_code
    report(f"abusive callbacks: {len(answers)}, answers: {answers}")
    assert all(400 <= code < 500 for code in answers.values()), answers
    assert _state(message_id) == before


def test_concurrent_flood_of_valid_duplicates_applies_each_callback_once(
    pg_settings: Settings, tmp_path: Path, report: Callable[[str], None]
) -> None:
    settings = keyed_settings(pg_settings, tmp_path)
    message_id = submitted("SMFLOOD")
    steps = ["sent", "delivered", "read", "sent", "delivered"]  # Twilio's order, with late repeats
    posts = [callback("SMFLOOD", status) for status in steps for _ in range(20)]
    with api_client(settings, keyed=False) as client:

        def post(form: dict[str, str]) -> int:
            return client.post(
                STATUS_PATH, data=form, headers={"X-Twilio-Signature": sign(STATUS_PATH, form)}
            ).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            codes = Counter(pool.map(post, posts))
    status, history = _state(message_id)
    callbacks = Counter(s for s, source in history if source == "callback")
    report(
        f"valid duplicates: {len(posts)} concurrent, answers: {dict(codes)}, final: {status}, events: {dict(callbacks)}"
    )
    assert codes == Counter({204: len(posts)})
    assert status == "read"
    assert callbacks == Counter({"sent": 1, "delivered": 1, "read": 1})


@pytest.mark.parametrize("path", [STATUS_PATH, "/webhooks/twilio/inbound"])
def test_signed_callback_over_the_webhook_body_limit_is_413(pg_settings: Settings, tmp_path: Path, path: str) -> None:
    # Found by this scenario: a validly signed 2 MB callback was parsed and applied (only the API's 10 MiB cap).
    from hub.api.webhooks import WEBHOOK_MAX_BODY_BYTES

    settings = keyed_settings(pg_settings, tmp_path)
    form = dict(callback("SMBIG", "delivered"), Body="x" * WEBHOOK_MAX_BODY_BYTES)
    with api_client(settings, keyed=False) as client:
        response = client.post(path, data=form, headers={"X-Twilio-Signature": sign(path, form)})
    assert response.status_code == 413
