"""Status and inbound webhooks: signed against the public URL, applied once, monotonic, never dropped."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from api_support import PUBLIC_URL, run, sign
from litestar import Litestar
from litestar.testing import TestClient

from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.api.webhooks import EMPTY_TWIML
from hub.config import Settings
from hub.status import MessageStatus
from hub.store import queries
from hub.store.records import NewMessage
from hub.webhooks import status_callback_url

STATUS_URL = f"{PUBLIC_URL}/webhooks/twilio/status"
INBOUND_URL = f"{PUBLIC_URL}/webhooks/twilio/inbound"


def submitted_message(sid: str | None, to: str = "+14155550100") -> int:
    """A ledger row handed to Twilio with ``sid`` (or claimed but not yet stored, when ``sid`` is None)."""
    ran, _ = run(queries.create_run(kind="single"))
    (message_id,) = run(queries.insert_messages(ran.id, [NewMessage(recipient=to, body="hi")]))
    run(queries.claim_for_send(message_id))
    if sid is not None:
        run(queries.mark_submitted(message_id, sid, "queued"))
    return message_id


def status_of(message_id: int) -> str:
    record = run(queries.get_message(message_id, with_history=True))
    assert record is not None
    return str(record.status)


def post_status(
    client: TestClient[Litestar],
    params: dict[str, str],
    *,
    path: str = "/webhooks/twilio/status",
    signature: str | None = None,
    headers: dict[str, str] | None = None,
) -> int:
    signature = sign(PUBLIC_URL + path, params) if signature is None else signature
    response = client.post(path, data=params, headers={"X-Twilio-Signature": signature, **(headers or {})})
    return response.status_code


def callback(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC1", "To": "whatsapp:+14155550100", **extra}


def test_signed_status_is_applied(client: TestClient[Litestar]) -> None:
    message_id = submitted_message("SM1")
    assert post_status(client, callback("SM1", "delivered")) == 204
    assert status_of(message_id) == "delivered"


def test_trailing_slash_route_is_signed_with_its_own_url(client: TestClient[Litestar]) -> None:
    message_id = submitted_message("SM2")
    assert post_status(client, callback("SM2", "sent"), path="/webhooks/twilio/status/") == 204
    assert status_of(message_id) == "sent"


def test_query_string_is_part_of_the_signed_url(client: TestClient[Litestar]) -> None:
    message_id = submitted_message("SM3")
    params = callback("SM3", "sent")
    signature = sign(STATUS_URL + "?run=7", params)
    response = client.post("/webhooks/twilio/status?run=7", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 204
    assert status_of(message_id) == "sent"


@pytest.mark.parametrize(
    "signature",
    [
        "",  # unsigned
        "bm90LWEtc2lnbmF0dXJl",  # forged
        sign(STATUS_URL, callback("SM4", "delivered"), token="another-account-token"),
        sign("http://hooks.example.com/webhooks/twilio/status", callback("SM4", "delivered")),  # wrong scheme
        sign(STATUS_URL, callback("SM4", "sent")),  # signed for other params
    ],
)
def test_bad_signature_is_403_and_changes_nothing(client: TestClient[Litestar], signature: str) -> None:
    message_id = submitted_message("SM4")
    assert post_status(client, callback("SM4", "delivered"), signature=signature) == 403
    record = run(queries.get_message(message_id, with_history=True))
    assert record is not None
    assert (record.status, [e.status for e in record.history if e.source == "callback"]) == ("queued", [])


def test_forged_status_response_is_json_error(client: TestClient[Litestar]) -> None:
    submitted_message("SM5")
    response = client.post("/webhooks/twilio/status", data=callback("SM5", "read"), headers={"X-Twilio-Signature": "x"})
    assert (response.status_code, response.json()["error"]) == (403, "forbidden")


def test_without_auth_token_every_callback_is_refused(make_settings: Callable[..., Settings], pg_url: str) -> None:
    settings = make_settings({"database": {"url": pg_url}, "public_url": PUBLIC_URL})
    app = create_app(settings, enqueuer=RecordingEnqueuer(), connect_store=False)
    params = callback("SM6", "delivered")
    with TestClient(app=app, base_url=PUBLIC_URL) as client:
        assert post_status(client, params, signature=sign(STATUS_URL, params, token="")) == 403


def test_behind_a_proxy_the_public_url_is_what_counts(app: Litestar) -> None:
    message_id = submitted_message("SM7")
    params = callback("SM7", "delivered")
    with TestClient(app=app, base_url="http://10.0.0.5:8000") as internal:
        assert post_status(internal, params, signature=sign(STATUS_URL, params)) == 204
    assert status_of(message_id) == "delivered"


def test_late_sent_after_delivered_is_recorded_not_applied(client: TestClient[Litestar]) -> None:
    message_id = submitted_message("SM8")
    assert post_status(client, callback("SM8", "delivered")) == 204
    assert post_status(client, callback("SM8", "sent")) == 204
    record = run(queries.get_message(message_id, with_history=True))
    assert record is not None
    callbacks = [(e.status, e.applied) for e in record.history if e.source == "callback"]
    assert (record.status, callbacks) == ("delivered", [("delivered", True), ("sent", False)])


def test_read_without_delivered_is_applied(client: TestClient[Litestar]) -> None:
    message_id = submitted_message("SM9")
    assert post_status(client, callback("SM9", "read", EventType="READ")) == 204
    assert status_of(message_id) == "read"


def test_duplicate_callback_is_stored_once(client: TestClient[Litestar]) -> None:
    message_id = submitted_message("SM10")
    for _ in range(3):
        assert post_status(client, callback("SM10", "sent")) == 204
    record = run(queries.get_message(message_id, with_history=True))
    assert record is not None
    assert [e.status for e in record.history if e.source == "callback"] == ["sent"]


def test_retry_with_same_idempotency_token_is_stored_once(client: TestClient[Litestar]) -> None:
    message_id = submitted_message("SM11")
    token = {"I-Twilio-Idempotency-Token": "tok-1"}
    assert post_status(client, callback("SM11", "delivered"), headers=token) == 204
    assert post_status(client, callback("SM11", "delivered"), headers=token) == 204
    record = run(queries.get_message(message_id, with_history=True))
    assert record is not None
    assert [e.status for e in record.history if e.source == "callback"] == ["delivered"]


def test_the_same_callback_without_then_with_an_idempotency_token_is_stored_once(
    client: TestClient[Litestar],
) -> None:
    message_id = submitted_message("SM13")
    assert post_status(client, callback("SM13", "delivered")) == 204
    assert post_status(client, callback("SM13", "delivered"), headers={"I-Twilio-Idempotency-Token": "tok-9"}) == 204
    record = run(queries.get_message(message_id, with_history=True))
    assert record is not None
    assert [e.status for e in record.history if e.source == "callback"] == ["delivered"]


def test_callback_before_sid_is_parked_then_applied(client: TestClient[Litestar]) -> None:
    message_id = submitted_message(None)
    assert post_status(client, callback("SM12", "delivered")) == 204
    assert status_of(message_id) == "sending"
    run(queries.mark_submitted(message_id, "SM12", "queued"))
    assert status_of(message_id) == "delivered"


def test_failed_callback_records_error_code(client: TestClient[Litestar]) -> None:
    message_id = submitted_message("SM13")
    assert post_status(client, callback("SM13", "undelivered", ErrorCode="63024")) == 204
    record = run(queries.get_message(message_id))
    assert record is not None
    assert (record.status, record.error_code) == ("undelivered", 63024)


def test_signed_callback_without_sid_is_400(client: TestClient[Litestar]) -> None:
    assert post_status(client, {"MessageStatus": "sent"}) == 400


def inbound(body: str, sender: str = "whatsapp:+14155550100", **extra: str) -> dict[str, str]:
    return {
        "MessageSid": f"SMin{abs(hash((body, sender)))}",
        "From": sender,
        "To": "whatsapp:+14155238886",
        "Body": body,
        "NumMedia": "0",
        **extra,
    }


def post_inbound(client: TestClient[Litestar], params: dict[str, str], signature: str | None = None) -> tuple[int, str]:
    signature = sign(INBOUND_URL, params) if signature is None else signature
    response = client.post("/webhooks/twilio/inbound", data=params, headers={"X-Twilio-Signature": signature})
    return response.status_code, response.text


def test_inbound_answers_empty_twiml_and_opens_the_window(client: TestClient[Litestar]) -> None:
    status, text = post_inbound(client, inbound("hello there"))
    assert (status, text) == (200, EMPTY_TWIML)
    contact = run(queries.get_contact("+14155550100"))
    assert contact is not None and contact.last_inbound_at is not None and not contact.opted_out


def test_inbound_twiml_is_xml(client: TestClient[Litestar]) -> None:
    params = inbound("hi")
    response = client.post(
        "/webhooks/twilio/inbound", data=params, headers={"X-Twilio-Signature": sign(INBOUND_URL, params)}
    )
    assert response.headers["content-type"].startswith("text/xml")


@pytest.mark.parametrize("body", ["STOP", " stop ", "Unsubscribe", "s t o p"])
def test_inbound_stop_keyword_opts_out(client: TestClient[Litestar], body: str) -> None:
    assert post_inbound(client, inbound(body))[0] == 200
    contact = run(queries.get_contact("+14155550100"))
    assert contact is not None and contact.opted_out


def test_inbound_start_after_stop_opts_back_in(client: TestClient[Litestar]) -> None:
    post_inbound(client, inbound("STOP"))
    post_inbound(client, inbound("START"))
    contact = run(queries.get_contact("+14155550100"))
    assert contact is not None and not contact.opted_out


def test_inbound_twilio_opt_out_type_opts_out(client: TestClient[Litestar]) -> None:
    post_inbound(client, inbound("please no more", OptOutType="STOP"))
    contact = run(queries.get_contact("+14155550100"))
    assert contact is not None and contact.opted_out


def test_inbound_stop_inside_a_sentence_is_not_an_opt_out(client: TestClient[Litestar]) -> None:
    post_inbound(client, inbound("don't stop the music"))
    contact = run(queries.get_contact("+14155550100"))
    assert contact is not None and not contact.opted_out


def test_forged_inbound_stop_changes_nothing(client: TestClient[Litestar]) -> None:
    assert post_inbound(client, inbound("STOP"), signature="forged")[0] == 403
    assert run(queries.get_contact("+14155550100")) is None


def test_metrics_count_callbacks_by_outcome(client: TestClient[Litestar]) -> None:
    submitted_message("SM14")
    post_status(client, callback("SM14", "sent"))
    post_status(client, callback("SM14", "sent"))
    post_status(client, callback("SM14", "sent"), signature="forged")
    text = client.get("/metrics").text
    for outcome in ("applied", "duplicate", "forbidden"):
        assert f'hub_webhook_callbacks_total{{kind="status",outcome="{outcome}"}} 1' in text


def test_status_body_streamed_past_the_limit_is_413(client: TestClient[Litestar]) -> None:
    from hub.api.webhooks import WEBHOOK_MAX_BODY_BYTES

    params = callback("SM12", "delivered")
    chunks = [b"MessageSid=SM12&MessageStatus=delivered&Body=", b"x" * WEBHOOK_MAX_BODY_BYTES]
    response = client.post(
        "/webhooks/twilio/status",
        content=iter(chunks),  # no Content-Length: only the bytes received can tell
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(STATUS_URL, params)},
    )
    assert response.status_code == 413


def test_status_with_a_charset_in_its_content_type_is_applied(client: TestClient[Litestar]) -> None:
    message_id = submitted_message("SM13")
    params = callback("SM13", "delivered")
    response = client.post(
        "/webhooks/twilio/status",
        data=params,
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "X-Twilio-Signature": sign(STATUS_URL, params),
        },
    )
    assert response.status_code == 204
    assert status_of(message_id) == "delivered"


def unknown_message(to: str = "+14155550100") -> int:
    """A ledger row whose create timed out: claimed, then ``unknown`` without a sid."""
    message_id = submitted_message(None, to)
    run(queries.mark_final(message_id, MessageStatus.UNKNOWN, error_message="timed out"))
    return message_id


def post_named(client: TestClient[Litestar], params: dict[str, str], message_id: int, *, signed: str) -> int:
    url = status_callback_url(PUBLIC_URL, message_id)
    path = url.removeprefix(PUBLIC_URL)
    return client.post(path, data=params, headers={"X-Twilio-Signature": sign(signed, params)}).status_code


def test_a_callback_naming_its_row_settles_it_although_its_sid_was_never_stored(client: TestClient[Litestar]) -> None:
    message_id = unknown_message()
    url = status_callback_url(PUBLIC_URL, message_id)

    assert post_named(client, callback("SMlate", "delivered"), message_id, signed=url) == 204

    record = run(queries.get_message(message_id))
    assert record is not None and (record.sid, record.status) == ("SMlate", "delivered")


def test_the_row_id_is_part_of_the_signature(client: TestClient[Litestar]) -> None:
    message_id = unknown_message()
    assert post_named(client, callback("SMlate", "delivered"), message_id, signed=STATUS_URL) == 403
    assert status_of(message_id) == "unknown"


def test_a_callback_without_a_row_id_never_settles_an_unknown_row_by_its_number(client: TestClient[Litestar]) -> None:
    message_id = unknown_message()
    assert post_status(client, callback("SMstranger", "delivered")) == 204
    assert status_of(message_id) == "unknown"


def test_a_second_create_of_a_row_is_counted_as_a_duplicate(client: TestClient[Litestar]) -> None:
    message_id = submitted_message("SMfirst")
    url = status_callback_url(PUBLIC_URL, message_id)

    assert post_named(client, callback("SMsecond", "sent"), message_id, signed=url) == 204

    assert status_of(message_id) == "queued"
    assert "hub_duplicate_creates_total 1" in client.get("/metrics").text
