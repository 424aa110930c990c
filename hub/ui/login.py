"""``/ui/login`` and ``/ui/logout``: an API key, checked by the API's own check, becomes a session cookie."""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template

from hub.api.auth import is_authorized
from hub.ui.session import SESSION_COOKIE, SESSION_TTL_S, issue_session

__all__ = ["LoginController", "LoginForm", "safe_next"]


class LoginForm(msgspec.Struct):
    key: str = ""
    next: str = "/ui/"


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a dashboard path only (never another site)."""
    if target and target.startswith("/ui/") and "\\" not in target:
        return target
    return "/ui/"


def _cookie(value: str, request: Request[Any, Any, Any], max_age: int) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=max_age,
    )


class LoginController(Controller):
    path = "/"

    @get("/login", name="ui-login")
    async def login_page(
        self, request: Request[Any, Any, Any], next: FromQuery[str | None] = None
    ) -> Template | Redirect:
        if not request.app.state.api_keys:
            return Redirect(path="/ui/")
        return Template(template_name="login.html", context={"next": safe_next(next), "error": None})

    @post("/login", status_code=303)
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect:
        keys: tuple[str, ...] = request.app.state.api_keys
        client = request.client.host if request.client else None
        key = data.key.strip()
        if not keys or not key or not is_authorized(f"Bearer {key}", client, keys):
            context = {"next": safe_next(data.next), "error": "That key is not one of the configured API keys."}
            return Template(template_name="login.html", context=context, status_code=401)
        token = issue_session(key, time.time())
        return Redirect(path=safe_next(data.next), status_code=303, cookies=[_cookie(token, request, SESSION_TTL_S)])

    @post("/logout", status_code=303)
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        return Redirect(path="/ui/login", status_code=303, cookies=[_cookie("", request, 0)])
