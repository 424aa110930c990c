"""The dashboard's wiring: its router (guard, CSRF, HTML errors), templates, static files and ``GET /``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Response, Router, get
from litestar.config.csrf import CSRFConfig
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from hub.ui.campaigns import CampaignPages
from hub.ui.guard import LoginRequired, error_page, login_required_redirect, ui_guard
from hub.ui.health import HealthPage
from hub.ui.login import LoginController
from hub.ui.messages import MessagePages
from hub.ui.runs import RunPages
from hub.ui.session import csrf_secret

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "SECURITY_HEADERS", "template_config", "ui_handlers"]

_HERE = Path(__file__).resolve().parent
#: The CSRF cookie (readable by the page's script: htmx sends it back as a header) and the header it goes in.
CSRF_COOKIE = "hub_csrf"
CSRF_HEADER = "x-csrftoken"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape(["html"]), trim_blocks=True
    )
    env.filters["when"] = lambda value: value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"
    env.filters["num"] = lambda value: f"{value:,}" if isinstance(value, int) else value
    return env


def template_config() -> TemplateConfig[Any]:
    """Jinja templates of the dashboard (autoescaped)."""
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(_environment()))


#: Every dashboard answer: never framed by another site (its buttons act), no referrer beyond this origin.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


async def _secure(response: Response[Any]) -> Response[Any]:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@get("/", include_in_schema=False, name="root")
async def root() -> Redirect:
    """``GET /``: the dashboard."""
    return Redirect(path="/ui/")


def ui_handlers(api_keys: tuple[str, ...]) -> list[Any]:
    """Route handlers to add to the app: ``/``, ``/ui/static``, the login pages and the guarded pages.

    Every ``/ui`` route sits behind the CSRF middleware (a form field or ``X-CSRFToken`` header matching the
    cookie on every POST); all but login and static files sit behind :func:`ui_guard`.
    """
    csrf = CSRFConfig(
        secret=csrf_secret(api_keys),
        cookie_name=CSRF_COOKIE,
        cookie_path="/ui",
        header_name=CSRF_HEADER,
        cookie_samesite="strict",
    )
    middleware = [DefineMiddleware(CSRFMiddleware, config=csrf)]
    handlers: dict[int | type[Exception], Any] = {LoginRequired: login_required_redirect, Exception: error_page}
    pages = Router(
        path="/ui",
        route_handlers=[RunPages, MessagePages, CampaignPages, HealthPage],
        guards=[ui_guard],
        middleware=middleware,
        exception_handlers=handlers,
        include_in_schema=False,
        after_request=_secure,
    )
    login = Router(
        path="/ui",
        route_handlers=[LoginController],
        middleware=middleware,
        exception_handlers={Exception: error_page},
        include_in_schema=False,
        after_request=_secure,
    )
    static = create_static_files_router(path="/ui/static", directories=[_HERE / "static"], include_in_schema=False)
    return [root, pages, login, static]
