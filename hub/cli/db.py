"""``hub db``: database administration (``hub db migrate``)."""

from __future__ import annotations

import asyncio
import sys

import click

from hub.cli.app import Context, main, pass_context
from hub.errors import ConfigError
from hub.store import db
from hub.store.embedded import describe


@main.group(name="db")
def db_group() -> None:
    """Database administration."""


@db_group.command()
@pass_context
def migrate(ctx: Context) -> None:
    """Create or upgrade the database schema (PostgreSQL, embedded or a server); safe to run again."""
    settings = ctx.settings
    try:
        applied = asyncio.run(_migrate(ctx))
    except (ConfigError, db.MigrationError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    where = describe(settings)
    if applied:
        click.echo(f"{where}: applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        click.echo(f"{where}: schema is up to date")


async def _migrate(ctx: Context) -> list[str]:
    try:
        return await db.migrate(ctx.settings)
    finally:
        await db.disconnect()
