"""``/v1/campaigns``: the campaigns in the repository, their next fire time and last runs; start a run."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from hub.api.enqueue import Enqueuer
from hub.api.errors import NotFound, Unprocessable
from hub.api.idempotency import Created, idempotent
from hub.api.openapi import error_responses
from hub.api.plan import due_time
from hub.api.runs import progress_or_404, run_read
from hub.api.schemas import RUN_EXAMPLES, CampaignList, CampaignRead, RunCreate, RunRead, json_body
from hub.api.templates import ensure_sendable
from hub.campaigns.loader import load_campaigns
from hub.campaigns.spec import CampaignSpec
from hub.config import Settings
from hub.journeys.check import compile_campaign
from hub.planning import next_fire_time
from hub.status import RunState
from hub.store import queries
from hub.store.records import RunRecord

__all__ = [
    "LAST_RUNS",
    "CampaignController",
    "campaign_read",
    "create_campaign_run",
    "lookup_campaign",
    "sendable_campaign",
]

#: Runs listed per campaign, newest first.
LAST_RUNS = 5
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


def lookup_campaign(settings: Settings, name: str) -> CampaignSpec:
    """A campaign by name, from the repository files (never a path: the name comes from the network).

    Raises:
        NotFound: no valid campaign file has that name.
        CampaignError: the file named after it is invalid (422, with the field).
    """
    if not _NAME.fullmatch(name):
        raise NotFound(f"no campaign named {name!r}")
    specs, errors = load_campaigns(settings)
    for spec in specs:
        if spec.name == name:
            return spec
    for error in errors:
        if error.file.rsplit("/", 1)[-1].rsplit(".", 1)[0] == name:
            raise error
    raise NotFound(f"no campaign named {name!r}")


def _display(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _kind(spec: CampaignSpec) -> str:
    message = spec.message
    if message is None:
        return "journey"
    return "template" if message.template else "body" if message.body is not None else "content_sid"


def campaign_read(spec: CampaignSpec, settings: Settings, now: datetime, last_runs: list[RunRead]) -> CampaignRead:
    """The API view of a campaign (pure): what it sends, when it next fires (UTC), and its last runs."""
    schedule = msgspec.to_builtins(spec.schedule) if spec.schedule is not None else None
    fire = None
    if spec.schedule is not None and spec.enabled:
        fire = next_fire_time(spec.schedule, settings.timezone, now)
    return CampaignRead(
        name=spec.name,
        description=spec.description,
        enabled=spec.enabled,
        source=_display(spec.source, settings.root),
        kind=_kind(spec),
        schedule=schedule,
        next_fire_time=fire,
        last_runs=last_runs,
    )


async def _last_runs(name: str) -> list[RunRead]:
    runs = await queries.list_runs(campaign=name, limit=LAST_RUNS)
    out: list[RunRead] = []
    for run in runs:
        out.append(run_read(await progress_or_404(run.id)))
    return out


class CampaignController(Controller):
    """Campaigns are read from the repository on each call: the files are the source of truth."""

    path = "/campaigns"
    tags = ["campaigns"]

    @get("/", operation_id="list_campaigns", summary="Campaigns in the repository")
    async def list_campaigns(self, settings: NamedDependency[Settings]) -> CampaignList:
        specs, errors = load_campaigns(settings)
        now = datetime.now(UTC)
        items = [campaign_read(spec, settings, now, await _last_runs(spec.name)) for spec in specs]
        return CampaignList(items=items, problems=[str(error) for error in errors])

    @get("/{name:str}", operation_id="get_campaign", summary="One campaign, its next fire time and last runs")
    async def get_campaign(self, name: FromPath[str], settings: NamedDependency[Settings]) -> CampaignRead:
        spec = lookup_campaign(settings, name)
        return campaign_read(spec, settings, datetime.now(UTC), await _last_runs(spec.name))

    @post(
        "/{name:str}/runs",
        operation_id="start_campaign_run",
        summary="Start a run now or at send_at",
        status_code=202,
        responses=error_responses(409),
    )
    async def start_run(
        self,
        name: FromPath[str],
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        enqueuer: NamedDependency[Enqueuer],
        data: Annotated[RunCreate | None, json_body(*RUN_EXAMPLES)] = None,
    ) -> Response[RunRead]:
        body = data or RunCreate()

        async def prepare() -> CampaignSpec:
            return await sendable_campaign(settings, name)

        async def store(spec: CampaignSpec) -> Created:
            run, after = await create_campaign_run(spec, due_time(body.send_at, datetime.now(UTC)), enqueuer)
            return Created(202, msgspec.to_builtins(run_read(await progress_or_404(run.id))), after)

        return await idempotent(request, prepare, store)


async def sendable_campaign(settings: Settings, name: str) -> CampaignSpec:
    """The campaign ``name`` if a run of it may start: enabled, its template approved, its message compiling.

    Raises:
        NotFound, Unprocessable, CampaignError: what is wrong, for a 404 / 422; 409 for a blocked template.
    """
    spec = lookup_campaign(settings, name)
    if not spec.enabled:
        raise Unprocessable(f"campaign {name!r} is disabled (enabled: false)", field="enabled")
    for _, message in spec.messages():
        await ensure_sendable(message.content_sid, settings)  # 409: rejected, paused or disabled template
    # A template that does not compile would reject every recipient: refuse the run (422) instead.
    compile_campaign(spec, settings)
    return spec


async def create_campaign_run(
    spec: CampaignSpec, send_at: datetime | None, enqueuer: Enqueuer
) -> tuple[RunRecord, Callable[[], Awaitable[None]] | None]:
    """Create a run of ``spec`` now (running) or at ``send_at`` (scheduled).

    Returns:
        ``(run, after)``: ``after``, when set, queues the fan-out; call it once the run is committed.
    """
    now = datetime.now(UTC)
    later = send_at is not None and _aware(send_at) > now
    run, _ = await queries.create_run(
        campaign=spec.name,
        kind="campaign",
        trigger="api",
        state=RunState.SCHEDULED if later else RunState.RUNNING,
        scheduled_at=_aware(send_at) if later and send_at else None,
    )
    if later:
        return run, None

    async def after() -> None:
        await anyio.to_thread.run_sync(enqueuer.enqueue_fan_out, run.id)

    return run, after


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise Unprocessable("send_at needs a time zone offset (e.g. 2026-12-01T09:00:00Z)", field="send_at")
    return moment.astimezone(UTC)
