"""``hub scheduler`` (campaign fires and sweeps until a signal) and ``hub runs pause|resume|cancel RUN_ID``."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import click

from hub.cli.app import Context, main, pass_context
from hub.logs import LEVELS, setup_logging

EMBEDDED_REFUSED = (
    "embedded Redis only works in `hub run` (one process); set REDIS_URL (or redis.url) to a real Redis "
    "to run the scheduler separately"
)


@main.command(name="scheduler")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(LEVELS))
@pass_context
def scheduler_command(ctx: Context, log_level: str) -> None:
    """Run the scheduler: campaign fires (exactly once, with catch-up after downtime), due sends, recovery.

    Several may run at once (the database decides what fires). Stops cleanly on SIGINT or SIGTERM.
    """
    settings = ctx.settings
    if settings.redis.is_embedded:
        click.echo(f"error: {EMBEDDED_REFUSED}", err=True)
        sys.exit(2)
    import actors
    from hub.runner.wiring import scheduler_hooks
    from hub.store import db
    from scheduler.main import build_scheduler

    # JSON lines off a terminal; APScheduler's per-sweep INFO lines are quieted there.
    setup_logging(log_level, settings=settings)
    actors.setup(settings)
    db.run_sync(db.connect(settings))
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    scheduler = build_scheduler(settings, **scheduler_hooks(settings))
    scheduler.start()
    click.echo(f"scheduler running: {len(scheduler.catalog.specs)} campaign(s); Ctrl-C to stop", err=True)
    for fire in sorted(scheduler.planned(), key=lambda f: f.fire_time):
        click.echo(f"  {fire.campaign}: next fire {fire.fire_time.isoformat()} ({fire.tz})", err=True)
    stop.wait()
    click.echo("scheduler stopping", err=True)
    scheduler.shutdown(wait=True)


@main.group(name="runs")
def runs_group() -> None:
    """List runs and control one: list, pause, resume, cancel."""


def _control(ctx: Context, action: str, run_id: int) -> None:
    from hub import run_control
    from hub.store import db

    settings = ctx.settings
    db.run_sync(db.connect(settings))
    try:
        if action == "pause":
            run = db.run_sync(run_control.pause(run_id))
            click.echo(f"run {run_id} paused: no new sends are claimed until `hub runs resume {run_id}`")
        elif action == "resume":
            run = db.run_sync(run_control.resume(run_id))
            if settings.redis.is_embedded:
                # `hub run`'s in-process Redis is out of reach: its recovery sweep re-enqueues the owed rows.
                click.echo(f"run {run_id} resumed ({run.state.value}): owed messages are picked up by the next sweep")
                return
            import actors
            from actors.sweep import enqueue_owed

            actors.setup(settings)
            if run_control.fan_out_owed(run):
                actors.fan_out_run.send(run_id)
            queued = enqueue_owed(run_id, settings)
            click.echo(f"run {run_id} resumed ({run.state.value}): {queued} owed message(s) queued again")
        else:
            canceled = db.run_sync(run_control.cancel(run_id))
            click.echo(f"run {run_id} canceled: {canceled} unsent message(s) canceled")
    except run_control.RunControlError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@runs_group.command(name="pause")
@click.argument("run_id", type=int)
@pass_context
def pause_command(ctx: Context, run_id: int) -> None:
    """Pause RUN_ID: workers stop claiming its messages within a second."""
    _control(ctx, "pause", run_id)


@runs_group.command(name="resume")
@click.argument("run_id", type=int)
@pass_context
def resume_command(ctx: Context, run_id: int) -> None:
    """Resume RUN_ID where it stopped: nothing sent twice, nothing skipped."""
    _control(ctx, "resume", run_id)


@runs_group.command(name="cancel")
@click.argument("run_id", type=int)
@pass_context
def cancel_command(ctx: Context, run_id: int) -> None:
    """Cancel RUN_ID: every message not yet handed to Twilio ends canceled."""
    _control(ctx, "cancel", run_id)
