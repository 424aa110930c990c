"""TwilioTransport: Twilio's Messages API through the twilio package's async client (the only importer of twilio)."""

from __future__ import annotations

import asyncio
import json
import logging
from contextvars import ContextVar
from typing import TYPE_CHECKING

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from hub import policy
from hub.errors import ConfigError, SendError
from hub.transport import Receipt
from hub.transport.lookup import RemoteMessage, bare_phone
from hub.webhooks import STATUS_PATH, public_callback_url

if TYPE_CHECKING:
    from datetime import datetime

    from hub.config import Settings
    from hub.rendering import OutboundMessage

log = logging.getLogger(__name__)

#: Per-send box the HTTP client fills with the response headers, so a 429's ``Retry-After`` reaches the
#: classifier (``TwilioRestException`` does not carry headers). A ContextVar keeps concurrent sends apart.
_RESPONSE_HEADERS: ContextVar[dict[str, str] | None] = ContextVar("twilio_response_headers", default=None)


FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
#: The headers of a create, as the twilio client's Messages resource sends them.
_CREATE_HEADERS = {"Content-Type": FORM_CONTENT_TYPE, "Accept": "application/json"}


def request_was_sent(exc: BaseException) -> bool:
    """False only when the failure happened before any byte of the request could reach Twilio.

    Connection refused, DNS failure, TLS handshake failure and waiting too long for a connection all fail before
    the request is written: safe to retry. Everything later (read timeout, reset, disconnect) is ambiguous.
    """
    return not isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError | ConnectionRefusedError)


#: ``quote_plus`` of one UTF-8 byte (as a latin-1 character), for ``str.translate``: the unreserved bytes stay, a
#: space is ``+``, the rest ``%XX``. Same output as ``urllib.parse.urlencode`` for half its CPU (that quotes byte by
#: byte in Python), which a worker pays for every field of every create.
_QUOTED = [
    chr(b) if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "_.-~") else "+" if b == 32 else f"%{b:02X}"
    for b in range(256)
]


def _quote(text: str) -> str:
    return (text if text.isascii() else text.encode().decode("latin-1")).translate(_QUOTED)


def form_body(pairs: list[tuple[str, str]]) -> bytes:
    """``pairs`` as an ``application/x-www-form-urlencoded`` body, byte for byte what ``urlencode`` gives."""
    return "&".join(f"{_quote(key)}={_quote(value)}" for key, value in pairs).encode()


def _form(data: dict[str, object] | None) -> list[tuple[str, str]]:
    # Repeated keys for list values (MediaUrl), as Twilio expects.
    pairs: list[tuple[str, str]] = []
    for key, value in (data or {}).items():
        if isinstance(value, list | tuple):
            pairs.extend((key, str(v)) for v in value)
        else:
            pairs.append((key, str(value)))
    return pairs


