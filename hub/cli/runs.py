"""``hub runs list [--campaign NAME] [--state STATE]...``: runs, newest first, with their progress."""

from __future__ import annotations

import click

from hub.cli.app import Context, connect_existing, pass_context
from hub.cli.scheduler import runs_group
from hub.cli.status import milestone_counts
from hub.status import RunState
from hub.store.records import RunProgress

__all__ = ["run_line"]

_HEADER = f"{'RUN':>8}  {'CAMPAIGN':<24} {'STATE':<10} {'TOTAL':>9} {'TO TWILIO':>9} {'FAILED':>7}  CREATED (UTC)"


def run_line(progress: RunProgress) -> str:
    """One run as a line of ``hub runs list`` (pure)."""
    run = progress.run
    reached = milestone_counts(progress)
    name = run.campaign or f"({run.kind} send)"
    return (
        f"{run.id:>8}  {name[:24]:<24} {run.state.value:<10} {progress.total:>9} {reached['handed to Twilio']:>9} "
        f"{reached['failed']:>7}  {run.created_at:%Y-%m-%d %H:%M:%S}"
    )


@runs_group.command(name="list")
@click.option("--campaign", metavar="NAME", help="Only runs of this campaign.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([state.value for state in RunState]),
    help="Only runs in this state (repeat for several).",
)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Runs per page.")
@click.option("--cursor", metavar="CURSOR", help="Continue after a previous page (printed at its end).")
@pass_context
def list_command(ctx: Context, campaign: str | None, states: tuple[str, ...], limit: int, cursor: str | None) -> None:
    """List runs, newest first: campaign, state, total, handed to Twilio, failed, created."""
    from hub.store import db, queries

    connect_existing(ctx.settings)
    try:
        runs, next_cursor = db.run_sync(
            queries.runs_page(campaign=campaign, states=[RunState(s) for s in states], cursor=cursor, limit=limit)
        )
    except ValueError as exc:  # a cursor the store did not issue
        raise click.BadParameter(str(exc), param_hint="--cursor") from None
    if not runs:
        click.echo("no runs" + (" match" if campaign or states or cursor else " yet"))
        return
    click.echo(_HEADER)
    for progress in db.run_sync(queries.runs_progress(runs)):
        click.echo(run_line(progress))
    if next_cursor is not None:
        click.echo(f"more: hub runs list --cursor {next_cursor}" + ("" if limit == 20 else f" --limit {limit}"))
