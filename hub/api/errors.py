"""One mapping from exceptions to HTTP answers: JSON ``{"error", "detail", "field"?}`` with a telling status."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from hub.errors import CampaignError, HubError, InvalidPhoneError, RenderError

__all__ = [
    "ApiError",
    "Conflict",
    "ErrorBody",
    "NotFound",
    "ServiceUnavailable",
    "Unprocessable",
    "describe",
    "handle_exception",
]

log = logging.getLogger(__name__)


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """What every error answer carries."""

    error: str  # a short, stable code: "invalid_phone", "not_found"...
    detail: str  # a sentence for the human who has to fix the request
    field: str | None = None  # the request field at fault, when one is
    twilio_code: int | None = None  # Twilio's error code, when Twilio is what refused


class ApiError(HubError):
    """An error raised by the API edge itself, with its HTTP status.

    Args:
        detail: what went wrong, for the client.
        field: the request field at fault, when one is.
    """

    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


class Unprocessable(ApiError):
    status_code = 422
    code = "unprocessable"


class ServiceUnavailable(ApiError):
    status_code = 503
    code = "unavailable"


def _unavailable_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean a backing service (database, Redis) is down, not that the request is wrong."""
    types: list[type[BaseException]] = [ConnectionError, TimeoutError]
    try:
        import redis.exceptions

        types += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    types += [asyncpg.exceptions.PostgresConnectionError, asyncpg.exceptions.InterfaceError]
    return tuple(types)


_UNAVAILABLE = _unavailable_types()
# PostgreSQL text cannot hold a NUL character; a request carrying one is the request's fault, not a server error.
_UNSTORABLE_TEXT = (asyncpg.exceptions.CharacterNotInRepertoireError, asyncpg.exceptions.UntranslatableCharacterError)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    503: "unavailable",
}


def _validation_detail(exc: ValidationException) -> tuple[str, str | None]:
    """Litestar puts msgspec's precise message ("Object missing required field `to`") in ``extra``."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    items = [item for item in extra if isinstance(item, dict)]
    keys = [str(item.get("key")) for item in items if item.get("key")]
    # A missing body surfaces as the KeyError text "'data'".
    messages = [
        "a JSON request body is required" if item.get("message") == "'data'" else str(item.get("message"))
        for item in items
        if item.get("message")
    ]
    detail = "; ".join(messages) or exc.detail
    return detail, (keys[0] if keys else None)


def describe(exc: BaseException) -> tuple[int, ErrorBody]:
    """Decide the HTTP status and body for an exception (pure).

    Args:
        exc: anything a handler, guard or the framework raised.

    Returns:
        ``(status_code, body)``. Unknown exceptions are a 500 whose body says nothing about internals.
    """
    if isinstance(exc, ApiError):
        return exc.status_code, ErrorBody(exc.code, exc.detail, exc.field, getattr(exc, "twilio_code", None))
    if isinstance(exc, InvalidPhoneError):
        return 422, ErrorBody("invalid_phone", str(exc), "to")
    if isinstance(exc, RenderError):
        return 422, ErrorBody("render_error", str(exc))
    if isinstance(exc, CampaignError):
        return 422, ErrorBody("campaign_error", str(exc), exc.field or None)  # file:line: field: what to fix
    if isinstance(exc, ValidationException):
        # Parsed but not of the documented shape (type, range, unknown or missing field): 422, like every other
        # refusal of what the request says; 400 is kept for a body that does not parse at all.
        detail, field = _validation_detail(exc)
        return 422, ErrorBody("invalid_request", detail, field)
    if isinstance(exc, HTTPException):
        return exc.status_code, ErrorBody(_HTTP_CODES.get(exc.status_code, "error"), exc.detail)
    if isinstance(exc, _UNSTORABLE_TEXT):
        return 422, ErrorBody("invalid_request", "text fields must not contain NUL characters (\\u0000)")
    if isinstance(exc, _UNAVAILABLE):
        return 503, ErrorBody("unavailable", "a backing service (database or Redis) is unavailable; retry later")
    if isinstance(exc, HubError):  # a refusal of what the request says; one that knows the field names it
        return 422, ErrorBody("invalid_request", str(exc), getattr(exc, "field", None))
    return 500, ErrorBody("internal", "internal server error")


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """The one exception handler registered on the app."""
    status, body = describe(exc)
    if status >= 500:
        # The type and route only: exception text may carry connection strings.
        log.error("%s %s -> %d (%s)", request.method, request.url.path, status, type(exc).__name__, exc_info=exc)
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    return Response(body, status_code=status, headers=headers, media_type="application/json")
