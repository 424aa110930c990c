"""Sends: ``POST /v1/messages`` (one), ``POST /v1/bulk-send`` and the original ``POST /bulk-send`` (many)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from hub.api.enqueue import Enqueuer
from hub.api.errors import Unprocessable
from hub.api.idempotency import Created, idempotent
from hub.api.openapi import error_responses
from hub.api.plan import (
    Planned,
    RawRecipient,
    SendPlan,
    compile_request,
    contacts_for,
    due_time,
    plan_send,
    raw_recipients,
    spec_of,
)
from hub.api.schemas import (
    BULK_EXAMPLES,
    SEND_EXAMPLES,
    BulkSendCreate,
    BulkSendResult,
    LegacyBulkSend,
    MessageAccepted,
    MessageCreate,
    Rejected,
    json_body,
)
from hub.api.templates import ensure_sendable
from hub.campaigns.spec import MessageSpec
from hub.config import Settings
from hub.status import MessageStatus, RunState
from hub.store import queries
from hub.store.records import NewMessage
from hub.templates.guard import text_refusal

__all__ = ["BulkSendController", "LegacyBulkSendController", "SendMessageController", "ledger_rows"]

log = logging.getLogger(__name__)

#: Above this many recipients, planning (parse + render) runs in a worker thread so the event loop keeps serving.
_THREAD_THRESHOLD = 200


def ledger_rows(plan: SendPlan, send_at: datetime | None) -> list[NewMessage]:
    """The rows one request stores (pure): accepted messages owed, rejected recipients recorded as ``rejected``."""
    rows = [
        NewMessage(
            recipient=item.message.to,
            body=item.message.body,
            content_sid=item.message.content_sid,
            content_variables=item.message.content_variables,
            media_url=list(item.message.media_url),
            send_at=send_at,
            meta={"vars": item.vars} if item.vars else {},
        )
        for item in plan.accepted
    ]
    rows.extend(
        NewMessage(recipient=to, status=MessageStatus.REJECTED, error_message=reason) for to, reason in plan.rejected
    )
    # A repeat written exactly as the first is not stored again (one row per recipient); otherwise it is a
    # ``skipped`` row, as in a campaign's audience.
    rows.extend(
        NewMessage(recipient=to, status=MessageStatus.SKIPPED, error_message=reason) for to, reason in plan.skipped
    )
    return rows


async def _plan(spec: MessageSpec, recipients: list[RawRecipient], settings: Settings, strict: bool) -> SendPlan:
    compiled = compile_request(spec, settings)
    contacts = await contacts_for(compiled, (raw.to for raw in recipients), settings)

    def plan() -> SendPlan:
        return plan_send(spec, recipients, settings, strict_numbers=strict, compiled=compiled, contacts=contacts)

    if len(recipients) <= _THREAD_THRESHOLD:
        return plan()
    return await anyio.to_thread.run_sync(plan)


async def _store(plan: SendPlan, send_at: datetime | None, kind: str) -> tuple[int, list[int]]:
    """Create the run and its rows (call inside the request's transaction); the ids of the owed rows."""
    total = len(plan.accepted) + len(plan.rejected) + len(plan.skipped)
    # Scheduled until due: the scheduler starts it then (start_due_runs), when its rows fall due.
    state = RunState.SCHEDULED if send_at is not None else RunState.RUNNING
    run, _ = await queries.create_run(
        campaign=None, kind=kind, trigger="api", state=state, scheduled_at=send_at, total=total
    )
    ids = await queries.insert_messages(run.id, ledger_rows(plan, send_at))
    # Every row of an API run is written here: its fan-out is complete, so the run can finish once nothing is owed.
    await queries.update_checkpoint(run.id, total, total=total, fanned_out=True)
    if send_at is None and not ids:  # nothing to send (all rejected or skipped): settled as it is written
        await queries.finish_if_done(run.id)
    return run.id, ids


def _within_template_limit(plan: SendPlan, body: str | None, *, strict: bool) -> SendPlan:
    """The plan without the recipients whose template text would pass WhatsApp's 1,024 characters (63021):
    rejected with the reason, or (``strict``) a 422."""
    if not body:
        return plan
    accepted: list[Planned] = []
    rejected = list(plan.rejected)
    for planned in plan.accepted:
        reason = text_refusal(body, planned.message.content_variables)
        if reason is None:
            accepted.append(planned)
        elif strict:
            raise Unprocessable(reason, field="content_variables")
        else:
            rejected.append((planned.message.to, reason))
    return SendPlan(accepted=accepted, rejected=rejected)


def _enqueue_later(enqueuer: Enqueuer, run_id: int, ids: list[int], send_at: datetime | None) -> Any:
    """What to queue after the commit: the owed rows when due now (later ones are the due sweep's)."""
    if send_at is not None or not ids:
        return None

    async def enqueue() -> None:
        # The broker client is synchronous (Redis round trips): keep it off the event loop.
        await anyio.to_thread.run_sync(lambda: enqueuer.enqueue_sends(ids, run_id=run_id, meta={}))

    return enqueue


async def _send(
    request: Request[Any, Any, Any],
    settings: Settings,
    enqueuer: Enqueuer,
    spec: MessageSpec,
    recipients: list[RawRecipient],
    send_at: str | None,
    *,
    kind: str,
    strict: bool,
    answer: Callable[[SendPlan, int, list[int]], msgspec.Struct],
) -> Response[Any]:
    """What every send route does with its message and recipients, behind the ``Idempotency-Key``: refuse a
    blocked template, plan (render and check each recipient), store the run and its rows, queue the owed rows
    after the commit.

    Args:
        kind: the run's kind (``single``, ``bulk``).
        strict: an invalid number fails the request (422) instead of being recorded as rejected.
        answer: the response body from the plan, the run id and the ids of the stored rows.
    """
    template = await ensure_sendable(spec.content_sid, settings)  # 409: a template that is not approved
    due = due_time(send_at, datetime.now(UTC))

    async def prepare() -> SendPlan:
        plan = await _plan(spec, recipients, settings, strict=strict)
        return _within_template_limit(plan, template.body if template is not None else None, strict=strict)

    async def store(plan: SendPlan) -> Created:
        run_id, ids = await _store(plan, due, kind)
        body = msgspec.to_builtins(answer(plan, run_id, ids))
        return Created(202, body, _enqueue_later(enqueuer, run_id, ids, due))

    return await idempotent(request, prepare, store)


def _bulk_result(plan: SendPlan, run_id: int, ids: list[int]) -> BulkSendResult:
    rejected = [Rejected(to=to, reason=reason) for to, reason in plan.rejected]
    skipped = [Rejected(to=to, reason=reason) for to, reason in plan.skipped]
    log.info(
        "bulk send: run %r, %d accepted, %d rejected, %d skipped",
        run_id,
        len(plan.accepted),
        len(rejected),
        len(skipped),
    )
    return BulkSendResult(run_id=run_id, accepted=len(plan.accepted), rejected=rejected, skipped=skipped)


def _single_result(plan: SendPlan, run_id: int, ids: list[int]) -> MessageAccepted:
    return MessageAccepted(id=ids[0], status=str(MessageStatus.PENDING))


async def bulk_send(
    data: BulkSendCreate, request: Request[Any, Any, Any], settings: Settings, enqueuer: Enqueuer
) -> Response[Any]:
    """The shared body of ``/v1/bulk-send`` and ``/bulk-send``."""
    if data.message is not None and data.body is not None:
        raise Unprocessable("give `message` or `body`, not both", field="message")
    spec = spec_of(data, body=data.body if data.body is not None else data.message, variables=data.vars)
    recipients = raw_recipients(data.recipients, data.phone_numbers)
    return await _send(
        request, settings, enqueuer, spec, recipients, data.send_at, kind="bulk", strict=False, answer=_bulk_result
    )


class SendMessageController(Controller):
    path = "/messages"
    tags = ["messages"]

    @post(
        "/",
        operation_id="send_message",
        summary="Send one message (now or at send_at)",
        status_code=202,
        responses=error_responses(409),
    )
    async def send_message(
        self,
        data: Annotated[MessageCreate, json_body(*SEND_EXAMPLES)],
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        enqueuer: NamedDependency[Enqueuer],
    ) -> Response[MessageAccepted]:
        spec = spec_of(data, body=data.body, variables={})
        recipients = [RawRecipient(to=data.to, vars=dict(data.vars), field="to")]
        return await _send(
            request,
            settings,
            enqueuer,
            spec,
            recipients,
            data.send_at,
            kind="single",
            strict=True,
            answer=_single_result,
        )


class BulkSendController(Controller):
    path = "/bulk-send"
    tags = ["messages"]

    @post(
        "/",
        operation_id="bulk_send",
        summary="Send one message to many recipients (one run)",
        status_code=202,
        responses=error_responses(409),
    )
    async def bulk(
        self,
        data: Annotated[BulkSendCreate, json_body(*BULK_EXAMPLES)],
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        enqueuer: NamedDependency[Enqueuer],
    ) -> Response[BulkSendResult]:
        return await bulk_send(data, request, settings, enqueuer)


class LegacyBulkSendController(Controller):
    """The original WhatsApp Hub route and payload, kept so its clients work unchanged."""

    path = "/bulk-send"
    tags = ["messages"]

    @post(
        "/",
        operation_id="legacy_bulk_send",
        summary="Original payload: phone_numbers + message",
        status_code=202,
        responses=error_responses(409),
    )
    async def legacy(
        self,
        data: Annotated[LegacyBulkSend, json_body(BULK_EXAMPLES[0])],
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        enqueuer: NamedDependency[Enqueuer],
    ) -> Response[BulkSendResult]:
        modern = BulkSendCreate(phone_numbers=data.phone_numbers, message=data.message)
        return await bulk_send(modern, request, settings, enqueuer)
