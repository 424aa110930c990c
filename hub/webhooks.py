"""Twilio webhooks, the pure part: verify ``X-Twilio-Signature`` and parse form callbacks into structs."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl

import msgspec
from twilio.request_validator import RequestValidator

from hub.errors import HubError
from hub.status import MessageStatus, from_twilio

STATUS_PATH = "/webhooks/twilio/status"
#: Query parameter of the StatusCallback URL naming the ledger row the create was for (signed with the URL).
ROW_PARAM = "message_id"
INBOUND_PATH = "/webhooks/twilio/inbound"

#: Header Twilio adds on retried webhooks; our first dedupe key when present.
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
SIGNATURE_HEADER = "X-Twilio-Signature"


class CallbackError(HubError, ValueError):
    """A callback lacks a field we cannot work without (``MessageSid``, ``MessageStatus``)."""


class MultiParams(Protocol):
    """A multidict (aiohttp/multidict, Starlette, Litestar ``FormMultiDict``...): ``getall`` returns every value."""

    def getall(self, key: str) -> list[str]: ...

    def keys(self) -> Iterable[str]: ...


Params = Mapping[str, str] | Mapping[str, list[str]] | Mapping[str, str | list[str]] | MultiParams


class _Lists:
    """Adapter giving ``RequestValidator`` a ``getall`` over any of the accepted param shapes."""

    def __init__(self, params: Params) -> None:
        self._params = params

    def __iter__(self) -> Any:
        return iter(self._params.keys())

    def getall(self, key: str) -> list[str]:
        getall = getattr(self._params, "getall", None)
        if getall is not None:
            return [str(v) for v in getall(key)]
        value = self._params[key]  # type: ignore[index]
        return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


class Form(dict[str, list[str]]):
    """Form parameters as :func:`parse_form` reads them: every value of every key, in order."""


def flat_params(params: Params) -> dict[str, str]:
    """One value per key (the last), for storing raw payloads and reading scalar fields."""
    if isinstance(params, Form):
        return {key: values[-1] for key, values in params.items() if values}
    lists = _Lists(params)
    out: dict[str, str] = {}
    for key in lists:
        values = lists.getall(key)
        if values:
            out[key] = values[-1]
    return out


def public_callback_url(public_url: str, path: str) -> str:
    """The absolute URL Twilio calls: ``public_url`` joined with ``path`` (exactly one slash between them)."""
    return public_url.rstrip("/") + "/" + path.lstrip("/")


def status_callback_url(public_url: str, message_id: int | None = None) -> str:
    """The StatusCallback URL of a create: the status webhook, naming ledger row ``message_id`` when given.

    The row id travels in the query string, which Twilio signs with the rest of the URL, so a callback names its
    row even when the create's answer (its sid) never reached us.
    """
    url = public_callback_url(public_url, STATUS_PATH)
    return url if message_id is None else f"{url}?{ROW_PARAM}={int(message_id)}"


def row_of(query_string: bytes | str | None) -> int | None:
    """The ledger row a callback URL's query names (:data:`ROW_PARAM`), or None (an old URL, or not a number)."""
    if not query_string:
        return None
    query = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == ROW_PARAM:
            value = value.strip()
            return int(value) if value.isdigit() and len(value) <= 18 else None
    return None


def parse_form(body: bytes) -> Form:
    """An ``application/x-www-form-urlencoded`` body: every value of every key, in order.

    Decoded as Litestar's ``request.form()`` decodes it (``urllib.parse.parse_qsl`` of the latin-1 text, blank
    values kept, percent escapes as UTF-8), so a signature verifies over exactly the values Twilio signed; read
    here rather than through Litestar's form machinery, which costs a tenth of a callback.
    """
    params = Form()
    for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
        values = params.get(key)
        if values is None:
            params[key] = [value]
        else:
            values.append(value)
    return params


@functools.lru_cache(maxsize=4)
def _validator(auth_token: str) -> RequestValidator:
    return RequestValidator(auth_token)


def verify_signature(url: str, params: Params, signature: str | None, auth_token: str) -> bool:
    """Check ``X-Twilio-Signature`` with the twilio package's ``RequestValidator`` (security code is the library's,
    not ours: a hand-written check measured ~50 us faster per callback, not worth owning an HMAC scheme).

    Args:
        url: the full URL Twilio requested (scheme, host, path and query as Twilio saw them; rebuild it from the
            public URL behind a proxy). The validator also tries it with and without the default port.
        params: the POST form parameters; repeated keys as lists or a multidict.
        signature: the header value; None or empty never verifies.
        auth_token: the account's auth token.

    Returns:
        True when the signature matches.
    """
    if not signature or not auth_token:
        return False
    return bool(_validator(auth_token).validate(url, _Lists(params), signature))


def compute_signature(url: str, params: Params, auth_token: str) -> str:
    """The ``X-Twilio-Signature`` Twilio would send for this URL and params (fake server, tests)."""
    return str(RequestValidator(auth_token).compute_signature(url, _Lists(params)))


