"""``hub fake-twilio``: run a local stand-in for Twilio's Messages API."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import click

from hub.cli.app import main


@main.command("fake-twilio")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8099, show_default=True, type=int, help="Port to listen on (0: any free port).")
@click.option("--latency-ms", default=0.0, show_default=True, type=float, help="Time each create takes, ms.")
@click.option(
    "--fail-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of creates answered with a transient error (half 429/20429, half 503/20503).",
)
@click.option(
    "--auth-token",
    envvar="TWILIO_AUTH_TOKEN",
    default=None,
    help="Required Basic-auth password and callback signing key (env TWILIO_AUTH_TOKEN). "
    "Unset: any password is accepted and callbacks are signed with it.",
)
@click.option(
    "--account-sid",
    envvar="TWILIO_ACCOUNT_SID",
    default=None,
    help="The only account accepted (env TWILIO_ACCOUNT_SID). Unset: any AC... sid.",
)
@click.option("--callbacks/--no-callbacks", default=True, show_default=True, help="Post signed status callbacks.")
@click.option("--callback-delay-ms", default=50.0, show_default=True, type=float, help="Delay between callbacks, ms.")
@click.option("--hang-s", default=30.0, show_default=True, type=float, help="How long magic ...0005 creates hang, s.")
@click.option(
    "--rate-limit",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="The account's limit, creates per second: creates beyond it in the last second answer 429/20429.",
)
def fake_twilio(
    host: str,
    port: int,
    latency_ms: float,
    fail_rate: float,
    auth_token: str | None,
    account_sid: str | None,
    callbacks: bool,
    callback_delay_ms: float,
    hang_s: float,
    rate_limit: float | None,
) -> None:
    """A local Twilio Messages API for development, tests and benchmarks.

    Point the hub at it with TWILIO_API_BASE_URL=http://HOST:PORT. Magic recipients whatsapp:+1500555NNNN
    select behaviours (0001: 21211, 0002: 21610, 0003: 429 once, 0004: 500 once, 0005: hang, 0006: callback
    failed 63016, 0007: undelivered 63024, 0008: connection drop, 0009: 503). Inspect with GET /_fake/stats,
    GET /_fake/messages, POST /_fake/reset, POST /_fake/config.
    """
    from hub.faketwilio import FakeConfig, FakeTwilio, serve
    from hub.gcfreeze import freeze_startup_objects

    config = FakeConfig(
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        auth_token=auth_token,
        account_sid=account_sid,
        callbacks=callbacks,
        callback_delay_ms=callback_delay_ms,
        hang_s=hang_s,
        rate_limit_per_second=rate_limit,
    )

    async def run() -> None:
        runner = await serve(FakeTwilio(config), host, port)
        freeze_startup_objects()  # as every serving process: collections no longer walk the start-up objects
        bound = runner.addresses[0]
        click.echo(
            f"fake Twilio listening on http://{bound[0]}:{bound[1]} (latency {latency_ms} ms, fail rate {fail_rate})"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        asyncio.run(run())
    else:
        uvloop.run(run())
