"""``POST /v1/events`` (enter journeys, reach waiting entries) and ``GET /v1/entries[/{id}]`` (a recipient's path)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from hub.api.enqueue import Enqueuer
from hub.api.errors import NotFound, Unprocessable
from hub.api.idempotency import Created, idempotent
from hub.api.params import id_cursor, phone_param
from hub.api.schemas import EntryList, EntryOut, EventCreate, PathId, PathStep, QueryId, StepRead
from hub.campaigns.loader import load_campaigns
from hub.campaigns.steps import check_event
from hub.config import Settings
from hub.journeys.events import EventPlan, EventResult, keys_read_contact, plan_event, store_event
from hub.journeys.progress import step_progress
from hub.store import journeys, queries
from hub.store.journeys import EntryRead
from hub.store.records import RunRecord

__all__ = ["EntryController", "EventController", "entry_out", "journey_steps"]

#: Largest page of entries.
MAX_ENTRIES = 500


def entry_out(entry: EntryRead) -> EntryOut:
    """The API shape of an entry and its path (pure)."""
    fields = msgspec.structs.asdict(entry)
    fields["path"] = [PathStep(step=p.step, at=p.at, outcome=p.outcome, detail=p.detail) for p in entry.path]
    return EntryOut(**fields)


async def journey_steps(run: RunRecord, settings: Settings) -> list[StepRead]:
    """A journey run's steps in order, each with its counts; [] for a run that is not a journey's."""
    return [StepRead(id=s.id, kind=s.kind, counts=s.counts) for s in await step_progress(run, settings)]


class EventController(Controller):
    path = "/events"
    tags = ["journeys"]

    @post(
        "/",
        operation_id="post_event",
        summary="An event: enters journeys that start on it, reaches waiting entries",
        status_code=202,
    )
    async def post_event(
        self,
        data: JSONBody[EventCreate],
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        enqueuer: NamedDependency[Enqueuer],
    ) -> Response[EventResult]:
        try:
            check_event(data.type, ())
        except ValueError as exc:
            raise Unprocessable(str(exc), field="type") from None
        to = phone_param(data.to, settings, "to")

        async def prepare() -> EventPlan:
            specs, _ = await anyio.to_thread.run_sync(load_campaigns, settings)
            contact = (await queries.contact_attributes([to])).get(to) if keys_read_contact(specs, data.type) else None
            return plan_event(
                specs, settings, type_=data.type, to=to, data=data.data, key=data.key, now=_now(), contact=contact
            )

        async def store(plan: EventPlan) -> Created:
            result = await store_event(plan, _now())

            async def wake() -> None:
                # New entries take their first steps and waiting entries get the event now, not at the sweep's next
                # tick (which still does it when this message is lost). The broker client is synchronous.
                await anyio.to_thread.run_sync(enqueuer.enqueue_advance)

            woken = wake if result.entered or result.delivered else None
            return Created(202, msgspec.to_builtins(result), woken)

        return await idempotent(request, prepare, store)


class EntryController(Controller):
    path = "/entries"
    tags = ["journeys"]

    @get("/{entry_id:int}", operation_id="get_entry", summary="One journey entry, with the path it took")
    async def get_entry(self, entry_id: PathId) -> EntryOut:
        found = await journeys.read_entries(entry_id=entry_id, limit=1)
        if not found:
            raise NotFound(f"no entry {entry_id}")
        return entry_out(found[0])

    @get("/", operation_id="list_entries", summary="Journey entries of a run and/or a recipient, with their paths")
    async def list_entries(
        self,
        settings: NamedDependency[Settings],
        run_id: QueryId = None,
        to: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 100,
    ) -> EntryList:
        if run_id is None and to is None:
            raise Unprocessable("expected run_id or to (or both)", field="run_id")
        after = id_cursor(cursor)
        size = max(1, min(limit, MAX_ENTRIES))
        phone = phone_param(to, settings, "to") if to is not None else None
        found = await journeys.read_entries(run_id=run_id, to=phone, after_id=after, limit=size)
        next_cursor = str(found[-1].id) if len(found) == size else None
        return EntryList(items=[entry_out(entry) for entry in found], next_cursor=next_cursor)


def _now() -> datetime:
    return datetime.now(UTC)
