"""The `hub` command group and the settings every sub-command shares."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hub.config import Settings, load_settings
from hub.errors import ConfigError, HubError


class Context:
    """Per-invocation state: the config path given with ``--config``; settings are loaded on first use."""

    def __init__(self, config: Path | None) -> None:
        self.config = config
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config)
            except ConfigError as exc:
                click.echo(f"error: {exc}", err=True)
                sys.exit(2)
        return self._settings


pass_context = click.make_pass_decorator(Context)


class HubGroup(click.Group):
    """The ``hub`` group: an expected failure (database or Redis unreachable, no schema yet, a refusal the hub
    raises on purpose) ends the command with one line saying what to fix, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            from hub.cli.failures import explain

            state = ctx.obj if isinstance(ctx.obj, Context) else None
            message = explain(exc, state._settings if state is not None else None)
            if message is None:
                raise
            click.echo(f"error: {message}", err=True)
            ctx.exit(1)
        finally:
            _close_store()


def _close_store() -> None:
    """Close the database pools before the process exits: the embedded server stops at exit, and a pool still open
    then would log its failed reconnects (with tracebacks) on the way out."""
    db = sys.modules.get("hub.store.db")
    if db is not None:
        db.reset()


@click.group(cls=HubGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="HUB_CONFIG",
    help="Configuration file (default: ./config.yaml; env HUB_CONFIG).",
)
@click.version_option(package_name="whatsapp-hub", prog_name="hub")
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """WhatsApp Hub: send WhatsApp messages through Twilio, on time, at pace, never twice.

    Campaigns live in campaigns/*.yaml; `hub check` and `hub render` dry-run them.
    """
    ctx.obj = Context(config)


class NoDatabaseYet(HubError):
    """A command that reads the ledger ran where none exists yet (it must not create one as a side effect)."""


def connect_existing(settings: Settings) -> None:
    """Connect to the ledger for a command that only reads it; never create the embedded one.

    Raises:
        NoDatabaseYet: ``database.url`` is embedded and its data folder does not exist yet.
    """
    from hub.store import db
    from hub.store.embedded import data_folder

    if settings.database.is_embedded and not (data_folder(settings) / "PG_VERSION").is_file():
        raise NoDatabaseYet(
            f"no database yet (embedded PostgreSQL in {data_folder(settings)}): start `hub run`, or run "
            "`hub db migrate`; or set DATABASE_URL to your PostgreSQL"
        )
    db.run_sync(db.connect(settings))
