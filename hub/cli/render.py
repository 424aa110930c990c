"""``hub render``: the dry run; every recipient's message exactly as it would be sent, nothing written or sent."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

import click
import msgspec

from hub.campaigns.files import project_path
from hub.campaigns.loader import find_campaign
from hub.campaigns.spec import CampaignSpec
from hub.cli.app import Context, main, pass_context
from hub.cli.dry_run import HeldLine, Outcome, RenderLine, dry_run
from hub.cli.journey import parse_assumptions, parse_event_data, render_journey
from hub.cli.ledger_checks import open_ledger
from hub.cli.send import parse_at
from hub.cli.templates import refuse_registry_mismatch
from hub.config import Settings
from hub.errors import CampaignError, InvalidPhoneError
from hub.phones import normalize_phone

#: Show a progress bar from this many recipients on (only when stderr is a terminal and stdout is not).
PROGRESS_FROM = 5_000
_FLUSH_BYTES = 1 << 16


@dataclass
class Tally:
    """What a dry run found, per outcome."""

    rendered: int = 0
    rejected: int = 0
    skipped: int = 0
    render_errors: int = 0
    refused: int = 0

    @property
    def failed(self) -> bool:
        """Duplicates and opted-out contacts are skipped on purpose; invalid numbers, render errors and bodies
        outside the 24 h window would fail a real send."""
        return bool(self.rejected or self.render_errors or self.refused)

    def summary(self) -> str:
        text = (
            f"rendered {self.rendered}, rejected {self.rejected} (invalid numbers), "
            f"skipped {self.skipped} (duplicates, opted out), render errors {self.render_errors}"
        )
        return text + (f", outside the 24 h window {self.refused}" if self.refused else "")


def _count(outcome: Outcome, tally: Tally) -> None:
    if outcome == "ok":
        tally.rendered += 1
    elif outcome == "skipped":
        tally.skipped += 1
    elif outcome == "render_error":
        tally.render_errors += 1
    elif outcome == "refused":
        tally.refused += 1
    else:
        tally.rejected += 1


def write_json(lines: Iterable[tuple[Outcome, RenderLine]], out: IO[bytes], tally: Tally) -> None:
    """Write one JSON object per line, buffered (a million lines must not mean a million writes)."""
    encoder = msgspec.json.Encoder()
    buffer = bytearray()
    for outcome, item in lines:
        _count(outcome, tally)
        encoder.encode_into(item, buffer, -1)
        buffer += b"\n"
        if len(buffer) >= _FLUSH_BYTES:
            out.write(buffer)
            buffer.clear()
    out.write(buffer)
    out.flush()


def write_human(lines: Iterable[tuple[Outcome, RenderLine]], tally: Tally) -> None:
    """Print each message as a person reviews it: the number, then what they would receive."""
    for outcome, item in lines:
        _count(outcome, tally)
        if outcome == "skipped":
            click.echo(f"- skipped {item.to}: {item.error}\n")
            continue
        if outcome != "ok":
            label = "would fail" if outcome == "refused" else outcome.replace("_", " ")
            click.echo(f"✗ {label} {item.to}: {item.error}\n")
            continue
        click.echo(f"to {item.to}")
        if item.body is not None:
            click.echo("  body: " + "\n".join(("        " + line).rstrip() for line in item.body.split("\n")).lstrip())
        if item.content_sid is not None:
            click.echo(f"  content_sid: {item.content_sid}")
            for key, value in (item.content_variables or {}).items():
                click.echo(f"  {{{{{key}}}}}: {value}")
        for url in item.media_url:
            click.echo(f"  media: {url}")
        if isinstance(item, HeldLine):
            click.echo(f"  waits for the send window until {item.send_at:%Y-%m-%d %H:%M} UTC")
        click.echo("")


def _with_progress(lines: Iterator[tuple[Outcome, RenderLine]], total: int) -> Iterator[tuple[Outcome, RenderLine]]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("render", total=total)
        for done, item in enumerate(lines, 1):
            yield item
            if done % 1000 == 0:  # a refresh per line would cost more than the rendering
                progress.update(task, completed=done)


def _audience_size(spec: CampaignSpec, settings: Settings) -> int:
    """Recipients in the campaign, counting CSV lines without parsing them (a fast over-estimate)."""
    size = len(spec.audience.recipients)
    if spec.audience.csv:
        with project_path(settings, spec.audience.csv).open("rb") as handle:
            size += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1
    return max(size, 0)


@main.command()
@click.argument("campaign")
@click.option("--to", "to", metavar="PHONE", help="Render only the recipient with this number (any format).")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Stop after N recipients.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per recipient and line on stdout.")
@click.option(
    "--assume",
    multiple=True,
    metavar="EVENT",
    help="Journeys: what happens at each wait_for in turn (replied, read, failed, timeout...); default timeout.",
)
@click.option("--event", "event", metavar="JSON", help="Journeys: the entering event's data (a JSON object).")
@click.option(
    "--at",
    "at",
    metavar="TIME",
    help="Evaluate the send window and the contact checks as of this ISO 8601 time (default: now).",
)
@click.option(
    "--no-ledger",
    is_flag=True,
    help="Do not read the database (opted-out contacts, 24 h windows and template approvals go unchecked).",
)
@pass_context
def render(
    ctx: Context,
    campaign: str,
    to: str | None,
    limit: int | None,
    as_json: bool,
    assume: tuple[str, ...],
    event: str | None,
    at: str | None,
    no_ledger: bool,
) -> None:
    """Dry run: render CAMPAIGN's messages exactly as they would be sent; write and send nothing.

    CAMPAIGN is a campaign name or the path of its YAML file. Each recipient is listed with its message
    (body, or content_sid and variables, and media, and when the send window lets it go), or why it would be
    rejected (invalid number, render error, a body outside the contact's 24 h window) or skipped (duplicate,
    opted out). The contact checks and the template's approval are read from the database when it is there
    (a note on stderr says when it is not). A summary follows (on stderr with --json). Exits 1 when any
    recipient would be rejected, or the template is rejected, paused or disabled; skips alone are not failures.
    """
    settings = ctx.settings
    try:
        spec = find_campaign(settings, campaign)
    except CampaignError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    texts = refuse_registry_mismatch(spec, settings)  # approval, content_variables vs the template
    target = None
    if to is not None:
        try:
            target = normalize_phone(to, settings.phones.default_region)
        except InvalidPhoneError as exc:
            raise click.BadParameter(str(exc), param_hint="--to") from None
    if spec.journey is not None:
        assumptions, data = parse_assumptions(assume), parse_event_data(event)
        contacts = None if no_ledger else (lambda: open_ledger(settings))
        sys.exit(
            render_journey(
                spec,
                settings,
                to=target,
                limit=limit,
                as_json=as_json,
                assume=assumptions,
                event=data,
                contacts=contacts,
            )
        )
    if assume or event is not None:
        raise click.UsageError(f"--assume and --event apply to journeys; {spec.name} has no steps")
    ledger, why_not = (None, None) if no_ledger else open_ledger(settings)
    if why_not is not None:
        click.echo(f"note: not checked against the ledger ({why_not}): opt-outs, 24 h windows, approvals", err=True)
    if ledger is not None:
        refusal = ledger.template_refusal(spec.one_message().content_sid)
        if refusal is not None:  # the send would pause the run and hold every message
            click.echo(f"error: {refusal}", err=True)
            sys.exit(1)
    try:
        when = parse_at(at, settings.timezone) if at else None
        lines = dry_run(spec, settings, to=target, limit=limit, ledger=ledger, now=when, template_texts=texts)
        if sys.stderr.isatty() and not sys.stdout.isatty():
            total = _audience_size(spec, settings)
            if total >= PROGRESS_FROM:
                lines = _with_progress(lines, min(total, limit) if limit else total)
        tally = Tally()
        if as_json:
            write_json(lines, sys.stdout.buffer, tally)
        else:
            write_human(lines, tally)
    except CampaignError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if target is not None and tally == Tally():
        click.echo(f"error: {spec.name} has no recipient {target}", err=True)
        sys.exit(1)
    click.echo(tally.summary(), err=as_json)
    if tally.failed:
        sys.exit(1)


__all__ = ["Tally", "write_human", "write_json"]
