"""Twilio webhooks: verify the signature against the public URL, parse, apply once. Not behind the API key."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, InternalServerException, PermissionDeniedException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from hub import webhooks
from hub.api.errors import ApiError
from hub.api.metrics import AppMetrics
from hub.api.openapi import error_responses
from hub.config import Settings
from hub.phones import normalize_phone
from hub.store import queries
from hub.store.records import InboundRecord, StatusUpdate

__all__ = ["EMPTY_TWIML", "WEBHOOK_MAX_BODY_BYTES", "TwilioWebhookController", "signed_url"]

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
#: Largest callback body accepted, bytes (Twilio's are a few KB: a 1,600-character body and ten media URLs at
#: most); above it 413 before the form is parsed, whatever the signature (the API's own limit is 10 MiB).
WEBHOOK_MAX_BODY_BYTES = 64 * 1024


class BadCallback(ApiError):
    status_code = 400
    code = "bad_callback"


def signed_url(public_url: str, path: str, query_string: bytes | str) -> str:
    """The URL Twilio called (and signed): our public base URL, the request path, and the query as received.

    Rebuilt from configuration rather than the ``Host`` header so it is right behind TLS-terminating proxies.
    """
    query = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
    url = webhooks.public_callback_url(public_url, path)
    return f"{url}?{query}" if query else url


def _raw_path(request: Request[Any, Any, Any]) -> str:
    """The path exactly as requested (Litestar normalises ``scope["path"]``, e.g. drops a trailing slash)."""
    raw = request.scope.get("raw_path")
    # ASGI says raw_path has no query string; some servers (and test transports) include it anyway.
    return raw.decode("latin-1").split("?", 1)[0] if raw else request.url.path


_WANTED_HEADERS = {
    b"content-type": "content-type",
    b"content-length": "content-length",
    webhooks.SIGNATURE_HEADER.lower().encode(): webhooks.SIGNATURE_HEADER,
    webhooks.IDEMPOTENCY_HEADER.lower().encode(): webhooks.IDEMPOTENCY_HEADER,
}


def _headers(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The few headers a callback needs, read straight from the ASGI scope (the first of each, as Litestar's)."""
    found: dict[str, str] = {}
    for name, value in request.scope["headers"]:
        wanted = _WANTED_HEADERS.get(name.lower())
        if wanted is not None and wanted not in found:
            found[wanted] = value.decode("latin-1")
    return found


async def _read_body(request: Request[Any, Any, Any], content_length: str | None) -> bytes:
    """The body, 413 beyond :data:`WEBHOOK_MAX_BODY_BYTES` (announced or received): ``request.body()``'s rules,
    read from the ASGI channel without Litestar building every header first (a visible share per callback)."""
    if content_length is not None:
        try:
            announced = int(content_length)
        except ValueError:
            raise ClientException(f"Invalid content-length: {content_length!r}") from None
        if announced > WEBHOOK_MAX_BODY_BYTES:
            raise RequestEntityTooLarge
    chunks: list[bytes] = []
    received = 0
    while True:
        event = await request.receive()
        if event["type"] == "http.disconnect":
            raise InternalServerException("client disconnected prematurely")
        if event["type"] == "http.request":
            chunk = event.get("body", b"")
            received += len(chunk)
            if received > WEBHOOK_MAX_BODY_BYTES:
                raise RequestEntityTooLarge
            chunks.append(chunk)
            if not event.get("more_body", False):
                return b"".join(chunks)


async def _verified_form(
    request: Request[Any, Any, Any], headers: dict[str, str], settings: Settings, metrics: AppMetrics, kind: str
) -> Any:
    """The form parameters, once the signature checks out; 403 (and nothing else happens) otherwise.

    With no auth token configured (simulator mode) nothing can be verified, so every call is refused: the
    simulator applies its statuses in-process and needs no webhook.
    """
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":  # Twilio's, parsed once, without a multidict
        form: Any = webhooks.parse_form(await _read_body(request, headers.get("content-length")))
    else:  # anything else as Litestar reads it (multipart; an empty form for other types)
        form = await request.form()
    token = settings.twilio.auth_token.reveal() if settings.twilio.auth_token else ""
    url = signed_url(settings.public_url, _raw_path(request), request.scope.get("query_string", b""))
    if not webhooks.verify_signature(url, form, headers.get(webhooks.SIGNATURE_HEADER), token):
        metrics.webhook_callbacks.inc(kind, "forbidden")
        reason = "invalid X-Twilio-Signature" if token else "twilio.auth_token is not set: webhooks cannot be verified"
        log.warning("webhook %s refused: %s", request.url.path, reason)
        raise PermissionDeniedException(detail=reason)
    return form


