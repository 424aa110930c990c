"""``/ui/`` (the runs) and ``/ui/runs/{id}`` (one run): progress, funnel, failures, reasons, sends over time;
Pause / Resume / Cancel through the API's own run control."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from hub.api.enqueue import Enqueuer
from hub.api.errors import NotFound
from hub.api.runs import cancel_run, pause_run, progress_or_404, resume_run
from hub.config import Settings
from hub.journeys.progress import step_progress
from hub.status import MessageStatus
from hub.store import breakdown, queries
from hub.ui.login import safe_next
from hub.ui.views import RunView, bucket_seconds, chart_data, funnel, messages_link, run_view, twilio_error_url

__all__ = ["RUNS_SHOWN", "RunPages"]

S = MessageStatus
#: Runs listed on the front page, newest first.
RUNS_SHOWN = 25
#: Rows never sent that are not failures (those are :data:`hub.store.reports.FAILURE_STATUSES`), grouped by why.
UNSENT = (S.SKIPPED, S.CANCELED)


class BackForm(msgspec.Struct):
    """A control button's form: where to go once done."""

    next: str = "/ui/"


async def _runs() -> list[RunView]:
    return [run_view(progress) for progress in await queries.runs_progress(await queries.list_runs(limit=RUNS_SHOWN))]


async def _run_context(run_id: int, settings: Settings) -> dict[str, Any]:
    progress = await progress_or_404(run_id)
    run = progress.run
    view = run_view(progress)
    failures = await queries.run_failures(run_id)
    start = run.started_at or run.created_at
    end = run.finished_at or datetime.now(UTC)
    bucket = bucket_seconds((end - start).total_seconds())
    points = await breakdown.run_timeline(run_id, start=start, bucket_s=bucket)
    return {
        "run": view,
        "record": run,
        "counts": sorted(progress.counts.items(), key=lambda item: -item[1]),
        "funnel": funnel(run_id, progress.counts, await breakdown.replied_count(run_id)),
        "failures": [
            {
                "group": group,
                "url": twilio_error_url(group.error_code),
                "link": messages_link(run=run_id, status=group.status, error_code=group.error_code),
            }
            for group in failures
        ],
        "unsent": await breakdown.reason_groups(run_id, UNSENT) if any(progress.counts.get(s) for s in UNSENT) else [],
        "waiting": await queries.run_waits(run_id, sample=breakdown.SAMPLE) if progress.owed else [],
        "sampled": breakdown.SAMPLE,
        "chart": chart_data(points, start, end, bucket) if points else chart_data(points),
        "bucket_s": bucket,
        "steps": await step_progress(run, settings),
        "link": messages_link,
    }


class RunPages(Controller):
    path = "/"

    @get("/", name="ui-runs")
    async def runs(self) -> Template:
        return Template(template_name="runs.html", context={"runs": await _runs(), "page": "runs"})

    @get("/runs/table", name="ui-runs-table")
    async def runs_table(self) -> Template:
        """The runs table alone: what the front page polls while a run is active."""
        return Template(template_name="_runs_table.html", context={"runs": await _runs()})

    @get("/runs/{run_id:int}", name="ui-run")
    async def run(self, run_id: FromPath[int], settings: NamedDependency[Settings]) -> Template:
        context = await _run_context(run_id, settings)
        return Template(template_name="run.html", context={**context, "page": "runs"})

    @get("/runs/{run_id:int}/live", name="ui-run-live")
    async def run_live(self, run_id: FromPath[int], settings: NamedDependency[Settings]) -> Template:
        """The run's live part (progress, funnel, breakdowns, chart): what its page polls while it is active."""
        return Template(template_name="_run_live.html", context=await _run_context(run_id, settings))

    @post("/runs/{run_id:int}/{action:str}", name="ui-run-action", status_code=303)
    async def act(
        self,
        run_id: FromPath[int],
        action: FromPath[str],
        enqueuer: NamedDependency[Enqueuer],
        data: Annotated[BackForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        """Pause, resume or cancel (the API's own functions), then back to the page the button was on."""
        if action == "pause":
            await pause_run(run_id)
        elif action == "resume":
            await resume_run(run_id, enqueuer)
        elif action == "cancel":
            await cancel_run(run_id)
        else:
            raise NotFound(f"no action {action!r}: pause, resume or cancel")
        return Redirect(path=safe_next(data.next), status_code=303)
