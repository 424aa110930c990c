"""``hub send CAMPAIGN [--at TIME]``: start a run of a campaign now, or store it for later."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click

from hub.cli.app import Context, main, pass_context
from hub.cli.templates import refuse_unsendable
from hub.errors import CampaignError
from hub.status import RunState


def parse_at(text: str, default_tz: str) -> datetime:
    """``--at`` as an aware UTC instant; a time without an offset is read in ``default_tz`` (pure).

    Raises:
        click.BadParameter: not an ISO 8601 date-time.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"expected an ISO 8601 time such as 2026-12-01T09:00, got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(default_tz))
    return moment.astimezone(UTC)


@main.command()
@click.argument("campaign")
@click.option("--at", "at", metavar="TIME", help="Start at this ISO 8601 time (default zone: `timezone`).")
@pass_context
def send(ctx: Context, campaign: str, at: str | None) -> None:
    """Start a run of CAMPAIGN now, or at TIME (the scheduler starts it when due)."""
    from hub.budget import expires_at
    from hub.campaigns.loader import find_campaign
    from hub.journeys.check import compile_campaign
    from hub.store import db, queries

    settings = ctx.settings
    try:
        spec = find_campaign(settings, campaign)
        # A template that does not compile would reject every recipient: refuse the run, as the API does (422).
        compile_campaign(spec, settings)
    except CampaignError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    now = datetime.now(UTC)
    when = parse_at(at, settings.timezone) if at else now
    # Another process cannot reach `hub run`'s in-process Redis: leave the start to its scheduler.
    later = when > now or settings.redis.is_embedded
    tz = (spec.schedule.timezone if spec.schedule else None) or settings.timezone
    meta = {"source": str(spec.source)}
    if spec.rate_limit is not None:
        meta["rate_limit"] = {"per_second": spec.rate_limit.per_second}  # type: ignore[assignment]
    db.run_sync(db.connect(settings))
    for _, message in spec.messages():
        refuse_unsendable(message.content_sid)  # exit 1: rejected, paused or disabled template
    run, _ = db.run_sync(
        queries.create_run(
            campaign=spec.name,
            kind="campaign",
            trigger="cli",
            state=RunState.SCHEDULED if later else RunState.RUNNING,
            scheduled_at=when,
            expires_at=expires_at(when, spec.expires_after, spec.valid_until, tz=tz),
            meta=meta,
        )
    )
    if later:
        click.echo(f"run {run.id} of {spec.name} scheduled for {when.isoformat()} (the scheduler starts it)")
        return
    import actors

    actors.setup(settings)
    actors.fan_out_run.send(run.id)
    click.echo(f"run {run.id} of {spec.name} started; follow it with `hub status {run.id}`")
