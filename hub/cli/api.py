"""``hub api``: serve the HTTP API and the Twilio webhooks with uvicorn."""

from __future__ import annotations

import os
import sys

import click

from hub.cli.app import Context, main, pass_context

__all__ = ["api"]

EMBEDDED_REFUSED = (
    "embedded Redis only works in `hub run` (one process); set REDIS_URL (or redis.url) to a real Redis "
    "to run the API separately"
)

#: Import string of the app factory (each uvicorn worker builds its own app from the config file and env).
APP_FACTORY = "hub.api.app:app_factory"


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option(
    "--forwarded-allow-ips",
    default=None,
    help="Proxies whose X-Forwarded-* headers are trusted (default: $FORWARDED_ALLOW_IPS or 127.0.0.1).",
)
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request.")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning"]))
@pass_context
def api(
    ctx: Context,
    host: str,
    port: int,
    workers: int,
    forwarded_allow_ips: str | None,
    access_log: bool,
    log_level: str,
) -> None:
    """Serve the REST API (/v1, /bulk-send), the Twilio webhooks, /healthz, /readyz and /metrics.

    Webhook signatures are checked against public_url (HUB_PUBLIC_URL), so the app may sit behind a proxy.
    /v1 needs `Authorization: Bearer KEY` (api.keys / HUB_API_KEYS); without keys it answers loopback only.
    """
    import uvicorn

    from hub.logs import dict_config

    settings = ctx.settings  # fail here, once, with a clear message, rather than in every worker
    if settings.redis.is_embedded:
        # Its sends would queue in a Redis no worker can reach.
        click.echo(f"error: {EMBEDDED_REFUSED}", err=True)
        sys.exit(2)
    if ctx.config is not None:
        # Workers are fresh processes: they find the same file through the environment.
        os.environ["HUB_CONFIG"] = str(ctx.config.resolve())
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        access_log=access_log,
        log_level=log_level,
        log_config=dict_config(log_level, settings=settings),  # applied in every worker process
    )