class HubHttpClient(AsyncHttpClient):
    """The twilio package's async HTTP seam, on one pooled aiohttp session sized for hundreds of calls in flight.

    Unlike ``AsyncTwilioHttpClient`` it applies its timeout (that one drops it), skips per-request INFO logging
    (costly at thousands of calls/s) and passes response headers to the transport.

    Args:
        timeout_s: connect and read timeout, seconds.
        max_connections: connection pool size (concurrent requests), per event loop.
    """

    def __init__(self, *, timeout_s: float, max_connections: int = 512) -> None:
        super().__init__(logger=log, is_async=True, timeout=timeout_s)
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._auth: tuple[tuple[str, str], str] | None = None

    def _session_here(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # A session belongs to one loop; a caller on another loop gets its own.
            timeout = aiohttp.ClientTimeout(
                total=None, connect=self.timeout, sock_connect=self.timeout, sock_read=self.timeout
            )
            connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0, keepalive_timeout=15)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)
            self._loop = loop
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        session = self._session_here()
        all_headers = dict(headers or {})
        if auth is not None:
            all_headers["Authorization"] = self._basic_auth(auth)
        body = None
        if data is not None:
            # Encoded here, as aiohttp would for a form: handing it pairs builds a FormData and a multipart
            # writer (with a uuid4 boundary) per request, ~10 % of a send's CPU on the worker's loop.
            body = form_body(_form(data))
            all_headers.setdefault("Content-Type", FORM_CONTENT_TYPE)
        async with session.request(
            method.upper(),
            url,
            params=_form(params) if params else None,
            data=body,
            headers=all_headers,
            allow_redirects=allow_redirects,
        ) as resp:
            text = await resp.text()
            box = _RESPONSE_HEADERS.get()
            if box is not None:
                box.update((k.lower(), v) for k, v in resp.headers.items())
            return Response(resp.status, text, resp.headers)

    def _basic_auth(self, auth: tuple[str, str]) -> str:
        # One account per client: encoded once, not per request.
        if self._auth is None or self._auth[0] != auth:
            self._auth = (auth, aiohttp.encode_basic_auth(auth[0], auth[1]))
        return self._auth[1]

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class TwilioTransport:
    """Sends WhatsApp messages through the twilio client's Messages resource; many sends may be in flight on one loop.

    A create is posted with the client's own ``Version.create_async`` (its auth, base URL, headers and error
    parsing) and the form Twilio documents: ``messages.create_async`` would turn 26 optional parameters into the
    form and build a ``MessageInstance`` (three dates parsed) of which the send path reads only the sid and status,
    half of the client's CPU per create.

    Args:
        settings: needs ``twilio.account_sid``, ``twilio.auth_token`` and ``twilio.from`` or
            ``twilio.messaging_service_sid``; honours ``twilio.api_base_url`` and ``twilio.timeout_seconds``.
        max_connections: HTTP connection pool size.

    Raises:
        ConfigError: credentials or sender missing.
    """

    name = "twilio"

    def __init__(self, settings: Settings, *, max_connections: int = 512) -> None:
        tw = settings.twilio
        if not (tw.account_sid and tw.auth_token):
            raise ConfigError("twilio.account_sid and twilio.auth_token are required for the twilio transport")
        if not (tw.from_ or tw.messaging_service_sid):
            raise ConfigError("twilio.from or twilio.messaging_service_sid is required for the twilio transport")
        self._http = HubHttpClient(timeout_s=tw.timeout_seconds, max_connections=max_connections)
        self._client = Client(tw.account_sid, tw.auth_token.reveal(), http_client=self._http)
        if tw.api_base_url:
            self._client.api.base_url = tw.api_base_url.rstrip("/")
        self._api = self._client.api.v2010
        self._messages_uri = f"/Accounts/{tw.account_sid}/Messages.json"
        self._messages = self._client.api.v2010.account.messages
        self._service = tw.messaging_service_sid
        self._from = None if tw.messaging_service_sid else _channel(tw.from_ or "")
        self._status_callback = public_callback_url(settings.public_url, STATUS_PATH)

    def create_form(self, msg: OutboundMessage, status_callback: str | None) -> dict[str, object]:
        """The create's form fields, named as Twilio's Messages API names them (exposed for tests)."""
        form: dict[str, object] = {"To": _channel(msg.to), "StatusCallback": status_callback or self._status_callback}
        if self._service:
            form["MessagingServiceSid"] = self._service
        else:
            form["From"] = self._from
        if msg.content_sid:
            form["ContentSid"] = msg.content_sid
            if msg.content_variables:
                form["ContentVariables"] = json.dumps(msg.content_variables, ensure_ascii=False)
        if msg.body is not None:
            form["Body"] = msg.body
        if msg.media_url:
            form["MediaUrl"] = list(msg.media_url)
        if msg.validity_period_s is not None:
            form["ValidityPeriod"] = msg.validity_period_s
        return form

    async def send(self, msg: OutboundMessage, *, status_callback: str | None = None) -> Receipt:
        """Create the message at Twilio; see ``hub.transport.Transport.send``."""
        form = self.create_form(msg, status_callback)
        box: dict[str, str] = {}
        token = _RESPONSE_HEADERS.set(box)
        try:
            created = await self._api.create_async(
                method="POST", uri=self._messages_uri, data=form, headers=dict(_CREATE_HEADERS)
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            retry_after = policy.parse_retry_after(box.get("retry-after"))
            text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "")
            raise policy.send_error(
                int(exc.status), exc.code, _clean(str(text)), to=msg.to, retry_after_ms=retry_after
            ) from None
        except SendError:
            raise
        except Exception as exc:
            raise policy.classify(exc, to=msg.to, request_sent=request_was_sent(exc)) from exc
        finally:
            _RESPONSE_HEADERS.reset(token)
        return Receipt(sid=str(created["sid"]), status=str(created.get("status") or "queued"))

    async def find_sent(self, to: str, since: datetime, *, limit: int = 200) -> list[RemoteMessage] | None:
        """Messages Twilio holds for ``to`` (E.164) created at or after ``since`` (UTC), newest first.

        No ``DateSent`` filter is sent: it has day granularity and a queued or scheduled message has no
        ``date_sent`` yet, so it could hide exactly the message being looked for. The list is read newest
        first and cut client-side on ``date_created``.

        Args:
            to: recipient in E.164.
            since: only messages created at or after this instant.
            limit: records read at most; a list that reaches it without going back past ``since`` is not
                complete and gives None.

        Raises:
            Exception: the list call failed (callers treat it as no answer).
        """
        found: list[RemoteMessage] = []
        read = 0
        stream = await self._messages.stream_async(to=_channel(to), page_size=min(limit, 100), limit=limit)
        async for item in stream:
            read += 1
            created = item.date_created
            if created is None:
                continue
            if created < since:
                return found  # listed newest first: the rest are older
            found.append(
                RemoteMessage(
                    sid=str(item.sid),
                    to=bare_phone(item.to),
                    body=item.body,
                    status=str(item.status or ""),
                    created_at=created,
                    direction=str(item.direction or "outbound-api"),
                    error_code=int(item.error_code) if item.error_code else None,
                    error_message=item.error_message or None,
                )
            )
        return None if read >= limit else found

    async def close(self) -> None:
        await self._http.close()


def _channel(address: str) -> str:
    return address if address.startswith("whatsapp:") else f"whatsapp:{address}"


def _clean(msg: str) -> str:
    # twilio prefixes "Unable to create record: "; Twilio's own message is what operators search for.
    return msg.removeprefix("Unable to create record: ")


__all__ = ["HubHttpClient", "TwilioTransport", "request_was_sent"]
