"""``hub contacts import FILE``: contacts from a CSV (phone; tags separated by ``;``; other columns: attributes)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hub.cli.app import Context, main, pass_context


@main.group()
def contacts() -> None:
    """Contacts: attributes (``contact.*`` in templates and journeys), tags, opt-out."""


@contacts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def import_(ctx: Context, file: Path) -> None:
    """Import FILE, a CSV with a ``phone`` column: each row's attributes are merged over the contact's and its tags
    added, a thousand rows per statement. Rows that cannot be imported (an invalid number, a bad tag) are listed on
    stderr and the rest imported; exits 1 when any was refused."""
    from hub.contact_import import import_csv
    from hub.store import db, queries

    settings = ctx.settings
    db.run_sync(db.connect(settings))
    with file.open(encoding="utf-8-sig", newline="") as lines:
        result = db.run_sync(import_csv(lines, settings.phones.default_region, queries.import_contacts))
    for problem in result.problems:
        click.echo(f"{file}:{problem.line}: {problem.phone or '(no phone)'}: {problem.reason}", err=True)
    if result.rejected > len(result.problems):
        click.echo(f"... and {result.rejected - len(result.problems)} more refused", err=True)
    click.echo(f"imported {result.imported}, refused {result.rejected}")
    if result.rejected:
        sys.exit(1)
