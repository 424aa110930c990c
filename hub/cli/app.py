"""The `hub` command group and the settings every sub-command shares."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hub.config import Settings, load_settings
from hub.errors import ConfigError


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
