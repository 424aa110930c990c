"""``/ui/campaigns``: each campaign's schedule, next fire, last runs and ``hub check`` problems; a preview of its
first rendered messages; start a run (the API's own checks and run creation)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from hub.api.campaigns import campaign_read, create_campaign_run, lookup_campaign, sendable_campaign
from hub.api.enqueue import Enqueuer
from hub.api.errors import ApiError, Unprocessable, describe
from hub.api.render import campaign_preview
from hub.campaigns.loader import load_campaigns
from hub.campaigns.spec import CampaignSpec
from hub.config import Settings
from hub.errors import CampaignError
from hub.store import queries
from hub.ui.views import run_view

__all__ = ["LAST_RUNS", "PREVIEW_SIZE", "CampaignPages"]

#: Messages rendered in a campaign's preview.
PREVIEW_SIZE = 20
#: Runs listed per campaign.
LAST_RUNS = 5


def _problems(spec: CampaignSpec, settings: Settings) -> list[str]:
    """What ``hub check`` says about a campaign that loaded (template variables, CSV columns)."""
    from hub.cli.check import check_campaign

    return [str(problem) for problem in check_campaign(spec, settings)]


async def _campaigns(settings: Settings) -> tuple[list[dict[str, Any]], list[str]]:
    specs, errors = await anyio.to_thread.run_sync(load_campaigns, settings)
    now = datetime.now(UTC)
    items: list[dict[str, Any]] = []
    for spec in specs:
        runs = await queries.list_runs(campaign=spec.name, limit=LAST_RUNS)
        views = [run_view(progress) for progress in await queries.runs_progress(runs)]
        items.append(
            {
                "c": campaign_read(spec, settings, now, []),
                "runs": views,
                "problems": await anyio.to_thread.run_sync(_problems, spec, settings),
            }
        )
    return items, [str(error) for error in errors]


class StartForm(msgspec.Struct):
    """The "start a run" form: now, or at a time with its offset."""

    send_at: str = ""


class CampaignPages(Controller):
    path = "/campaigns"

    @get("/", name="ui-campaigns")
    async def campaigns(self, settings: NamedDependency[Settings]) -> Template:
        items, problems = await _campaigns(settings)
        context = {"page": "campaigns", "campaigns": items, "problems": problems}
        return Template(template_name="campaigns.html", context=context)

    @get("/{name:str}/preview", name="ui-campaign-preview")
    async def preview(self, name: FromPath[str], settings: NamedDependency[Settings]) -> Template:
        """The first rendered messages, as the campaign page loads them when a preview is opened."""
        error = None
        items: list[Any] = []
        try:
            items = await campaign_preview(settings, lookup_campaign(settings, name).name, PREVIEW_SIZE)
        except (CampaignError, ApiError) as exc:  # e.g. a journey has no single message to preview
            error = describe(exc)[1].detail
        return Template(template_name="_preview.html", context={"items": items, "error": error})

    @post("/{name:str}/runs", name="ui-campaign-start", status_code=303)
    async def start(
        self,
        name: FromPath[str],
        settings: NamedDependency[Settings],
        enqueuer: NamedDependency[Enqueuer],
        data: Annotated[StartForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        send_at = _send_at(data.send_at)
        spec = await sendable_campaign(settings, name)
        run, after = await create_campaign_run(spec, send_at, enqueuer)
        if after is not None:
            await after()
        return Redirect(path=f"/ui/runs/{run.id}", status_code=303)


def _send_at(raw: str) -> datetime | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Unprocessable(f"send_at: expected a time like 2026-12-01T09:00+01:00, got {raw!r}") from None
    # A browser's datetime-local field has no offset: it is the operator's wall clock, taken as UTC and said so.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
