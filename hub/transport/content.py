"""ContentClient: Twilio's Content API (templates and their WhatsApp approvals) through the twilio package.

Template operations are rare operator actions, so this uses the package's synchronous client (its async client
cannot send the JSON bodies the Content API takes); async callers run it in a thread. ``twilio.api_base_url``
points it at another server (the fake Twilio serves ``/v1/Content`` next to the Messages API).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import msgspec
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList
from twilio.rest.content.v1.content.approval_create import ApprovalCreateList

from hub.errors import ConfigError, HubError

if TYPE_CHECKING:
    from hub.config import Settings

log = logging.getLogger(__name__)

TEXT_TYPE = "twilio/text"


class ContentApiError(HubError):
    """A Content API call failed.

    Attributes:
        message: Twilio's message (or what went wrong on the way).
        http_status: Twilio's HTTP status; None when Twilio could not be reached or did not answer.
        twilio_code: Twilio's error code when it gave one.
    """

    def __init__(self, message: str, *, http_status: int | None = None, twilio_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.twilio_code = twilio_code


class Approval(msgspec.Struct, frozen=True):
    """A WhatsApp approval request as Twilio reports it (``status`` as sent; see ``hub.templates.approval``)."""

    status: str | None = None
    name: str | None = None
    category: str | None = None
    rejection_reason: str | None = None


class ContentInfo(msgspec.Struct, frozen=True):
    """A content resource: its sid, names, ``twilio/text`` body and sample variables, and its approval if read."""

    sid: str
    friendly_name: str
    language: str
    body: str
    variables: dict[str, str]
    approval: Approval | None = None


def _approval(data: Mapping[str, Any] | None) -> Approval | None:
    if not data:
        return None
    reason = data.get("rejection_reason") or None
    return Approval(
        status=data.get("status"), name=data.get("name"), category=data.get("category"), rejection_reason=reason
    )


def _content(payload: Any, approval: Approval | None = None) -> ContentInfo:
    types = payload.types or {}
    text = types.get(TEXT_TYPE) or {}
    body = text.get("body") if isinstance(text, dict) else None
    return ContentInfo(
        sid=str(payload.sid),
        friendly_name=str(payload.friendly_name or ""),
        language=str(payload.language or ""),
        body=str(body or ""),
        variables={str(k): str(v) for k, v in (payload.variables or {}).items()},
        approval=approval,
    )


def _page_error(what: str, answer: Response) -> ContentApiError:
    try:
        data = json.loads(answer.text)
    except ValueError:
        data = {}
    code = data.get("code") if isinstance(data, dict) else None
    message = data.get("message") if isinstance(data, dict) else None
    return ContentApiError(
        f"{what}: {message or f'HTTP {answer.status_code}'}",
        http_status=answer.status_code,
        twilio_code=code if isinstance(code, int) else None,
    )


class ContentClient:
    """Create content, submit it for WhatsApp approval, read approvals.

    Args:
        settings: needs ``twilio.account_sid`` and ``twilio.auth_token``; honours ``twilio.api_base_url`` and
            ``twilio.timeout_seconds``.

    Raises:
        ConfigError: credentials missing.
    """

    def __init__(self, settings: Settings) -> None:
        tw = settings.twilio
        if not (tw.account_sid and tw.auth_token):
            raise ConfigError("twilio.account_sid and twilio.auth_token are required for the Content API")
        self._http = TwilioHttpClient(timeout=tw.timeout_seconds)
        self._client = Client(tw.account_sid, tw.auth_token.reveal(), http_client=self._http)
        if tw.api_base_url:
            self._client.content.base_url = tw.api_base_url.rstrip("/")
        self._v1 = self._client.content.v1

    def _call(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except TwilioRestException as exc:
            code = exc.code if isinstance(exc.code, int) and exc.code != exc.status else None
            text = str(exc.msg or f"HTTP {exc.status}").removeprefix("Unable to create record: ")
            text = text.removeprefix("Unable to fetch record: ")
            raise ContentApiError(f"{what}: {text}", http_status=int(exc.status), twilio_code=code) from None
        except TwilioException as exc:
            answer = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], Response) else None
            if answer is None:
                raise ContentApiError(f"{what}: Twilio did not answer ({type(exc).__name__})") from None
            # A page load failed: the twilio package keeps the raw answer, with Twilio's JSON error in it.
            raise _page_error(what, answer) from None
        except (requests.RequestException, OSError) as exc:
            # Connection refused, timeouts, a non-JSON answer: say so without the URL's credentials.
            raise ContentApiError(f"{what}: Twilio did not answer ({type(exc).__name__})") from None

    def create(self, *, friendly_name: str, language: str, body: str, variables: Mapping[str, str]) -> ContentInfo:
        """``POST /v1/Content`` with a ``twilio/text`` body and sample variables."""
        request = ContentList.ContentCreateRequest(
            {
                "friendly_name": friendly_name,
                "language": language,
                "variables": dict(variables),
                "types": {TEXT_TYPE: {"body": body}},
            }
        )
        created = self._call("create content", lambda: self._v1.contents.create(request))
        return _content(created)

    def fetch(self, sid: str) -> ContentInfo:
        """``GET /v1/Content/{sid}`` (without its approval)."""
        return _content(self._call("fetch content", lambda: self._v1.contents(sid).fetch()))

    def submit_whatsapp(self, sid: str, *, name: str, category: str) -> Approval:
        """``POST /v1/Content/{sid}/ApprovalRequests/whatsapp``."""
        request = ApprovalCreateList.ContentApprovalRequest({"name": name, "category": category})
        created = self._call(
            "submit for WhatsApp approval", lambda: self._v1.contents(sid).approval_create.create(request)
        )
        return Approval(
            status=created.status,
            name=created.name,
            category=created.category,
            rejection_reason=created.rejection_reason or None,
        )

    def approval(self, sid: str) -> Approval | None:
        """``GET /v1/Content/{sid}/ApprovalRequests``: the WhatsApp approval, or None when never submitted."""
        fetched = self._call("fetch approval", lambda: self._v1.contents(sid).approval_fetch().fetch())
        return _approval(getattr(fetched, "whatsapp", None))

    def iter_with_approvals(self, *, page_size: int = 50) -> Iterator[ContentInfo]:
        """``GET /v1/ContentAndApprovals``, every page: each content with its WhatsApp approval."""
        items = self._call("list content", lambda: list(self._v1.content_and_approvals.stream(page_size=page_size)))
        for item in items:
            requests_ = item.approval_requests or {}
            # Twilio nests the WhatsApp approval under approval_requests (one channel per object).
            approval = _approval(requests_.get("whatsapp", requests_) if isinstance(requests_, dict) else None)
            yield _content(item, approval)

    def close(self) -> None:
        """Close pooled connections."""
        session = getattr(self._http, "session", None)
        if session is not None:
            session.close()


__all__ = ["Approval", "ContentApiError", "ContentClient", "ContentInfo"]
