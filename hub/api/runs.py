"""``/v1/runs``: progress of a run (counts per state, rate, ETA) and its control (pause, resume, cancel)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Annotated

import anyio.to_thread
import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from hub import run_control
from hub.api.enqueue import Enqueuer
from hub.api.errors import Conflict, NotFound, Unprocessable
from hub.api.journeys import journey_steps
from hub.api.openapi import error_responses
from hub.api.schemas import PathId, RunDetail, RunFailure, RunList, RunRead, RunWait
from hub.config import Settings
from hub.export import csv_header, encode_page
from hub.status import RunState
from hub.store import queries
from hub.store.records import RunProgress, RunRecord

__all__ = [
    "MAX_RUN_PAGE",
    "RunController",
    "cancel_run",
    "parse_states",
    "pause_run",
    "progress_or_404",
    "resume_run",
    "run_read",
]

log = logging.getLogger(__name__)

R = RunState


def run_read(progress: RunProgress) -> RunRead:
    """The SPEC run shape from the store's progress record."""
    run = progress.run
    return RunRead(
        id=run.id,
        campaign=run.campaign,
        state=str(run.state),
        counts=dict(progress.counts),
        total=progress.total,
        rate_per_second=progress.rate_per_second,
        eta_seconds=progress.eta_seconds,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        scheduled_at=run.scheduled_at,
    )


def parse_states(text: str | None) -> list[RunState]:
    """``running,paused`` -> run states; an unknown word is a 422 naming the known ones."""
    if not text:
        return []
    states = []
    for word in text.split(","):
        try:
            states.append(RunState(word.strip().lower()))
        except ValueError:
            known = ", ".join(state.value for state in RunState)
            raise Unprocessable(f"unknown run state {word.strip()!r}; expected one of {known}", field="state") from None
    return states


async def run_detail(progress: RunProgress, settings: Settings) -> RunDetail:
    """A run with its failures grouped by error code and why its owed rows wait."""
    failures = await queries.run_failures(progress.run.id)
    waits = await queries.run_waits(progress.run.id)
    return RunDetail(
        **msgspec.structs.asdict(run_read(progress)),
        failures=[
            RunFailure(
                status=f.status,
                error_code=f.error_code,
                error_message=f.error_message,
                count=f.count,
                sample_to=f.sample_to,
            )
            for f in failures
        ],
        waits=[RunWait(reason=w.label, error_code=w.error_code, count=w.count, next_at=w.next_at) for w in waits],
        steps=await journey_steps(progress.run, settings),
    )


async def _csv_stream(run_id: int) -> AsyncIterator[bytes]:
    yield csv_header()
    async for page in queries.iter_run_messages(run_id):
        yield encode_page(page, "csv")


async def progress_or_404(run_id: int) -> RunProgress:
    progress = await queries.run_progress(run_id)
    if progress is None:
        raise NotFound(f"no run {run_id}")
    return progress


async def _requeue(run: RunRecord, enqueuer: Enqueuer, now: datetime) -> None:
    """Queue what a resumed run owes now: its fan-out if unfinished, and its due pending rows.

    Sends that met the pause found the run held and left their rows pending with no queue message; they are
    queued here (with the run's throttle options) rather than waiting for a sweep. A row whose old queue
    message is still live gets a second one: harmless, the claim lets only one of them send.
    """
    if run_control.fan_out_owed(run):
        await anyio.to_thread.run_sync(enqueuer.enqueue_fan_out, run.id)
    after_id, queued = 0, 0
    while ids := await queries.due_message_ids(now, _REQUEUE_PAGE, after_id=after_id, run_id=run.id):
        await anyio.to_thread.run_sync(lambda: enqueuer.enqueue_sends(ids, run_id=run.id, meta=dict(run.meta)))
        after_id, queued = ids[-1], queued + len(ids)
    log.info("run %r resumed: %d owed messages queued", run.id, queued)


#: Largest page of ``GET /v1/runs``.
MAX_RUN_PAGE = 200
#: Owed rows queued per page on resume.
_REQUEUE_PAGE = 1000


