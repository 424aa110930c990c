"""``Idempotency-Key``: the same key and request replay the first answer; the same key with another request is a 422."""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Request, Response

from hub.api.errors import Unprocessable
from hub.store import queries

__all__ = ["HEADER", "MAX_KEY_LENGTH", "REPLAYED_HEADER", "idempotent", "request_hash"]

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200

#: Produces ``(status_code, JSON-able body)`` and does the work (creates runs, enqueues sends).
Create = Callable[[], Awaitable[tuple[int, Any]]]

# One in-flight creation per key in this process, so two identical concurrent requests cannot both create.
_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def request_hash(method: str, path: str, body: bytes) -> str:
    """A digest of what a request asks for (pure): method, path, and the JSON body with keys sorted.

    Key order and whitespace do not change the digest; any value does. A body that is not JSON is hashed as is.
    """
    try:
        canonical = msgspec.json.encode(msgspec.json.decode(body), order="sorted") if body.strip() else b""
    except msgspec.DecodeError:
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _response(status: int, body: Any, *, replayed: bool) -> Response[Any]:
    headers = {REPLAYED_HEADER: "true"} if replayed else {}
    return Response(body, status_code=status, headers=headers, media_type="application/json")


async def idempotent(request: Request[Any, Any, Any], create: Create) -> Response[Any]:
    """Run ``create`` once per ``Idempotency-Key`` (when the request carries one) and remember its answer.

    Raises:
        Unprocessable: the key is too long, or it was first used with a different request.
    """
    key = request.headers.get(HEADER)
    if key is None:
        status, body = await create()
        return _response(status, body, replayed=False)
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Unprocessable(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters", field=HEADER)
    digest = request_hash(request.method, request.url.path, await request.body())
    lock = _locks.get(key)
    if lock is None:
        lock = _locks[key] = asyncio.Lock()
    async with lock:
        stored = await queries.get_idempotent(key)
        if stored is not None:
            if stored.request_hash != digest:
                raise Unprocessable(f"this {HEADER} was already used with a different request", field=HEADER)
            return _response(int(stored.response["status"]), stored.response["body"], replayed=True)
        status, body = await create()
        # Another process may have stored an answer for this key meanwhile; the first one stored wins.
        first = await queries.put_idempotent(key, digest, {"status": status, "body": body})
    if first.request_hash != digest:
        raise Unprocessable(f"this {HEADER} was already used with a different request", field=HEADER)
    return _response(int(first.response["status"]), first.response["body"], replayed=False)
