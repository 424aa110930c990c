"""Webhook signature checks (against the twilio package's validator) and callback parsing."""

from __future__ import annotations

import pytest
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from hub.config import Settings
from hub.status import MessageStatus
from hub.webhooks import (
    CallbackError,
    inbound_action,
    keyword_action,
    parse_form,
    parse_inbound,
    parse_status,
    public_callback_url,
    verify_signature,
)

TOKEN = "test-auth-token"
URL = "https://hub.example.com/webhooks/twilio/status"
PARAMS = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "To": "whatsapp:+14155550100"}


def sign(url: str, params: object) -> str:
    return RequestValidator(TOKEN).compute_signature(url, params)


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        ("https://hub.example.com", "/webhooks/twilio/status", URL),
        ("https://hub.example.com/", "webhooks/twilio/status", URL),
        ("https://x.io/prefix/", "/webhooks/twilio/status", "https://x.io/prefix/webhooks/twilio/status"),
    ],
)
def test_public_callback_url_joins_with_one_slash(base: str, path: str, expected: str) -> None:
    assert public_callback_url(base, path) == expected


def test_valid_signature_verifies() -> None:
    assert verify_signature(URL, PARAMS, sign(URL, PARAMS), TOKEN)


def test_tampered_param_fails() -> None:
    signature = sign(URL, PARAMS)
    assert not verify_signature(URL, {**PARAMS, "MessageStatus": "read"}, signature, TOKEN)


@pytest.mark.parametrize(
    "other_url",
    ["http://hub.example.com/webhooks/twilio/status", "https://hub.example.com/webhooks/twilio/inbound"],
)
def test_signature_for_another_url_or_scheme_fails(other_url: str) -> None:
    assert not verify_signature(other_url, PARAMS, sign(URL, PARAMS), TOKEN)


def test_default_port_in_url_still_verifies() -> None:
    assert verify_signature("https://hub.example.com:443/webhooks/twilio/status", PARAMS, sign(URL, PARAMS), TOKEN)


@pytest.mark.parametrize("signature", [None, ""])
def test_missing_signature_fails(signature: str | None) -> None:
    assert not verify_signature(URL, PARAMS, signature, TOKEN)


def test_wrong_token_fails() -> None:
    assert not verify_signature(URL, PARAMS, sign(URL, PARAMS), "other-token")


def test_repeated_keys_as_lists_verify() -> None:
    params = {**PARAMS, "MediaUrl": ["https://a/1.png", "https://a/2.png"]}
    multi = MultiDict([*PARAMS.items(), ("MediaUrl", "https://a/1.png"), ("MediaUrl", "https://a/2.png")])
    assert verify_signature(URL, params, sign(URL, multi), TOKEN)


def test_repeated_keys_in_a_multidict_verify() -> None:
    multi = MultiDict([*PARAMS.items(), ("MediaUrl", "https://a/1.png"), ("MediaUrl", "https://a/2.png")])
    assert verify_signature(URL, multi, sign(URL, multi), TOKEN)


def test_dropping_one_of_the_repeated_values_fails() -> None:
    multi = MultiDict([*PARAMS.items(), ("MediaUrl", "https://a/1.png"), ("MediaUrl", "https://a/2.png")])
    assert not verify_signature(URL, {**PARAMS, "MediaUrl": "https://a/1.png"}, sign(URL, multi), TOKEN)


def test_parse_status_reads_the_fields() -> None:
    cb = parse_status(
        {
            **PARAMS,
            "MessageStatus": "Undelivered",
            "ErrorCode": "63024",
            "ChannelStatusMessage": "not on WhatsApp",
            "From": "whatsapp:+14155238886",
        },
        idempotency_token="tok-1",
    )
    assert (cb.sid, cb.status, cb.error_code, cb.error_message) == (
        PARAMS["MessageSid"],
        "undelivered",
        63024,
        "not on WhatsApp",
    )
    assert (cb.to, cb.from_, cb.message_status, cb.idempotency_token) == (
        "whatsapp:+14155550100",
        "whatsapp:+14155238886",
        MessageStatus.UNDELIVERED,
        "tok-1",
    )
    # The same report with or without Twilio's token is one report.
    assert cb.dedupe_key == f"{PARAMS['MessageSid']}:undelivered:"
    assert cb.raw["ErrorCode"] == "63024"


@pytest.mark.parametrize(("raw", "expected"), [("", None), ("30008", 30008), ("abc", None)])
def test_parse_status_error_code(raw: str, expected: int | None) -> None:
    assert parse_status({**PARAMS, "ErrorCode": raw}).error_code == expected


def test_error_message_prefers_error_message_field() -> None:
    cb = parse_status({**PARAMS, "ErrorMessage": "a", "ChannelStatusMessage": "b"})
    assert cb.error_message == "a"


def test_dedupe_key_without_token_is_sid_status_event() -> None:
    cb = parse_status({**PARAMS, "MessageStatus": "read", "EventType": "READ"})
    assert cb.dedupe_key == f"{PARAMS['MessageSid']}:read:READ"


