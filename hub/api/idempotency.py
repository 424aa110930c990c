"""Creates in one transaction, with ``Idempotency-Key``: the same key and request replay the first answer.

A create is two stages: ``prepare`` (parse, render: no database writes, outside any transaction) and ``store``
(every write, inside one :func:`hub.store.db.transaction`). With a key, the transaction first claims the key
row (unique), then stores, then records the response in the key row, and commits: a crash leaves nothing
half-created, and two requests with the same key (in any processes) create once. Queueing happens only
after the commit; a lost enqueue leaves owed rows in the ledger, which the sweeper queues again.

Keys are scoped by the caller's API key (a digest of it prefixes the stored key), so two clients choosing
the same key neither collide nor see each other's answers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response

from hub.api.auth import bearer_token
from hub.api.errors import Conflict, Unprocessable
from hub.store import db, queries
from hub.store.records import IdempotencyRecord

__all__ = [
    "HEADER",
    "MAX_KEY_LENGTH",
    "REPLAYED_HEADER",
    "Created",
    "idempotent",
    "request_hash",
    "scoped_key",
]

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
#: Hex digits of the caller's key digest that prefix a stored key (64 bits: collisions are not a concern).
_SCOPE_CHARS = 16

P = TypeVar("P")


class Created(msgspec.Struct, frozen=True):
    """What ``store`` did: the response, and what to do once it is committed.

    Attributes:
        status: HTTP status of the response.
        body: JSON-able response body (stored for replays).
        after_commit: queues the work (sends, fan-out); runs after the commit, never on a replay. Its
            failure is logged, not answered: the rows are owed in the ledger and the sweeper queues them.
    """

    status: int
    body: Any
    after_commit: Callable[[], Awaitable[None]] | None = None


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


def scoped_key(key: str, authorization: str | None) -> str:
    """The stored form of a client's key (pure): a digest of the caller's bearer key, ``:``, the key.

    Callers without a bearer key (loopback, when no API key is configured) share the ``-`` scope.
    """
    token = bearer_token(authorization)
    scope = hashlib.sha256(token.encode()).hexdigest()[:_SCOPE_CHARS] if token else "-"
    return f"{scope}:{key}"


def _response(status: int, body: Any, *, replayed: bool) -> Response[Any]:
    headers = {REPLAYED_HEADER: "true"} if replayed else {}
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _replay(stored: IdempotencyRecord, digest: str) -> Response[Any]:
    if stored.request_hash != digest:
        raise Unprocessable(f"this {HEADER} was already used with a different request", field=HEADER)
    if not stored.response:
        raise Conflict(f"a request with this {HEADER} is still in progress; retry shortly")
    return _response(int(stored.response["status"]), stored.response["body"], replayed=True)


async def _after(created: Created) -> None:
    if created.after_commit is None:
        return
    try:
        await created.after_commit()
    except Exception:
        log.exception("queueing after a committed create failed; the sweeper will queue the owed rows")


async def idempotent(
    request: Request[Any, Any, Any],
    prepare: Callable[[], Awaitable[P]],
    store: Callable[[P], Awaitable[Created]],
) -> Response[Any]:
    """Prepare, then store in one transaction (once per ``Idempotency-Key``), then queue.

    Args:
        request: the request (its ``Idempotency-Key``, ``Authorization``, method, path and body).
        prepare: the database-free part (validation, rendering); not run on a replay.
        store: every write, given what ``prepare`` returned; runs inside the transaction.

    Raises:
        Unprocessable: the key is too long, or it was first used with a different request.
        Conflict: the key's first request never completed (it cannot normally be seen: the claim and the
            answer commit together).
    """
    raw_key = request.headers.get(HEADER)
    if raw_key is None:
        prepared = await prepare()
        async with db.transaction():
            created = await store(prepared)
        await _after(created)
        return _response(created.status, created.body, replayed=False)
    raw_key = raw_key.strip()
    if not raw_key or len(raw_key) > MAX_KEY_LENGTH:
        raise Unprocessable(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters", field=HEADER)
    key = scoped_key(raw_key, request.headers.get("authorization"))
    digest = request_hash(request.method, request.url.path, await request.body())
    stored = await queries.get_idempotent(key)  # fast path for replays: no rendering, no transaction
    if stored is not None:
        return _replay(stored, digest)
    prepared = await prepare()
    async with db.transaction():
        stored = await queries.claim_idempotent(key, digest)
        if stored is None:
            created = await store(prepared)
            await queries.complete_idempotent(key, {"status": created.status, "body": created.body})
    if stored is not None:
        return _replay(stored, digest)
    await _after(created)
    return _response(created.status, created.body, replayed=False)
