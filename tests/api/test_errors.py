"""Exceptions to HTTP answers (pure): a status that says what to fix, and nothing internal leaked."""

from __future__ import annotations

import pytest
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException, ValidationException

from hub.api.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable, describe
from hub.errors import CampaignError, InvalidPhoneError, RenderError


@pytest.mark.parametrize(
    ("exc", "status", "code", "field"),
    [
        (NotFound("no run 7"), 404, "not_found", None),
        (Conflict("run is finished"), 409, "conflict", None),
        (Unprocessable("bad", field="send_at"), 422, "unprocessable", "send_at"),
        (ServiceUnavailable("down"), 503, "unavailable", None),
        (InvalidPhoneError("too short"), 422, "invalid_phone", "to"),
        (RenderError("recipient +1: body: missing variable 'x'"), 422, "render_error", None),
        (CampaignError("request", "template", "template file not found"), 422, "campaign_error", "template"),
        (NotAuthorizedException("missing key"), 401, "unauthorized", None),
        (PermissionDeniedException("bad signature"), 403, "forbidden", None),
        (ConnectionRefusedError("connect to db:5432"), 503, "unavailable", None),
        (RuntimeError("secret-ish internals"), 500, "internal", None),
    ],
)
def test_describe_maps_exception_to_status_and_code(exc: Exception, status: int, code: str, field: str | None) -> None:
    got_status, body = describe(exc)
    assert (got_status, body.error, body.field) == (status, code, field)


def test_validation_error_is_422_with_msgspec_message() -> None:
    exc = ValidationException(
        detail="Validation failed for POST /v1/messages",
        extra=[{"message": "Object missing required field `to`", "key": "to", "source": "body"}],
    )
    status, body = describe(exc)
    assert (status, body.detail, body.field) == (422, "Object missing required field `to`", "to")


def test_internal_error_does_not_leak_text() -> None:
    _, body = describe(RuntimeError("postgresql://user:hunter2@db/hub"))
    assert "hunter2" not in body.detail