def test_sending_maps_to_queued() -> None:
    assert parse_status({**PARAMS, "MessageStatus": "sending"}).message_status is MessageStatus.QUEUED


@pytest.mark.parametrize("missing", ["MessageSid", "MessageStatus"])
def test_parse_status_without_sid_or_status_raises(missing: str) -> None:
    params = {k: v for k, v in PARAMS.items() if k != missing}
    with pytest.raises(CallbackError, match=missing):
        parse_status(params)


def test_callback_error_is_a_value_error() -> None:
    assert issubclass(CallbackError, ValueError)


INBOUND = {
    "MessageSid": "SM" + "b" * 32,
    "From": "whatsapp:+14155550100",
    "To": "whatsapp:+14155238886",
    "Body": " Stop ",
    "ProfileName": "Ada",
    "WaId": "14155550100",
    "NumMedia": "1",
}


def test_parse_inbound_reads_the_fields() -> None:
    msg = parse_inbound(INBOUND)
    assert (msg.sid, msg.from_phone, msg.body, msg.profile_name, msg.wa_id, msg.num_media, msg.opt_out_type) == (
        INBOUND["MessageSid"],
        "+14155550100",
        " Stop ",
        "Ada",
        "14155550100",
        1,
        None,
    )


def test_parse_inbound_without_from_raises() -> None:
    with pytest.raises(CallbackError):
        parse_inbound({"MessageSid": "SM1"})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP", "opt_out"),
        ("  stop  ", "opt_out"),
        ("Un Subscribe", "opt_out"),
        ("start", "opt_in"),
        ("please stop", None),
        ("stop!", None),
        ("", None),
        (None, None),
        ("   ", None),
    ],
)
def test_keyword_action(body: str | None, expected: str | None) -> None:
    assert keyword_action(body, ["STOP", "UNSUBSCRIBE"], ["START"]) == expected


@pytest.mark.parametrize(
    ("opt_out_type", "body", "expected"),
    [
        ("STOP", "hello", "opt_out"),
        ("START", "x", "opt_in"),
        (None, "stop", "opt_out"),
        ("HELP", "hi", None),
        ("START", "stop", "opt_in"),
        ("STOP", "start", "opt_out"),
        ("HELP", "stop", None),
    ],
)
def test_inbound_action_prefers_twilio_opt_out_type(opt_out_type: str | None, body: str, expected: str | None) -> None:
    params = {**INBOUND, "Body": body, **({"OptOutType": opt_out_type} if opt_out_type else {})}
    assert inbound_action(parse_inbound(params), ["STOP"], ["START"]) == expected


TWILIO_OPT_OUT = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        *((word, "opt_out") for word in TWILIO_OPT_OUT),
        *((word, "opt_in") for word in ("START", "UNSTOP", "YES")),
        ("stop all", "opt_out"),
        ("yes please", None),
    ],
)
def test_twilio_default_keywords_are_recognised_without_opt_out_type(body: str, expected: str | None) -> None:
    settings = Settings()
    params = {**INBOUND, "Body": body}
    assert inbound_action(parse_inbound(params), settings.opt_out.keywords, settings.opt_in.keywords) == expected


SIGNED_CASES = [
    (URL, PARAMS),
    ("https://hub.example.com:443/webhooks/twilio/status", PARAMS),
    ("http://127.0.0.1:8000/webhooks/twilio/status?run=7&x=%20y", PARAMS),
    (URL, {**PARAMS, "Body": "Olá, ümlaut ✓ + & = %", "Empty": ""}),
    (URL, MultiDict([*PARAMS.items(), ("MediaUrl", "b"), ("MediaUrl", "a"), ("MediaUrl", "a")])),
]


@pytest.mark.parametrize(("url", "params"), SIGNED_CASES)
@pytest.mark.parametrize("signed_url", [URL, "https://hub.example.com:443/webhooks/twilio/status", None])
def test_verdict_equals_the_twilio_validators(url: str, params: object, signed_url: str | None) -> None:
    for signature in (sign(signed_url or url, params), sign(url, {"MessageSid": "SMx"}), "not-base64", "é"):
        expected = RequestValidator(TOKEN).validate(url, params, signature)
        assert verify_signature(url, params, signature, TOKEN) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        b"MessageSid=SM1&MessageStatus=sent",
        b"Body=Ol%C3%A1+mundo%21&Empty=&Flag",
        b"MediaUrl=a&MediaUrl=b&MediaUrl=a",
        b"Raw=caf\xe9&Plus=a%2Bb",
        b"=x&a=b=c&&k+1=v+2&bad=%zz%E9",
        b"",
    ],
)
def test_parse_form_reads_as_litestar_does(body: bytes) -> None:
    from litestar._parsers import parse_url_encoded_form_data

    expected = {k: v if isinstance(v, list) else [v] for k, v in parse_url_encoded_form_data(body).items()}
    assert parse_form(body) == expected