def _int_or_none(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _strip_channel(address: str | None) -> str | None:
    if address is None:
        return None
    return address.split(":", 1)[1] if ":" in address else address


class StatusCallback(msgspec.Struct, frozen=True, kw_only=True):
    """One status callback, as Twilio posted it (or as the simulator produces it).

    ``status`` is Twilio's ``MessageStatus`` lowercased (``sending``, ``read``...); ``to``/``from_`` keep the
    ``whatsapp:`` prefix as posted. ``message_id`` is the ledger row its URL names (None for URLs without one).
    """

    sid: str
    status: str
    error_code: int | None = None
    error_message: str | None = None
    event_type: str | None = None
    to: str | None = None
    from_: str | None = None
    idempotency_token: str | None = None
    message_id: int | None = None
    raw: dict[str, str] = {}

    @property
    def dedupe_key(self) -> str:
        """``sid:status:event``: one report per status of a message. Not Twilio's idempotency token: the same
        report delivered once without it and once with it would be stored twice."""
        return f"{self.sid}:{self.status}:{self.event_type or ''}"

    @property
    def message_status(self) -> MessageStatus | None:
        """Our state for this status (``sending`` counts as ``queued``), or None for ones we do not track."""
        return from_twilio(self.status)


def parse_status(
    params: Params, *, idempotency_token: str | None = None, message_id: int | None = None
) -> StatusCallback:
    """Parse a status callback's form parameters; ``message_id`` is the row its signed URL names (:func:`row_of`).

    Raises:
        CallbackError: ``MessageSid`` or ``MessageStatus`` is missing or empty.
    """
    flat = flat_params(params)
    sid = (flat.get("MessageSid") or flat.get("SmsSid") or "").strip()
    status = (flat.get("MessageStatus") or flat.get("SmsStatus") or "").strip().lower()
    if not sid:
        raise CallbackError("status callback without MessageSid")
    if not status:
        raise CallbackError(f"status callback for {sid} without MessageStatus")
    return StatusCallback(
        sid=sid,
        status=status,
        error_code=_int_or_none(flat.get("ErrorCode")),
        error_message=flat.get("ErrorMessage") or flat.get("ChannelStatusMessage") or None,
        event_type=flat.get("EventType") or None,
        to=flat.get("To"),
        from_=flat.get("From"),
        idempotency_token=idempotency_token or None,
        message_id=message_id,
        raw=flat,
    )


class InboundCallback(msgspec.Struct, frozen=True, kw_only=True):
    """One inbound WhatsApp message. ``from_phone`` is E.164 without ``whatsapp:``."""

    sid: str
    from_phone: str
    to: str | None = None
    body: str = ""
    profile_name: str | None = None
    wa_id: str | None = None
    num_media: int = 0
    opt_out_type: str | None = None
    raw: dict[str, str] = {}


def parse_inbound(params: Params) -> InboundCallback:
    """Parse an inbound-message webhook's form parameters.

    Raises:
        CallbackError: ``MessageSid`` or ``From`` is missing.
    """
    flat = flat_params(params)
    sid = (flat.get("MessageSid") or flat.get("SmsMessageSid") or flat.get("SmsSid") or "").strip()
    sender = _strip_channel(flat.get("From"))
    if not sid:
        raise CallbackError("inbound message without MessageSid")
    if not sender:
        raise CallbackError(f"inbound message {sid} without From")
    return InboundCallback(
        sid=sid,
        from_phone=sender.strip(),
        to=flat.get("To"),
        body=flat.get("Body", ""),
        profile_name=flat.get("ProfileName") or None,
        wa_id=flat.get("WaId") or None,
        num_media=_int_or_none(flat.get("NumMedia")) or 0,
        opt_out_type=(flat.get("OptOutType") or "").strip().upper() or None,
        raw=flat,
    )


KeywordAction = Literal["opt_out", "opt_in"]


def _norm(text: str) -> str:
    return "".join(text.split()).casefold()


def keyword_action(
    body: str | None, opt_out_keywords: Iterable[str], opt_in_keywords: Iterable[str]
) -> KeywordAction | None:
    """``opt_out`` / ``opt_in`` when the whole message is one of the keywords (case and spaces ignored), else None."""
    if not body:
        return None
    text = _norm(body)
    if not text:
        return None
    if any(text == _norm(k) for k in opt_out_keywords):
        return "opt_out"
    if any(text == _norm(k) for k in opt_in_keywords):
        return "opt_in"
    return None


#: What Twilio's ``OptOutType`` asks for (``HELP`` asks for nothing).
_OPT_OUT_TYPES: dict[str, KeywordAction] = {"STOP": "opt_out", "START": "opt_in"}


def inbound_action(
    inbound: InboundCallback, opt_out_keywords: Iterable[str], opt_in_keywords: Iterable[str]
) -> KeywordAction | None:
    """What an inbound message asks for: Twilio's ``OptOutType`` when present (STOP, START; HELP asks for
    nothing), else the message matched against our keywords."""
    if inbound.opt_out_type is not None:
        return _OPT_OUT_TYPES.get(inbound.opt_out_type)
    return keyword_action(inbound.body, opt_out_keywords, opt_in_keywords)


__all__ = [
    "IDEMPOTENCY_HEADER",
    "INBOUND_PATH",
    "ROW_PARAM",
    "SIGNATURE_HEADER",
    "STATUS_PATH",
    "CallbackError",
    "Form",
    "InboundCallback",
    "StatusCallback",
    "compute_signature",
    "flat_params",
    "inbound_action",
    "keyword_action",
    "parse_form",
    "parse_inbound",
    "parse_status",
    "public_callback_url",
    "row_of",
    "status_callback_url",
    "verify_signature",
]
