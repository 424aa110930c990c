"""The fake Twilio Content API: create content, submit it for WhatsApp approval, and read approvals back.

Routes (JSON, Basic auth like the Messages API):

- ``POST /v1/Content``, ``GET /v1/Content``, ``GET /v1/Content/{sid}``
- ``POST /v1/Content/{sid}/ApprovalRequests/whatsapp``, ``GET /v1/Content/{sid}/ApprovalRequests``
- ``GET /v1/ContentAndApprovals``

Approvals move on cue. A submission starts ``received``; each read of it (approval fetch or list) moves it one
step: ``received`` -> ``pending`` -> ``approved``, or ``rejected`` when the approval ``name`` starts with
``reject``. A test sets any state at once with ``POST /_fake/content/{sid}/approval``
``{"status": "paused", "rejection_reason": "..."}``, and makes the next Content API calls fail with
``POST /_fake/content/fail {"status": 503, "code": 20503, "times": 1}``. A Messages create that names a
``paused`` or ``disabled`` content sid is refused with :data:`BLOCKED_CODE`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from aiohttp import web

from hub.faketwilio.behaviour import FakeConfig, error_body

BLOCKED_CODE = 63047
CATEGORIES = frozenset({"MARKETING", "UTILITY", "AUTHENTICATION"})
#: WhatsApp template names: lowercase letters, digits and underscores.
_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_PLACEHOLDER = re.compile(r"\{\{\s*([0-9]+)\s*\}\}")
_NEXT = {"received": "pending"}
_encode = msgspec.json.Encoder().encode


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Failure:
    status: int
    code: int
    message: str
    times: int


@dataclass
class ContentStore:
    """Content resources and their WhatsApp approvals, keyed by sid."""

    contents: dict[str, dict[str, Any]] = field(default_factory=dict)
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[_Failure] = field(default_factory=list)


class FakeContent:
    """Handlers of the fake Content API; shares the Messages API's credentials.

    Args:
        config: the fake's knobs (``account_sid`` / ``auth_token`` checks, as for creates).
    """

    def __init__(self, config: FakeConfig) -> None:
        self.config = config
        self.store = ContentStore()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/Content", self.create)
        app.router.add_get("/v1/Content", self.list_contents)
        app.router.add_get("/v1/Content/{sid}", self.fetch)
        app.router.add_post("/v1/Content/{sid}/ApprovalRequests/whatsapp", self.submit)
        app.router.add_get("/v1/Content/{sid}/ApprovalRequests", self.fetch_approval)
        app.router.add_get("/v1/ContentAndApprovals", self.list_with_approvals)
        app.router.add_post("/_fake/content/{sid}/approval", self.set_approval)
        app.router.add_post("/_fake/content/fail", self.fail_next)
        app.router.add_post("/_fake/content/reset", self.reset)

    # -- shared -------------------------------------------------------------------------------------------------

    def send_refusal(self, content_sid: str | None) -> tuple[int, int, str] | None:
        """For a Messages create: ``(http_status, code, message)`` when the template cannot be sent, else None."""
        approval = self.store.approvals.get(content_sid or "")
        if approval is not None and approval["status"] in {"paused", "disabled"}:
            return 400, BLOCKED_CODE, f"Template is {approval['status']}: {approval.get('rejection_reason') or ''}"
        return None

    def _json(self, body: Any, status: int = 200) -> web.Response:
        return web.Response(body=_encode(body), status=status, content_type="application/json")

    def _error(self, status: int, code: int, message: str) -> web.Response:
        return self._json(error_body(status, code, message), status)

    def _gate(self, request: web.Request) -> web.Response | None:
        """Auth and injected failures, checked before every Content API call."""
        if not _auth_ok(request.headers.get("Authorization"), self.config):
            return self._error(401, 20003, "Authenticate")
        if self.store.failures:
            failure = self.store.failures[0]
            failure.times -= 1
            if failure.times <= 0:
                self.store.failures.pop(0)
            return self._error(failure.status, failure.code, failure.message)
        return None

    async def _read_latency(self) -> None:
        if self.config.content_latency_ms > 0:
            await asyncio.sleep(self.config.content_latency_ms / 1000)

    def _content(self, request: web.Request) -> dict[str, Any] | web.Response:
        sid = request.match_info["sid"]
        content = self.store.contents.get(sid)
        if content is None:
            return self._error(404, 20404, f"The requested resource /Content/{sid} was not found")
        return content

    def _advance(self, sid: str) -> dict[str, Any] | None:
        """Read an approval, moving it one step along (the cue for tests that poll)."""
        approval = self.store.approvals.get(sid)
        if approval is None:
            return None
        status = approval["status"]
        if status in _NEXT:
            approval["status"] = _NEXT[status]
        elif status == "pending":
            rejected = str(approval["name"]).startswith("reject")
            approval["status"] = "rejected" if rejected else "approved"
            if rejected:
                approval["rejection_reason"] = "The template was rejected by WhatsApp (fake: name starts with reject)"
        return dict(approval)

    # -- Content ------------------------------------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.Response:
        """``POST /v1/Content`` (JSON): ``language`` and ``types`` required."""
        refused = self._gate(request)
        if refused is not None:
            return refused
        try:
            data = await request.json()
        except ValueError:
            return self._error(400, 20001, "Invalid JSON body")
        if not isinstance(data, dict):
            return self._error(400, 20001, "Invalid JSON body")
        problem = _content_problem(data)
        if problem is not None:
            return self._error(400, 20001, problem)
        sid = "HX" + uuid.uuid4().hex
        base = f"{request.scheme}://{request.host}/v1/Content/{sid}"
        now = _now()
        content = {
            "sid": sid,
            "account_sid": _account(request),
            "friendly_name": data.get("friendly_name") or "",
            "language": data["language"],
            "variables": {str(k): str(v) for k, v in (data.get("variables") or {}).items()},
            "types": data["types"],
            "url": base,
            "links": {
                "approval_fetch": f"{base}/ApprovalRequests",
                "approval_create": f"{base}/ApprovalRequests/whatsapp",
            },
            "date_created": now,
            "date_updated": now,
        }
        self.store.contents[sid] = content
        return self._json(content, 201)

    async def fetch(self, request: web.Request) -> web.Response:
        await self._read_latency()
        refused = self._gate(request)
        if refused is not None:
            return refused
        content = self._content(request)
        return content if isinstance(content, web.Response) else self._json(content)

    async def list_contents(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        return self._page(request, list(self.store.contents.values()))

    async def list_with_approvals(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        items = []
        for sid, content in self.store.contents.items():
            approval = self._advance(sid)
            whatsapp = {"type": "whatsapp", **approval} if approval else {}
            items.append({**content, "approval_requests": whatsapp})
        return self._page(request, items)

    def _page(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        try:
            size = max(1, min(int(request.query.get("PageSize", "50")), 1000))
            page = max(0, int(request.query.get("Page", "0")))
        except ValueError:
            return self._error(400, 20001, "PageSize and Page must be integers")
        chunk = items[page * size : (page + 1) * size]
        url = request.url
        more = (page + 1) * size < len(items)
        meta = {
            "page": page,
            "page_size": size,
            "first_page_url": str(url.with_query({"PageSize": size, "Page": 0})),
            "previous_page_url": str(url.with_query({"PageSize": size, "Page": page - 1})) if page else None,
            "url": str(url),
            "next_page_url": str(url.with_query({"PageSize": size, "Page": page + 1})) if more else None,
            "key": "contents",
        }
        return self._json({"contents": chunk, "meta": meta})

    # -- approvals ----------------------------------------------------------------------------------------------

    async def submit(self, request: web.Request) -> web.Response:
        """``POST /v1/Content/{sid}/ApprovalRequests/whatsapp`` with ``{"name", "category"}``."""
        refused = self._gate(request)
        if refused is not None:
            return refused
        content = self._content(request)
        if isinstance(content, web.Response):
            return content
        try:
            data = await request.json()
        except ValueError:
            return self._error(400, 20001, "Invalid JSON body")
        name, category = (data or {}).get("name"), (data or {}).get("category")
        if not name or not category:
            return self._error(400, 20001, "Missing required parameter name or category")
        if not _NAME.match(str(name)):
            return self._error(400, 20001, "name must use lowercase letters, digits and underscores")
        if category not in CATEGORIES:
            return self._error(400, 20001, f"Invalid category {category!r}")
        taken = [a for a in self.store.approvals.values() if a["name"] == name and a["status"] == "rejected"]
        if taken:
            return self._error(400, 20001, f"The name {name!r} belongs to a rejected template and cannot be reused")
        sid = content["sid"]
        approval = {
            "name": name,
            "category": category,
            "content_type": next(iter(content["types"]), "twilio/text"),
            "status": "received",
            "rejection_reason": "",
            "allow_category_change": True,
        }
        self.store.approvals[sid] = approval
        return self._json(dict(approval), 201)

    async def fetch_approval(self, request: web.Request) -> web.Response:
        await self._read_latency()
        refused = self._gate(request)
        if refused is not None:
            return refused
        content = self._content(request)
        if isinstance(content, web.Response):
            return content
        approval = self._advance(content["sid"])
        whatsapp = {"type": "whatsapp", **approval} if approval else {}
        return self._json(
            {
                "sid": content["sid"],
                "account_sid": content["account_sid"],
                "whatsapp": whatsapp,
                "url": request.url.human_repr(),
            }
        )

    # -- control ------------------------------------------------------------------------------------------------

    async def set_approval(self, request: web.Request) -> web.Response:
        """``POST /_fake/content/{sid}/approval`` ``{"status", "rejection_reason"?}``: set the state now."""
        sid = request.match_info["sid"]
        if sid not in self.store.contents:
            return self._error(404, 20404, f"no content {sid}")
        data = await request.json()
        approval = self.store.approvals.setdefault(
            sid,
            {"name": sid.lower(), "category": "UTILITY", "content_type": "twilio/text", "allow_category_change": True},
        )
        approval["status"] = str(data["status"]).lower()
        approval["rejection_reason"] = str(data.get("rejection_reason") or "")
        return self._json(dict(approval))

    async def fail_next(self, request: web.Request) -> web.Response:
        """``POST /_fake/content/fail`` ``{"status", "code", "message"?, "times"?}``: fail the next Content calls."""
        data = await request.json()
        status = int(data.get("status", 503))
        failure = _Failure(
            status, int(data.get("code", status)), str(data.get("message", "fake failure")), int(data.get("times", 1))
        )
        self.store.failures.append(failure)
        return self._json({"ok": True})

    async def reset(self, _request: web.Request) -> web.Response:
        self.store = ContentStore()
        return self._json({"ok": True})


def _credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def _auth_ok(header: str | None, config: FakeConfig) -> bool:
    creds = _credentials(header)
    if creds is None or not creds[0].startswith("AC"):
        return False
    if config.account_sid is not None and creds[0] != config.account_sid:
        return False
    return config.auth_token is None or creds[1] == config.auth_token


def _account(request: web.Request) -> str:
    creds = _credentials(request.headers.get("Authorization"))
    return creds[0] if creds else ""


def _content_problem(data: dict[str, Any]) -> str | None:
    """What Twilio would refuse in a create body (a subset of its checks), or None."""
    if not data.get("language"):
        return "Missing required parameter language"
    types = data.get("types")
    if not isinstance(types, dict) or not types:
        return "Missing required parameter types"
    text = types.get("twilio/text")
    if isinstance(text, dict):
        body = str(text.get("body") or "")
        if not body.strip():
            return "twilio/text body is required"
        keys = sorted({int(m) for m in _PLACEHOLDER.findall(body)})
        if keys != list(range(1, len(keys) + 1)):
            return "Variables must be sequential starting at {{1}}"
    variables = data.get("variables") or {}
    if not isinstance(variables, dict):
        return "variables must be an object"
    return None


__all__ = ["BLOCKED_CODE", "CATEGORIES", "ContentStore", "FakeContent"]
