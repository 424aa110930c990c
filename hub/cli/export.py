"""``hub export RUN [--format csv|jsonl] [--output FILE]``: every message of a run, streamed page by page."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, cast

import click

from hub.cli.app import Context, connect_existing, main, pass_context
from hub.export import FORMATS, Format, csv_header, encode_page
from hub.store.records import MessageRecord

__all__ = ["export"]


@main.command()
@click.argument("run_id", type=click.IntRange(min=1), metavar="RUN_ID")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True, help="Output format.")
@click.option(
    "--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE (default: stdout)."
)
@pass_context
def export(ctx: Context, run_id: int, fmt: str, output: Path | None) -> None:
    """Export every message of RUN_ID: recipient, status, error code and message, sid, body, times.

    CSV has a header row; JSON Lines has one object per message. Rows are read a page at a time, so a run of
    millions exports in bounded memory.
    """
    from hub.store import db, queries

    connect_existing(ctx.settings)
    if db.run_sync(queries.get_run(run_id)) is None:
        click.echo(f"error: no run {run_id}; see `hub runs list`", err=True)
        sys.exit(1)
    out: IO[bytes] = output.open("wb") if output is not None else sys.stdout.buffer
    try:
        _write(run_id, cast(Format, fmt), out)
    finally:
        if output is not None:
            out.close()
    if output is not None:
        click.echo(f"run {run_id} exported to {output}", err=True)


def _write(run_id: int, fmt: Format, out: IO[bytes]) -> None:
    from hub.store import db, queries

    if fmt == "csv":
        out.write(csv_header())
    pages = queries.iter_run_messages(run_id)
    while (page := db.run_sync(_next(pages))) is not None:
        out.write(encode_page(page, fmt))
    out.flush()


async def _next(pages: AsyncIterator[list[MessageRecord]]) -> list[MessageRecord] | None:
    return await anext(pages, None)