#: The statuses a waiting journey entry may be told of (the trigger on message queues them as its events).
_JOURNEY_STATUSES = frozenset({"delivered", "read", "failed", "undelivered"})


class TwilioWebhookController(Controller):
    """``/webhooks/twilio/*``: verify -> parse -> apply (one store call), answered fast."""

    path = "/webhooks/twilio"
    tags = ["webhooks"]
    request_max_body_size = WEBHOOK_MAX_BODY_BYTES

    @post(
        ["/status", "/status/"],
        operation_id="twilio_status_callback",
        summary="Twilio status callback (signed)",
        status_code=204,
        responses=error_responses(400, 403, 413),
    )
    async def status(self, request: Request[Any, Any, Any]) -> None:
        # Settings and metrics from the app's state rather than injected: dependency resolution is a visible
        # share of a callback's cost at thousands per second.
        started = time.perf_counter()
        state = request.app.state
        settings: Settings = state.settings
        metrics: AppMetrics = state.metrics
        headers = _headers(request)
        form = await _verified_form(request, headers, settings, metrics, "status")
        try:
            callback = webhooks.parse_status(
                form,
                idempotency_token=headers.get(webhooks.IDEMPOTENCY_HEADER),
                message_id=webhooks.row_of(request.scope.get("query_string")),
            )
        except webhooks.CallbackError as exc:
            raise BadCallback(str(exc)) from None
        update = StatusUpdate.from_callback(callback, source="callback", at=datetime.now(UTC))
        outcome = await queries.apply_status(update, retries=settings.retries)
        if outcome == queries.Outcome.APPLIED and update.status in _JOURNEY_STATUSES:
            # If the message is a journey step, its entry may wait for this; any message wakes (throttled, cheap).
            state.journey_wake()
        metrics.webhook_callbacks.inc("status", str(outcome))
        if outcome == queries.Outcome.SECOND_SID:
            metrics.duplicate_creates.inc()
        metrics.webhook_seconds.observe(time.perf_counter() - started, "status")

    @post(
        "/inbound",
        operation_id="twilio_inbound",
        summary="Twilio inbound message (signed)",
        status_code=200,
        responses=error_responses(400, 403, 413),
    )
    async def inbound(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings], state: State
    ) -> Response[str]:
        started = time.perf_counter()
        metrics: AppMetrics = state.metrics
        form = await _verified_form(request, _headers(request), settings, metrics, "inbound")
        try:
            inbound = webhooks.parse_inbound(form)
        except webhooks.CallbackError as exc:
            raise BadCallback(str(exc)) from None
        phone = _phone(inbound.from_phone, settings)
        await queries.record_inbound(
            InboundRecord(
                sid=inbound.sid,
                from_phone=phone,
                to=inbound.to or "",
                body=inbound.body,
                received_at=datetime.now(UTC),
                payload=inbound.raw,
            )
        )
        action = webhooks.inbound_action(inbound, settings.opt_out.keywords, settings.opt_in.keywords)
        if action == "opt_out":
            await queries.set_opt_out(phone, source="twilio" if inbound.opt_out_type else "keyword")
        elif action == "opt_in":
            await queries.set_opt_in(phone)
        state.journey_wake()  # the sender's entries waiting for a reply (or ended by an opt-out) go on now
        metrics.webhook_callbacks.inc("inbound", action or "message")
        metrics.webhook_seconds.observe(time.perf_counter() - started, "inbound")
        return Response(EMPTY_TWIML, media_type="text/xml", status_code=200)


def _phone(raw: str, settings: Settings) -> str:
    """The sender in E.164 when it parses (it should: Twilio sends ``whatsapp:+CC...``), else as given."""
    try:
        return normalize_phone(raw, settings.phones.default_region)
    except Exception:  # an odd sender must still be recorded (and able to opt out)
        return raw
