"""``/v1/templates``: WhatsApp content templates: create at Twilio, submit for approval, read with synced status."""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from datetime import datetime

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from hub.api.errors import ApiError, Conflict, NotFound, Unprocessable
from hub.api.openapi import error_responses
from hub.config import Settings
from hub.errors import AmbiguousTemplate, ConfigError
from hub.store import queries
from hub.store.templates import TemplateRecord
from hub.templates.guard import TemplateNotSendable, assert_sendable
from hub.templates.registry import (
    InvalidTemplate,
    TemplateNameTaken,
    TemplateNotFound,
    create_template,
    refresh_template,
    submit_template,
)
from hub.transport.content import ContentApiError, ContentClient

__all__ = [
    "ApprovalCreate",
    "TemplateController",
    "TemplateCreate",
    "TemplateList",
    "TemplateRead",
    "TwilioFailure",
    "ensure_sendable",
    "twilio_failure",
]


class TemplateCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /v1/templates``: a ``twilio/text`` template; ``variables`` are sample values per placeholder."""

    friendly_name: str
    body: str
    language: str = "en"
    variables: dict[str, str] = {}


class ApprovalCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /v1/templates/{sid_or_name}/approval``: the WhatsApp template name and category."""

    name: str
    category: str


class TemplateRead(msgspec.Struct, kw_only=True):
    """A registered template with its approval state as last synced."""

    friendly_name: str
    language: str
    content_sid: str
    body: str
    variables: list[str]
    samples: dict[str, str]
    category: str | None
    approval_status: str
    rejection_reason: str | None
    last_synced_at: datetime | None
    created_at: datetime | None


class TemplateList(msgspec.Struct, kw_only=True):
    items: list[TemplateRead]
    next_cursor: str | None = None


#: What a route that calls Twilio's Content API can answer besides the usual: Twilio's 4xx passed on, or 502.
_TWILIO_ERRORS = error_responses(400, 404, 409, 429, 502)


class TwilioFailure(ApiError):
    """A Content API call failed; carries Twilio's code to the error body (``twilio_code``)."""

    def __init__(self, status_code: int, code: str, detail: str, twilio_code: int | None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.code = code
        self.twilio_code = twilio_code


def twilio_failure(exc: ContentApiError) -> TwilioFailure:
    """The API answer for a failed Content API call (pure).

    Twilio's 4xx about the request keep their status (400, 404, 409, 422, 429) and code; Twilio refusing the
    hub's own credentials (401/403), a 5xx, or no answer at all are the hub's upstream failing: 502.
    """
    status = exc.http_status
    if status is None:
        return TwilioFailure(502, "twilio_unavailable", f"Twilio could not be reached: {exc.message}", None)
    if status >= 500:
        detail = f"Twilio failed (HTTP {status}): {exc.message}"
        return TwilioFailure(502, "twilio_unavailable", detail, exc.twilio_code)
    if status in (401, 403):
        detail = f"Twilio refused the hub's credentials (check twilio.account_sid / auth_token): {exc.message}"
        return TwilioFailure(502, "twilio_auth", detail, exc.twilio_code)
    if status == 404:
        return TwilioFailure(404, "twilio_not_found", exc.message, exc.twilio_code)
    return TwilioFailure(status if 400 <= status < 500 else 502, "twilio_error", exc.message, exc.twilio_code)


def _read(record: TemplateRecord) -> TemplateRead:
    return TemplateRead(
        friendly_name=record.friendly_name,
        language=record.language,
        content_sid=record.content_sid,
        body=record.body,
        variables=list(record.declared),
        samples=dict(record.samples),
        category=record.category,
        approval_status=record.approval_status,
        rejection_reason=record.rejection_reason,
        last_synced_at=record.last_synced_at,
        created_at=record.created_at,
    )


def _content_client(settings: NamedDependency[Settings]) -> Iterator[ContentClient]:
    try:
        client = ContentClient(settings)
    except ConfigError as exc:
        # A 4xx on purpose: nothing is down and retrying cannot help; the hub must be configured first.
        raise TwilioFailure(409, "twilio_not_configured", f"the Content API is not configured: {exc}", None) from None
    try:
        yield client
    finally:
        client.close()


async def ensure_sendable(content_sid: str | None, settings: Settings | None = None) -> TemplateRecord | None:
    """The run/send guard for API entry points: 409 with the reason when the template is not approved (with Twilio
    configured in ``settings``, an unknown one is looked up there first); the registry's record of it, if any."""
    try:
        return await assert_sendable(content_sid, settings=settings)
    except TemplateNotSendable as exc:
        raise Conflict(exc.reason, field="content_sid") from None


async def _guarded(call: Awaitable[TemplateRecord]) -> TemplateRecord:
    try:
        return await call
    except ContentApiError as exc:
        raise twilio_failure(exc) from None
    except TemplateNotFound as exc:
        raise NotFound(str(exc)) from None
    except TemplateNameTaken as exc:
        raise Conflict(str(exc), field="friendly_name") from None
    except AmbiguousTemplate as exc:
        raise Conflict(str(exc), field="sid_or_name") from None
    except InvalidTemplate as exc:
        raise Unprocessable(str(exc), field=exc.field) from None


class TemplateController(Controller):
    """Templates live at Twilio; the registry keeps what the hub last saw (the send guard reads it)."""

    path = "/templates"
    tags = ["templates"]
    dependencies = {"content": Provide(_content_client)}
    signature_namespace = {"ContentClient": ContentClient}

    @post(
        "/",
        operation_id="create_template",
        summary="Create a template at Twilio and register it",
        status_code=201,
        responses=_TWILIO_ERRORS,
    )
    async def create(self, data: JSONBody[TemplateCreate], content: NamedDependency[ContentClient]) -> TemplateRead:
        call = create_template(
            content, friendly_name=data.friendly_name, language=data.language, body=data.body, samples=data.variables
        )
        return _read(await _guarded(call))

    @post(
        "/{sid_or_name:str}/approval",
        operation_id="submit_template",
        summary="Submit a template for WhatsApp approval",
        status_code=202,
        responses=_TWILIO_ERRORS,
    )
    async def submit(
        self, sid_or_name: FromPath[str], data: JSONBody[ApprovalCreate], content: NamedDependency[ContentClient]
    ) -> TemplateRead:
        call = submit_template(content, sid_or_name, name=data.name, category=data.category)
        return _read(await _guarded(call))

    @get(
        "/{sid_or_name:str}",
        operation_id="get_template",
        summary="A template, its approval synced from Twilio",
        responses=_TWILIO_ERRORS,
    )
    async def get_one(self, sid_or_name: FromPath[str], content: NamedDependency[ContentClient]) -> TemplateRead:
        return _read(await _guarded(refresh_template(content, sid_or_name)))

    @get("/", operation_id="list_templates", summary="Registered templates (as last synced)")
    async def list_all(self) -> TemplateList:
        return TemplateList(items=[_read(record) for record in await queries.list_templates()])
