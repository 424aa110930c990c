"""Who may see the dashboard: a session from ``/ui/login`` when API keys are set, else loopback clients only."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.response import Redirect, Template

from hub.api.auth import is_loopback
from hub.api.errors import describe
from hub.ui.session import SESSION_COOKIE, session_is_valid

__all__ = ["LoginRequired", "error_page", "login_required_redirect", "ui_guard"]

log = logging.getLogger(__name__)


class LoginRequired(NotAuthorizedException):
    """No valid session: the browser is sent to ``/ui/login``."""


def ui_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Litestar guard for the dashboard pages (not for the login page and static files)."""
    keys: tuple[str, ...] = connection.app.state.api_keys
    if not keys:
        client = connection.client.host if connection.client else None
        if not is_loopback(client):
            raise NotAuthorizedException(detail="no API key configured: the dashboard answers loopback clients only")
        return
    if not session_is_valid(connection.cookies.get(SESSION_COOKIE), keys, time.time()):
        raise LoginRequired(detail="log in with an API key")


def login_required_redirect(request: Request[Any, Any, Any], _: LoginRequired) -> Response[Any]:
    """Send the browser to the login page, coming back to the page it asked for (htmx: a full-page redirect)."""
    wanted = request.url.path if request.method == "GET" and not request.headers.get("hx-request") else "/ui/"
    wanted = "/ui/" if wanted == "/ui" else wanted
    target = f"/ui/login?next={quote(wanted, safe='/')}"
    if request.headers.get("hx-request"):
        return Response(content=None, status_code=204, headers={"HX-Redirect": target})
    return Redirect(path=target, status_code=303)


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """An HTML page for a refusal or a failure on a dashboard route, decided by the API's one error mapper."""
    status, body = describe(exc)
    if status >= 500:
        log.error("%s %s -> %d (%s)", request.method, request.url.path, status, type(exc).__name__, exc_info=exc)
    return Template(template_name="error.html", context={"status": status, "detail": body.detail}, status_code=status)
