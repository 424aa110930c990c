"""``/ui/messages``: search by phone, sid, status, error code and run; one message with its body and history."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from hub.api.errors import NotFound, Unprocessable
from hub.config import Settings
from hub.errors import InvalidPhoneError
from hub.phones import normalize_phone
from hub.status import MessageStatus
from hub.store import queries
from hub.ui.views import messages_link, twilio_error_url

__all__ = ["PAGE_SIZE", "MessagePages", "SearchFilters"]

#: Messages per page of results.
PAGE_SIZE = 50
#: The reply filter's values (the funnel links with ``true``; the API reads the same words).
_REPLIED = {"true": True, "false": False}


class SearchFilters:
    """The search form as typed filters, with one problem per field the operator got wrong."""

    def __init__(
        self,
        settings: Settings,
        *,
        phone: str | None,
        sid: str | None,
        status: list[str],
        error_code: str | None,
        run: str | None,
        replied: str | None = None,
    ) -> None:
        replied_raw = (replied or "").strip().lower()
        self.form: dict[str, str | list[str]] = {
            "phone": phone or "",
            "sid": sid or "",
            "status": status,
            "error_code": error_code or "",
            "run": run or "",
            "replied": replied_raw,
        }
        self.problems: list[str] = []
        self.phone = self._phone(phone, settings)
        self.sid = (sid or "").strip() or None
        self.statuses = self._statuses(status)
        self.error_code = self._int(error_code, "error code")
        self.run = self._int(run, "run")
        self.replied = self._replied(replied_raw)

    def _replied(self, raw: str) -> bool | None:
        if not raw:
            return None
        if raw not in _REPLIED:
            self.problems.append(f"replied: expected true or false, got {raw!r}")
            return None
        if self.run is None:
            self.problems.append("replied: choose a run (replies are matched within a run)")
            return None
        return _REPLIED[raw]

    def _phone(self, raw: str | None, settings: Settings) -> str | None:
        if not raw or not raw.strip():
            return None
        try:
            return normalize_phone(raw.strip(), settings.phones.default_region)
        except InvalidPhoneError as exc:
            self.problems.append(f"phone: {exc}")
            return None

    def _statuses(self, raw: list[str]) -> list[MessageStatus]:
        out: list[MessageStatus] = []
        for value in raw:
            if not value:
                continue
            try:
                out.append(MessageStatus(value.strip().lower()))
            except ValueError:
                self.problems.append(f"status: unknown status {value!r}")
        return out

    def _int(self, raw: str | None, name: str) -> int | None:
        if not raw or not raw.strip():
            return None
        if not raw.strip().isdigit():
            self.problems.append(f"{name}: expected a whole number, got {raw!r}")
            return None
        return int(raw.strip())

    @property
    def empty(self) -> bool:
        given = (self.error_code, self.run, self.replied)
        return not (self.phone or self.sid or self.statuses or any(value is not None for value in given))


class MessagePages(Controller):
    path = "/messages"

    @get("/", name="ui-messages")
    async def search(
        self,
        settings: NamedDependency[Settings],
        phone: FromQuery[str | None] = None,
        sid: FromQuery[str | None] = None,
        status: FromQuery[list[str] | None] = None,
        error_code: FromQuery[str | None] = None,
        run: FromQuery[str | None] = None,
        replied: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        filters = SearchFilters(
            settings, phone=phone, sid=sid, status=status or [], error_code=error_code, run=run, replied=replied
        )
        items: list[Any] = []
        next_cursor = None
        if not filters.problems:
            try:
                items, next_cursor = await queries.list_messages(
                    status=filters.statuses or None,
                    to=filters.phone,
                    sid=filters.sid,
                    error_code=filters.error_code,
                    run_id=filters.run,
                    replied=filters.replied,
                    cursor=cursor,
                    limit=PAGE_SIZE,
                )
            except ValueError as exc:
                raise Unprocessable(f"invalid cursor: {exc}", field="cursor") from None
        more = None
        if next_cursor is not None:
            more = messages_link(
                phone=filters.phone,
                sid=filters.sid,
                status=[s.value for s in filters.statuses],
                error_code=filters.error_code,
                run=filters.run,
                replied=str(filters.replied).lower() if filters.replied is not None else None,
                cursor=next_cursor,
            )
        context = {
            "page": "messages",
            "form": filters.form,
            "problems": filters.problems,
            "items": items,
            "more": more,
            "statuses": [s.value for s in MessageStatus],
            "searched": not filters.empty,
        }
        return Template(template_name="messages.html", context=context)

    @get("/{message_id:int}", name="ui-message")
    async def message(self, message_id: FromPath[int]) -> Template:
        record = await queries.get_message(message_id, with_history=True)
        if record is None:
            raise NotFound(f"no message {message_id}")
        context = {"page": "messages", "m": record, "error_url": twilio_error_url(record.error_code)}
        return Template(template_name="message.html", context=context)
