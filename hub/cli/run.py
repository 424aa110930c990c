"""``hub run``: the API (uvicorn), the scheduler and the Dramatiq workers in one process."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType
from typing import Any

import click

from hub.cli.app import Context, main, pass_context
from hub.logs import LEVELS, setup_logging

__all__ = ["run"]

log = logging.getLogger(__name__)


@main.command(name="run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface the API listens on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port of the API.")
@click.option(
    "--workers",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Worker threads (sends in flight at once).",
)
@click.option("--log-level", default="info", show_default=True, type=click.Choice(LEVELS))
@click.option("--redis-namespace", default="hub", hidden=True, help="Redis key prefix (to share a Redis).")
@pass_context
def run(ctx: Context, host: str, port: int, workers: int, log_level: str, redis_namespace: str) -> None:
    """Everything in one process: API and webhooks, scheduler, and send workers.

    The defaults need nothing installed: an embedded PostgreSQL (data in .hub/pgdata), an in-process Redis, and
    the simulator transport when
    no Twilio credentials are set. With REDIS_URL, DATABASE_URL and Twilio credentials it is a real
    single-machine deployment. SIGINT/SIGTERM stop cleanly; whatever is owed is sent after the next start.
    """
    settings = ctx.settings
    import uvicorn

    from hub.api.app import create_app
    from hub.errors import ConfigError
    from hub.runner import InProcess, banner
    from hub.store import db

    app = create_app(settings, freeze_gc=True)
    setup_logging(log_level, settings=settings)  # after the app: Litestar configures logging when it is built
    try:
        applied = db.run_sync(db.migrate(settings))
    except (ConfigError, db.MigrationError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if applied:
        log.info("database schema: applied %d migration(s)", len(applied))
    lines = banner(settings, host=host, port=port, threads=workers)

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                click.echo("\n".join(lines))

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # our root handler (hub.logs) formats uvicorn's lines too
        access_log=False,
        proxy_headers=True,
        lifespan="on",
    )
    server = Server(config)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # Before uvicorn serves (and after: it re-raises the signal it caught once it has stopped).
        server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    roles = InProcess(settings, threads=workers, namespace=redis_namespace)
    try:
        roles.start()
        server.run()
    finally:
        roles.stop()
    if not server.started:
        sys.exit(1)
