"""``hub status [RUN_ID|CAMPAIGN]``: progress of runs (counts per state, send rate, ETA); live on a terminal."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from hub.cli.app import Context, connect_existing, main, pass_context
from hub.config import Settings
from hub.journeys.progress import describe_steps, step_progress
from hub.status import MessageStatus, RunState
from hub.store.records import RunProgress
from hub.store.reports import FailureGroup, WaitGroup

if TYPE_CHECKING:
    from rich.console import Console

S = MessageStatus
#: Progress bars of the live view: label -> statuses that count as having reached it.
MILESTONES: dict[str, frozenset[MessageStatus]] = {
    "handed to Twilio": frozenset({S.ACCEPTED, S.SCHEDULED, S.QUEUED, S.SENT, S.DELIVERED, S.READ, S.UNDELIVERED}),
    "delivered": frozenset({S.DELIVERED, S.READ}),
    "read": frozenset({S.READ}),
    "failed": frozenset({S.FAILED, S.UNDELIVERED, S.REJECTED, S.UNKNOWN, S.EXPIRED}),
}
_ORDER = [s.value for s in MessageStatus]
_DONE_STATES = {RunState.FINISHED, RunState.CANCELED, RunState.MISSED}


def milestone_counts(progress: RunProgress) -> dict[str, int]:
    """How many messages reached each milestone of :data:`MILESTONES` (pure)."""
    return {
        label: sum(n for status, n in progress.counts.items() if status in {s.value for s in statuses})
        for label, statuses in MILESTONES.items()
    }


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def describe(progress: RunProgress) -> list[str]:
    """The plain-text report of one run (pure): a header, the counts per status, rate and ETA."""
    run = progress.run
    name = run.campaign or f"{run.kind} send"
    header = f"run {run.id}  {name}  {run.state}  total {progress.total}"
    counts = "  ".join(f"{status} {progress.counts[status]}" for status in _ORDER if progress.counts.get(status))
    tail = f"rate {progress.rate_per_second:.1f}/s (last {progress.window_s:.0f} s)  owed {progress.owed}"
    tail += f"  eta {_eta(progress.eta_seconds)}"
    return [header, f"  {counts or 'no messages yet'}", f"  {tail}"]


def describe_details(failures: list[FailureGroup], waits: list[WaitGroup], now: datetime) -> list[str]:
    """Failures grouped by error code (Twilio's message, count, a sample number) and why owed rows wait (pure)."""
    lines = []
    if failures:
        lines.append("  failures:")
        for group in failures:
            code = f" {group.error_code}" if group.error_code is not None else ""
            lines.append(
                f"    {group.count} {group.status}{code}: {group.error_message or '-'} (e.g. {group.sample_to})"
            )
    if waits:
        lines.append("  waiting:")
        for wait in waits:
            when = ""
            if wait.next_at is not None:
                when = (
                    f" (next at {wait.next_at:%Y-%m-%d %H:%M:%S} UTC, in {_eta((wait.next_at - now).total_seconds())})"
                )
            lines.append(f"    {wait.count} {wait.label}{when}")
    return lines


def budget_line(cap: int, used: int, next_slot_at: datetime | None, now: datetime) -> str:
    """The daily tier budget line (pure): how much of it the last 24 h used, and when a slot frees if none is left."""
    head = f"tier budget: {used}/{cap} new recipients in the last 24 h"
    if next_slot_at is None:
        return head
    wait = _eta((next_slot_at - now).total_seconds())
    return f"{head}; exhausted: new recipients wait until {next_slot_at:%Y-%m-%d %H:%M:%S} UTC (in {wait})"


def _budget(settings: Settings) -> str | None:
    """The budget line from the workers' Redis, or None when no tier is set (or Redis is in-process)."""
    cap = settings.rate_limits.daily_unique_recipients
    if cap is None or settings.redis.is_embedded:
        return None
    import redis

    from hub.tier_budget import budget_key, budget_usage

    now = datetime.now(UTC)
    try:
        client = redis.Redis.from_url(settings.redis.url, socket_timeout=2)
        used, next_slot = budget_usage(client, cap=cap, key=budget_key(settings.redis.namespace), now=now)
    except redis.RedisError as exc:
        return f"tier budget: {cap} new recipients per 24 h; usage unknown (Redis: {type(exc).__name__})"
    return budget_line(cap, used, next_slot, now)


def _load(target: str | None) -> list[RunProgress]:
    from hub.store import db, queries

    if target is not None and target.isdigit():
        run_ids = [int(target)]
    else:
        runs = db.run_sync(queries.list_runs(campaign=target, limit=1 if target else 10))
        run_ids = [run.id for run in runs]
    found = [db.run_sync(queries.run_progress(run_id)) for run_id in run_ids]
    return [p for p in found if p is not None]


def _steps(progress: RunProgress, settings: Settings) -> list[str]:
    """A journey run's steps with their counts; [] for a one-message run."""
    from hub.store import db

    return describe_steps(db.run_sync(step_progress(progress.run, settings)))


def _details(progress: RunProgress) -> list[str]:
    from hub.store import db, queries

    failures = db.run_sync(queries.run_failures(progress.run.id))
    waits = db.run_sync(queries.run_waits(progress.run.id))
    return describe_details(failures, waits, datetime.now(UTC))


@main.command()
@click.argument("target", required=False, metavar="[RUN_ID|CAMPAIGN]")
@click.option("--watch", "-w", is_flag=True, help="Keep refreshing until the run finishes.")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between refreshes.")
@pass_context
def status(ctx: Context, target: str | None, watch: bool, interval: float) -> None:
    """Progress of runs: the latest ten, one run by id, or the latest run of a campaign.

    For one run it also lists its failures grouped by error code (Twilio's message, count, a sample number) and why
    its owed messages wait (send window, per-recipient cap, tier budget, a retry). A paused run shows no ETA.
    """

    connect_existing(ctx.settings)
    progress = _load(target)
    if not progress:
        click.echo(f"no run found for {target!r}" if target else "no runs yet", err=bool(target))
        sys.exit(1 if target else 0)
    if sys.stdout.isatty() and (watch or len(progress) == 1):
        _live(ctx.settings, target, watch, interval)
        return
    while True:
        for item in progress:
            click.echo("\n".join(describe(item)))
            for line in _steps(item, ctx.settings):
                click.echo(line)
            if target is not None:  # one run asked for: why it fails and why it waits
                for line in _details(item):
                    click.echo(line)
        budget = _budget(ctx.settings)
        if budget is not None:
            click.echo(budget)
        if not watch or all(p.run.state in _DONE_STATES for p in progress):
            return
        time.sleep(interval)
        progress = _load(target)


def _live(
    settings: Settings, target: str | None, watch: bool, interval: float, *, console: Console | None = None
) -> None:
    """The live view: per run, a bar per milestone of :data:`MILESTONES` over the plain report's lines.

    Args:
        console: where it is drawn; the terminal by default (tests pass a recording one).
    """
    from rich.console import Group
    from rich.live import Live
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.text import Text

    def render() -> tuple[Group, bool]:
        parts = []
        items = _load(target)
        for item in items:
            bars = Progress(TextColumn("{task.description:>18}"), BarColumn(), MofNCompleteColumn())
            for label, count in milestone_counts(item).items():
                bars.add_task(label, total=max(item.total, 1), completed=count)
            lines = describe(item)
            parts += [Text(lines[0], style="bold"), bars.get_renderable(), Text(lines[1]), Text(lines[2])]
            if target is not None:
                parts += [Text(line) for line in _details(item)]
        budget = _budget(settings)
        if budget is not None:
            parts.append(Text(budget, style="yellow" if "exhausted" in budget else ""))
        done = all(p.run.state in _DONE_STATES for p in items)
        return Group(*parts), done

    view, done = render()
    with Live(view, refresh_per_second=4, console=console) as live:
        while watch and not done:
            time.sleep(interval)
            view, done = render()
            live.update(view)
