"""``hub templates list | sync | show NAME``: the WhatsApp content template registry and its approval states."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import click

from hub.cli.app import Context, main, pass_context

if TYPE_CHECKING:
    from hub.campaigns.spec import CampaignSpec
    from hub.config import Settings
    from hub.errors import CampaignError
    from hub.store.templates import TemplateRecord
    from hub.transport.content import ContentClient


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def _table(records: list[TemplateRecord]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "sid", "language", "category", "status", "synced", box=None, header_style="bold")
    for record in records:
        table.add_row(
            record.friendly_name,
            record.content_sid,
            record.language,
            record.category or "-",
            record.approval_status,
            _when(record.last_synced_at),
        )
    Console(width=160).print(table)


def _connect(ctx: Context) -> None:
    from hub.store import db

    db.run_sync(db.migrate(ctx.settings))


def _client(ctx: Context) -> ContentClient:
    from hub.errors import ConfigError
    from hub.transport.content import ContentClient

    try:
        return ContentClient(ctx.settings)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@main.group()
def templates() -> None:
    """WhatsApp content templates (Twilio Content API) and their approval status."""


@templates.command("list")
@pass_context
def list_(ctx: Context) -> None:
    """List the templates in the registry with their last synced approval status."""
    from hub.store import db, queries

    _connect(ctx)
    records = db.run_sync(queries.list_templates())
    if not records:
        click.echo("no templates in the registry; run `hub templates sync`")
        return
    _table(records)


@templates.command()
@pass_context
def sync(ctx: Context) -> None:
    """Pull every template and its approval status from Twilio into the registry."""
    from hub.store import db
    from hub.templates.registry import sync_all
    from hub.transport.content import ContentApiError

    _connect(ctx)
    client = _client(ctx)
    try:
        records = db.run_sync(sync_all(client))
    except ContentApiError as exc:
        code = f" (Twilio {exc.twilio_code})" if exc.twilio_code else ""
        click.echo(f"error: {exc.message}{code}", err=True)
        sys.exit(1)
    finally:
        client.close()
    if records:
        _table(records)
    click.echo(f"synced {len(records)} template{'s' if len(records) != 1 else ''}")


@templates.command()
@click.argument("name")
@pass_context
def show(ctx: Context, name: str) -> None:
    """Show one template (by friendly name or sid) as the registry has it; no call to Twilio."""
    from hub.store import db, queries

    _connect(ctx)
    record = db.run_sync(queries.get_template(name))
    if record is None:
        click.echo(f"error: no template {name!r} in the registry (run `hub templates sync`)", err=True)
        sys.exit(1)
    click.echo(f"name:      {record.friendly_name}")
    click.echo(f"sid:       {record.content_sid}")
    click.echo(f"language:  {record.language}")
    click.echo(f"category:  {record.category or '-'}")
    click.echo(f"status:    {record.approval_status}")
    if record.rejection_reason:
        click.echo(f"reason:    {record.rejection_reason}")
    click.echo(f"synced:    {_when(record.last_synced_at)}")
    click.echo(f"variables: {', '.join(record.declared) or 'none'}")
    for key in record.declared:
        click.echo(f"  {{{{{key}}}}} sample: {record.samples.get(key, '')}")
    click.echo("body:")
    for line in record.body.splitlines():
        click.echo(f"  {line}")


def refuse_unsendable(content_sid: str | None) -> None:
    """For ``hub send``: exit 1 with the reason when the registry knows the template is rejected, paused or disabled.

    Needs the store connected.
    """
    from hub.store import db
    from hub.templates.guard import TemplateNotSendable, assert_sendable

    try:
        db.run_sync(assert_sendable(content_sid))
    except TemplateNotSendable as exc:
        click.echo(f"error: {exc.reason}", err=True)
        sys.exit(1)


def registry_problems(specs: Iterable[CampaignSpec], settings: Settings) -> list[CampaignError]:
    """For ``hub check``: template errors (not approved, not at Twilio, variables that do not fit, text over
    1,024 characters for an inline recipient); warnings go to stderr. See :mod:`hub.templates.check`."""
    from hub.templates.check import registry_findings

    errors, warnings, _ = registry_findings(specs, settings)
    for warning in warnings:
        click.echo(warning, err=True)
    return errors


def refuse_registry_mismatch(spec: CampaignSpec, settings: Settings) -> dict[str, str]:
    """For ``hub render``: exit 1 on a template error of :func:`registry_problems`.

    Returns:
        The text of each template the campaign sends, by content sid, where it is known (for the 1,024-character
        rule on every rendered recipient).
    """
    from hub.store.templates import TemplateRecord
    from hub.templates.check import registry_findings

    errors, warnings, known = registry_findings([spec], settings)
    for warning in warnings:
        click.echo(warning, err=True)
    for error in errors:
        click.echo(f"error: {error}", err=True)
    if errors:
        sys.exit(1)
    return {sid: found.body for sid, found in known.items() if isinstance(found, TemplateRecord) and found.body}