@contextlib.contextmanager
def _answered() -> Iterator[None]:
    """A refused control verb as HTTP: no such run is 404, a state that forbids it 409."""
    try:
        yield
    except run_control.RunNotFound as exc:
        raise NotFound(str(exc)) from None
    except run_control.RunStateConflict as exc:
        raise Conflict(str(exc)) from None


async def pause_run(run_id: int) -> RunProgress:
    """Pause a run (the API's and the dashboard's one way); 404 if it does not exist, 409 if its state forbids it."""
    with _answered():
        await run_control.pause(run_id)
    return await progress_or_404(run_id)


async def resume_run(run_id: int, enqueuer: Enqueuer) -> RunProgress:
    """Resume a paused run and queue what it owes now; 404 / 409 as :func:`pause_run`."""
    now = datetime.now(UTC)
    with _answered():
        run = await run_control.resume(run_id, now=now)
    if run.state == R.RUNNING:
        await _requeue(run, enqueuer, now)
    return await progress_or_404(run_id)


async def cancel_run(run_id: int) -> RunProgress:
    """Cancel every message of a run not yet handed to Twilio; 404 / 409 as :func:`pause_run`."""
    with _answered():
        canceled = await run_control.cancel(run_id)
    log.info("run %r canceled: %d messages will not be sent", run_id, canceled)
    return await progress_or_404(run_id)


class RunController(Controller):
    """One run at a time; the state changes are compare-and-set in the store, so racing calls cannot both win."""

    path = "/runs"
    tags = ["runs"]

    @get("/", operation_id="list_runs", summary="Runs, newest first, by campaign and state (cursor-paginated)")
    async def list_runs(
        self,
        campaign: FromQuery[str | None] = None,
        # `state` is a reserved parameter name in Litestar: the query key is given explicitly.
        run_state: Annotated[
            str | None, QueryParameter(name="state", description="a run state, or several separated by commas")
        ] = None,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_RUN_PAGE)] = 50,
    ) -> RunList:
        states = parse_states(run_state)
        try:
            runs, next_cursor = await queries.runs_page(campaign=campaign, states=states, cursor=cursor, limit=limit)
        except ValueError as exc:  # the store's word for a cursor it did not issue
            raise Unprocessable(f"invalid cursor: {exc}", field="cursor") from None
        items = [run_read(progress) for progress in await queries.runs_progress(runs)]
        return RunList(items=items, next_cursor=next_cursor)

    @get(
        "/{run_id:int}",
        operation_id="get_run",
        summary="A run: counts per state, rate, ETA, failures by error code, why owed rows wait",
    )
    async def get_run(self, run_id: PathId, settings: NamedDependency[Settings]) -> RunDetail:
        return await run_detail(await progress_or_404(run_id), settings)

    @get(
        "/{run_id:int}/messages.csv",
        operation_id="export_run_messages",
        summary="Every message of a run as CSV, streamed (one row per recipient, by phone)",
        media_type="text/csv; charset=utf-8",
    )
    async def export_csv(self, run_id: PathId) -> Stream:
        if await queries.get_run(run_id) is None:
            raise NotFound(f"no run {run_id}")
        disposition = f'attachment; filename="run-{run_id}-messages.csv"'
        return Stream(_csv_stream(run_id), headers={"content-disposition": disposition})

    @post(
        "/{run_id:int}/pause",
        operation_id="pause_run",
        summary="Pause a run",
        status_code=200,
        responses=error_responses(409),
    )
    async def pause(self, run_id: PathId) -> RunRead:
        return run_read(await pause_run(run_id))

    @post(
        "/{run_id:int}/resume",
        operation_id="resume_run",
        summary="Resume a paused run",
        status_code=200,
        responses=error_responses(409),
    )
    async def resume(self, run_id: PathId, enqueuer: NamedDependency[Enqueuer]) -> RunRead:
        return run_read(await resume_run(run_id, enqueuer))

    @post(
        "/{run_id:int}/cancel",
        operation_id="cancel_run",
        summary="Cancel every message not yet handed to Twilio",
        status_code=200,
        responses=error_responses(409),
    )
    async def cancel(self, run_id: PathId) -> RunRead:
        return run_read(await cancel_run(run_id))
