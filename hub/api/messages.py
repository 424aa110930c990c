"""``GET /v1/messages[/{id}]``: a message's state with its history, and filtered, cursor-paginated lists."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from hub.api.errors import NotFound, Unprocessable
from hub.api.params import phone_param
from hub.api.plan import parse_time
from hub.api.schemas import HistoryEntry, MessageList, MessageRead, PathId, QueryId, QueryTime
from hub.config import Settings
from hub.status import MessageStatus
from hub.store import queries
from hub.store.records import MessageRecord

__all__ = ["MAX_PAGE", "MessageController", "message_read"]

#: Largest page a list returns.
MAX_PAGE = 500


def message_read(record: MessageRecord, *, with_history: bool = False) -> MessageRead:
    """The SPEC message shape from a ledger record (pure)."""
    history = None
    if with_history:
        history = [HistoryEntry(status=e.status, at=e.at, source=e.source) for e in record.history]
    return MessageRead(
        id=record.id,
        to=record.recipient,
        status=str(record.status),
        sid=record.sid,
        error_code=record.error_code,
        error_message=record.error_message,
        run_id=record.run_id,
        campaign=record.campaign,
        body=record.body,
        content_sid=record.content_sid,
        content_variables=record.content_variables,
        media_url=list(record.media_url),
        send_at=record.send_at,
        created_at=record.created_at,
        sent_at=record.sent_at,
        updated_at=record.updated_at,
        history=history,
    )


def _status(value: str | None) -> MessageStatus | None:
    if value is None:
        return None
    try:
        return MessageStatus(value.strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in MessageStatus)
        raise Unprocessable(f"unknown status {value!r}; expected one of {known}", field="status") from None


def _phone(value: str | None, settings: Settings) -> str | None:
    if value is None:
        return None
    if value.startswith(" ") and value.strip().isdigit():
        # ``?to=+1415...`` sent unencoded: the query string's ``+`` arrives as a space.
        value = "+" + value.strip()
    return phone_param(value, settings, "to")


class MessageController(Controller):
    path = "/messages"
    tags = ["messages"]

    @get("/{message_id:int}", operation_id="get_message", summary="One message, with its status history")
    async def get_message(self, message_id: PathId) -> MessageRead:
        record = await queries.get_message(message_id, with_history=True)
        if record is None:
            raise NotFound(f"no message {message_id}")
        return message_read(record, with_history=True)

    @get("/", operation_id="list_messages", summary="Messages, newest first, filtered; cursor-paginated")
    async def list_messages(
        self,
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        status: FromQuery[str | None] = None,
        to: FromQuery[str | None] = None,
        run_id: QueryId = None,
        replied: Annotated[
            bool | None,
            QueryParameter(
                description="With run_id: only rows whose recipient wrote to us at or after the row was sent "
                "(true), or only the others (false); the run page's funnel counts the same replies"
            ),
        ] = None,
        campaign: FromQuery[str | None] = None,
        since: QueryTime = None,
        until: QueryTime = None,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
    ) -> MessageList:
        for name, value, expected in (("run_id", run_id, "a positive integer"), ("replied", replied, "true or false")):
            if value is None and name in request.query_params:
                # Litestar reads ``name=null`` as absent; a filter the client wrote must not be dropped silently.
                raise Unprocessable(f"{name} must be {expected}", field=name)
        if replied is not None and run_id is None:
            raise Unprocessable("replied needs run_id: replies are matched within a run", field="replied")
        try:
            items, next_cursor = await queries.list_messages(
                status=_status(status),
                to=_phone(to, settings),
                run_id=run_id,
                replied=replied,
                campaign=campaign,
                since=parse_time(since, "since") if since is not None else None,
                until=parse_time(until, "until") if until is not None else None,
                cursor=cursor,
                limit=limit,
            )
        except ValueError as exc:  # the store's word for a cursor it did not issue
            raise Unprocessable(f"invalid cursor: {exc}", field="cursor") from None
        return MessageList(items=[message_read(item) for item in items], next_cursor=next_cursor)
